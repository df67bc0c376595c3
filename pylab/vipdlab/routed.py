"""The routed (L3) lab of route mode (issue 16, LAB.md "A routed (L3) topology"): an upstream
router running FRR, two nodes on their own subnets, a client behind the router.

Topology (every namespace carries the lab's prefix, e.g. ``rl-12345``)::

                         ns <p>-c  client  up0 198.18.7.50/24 (default via .1)
                                               |
                                      rc 198.18.7.1/24
    ns <p>-r  router: FRR zebra + bgpd + bfdd, AS 65000, ip_forward 1, rp_filter 0,
              bgp always-compare-med, maximum-paths 2 (ECMP at equal MED; the kernel hashes
              flows on L4: fib_multipath_hash_policy 1), BFD 50 ms x 3,
              BGP keepalive 1 s / hold 3 s, announces nothing to the nodes
          ra 198.18.5.1/24                             rb 198.18.6.1/24
               |                                            |
    ns <p>-ba bridge br0: pr (router side), pn (node side)   ns <p>-bb  (the same for node B)
               |                                            |
    ns <p>-a  node A  up0 198.18.5.10/24, AS 65001      ns <p>-b  node B  up0 198.18.6.10/24, AS 65002
              default via 198.18.5.1, ip_forward 0           default via 198.18.6.1
              nginx :80 answering "node-a"                   nginx :80 answering "node-b"
              vipd (route mode, table 198, protocol 99)      vipd
              + the node's routing engine (FRR here; BIRD 2 in vipdlab.birdengine)

    VIPs: 198.19.0.0/24 host routes (ROUTE_VIP = 198.19.0.100), answered on each node through the
    ``local`` route vipd adds in the local table; the node's engine announces vipd's table-198 route
    to the router with MED = the kernel metric (256 - effective priority).

The bridge namespace on each node link keeps the router's carrier when a node's uplink dies
(``uplink_down`` takes the node-side bridge port down): the router then notices the dead node by
BFD (or by the BGP hold timer for an engine without BFD, e.g. ExaBGP), not by a link event.

Every FRR daemon runs in its namespace with its own config, pid, zserv and vty socket paths in the
lab directory (``-f -i -z --vty_socket -P 0``, bfdd ``--bfdctl``); the directory is chowned to
frr:frr and the daemons drop to user frr (root must not run them: FRR refuses vty access). Nothing
touches a host daemon and no packet leaves the lab's namespaces.

The node's routing engine is pluggable (``RouteEngine``): write its configuration, start, stop, and
its view of what it announces. ``FrrEngine`` is FRR on the node (zebra ``ip import-table 198``,
bgpd ``redistribute table 198 route-map VIPS``, bfdd); other engines subclass ``RouteEngine`` and
are passed to ``RoutedLab.start_engine``.

Usage::

    with RoutedLab() as lab:
        nginx, router = lab.start_services(FrrEngine, bfd=True)  # nginx, router, engines, sessions
        lab.start_vipd(lab.a, routed_vipd_config(lab, lab.a, 150))
        ...
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import time
from pathlib import Path

from vipdlab.netns import Lab, Node
from vipdlab.processes import wait_for
from vipdlab.route import ROUTE_PROTOCOL, ROUTE_TABLE, ROUTE_VIP

FRR_DIR = Path("/usr/lib/frr")
ROUTER_AS = 65000
# name -> (node address, router address, node AS)
NODES = {"a": ("198.18.5.10", "198.18.5.1", 65001), "b": ("198.18.6.10", "198.18.6.1", 65002)}
CLIENT = ("198.18.7.50", "198.18.7.1")
VIP_NET = "198.19.0.0/24"
BFD_MS, BFD_MULT = 50, 3
KEEPALIVE, HOLD = 1, 3
# bgpd's filters on the nodes and the router: VIPS admits host routes in VIP_NET, NONE denies all.
VIP_FILTERS = f"""ip prefix-list VIPS seq 5 permit {VIP_NET} ge 32
route-map VIPS permit 10
 match ip address prefix-list VIPS
exit
route-map NONE deny 10
exit
"""


def frr_available() -> str | None:
    """None if FRR's zebra, bgpd and bfdd are installed, else why not (for a skip message)."""
    missing = [d for d in ("zebra", "bgpd", "bfdd") if not (FRR_DIR / d).exists()]
    if missing:
        return f"FRR ({', '.join(missing)}) is not installed (apt-get install frr)"
    if not shutil.which("vtysh"):
        return "vtysh (FRR) is not installed"
    return None


# --------------------------------------------------------------------------------------------
# FRR daemons in one namespace
# --------------------------------------------------------------------------------------------

class FrrDaemons:
    """zebra, bfdd and bgpd in one namespace, each with its own paths under ``directory``."""

    def __init__(self, node: Node, directory: Path):
        self.node, self.dir = node, directory
        self.procs = []

    def vtysh(self, *commands: str, check: bool = False) -> str:
        argv = ["vtysh", "--vty_socket", str(self.dir)]
        for c in commands:
            argv += ["-c", c]
        return self.node.run(*argv, check=check, timeout=10).stdout

    def json(self, command: str):
        try:
            return json.loads(self.vtysh(command) or "null")
        except ValueError:
            return None

    def start(self, configs: dict[str, str]) -> None:
        """``configs``: daemon name ("zebra", "bfdd", "bgpd") -> configuration text."""
        self.dir.mkdir(parents=True, exist_ok=True)
        for daemon, text in configs.items():
            (self.dir / f"{daemon}.conf").write_text(text)
        shutil.chown(self.dir, "frr", "frr")
        for f in self.dir.iterdir():
            shutil.chown(f, "frr", "frr")
        common = ["-z", str(self.dir / "zserv.api"), "--vty_socket", str(self.dir), "-P", "0"]
        for daemon in ("zebra", "bfdd", "bgpd"):
            if daemon not in configs:
                continue
            extra = ["--bfdctl", str(self.dir / "bfdd.sock")] if daemon == "bfdd" else []
            proc = self.node.popen(str(FRR_DIR / daemon), "-f", str(self.dir / f"{daemon}.conf"),
                                   "-i", str(self.dir / f"{daemon}.pid"), *common, *extra,
                                   name=f"{daemon}@{self.node.label}",
                                   log=self.dir / f"{daemon}.out")
            self.procs.append(proc)
            vty = self.dir / f"{daemon}.vty"
            wait_for(lambda: (not proc.alive() and _fail(f"{daemon} on {self.node.label} exited: "
                                                           f"{proc.log_text()[-1500:]}"))
                     or vty.exists(), 10, f"{daemon} on {self.node.label} to open its vty socket")

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop(timeout=5)
        self.procs.clear()

    def alive(self) -> bool:
        return bool(self.procs) and all(p.alive() for p in self.procs)


def _fail(msg: str):
    raise RuntimeError(msg)


def _bfd_profile() -> str:
    return (f"bfd\n profile fast\n  detect-multiplier {BFD_MULT}\n"
            f"  receive-interval {BFD_MS}\n  transmit-interval {BFD_MS}\n exit\n exit\n")


# --------------------------------------------------------------------------------------------
# Node routing engines
# --------------------------------------------------------------------------------------------

class RouteEngine:
    """A node's routing daemon announcing vipd's kernel routes to the router.

    Subclasses set ``name`` and ``bfd`` (True if the engine runs BFD with the router) and
    implement ``write_config``, ``start``, ``stop`` and ``view``."""
    name = "?"
    bfd = False

    def __init__(self, lab: "RoutedLab", node: Node):
        self.lab, self.node = lab, node
        self.addr, self.router_addr, self.asn = NODES[node.name]
        self.dir = lab.dir / f"{self.name}-{node.name}"

    def write_config(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def view(self) -> dict[str, int | None]:
        """What the engine announces (or would): prefix ("198.19.0.100/32") -> MED."""
        raise NotImplementedError

    def alive(self) -> bool:
        raise NotImplementedError


class FrrEngine(RouteEngine):
    """FRR on the node: zebra imports table 198, bgpd redistributes it (MED = kernel metric)
    through route-map VIPS (198.19.0.0/24 host routes only) to the router, with BFD."""
    name = "frr"
    bfd = True

    def __init__(self, lab: "RoutedLab", node: Node, table: int = ROUTE_TABLE,
                 work_queue: int | None = 0):
        super().__init__(lab, node)
        self.table = table
        # zebra's RIB work-queue hold in ms: FRR's default 10 ms delays every import; 0 saves it
        # (measured in bench/route.py); None keeps FRR's default
        self.work_queue = work_queue
        self.frr = FrrDaemons(node, self.dir)

    def configs(self) -> dict[str, str]:
        host = f"hostname {self.lab.prefix}-{self.node.name}\n"
        zebra = host + f"log file {self.dir}/zebra.log\nip import-table {self.table}\n"
        if self.work_queue is not None:
            zebra += f"zebra work-queue {self.work_queue}\n"
        bgpd = host + f"log file {self.dir}/bgpd.log\n" + VIP_FILTERS + f"""router bgp {self.asn}
 bgp router-id {self.addr}
 timers bgp {KEEPALIVE} {HOLD}
 neighbor {self.router_addr} remote-as {ROUTER_AS}
 neighbor {self.router_addr} timers connect 1
 neighbor {self.router_addr} advertisement-interval 0
 neighbor {self.router_addr} bfd profile fast
 address-family ipv4 unicast
  redistribute table {self.table} route-map VIPS
  neighbor {self.router_addr} route-map NONE in
  neighbor {self.router_addr} route-map VIPS out
 exit-address-family
exit
"""
        bfdd = host + f"log file {self.dir}/bfdd.log\n" + _bfd_profile()
        return {"zebra": zebra, "bfdd": bfdd, "bgpd": bgpd}

    def write_config(self) -> None:
        pass  # FrrDaemons.start writes the files (they must be chowned with the directory)

    def start(self) -> None:
        self.frr.start(self.configs())

    def stop(self) -> None:
        self.frr.stop()

    def alive(self) -> bool:
        return self.frr.alive()

    def view(self) -> dict[str, int | None]:
        data = self.frr.json("show bgp ipv4 unicast json") or {}
        out: dict[str, int | None] = {}
        for prefix, paths in (data.get("routes") or {}).items():
            for p in paths if isinstance(paths, list) else [paths]:
                if p.get("valid") and (p.get("bestpath") or p.get("best")
                                       or len(paths) == 1):
                    out[prefix] = p.get("metric")
        return out


# --------------------------------------------------------------------------------------------
# The router
# --------------------------------------------------------------------------------------------

class FrrRouter:
    """The upstream router: FRR zebra + bgpd (+ bfdd) peering with both nodes."""

    def __init__(self, lab: "RoutedLab", bfd: dict[str, bool]):
        self.lab, self.node = lab, lab.r
        self.bfd = bfd
        self.frr = FrrDaemons(self.node, lab.dir / "frr-r")

    def configs(self) -> dict[str, str]:
        d = self.frr.dir
        host = f"hostname {self.lab.prefix}-r\n"
        neigh, af = "", ""
        for name, (addr, _, asn) in NODES.items():
            neigh += (f" neighbor {addr} remote-as {asn}\n neighbor {addr} timers connect 1\n"
                      f" neighbor {addr} advertisement-interval 0\n")
            if self.bfd.get(name):
                neigh += f" neighbor {addr} bfd profile fast\n"
            af += f"  neighbor {addr} route-map VIPS in\n  neighbor {addr} route-map NONE out\n"
        bgpd = host + f"log file {d}/bgpd.log\n" + VIP_FILTERS + f"""router bgp {ROUTER_AS}
 bgp router-id {CLIENT[1]}
 bgp always-compare-med
 bgp bestpath as-path multipath-relax
 timers bgp {KEEPALIVE} {HOLD}
{neigh} address-family ipv4 unicast
  maximum-paths 2
{af} exit-address-family
exit
"""
        configs = {"zebra": host + f"log file {d}/zebra.log\n", "bgpd": bgpd}
        if any(self.bfd.values()):
            configs["bfdd"] = host + f"log file {d}/bfdd.log\n" + _bfd_profile()
        return configs

    def start(self) -> None:
        self.frr.start(self.configs())

    def stop(self) -> None:
        self.frr.stop()

    def established(self, name: str) -> bool:
        addr = NODES[name][0]
        data = self.frr.json(f"show bgp neighbors {addr} json") or {}
        return (data.get(addr) or {}).get("bgpState") == "Established"

    def bfd_up(self, name: str) -> bool:
        addr = NODES[name][0]
        for peer in self.frr.json("show bfd peers json") or []:
            if peer.get("peer") == addr and peer.get("status") == "up":
                return True
        return False

    def bgp_paths(self, vip: str = ROUTE_VIP) -> dict[str, int | None]:
        """The router's BGP paths for ``vip``/32: next hop -> MED."""
        data = self.frr.json(f"show bgp ipv4 unicast {vip}/32 json") or {}
        out = {}
        for p in data.get("paths") or []:
            hops = p.get("nexthops") or [{}]
            out[hops[0].get("ip", "?")] = p.get("med", p.get("metric"))
        return out

    def nexthops(self, vip: str = ROUTE_VIP) -> list[str]:
        """The router's kernel next hops for ``vip`` (what the client's traffic follows)."""
        out = self.node.run("ip", "-4", "route", "show", vip, check=False).stdout
        return re.findall(r"via (\S+)", out)


# --------------------------------------------------------------------------------------------
# The lab
# --------------------------------------------------------------------------------------------

class RoutedLab(Lab):
    """The routed topology above. ``lab.a``/``lab.b`` are the nodes, ``lab.c`` the client and
    ``lab.r`` the router (all ``Node``s: ``run``, ``popen``, ``http_get`` work in them)."""

    def __init__(self, prefix: str | None = None, **kw):
        super().__init__(prefix=prefix, **kw)
        self._node_specs = []
        self.router: FrrRouter | None = None
        self.engines: dict[str, RouteEngine] = {}
        self.bridges: dict[str, str] = {}  # node name -> its bridge namespace

    @property
    def r(self) -> Node:
        return self.nodes["r"]

    def _ns(self, name: str, sysctls: dict[str, str]) -> str:
        ns = f"{self.prefix}-{name}"
        self._add_ns(ns)
        for key, value in sysctls.items():
            self._ip("netns", "exec", ns, "sysctl", "-q", "-w", f"{key}={value}")
        return ns

    def _setup(self) -> None:
        from vipdlab.netns import teardown
        teardown(stale_only=True, quiet=True)
        self._log(f"creating routed lab {self.prefix} (state in {self.dir})")
        # fib_multipath_hash_policy 1: ECMP hashes on ports too, so one client's flows spread
        router_sysctls = {"net.ipv4.ip_forward": "1", "net.ipv4.conf.all.rp_filter": "0",
                          "net.ipv4.conf.default.rp_filter": "0",
                          "net.ipv4.fib_multipath_hash_policy": "1"}
        r_ns = self._ns("r", router_sysctls)
        self.nodes["r"] = Node(self, "r", r_ns, "rc", "", f"{CLIENT[1]}/24")
        for name, (addr, gw, _) in NODES.items():
            ns = self._ns(name, self.node_sysctls)
            br = self._ns(f"b{name}", {})
            self.bridges[name] = br
            self._ip("-n", br, "link", "add", "br0", "type", "bridge", "forward_delay", "0",
                     "stp_state", "0", "mcast_snooping", "0")
            self._ip("-n", br, "link", "set", "br0", "up")
            # bridge <-> router
            self._ip("-n", br, "link", "add", "pr", "type", "veth", "peer", "name", f"r{name}",
                     "netns", r_ns)
            # bridge <-> node
            self._ip("-n", br, "link", "add", "pn", "type", "veth", "peer", "name", "up0",
                     "netns", ns)
            for port in ("pr", "pn"):
                self._ip("-n", br, "link", "set", port, "master", "br0", "up")
            self._ip("-n", r_ns, "addr", "add", f"{gw}/24", "dev", f"r{name}")
            self._ip("-n", r_ns, "link", "set", f"r{name}", "up")
            self._ip("-n", ns, "addr", "add", f"{addr}/24", "dev", "up0")
            self._ip("-n", ns, "link", "set", "up0", "up")
            self._ip("-n", ns, "route", "add", "default", "via", gw)
            self.nodes[name] = Node(self, name, ns, "up0", "pn", f"{addr}/24")
        c_ns = self._ns("c", self.node_sysctls)
        self._ip("-n", r_ns, "link", "add", "rc", "type", "veth", "peer", "name", "up0",
                 "netns", c_ns)
        self._ip("-n", r_ns, "addr", "add", f"{CLIENT[1]}/24", "dev", "rc")
        self._ip("-n", r_ns, "link", "set", "rc", "up")
        self._ip("-n", c_ns, "addr", "add", f"{CLIENT[0]}/24", "dev", "up0")
        self._ip("-n", c_ns, "link", "set", "up0", "up")
        self._ip("-n", c_ns, "route", "add", "default", "via", CLIENT[1])
        self.nodes["c"] = Node(self, "c", c_ns, "up0", "", f"{CLIENT[0]}/24")

    # -- routing ----------------------------------------------------------------------------
    def start_router(self, bfd: bool | dict[str, bool] = True) -> FrrRouter:
        """FRR on the router; ``bfd`` (for both nodes, or per node name) adds BFD to the
        sessions (the node's engine must run BFD too)."""
        per_node = bfd if isinstance(bfd, dict) else {n: bfd for n in NODES}
        self.router = FrrRouter(self, per_node)
        self.router.start()
        return self.router

    def start_engine(self, engine: RouteEngine) -> RouteEngine:
        engine.write_config()
        engine.start()
        self.engines[engine.node.name] = engine
        return engine

    def start_services(self, engine, bfd: bool | dict[str, bool] = True,
                       timeout: float = 20.0) -> tuple[dict, FrrRouter]:
        """nginx on A and B, the router (``bfd`` as in start_router), ``engine(lab, node)`` on A
        and B (in ``self.engines``), then waits up to ``timeout`` for the sessions. Returns
        ({"a": nginx, "b": nginx}, the router)."""
        nginx = {"a": self.start_nginx(self.a), "b": self.start_nginx(self.b)}
        router = self.start_router(bfd=bfd)
        for n in (self.a, self.b):
            self.start_engine(engine(self, n))
        self.wait_sessions(timeout=timeout)
        return nginx, router

    def wait_sessions(self, timeout: float = 20.0, names=tuple(NODES)) -> None:
        """Until the router has its BGP sessions (and BFD, where configured) up."""
        r = self.router
        for name in names:
            wait_for(lambda: r.established(name), timeout, f"router's BGP session with node {name}")
            if r.bfd.get(name):
                wait_for(lambda: r.bfd_up(name), timeout, f"router's BFD session with node {name}")

    def uplink_down(self, node: Node) -> None:
        """The node's uplink dies: the node-side port of its bridge goes down (the router's
        carrier stays)."""
        self._ip("-n", self.bridges[node.name], "link", "set", "pn", "down")

    def uplink_up(self, node: Node) -> None:
        self._ip("-n", self.bridges[node.name], "link", "set", "pn", "up")

    def served_by(self, timeout: float = 0.5) -> str:
        """Who answers the VIP from the client right now ("node-a", "node-b" or an error)."""
        status, body = self.c.http_get(f"http://{ROUTE_VIP}/", timeout)
        return body.strip() if status == 200 else f"error({body.strip() or status})"


def routed_vipd_config(lab: Lab, node: Node, priority: int, pidfile: Path | None = None,
                       api_listen: str = "127.0.0.1:9555", extra_check: str = "",
                       extra_track: str = "", route_extra: str = "") -> str:
    """vipd route mode for ROUTE_VIP on ``node``: nginx's pidfile check (weight 0: nginx gone →
    route withdrawn). ``pidfile`` defaults to the lab nginx's (lab.start_nginx); ``route_extra``
    is appended inside ``route = { ... }`` (e.g. ', replace = "add-first"' for BIRD)."""
    pidfile = pidfile or (lab.dir / f"nginx-{node.name}" / "nginx.pid")
    state = lab.dir / f"vipd-state-{node.name}"
    return f"""
[agent]
node_name = "{node.label}"
api_listen = "{api_listen}"
state_dir = "{state}"

[[check]]
name = "nginx-pid"
type = "pid"
pidfile = "{pidfile}"
{extra_check}
[[instance]]
name = "web"
mode = "route"
vips = ["{ROUTE_VIP}/32"]
priority = {priority}
track = [ {{ check = "nginx-pid", weight = 0 }}{extra_track} ]
route = {{ table = {ROUTE_TABLE}, protocol = {ROUTE_PROTOCOL}{route_extra} }}
"""


def wait_served(lab: RoutedLab, label: str, timeout: float) -> None:
    wait_for(lambda: lab.served_by() == label, timeout,
             lambda: f"client to be served by {label} (is: {lab.served_by()}; router next hops "
                     f"{lab.router.nexthops() if lab.router else '?'})")


def switch_case(poller, what: str, action, label: str, limit: float, no_hung: bool) -> dict:
    """Runs ``action``, waits up to ``limit`` s for ``poller``'s client to be served by ``label``
    (3 in a row) and prints how long that took with the outcomes since; ``no_hung`` asserts no
    request hung. Returns ``poller.summary`` of that window."""
    t0 = time.monotonic()
    action()
    s = poller.wait_served_by(label, limit, since=t0, consecutive=3)
    summary = poller.summary(t0, s.end)
    print(f"{what}: served by {label} after {(s.start - t0) * 1000:.0f} ms; {summary['counts']}")
    if no_hung:
        assert summary["hung"] == 0, f"{what}: {summary['hung']} hung request(s)"
    return summary


def sigterm_vipds(vipd: dict, router: FrrRouter) -> None:
    """SIGTERM of vipd on A and B (``vipd``: name -> its process): each exits 0 and the router has
    no path left."""
    for n in ("a", "b"):
        vipd[n].signal(signal.SIGTERM)
        assert vipd[n].wait_exit(timeout=10) == 0, f"vipd on {n} did not exit 0"
    wait_for(lambda: router.bgp_paths() == {}, 5,
             lambda: f"no path on the router after SIGTERM (has {router.bgp_paths()})")
    print("SIGTERM of both vipds: the router has no path left")


def print_vipd_logs(vipd: dict, tail: int = 1500, extra=None) -> None:
    """On a failure: the tail of each node's vipd log, then ``extra(name)`` (e.g. the engine's
    log) for that node where given."""
    for n in ("a", "b"):
        print(f"---- vipd {n} log ----\n{vipd[n].log_text()[-tail:]}")
        if extra:
            extra(n)


__all__ = ["RoutedLab", "RouteEngine", "FrrEngine", "FrrRouter", "FrrDaemons", "NODES",
           "ROUTER_AS", "CLIENT", "routed_vipd_config", "frr_available", "wait_served", "switch_case",
           "sigterm_vipds", "print_vipd_logs"]
