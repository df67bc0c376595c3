"""Route mode (issue 16) lab helpers: the vipd configuration with two file-check knobs, and the
kernel's view of vipd's routes (table 198, protocol 99) inside a node."""

from pathlib import Path

ROUTE_VIP = "198.19.0.100"
ROUTE_TABLE = 198
ROUTE_PROTOCOL = 99


def route_config(lab_dir: Path, priority: int = 150, api_listen: str = "127.0.0.1:9555",
                 vips: tuple[str, ...] = (ROUTE_VIP,), table: int = ROUTE_TABLE,
                 protocol: int = ROUTE_PROTOCOL) -> str:
    """A route-mode instance for ``vips`` (default ROUTE_VIP) tracking two file checks in
    ``lab_dir``: ``knob`` (weight 1: its number is a priority delta) and ``maint`` (weight 0:
    non-zero = fault)."""
    d = lab_dir
    vip_list = ", ".join(f'"{v}/32"' for v in vips)
    return f"""
[agent]
api_listen = "{api_listen}"
state_dir = "{d}/state"

[[check]]
name = "knob"
type = "file"
path = "{d}/knob"
interval = "50ms"

[[check]]
name = "maint"
type = "file"
path = "{d}/maint"
interval = "50ms"

[[instance]]
name = "web"
mode = "route"
vips = [{vip_list}]
priority = {priority}
track = [ {{ check = "maint", weight = 0 }}, {{ check = "knob", weight = 1 }} ]
route = {{ table = {table}, protocol = {protocol} }}
"""


def table_routes(node, vip: str = ROUTE_VIP, table: int = ROUTE_TABLE) -> list[str]:
    """``ip -N route show table 198`` lines for ``vip`` (numbers: iproute2 names 99 "openr")."""
    r = node.run("ip", "-N", "route", "show", "table", str(table), check=False)
    if "table does not exist" in (r.stderr or ""):  # no route ever added to the table
        return []
    if r.returncode != 0:
        raise RuntimeError(f"ip route show table {table}: {r.stderr.strip()}")
    return [line.strip() for line in r.stdout.splitlines() if line.startswith(vip + " ")]


def local_route(node, vip: str = ROUTE_VIP, protocol: int = ROUTE_PROTOCOL) -> bool:
    """True when vipd's ``local`` route for ``vip`` (type 2, protocol 99) is in the local table."""
    out = node.run("ip", "-N", "route", "show", "table", "local").stdout
    return any(line.startswith(f"2 {vip} dev lo proto {protocol}") for line in out.splitlines())


def replay_route_events(lines: list[str], start: set[tuple], vip: str = ROUTE_VIP) -> list[int]:
    """Replays ``ip -N monitor route`` output over ``start`` (a set of (table, metric, protocol)
    of ``vip``'s non-local routes) and returns how many such routes exist after each event of
    ``vip``: every kernel state the table went through, not samples."""
    state = set(start)
    counts = []
    for line in lines:
        words = line.split()
        deleted = bool(words) and words[0] == "Deleted"
        if deleted:
            words = words[1:]
        if not words or words[0] in ("local", "broadcast", "2") or words[0] != vip:
            continue
        table = words[words.index("table") + 1] if "table" in words else "254"
        metric = words[words.index("metric") + 1] if "metric" in words else "0"
        proto = words[words.index("proto") + 1] if "proto" in words else "?"
        key = (int(table), int(metric), proto)
        (state.discard if deleted else state.add)(key)
        counts.append(len(state))
    return counts
