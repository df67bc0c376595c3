"""ExaBGP's healthcheck on a routed-lab node (vipdlab.routed): the route-mode anchor of issue 16.

Debian's ``exabgp`` (4.2) runs in the node's namespace with a per-node configuration, peering with
the lab's router (hold time 3 s, ExaBGP's minimum; it has no BFD), and runs its healthcheck
(``python3 -m exabgp healthcheck``, ``exabgp/application/healthcheck.py``) as its API process:
``--cmd "curl -sf -m 0.5 http://127.0.0.1/"``, ``--interval``/``--fast-interval`` the check
interval, ``--rise 1 --fall 1``, ``--withdraw-on-down`` (the route is withdrawn when the check
fails, as vipd does; without it the healthcheck announces ``--down-metric``), ``--up-metric`` the
same MED vipd would give (256 - priority), ``--no-ip-setup`` (the VIP is answered through a
``local`` route this engine adds, as vipd does, not an address on lo).

ExaBGP replaces vipd *and* the node's routing daemon: no vipd runs on a node with this engine.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from vipdlab.processes import wait_for
from vipdlab.route import ROUTE_VIP
from vipdlab.routed import ROUTER_AS, RouteEngine

EXABGP = shutil.which("exabgp") or "/usr/sbin/exabgp"
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's exabgp package is installed for the system python


def exabgp_available() -> str | None:
    """None if Debian's exabgp (and its healthcheck) is usable, else why not."""
    if not os.access(EXABGP, os.X_OK):
        return "exabgp is not installed (apt-get install exabgp)"
    if not Path("/usr/lib/python3/dist-packages/exabgp/application/healthcheck.py").exists():
        return "exabgp's healthcheck module is missing"
    return None


class ExabgpEngine(RouteEngine):
    """ExaBGP + its healthcheck on ``node``; ``interval`` in seconds (1 or 0.1 in the bench)."""
    name = "exabgp"
    bfd = False

    def __init__(self, lab, node, priority: int, interval: float = 1.0, hold: int = 3,
                 check_timeout: float = 0.5):
        super().__init__(lab, node)
        self.priority, self.interval, self.hold = priority, interval, hold
        self.check_timeout = check_timeout
        self.dir = lab.dir / f"exabgp-{node.name}-{str(interval).replace('.', '_')}"
        self.proc = None

    @property
    def med(self) -> int:
        return 256 - self.priority

    def healthcheck_argv(self) -> list[str]:
        return [SYSTEM_PYTHON, "-m", "exabgp", "healthcheck", "--no-syslog",
                "--name", f"web-{self.node.name}",
                "--cmd", f"curl -sf -o /dev/null -m {self.check_timeout:g} http://127.0.0.1/",
                "--interval", f"{self.interval:g}", "--fast-interval", f"{self.interval:g}",
                "--rise", "1", "--fall", "1", "--timeout", "1",
                "--ip", f"{ROUTE_VIP}/32", "--no-ip-setup", "--withdraw-on-down",
                "--up-metric", str(self.med), "--next-hop", self.addr]

    process_argv = healthcheck_argv
    manage_local_route = True  # vipd adds its own; the healthcheck needs one added for it
    ack = "true"

    def config(self) -> str:
        run = " ".join(f'"{a}"' if " " in a else a for a in self.process_argv())
        return f"""process healthcheck {{
    run {run};
    encoder text;
}}

neighbor {self.router_addr} {{
    router-id {self.addr};
    local-address {self.addr};
    local-as {self.asn};
    peer-as {ROUTER_AS};
    hold-time {self.hold};
    api {{
        processes [ healthcheck ];
    }}
}}
"""

    def write_config(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "exabgp.conf").write_text(self.config())

    def start(self) -> None:
        node = self.node
        if self.manage_local_route:
            node.run("ip", "route", "replace", "local", ROUTE_VIP, "dev", "lo", "table", "local")
        env = {**os.environ, "exabgp.daemon.user": "root", "exabgp.daemon.drop": "false",
               "exabgp.daemon.daemonize": "false", "exabgp.log.destination": "stdout",
               "exabgp.log.level": "INFO", "exabgp.api.pipename": f"exabgp-{self.lab.prefix}-{node.name}",
               "exabgp.tcp.bind": "", "exabgp.api.ack": self.ack,
               "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
        self.proc = node.popen(EXABGP, str(self.dir / "exabgp.conf"), name=f"exabgp@{node.label}",
                               log=self.dir / "exabgp.log", env=env)

    def stop(self) -> None:
        if self.proc:
            self.proc.stop(timeout=5)
        if self.manage_local_route:
            self.node.run("ip", "route", "del", "local", ROUTE_VIP, "dev", "lo", "table",
                          "local", check=False)

    def alive(self) -> bool:
        return bool(self.proc) and self.proc.alive()

    def view(self) -> dict[str, int | None]:
        """ExaBGP keeps no table we can cheaply read: the router's view of this node's path."""
        paths = self.lab.router.bgp_paths() if self.lab.router else {}
        return {f"{ROUTE_VIP}/32": paths[self.addr]} if self.addr in paths else {}

    def wait_announced(self, timeout: float = 10.0) -> None:
        wait_for(lambda: self.view(), timeout, f"ExaBGP on {self.node.label} to announce {ROUTE_VIP}")


KERNEL_ROUTES = Path(__file__).resolve().parents[2] / "tools" / "exabgp-kernel-routes"


class ExabgpKernelEngine(ExabgpEngine):
    """ExaBGP as vipd's node engine: its API process ``tools/exabgp-kernel-routes`` announces
    vipd's table-198 routes (MED = metric) and withdraws them as vipd removes them. No BFD."""
    name = "exabgp"
    manage_local_route = False
    ack = "false"

    def __init__(self, lab, node, table: int = 198, protocol: int = 99, hold: int = 3):
        super().__init__(lab, node, priority=0, hold=hold)
        self.table, self.protocol = table, protocol
        self.dir = lab.dir / f"exabgp-kernel-{node.name}"

    def process_argv(self) -> list[str]:
        return [SYSTEM_PYTHON, str(KERNEL_ROUTES), "--table", str(self.table),
                "--protocol", str(self.protocol)]
