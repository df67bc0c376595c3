"""Route mode (issue 16) lab helpers: the vipd configuration with two file-check knobs, and the
kernel's view of vipd's routes (table 198, protocol 99) inside a node."""

from pathlib import Path

ROUTE_VIP = "198.19.0.100"
ROUTE_TABLE = 198
ROUTE_PROTOCOL = 99


def route_config(lab_dir: Path, priority: int = 150, api_listen: str = "127.0.0.1:9555") -> str:
    """A route-mode instance for ROUTE_VIP tracking two file checks in ``lab_dir``: ``knob``
    (weight 1: its number is a priority delta) and ``maint`` (weight 0: non-zero = fault)."""
    d = lab_dir
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
vips = ["{ROUTE_VIP}/32"]
priority = {priority}
track = [ {{ check = "maint", weight = 0 }}, {{ check = "knob", weight = 1 }} ]
route = {{ table = {ROUTE_TABLE}, protocol = {ROUTE_PROTOCOL} }}
"""


def table_routes(node, vip: str = ROUTE_VIP) -> list[str]:
    """``ip -N route show table 198`` lines for ``vip`` (numbers: iproute2 names 99 "openr")."""
    r = node.run("ip", "-N", "route", "show", "table", str(ROUTE_TABLE), check=False)
    if "table does not exist" in (r.stderr or ""):  # no route ever added to the table
        return []
    if r.returncode != 0:
        raise RuntimeError(f"ip route show table {ROUTE_TABLE}: {r.stderr.strip()}")
    return [line.strip() for line in r.stdout.splitlines() if line.startswith(vip + " ")]


def local_route(node, vip: str = ROUTE_VIP) -> bool:
    """True when vipd's ``local`` route for ``vip`` (type 2, protocol 99) is in the local table."""
    out = node.run("ip", "-N", "route", "show", "table", "local").stdout
    return any(line.startswith(f"2 {vip} dev lo proto {ROUTE_PROTOCOL}") for line in out.splitlines())
