"""BIRD 2 as the node's routing engine in the routed lab (issue 16; vipdlab.routed.RouteEngine).

Debian's bird2 (2.0.12): ``protocol kernel`` learns vipd's routes from table 198 (``learn``: the
routes carry vipd's protocol 99, not BIRD's own 12, so without it BIRD would ignore them) into a
BIRD table of its own; the BGP session to the router exports them through a filter that keeps the
198.19.0.0/24 host routes and sets the MED from the kernel metric (``bgp_med = krt_metric``);
``protocol bfd`` runs BFD on the session (50 ms x 3, as the router).

Each BIRD runs in its node's namespace in the foreground (``-f``, so the lab tracks and stops it)
with its own configuration, control socket (``-s``) and pid file (``-P``) in the lab directory;
it never touches a host daemon (Debian's bird.service uses /run/bird/bird.ctl)."""

from __future__ import annotations

import re
import shutil
import subprocess

from vipdlab.processes import wait_for
from vipdlab.route import ROUTE_TABLE
from vipdlab.routed import BFD_MS, BFD_MULT, HOLD, KEEPALIVE, ROUTER_AS, VIP_NET, RouteEngine

BIRD = "/usr/sbin/bird"
BIRDC = "/usr/sbin/birdc"


def bird_available() -> str | None:
    """None when BIRD 2 can run here, else why not (for "skipped: <why>")."""
    for binary in (BIRD, BIRDC):
        if not shutil.which(binary):
            return f"{binary} is not installed (Debian package bird2)"
    out = subprocess.run([BIRD, "--version"], capture_output=True, text=True).stderr
    if not re.search(r"BIRD version 2\.", out):
        return f"{BIRD} is not BIRD 2: {out.strip()}"
    return None


def bird_config(router_id: str, asn: int, neighbor: str, log: str, table: int = ROUTE_TABLE,
                interface: str = "up0") -> str:
    """The node's BIRD 2 configuration (the one docs/route-mode.md shows)."""
    net, plen = VIP_NET.split("/")
    return f"""log "{log}" all;
router id {router_id};

# vipd's routes, learnt from the kernel table vipd writes (route = {{ table = {table}, ... }})
ipv4 table vips;

protocol device {{ }}

protocol kernel vipd_table {{
  kernel table {table};
  learn;                 # take routes BIRD did not write (vipd's protocol 99)
  scan time 10;          # netlink notifications are immediate; the scan is a safety net
  ipv4 {{ table vips; import all; export none; }};
}}

filter vips_out {{
  if net ~ [ {net}/{plen}{{32,32}} ] && defined(krt_metric) then {{
    bgp_med = krt_metric;   # MED = 256 - vipd's effective priority: lower is preferred
    accept;
  }}
  reject;
}}

protocol bfd {{
  interface "{interface}" {{
    min rx interval {BFD_MS} ms; min tx interval {BFD_MS} ms; multiplier {BFD_MULT};
  }};
}}

protocol bgp uplink {{
  local {router_id} as {asn};
  neighbor {neighbor} as {ROUTER_AS};
  hold time {HOLD}; keepalive time {KEEPALIVE}; connect retry time 1;
  error wait time 1, 5;  # after an error (BFD or hold timer) retry within 1 s, not 60 s
  bfd on;
  ipv4 {{ table vips; import none; export filter vips_out; }};
}}
"""


class BirdEngine(RouteEngine):
    """BIRD 2 on the node: kernel table 198 learnt, exported by BGP with MED = kernel metric,
    BFD on the session."""
    name = "bird"
    bfd = True

    def __init__(self, lab, node, table: int = ROUTE_TABLE):
        super().__init__(lab, node)
        self.table = table
        self.conf = self.dir / "bird.conf"
        self.sock = self.dir / "bird.ctl"
        self.pidfile = self.dir / "bird.pid"
        self.proc = None

    def write_config(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.conf.write_text(bird_config(self.addr, self.asn, self.router_addr,
                                         str(self.dir / "bird.log"), self.table))

    def start(self) -> None:
        self.proc = self.node.popen(BIRD, "-f", "-c", str(self.conf), "-s", str(self.sock),
                                    "-P", str(self.pidfile), name=f"bird@{self.node.label}",
                                    log=self.dir / "bird.out")
        wait_for(lambda: self.birdc("show status").find("Daemon is up and running") >= 0, 10,
                 lambda: f"BIRD on {self.node.label} ({(self.dir / 'bird.out').read_text()})")

    def stop(self) -> None:
        if self.proc:
            self.proc.stop()

    def alive(self) -> bool:
        return bool(self.proc and self.proc.alive())

    def birdc(self, command: str) -> str:
        """``birdc -s SOCK <command>`` inside the node ("" when BIRD does not answer)."""
        r = self.node.run(BIRDC, "-s", str(self.sock), *command.split(), check=False, timeout=5)
        return r.stdout if r.returncode == 0 else ""

    def view(self) -> dict[str, int | None]:
        """What BIRD exports to the router: prefix -> MED (``show route export uplink all``)."""
        out: dict[str, int | None] = {}
        prefix = None
        for line in self.birdc("show route export uplink all").splitlines():
            m = re.match(r"^(\d+\.\d+\.\d+\.\d+/\d+)\s", line)
            if m:
                prefix = m.group(1)
                out[prefix] = None
            m = re.search(r"BGP\.med:\s*(\d+)", line)
            if m and prefix:
                out[prefix] = int(m.group(1))
        return out


__all__ = ["BirdEngine", "bird_available", "bird_config", "BIRD", "BIRDC"]
