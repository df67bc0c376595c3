"""The network-namespace lab every vipd integration test and the demo use (docs: LAB.md).

Topology (all names carry a unique prefix, e.g. ``vl1234-9f2c``)::

    ns <prefix>-lan : bridge br0, ports pA pB pC ...   (bridge side of each veth)
    ns <prefix>-a   : vethA 198.18.0.11/24   nginx :80 "node-a", speaker priority 150
    ns <prefix>-b   : vethB 198.18.0.12/24   nginx :80 "node-b", speaker priority 100
    ns <prefix>-c   : vethC 198.18.0.50/24   client polling http://198.18.0.100/

Nothing is created in the root namespace: each veth pair is made inside the LAN namespace with its
node end moved straight into the node's namespace, so deleting the namespaces deletes everything.
Every process the lab starts runs in its own session (process group) and is tracked by PID; leaving
the ``with`` block, atexit, SIGTERM and SIGINT all end them (SIGTERM, then SIGKILL) and delete the
lab's namespaces. Traffic only ever goes to 198.18.0.0/15 addresses inside the lab.

Usage::

    from vipdlab import Lab, require_root_or_skip, wait_for
    require_root_or_skip()
    with Lab() as lab:
        lab.start_nginx(lab.a); lab.start_nginx(lab.b)
        ka = lab.start_keepalived(lab.a, keepalived_config(lab.a, priority=150))
        ...
        wait_for(lambda: lab.has_vip(lab.a, VIP), 5, "VIP on node-a")

Run ``python3 -m vipdlab --teardown`` (``PYTHONPATH=pylab``) to remove labs left by ``--keep`` or by
a crashed run.
"""

from __future__ import annotations

import atexit
import ipaddress
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from vipdlab.configs import ADDR6, LAB_NET, LAB_NET6, VIP, VIP_CIDR
from vipdlab.nginx import Nginx, nginx_conf
from vipdlab.processes import KEEPALIVED, NGINX, Capture, Proc, _pid_alive, log, vipd_bin, wait_for
from vipdlab.sampling import Poller

DEFAULT_NODES = (("a", "198.18.0.11/24"), ("b", "198.18.0.12/24"), ("c", "198.18.0.50/24"))
STATE_DIR = Path(os.environ.get("VIPD_LAB_STATE_DIR", "/run/vipd-lab"))


# Lab sysctls for IPv6 tests: no duplicate address detection on the lab interfaces (LAB.md).
IPV6_NO_DAD = {"net.ipv6.conf.all.accept_dad": "0", "net.ipv6.conf.default.accept_dad": "0"}


def _check_lab_address6(addr: str) -> None:
    net = ipaddress.ip_network(addr, strict=False)
    if net.version != 6 or not net.subnet_of(LAB_NET6):
        raise ValueError(f"{addr} is outside 2001:db8::/32: the lab's IPv6 range (LAB.md)")


def _check_lab_address(addr: str) -> None:
    """An IPv4 address must be in 198.18.0.0/15, an IPv6 one in 2001:db8::/32 (LAB.md)."""
    ip = ipaddress.ip_interface(addr).ip
    if ip.version == 6:
        _check_lab_address6(addr)
    elif ip not in LAB_NET:
        raise ValueError(f"{addr} is outside 198.18.0.0/15: the lab only uses that range (LAB.md)")


# --------------------------------------------------------------------------------------------
# Nodes
# --------------------------------------------------------------------------------------------

@dataclass
class Node:
    """One network namespace on the lab bridge."""
    lab: "Lab"
    name: str            # "a"
    ns: str              # "<prefix>-a"
    iface: str           # "vethA" (inside the node)
    port: str            # "pA"    (bridge side, inside the LAN namespace)
    cidr: str            # "198.18.0.11/24"
    procs: list = field(default_factory=list)

    @property
    def addr(self) -> str:
        return self.cidr.split("/")[0]

    @property
    def label(self) -> str:
        return f"node-{self.name}"

    def cmd(self, *argv: str) -> list[str]:
        return ["ip", "netns", "exec", self.ns, *map(str, argv)]

    def run(self, *argv: str, check: bool = True, timeout: float = 30,
            **kw) -> subprocess.CompletedProcess:
        """Run a command inside the node, wait for it (with a deadline), capture text output."""
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        r = subprocess.run(self.cmd(*argv), timeout=timeout, **kw)
        if check and r.returncode != 0:
            raise RuntimeError(f"in {self.label}: {' '.join(map(str, argv))} -> rc {r.returncode}: "
                               f"{(r.stderr or '').strip()}")
        return r

    def popen(self, *argv: str, name: str | None = None, log: Path | None = None,
              cls=Proc, **kw) -> Proc:
        """Start a tracked long-running process in the node (own session; stdout+stderr to log)."""
        return self.lab._popen(self.cmd(*argv), name or f"{self.label}:{argv[0]}", log, cls, **kw)

    def http_get(self, url: str, timeout: float = 1.0) -> tuple[int, str]:
        """(status, body) of a GET from inside this node; (0, error) on failure."""
        r = self.run("curl", "-g", "-s", "-m", str(timeout), "-o", "-", "-w", "\n%{http_code}", url,
                     check=False, timeout=timeout + 5)
        body, _, code = r.stdout.rpartition("\n")
        if r.returncode != 0:
            return 0, f"curl rc {r.returncode}"
        return int(code or 0), body

    def http_json(self, url: str, timeout: float = 1.0):
        """GET ``url`` inside the node (e.g. vipd's http://127.0.0.1:9555/status) and parse JSON;
        None unless it answers 200 with valid JSON."""
        status, body = self.http_get(url, timeout)
        if status != 200:
            return None
        try:
            return json.loads(body)
        except ValueError:
            return None


# --------------------------------------------------------------------------------------------
# The lab
# --------------------------------------------------------------------------------------------

_LIVE_LABS: list["Lab"] = []
_HANDLERS_INSTALLED = False


def _cleanup_all() -> None:
    for lab in list(_LIVE_LABS):
        lab.close()


def _on_signal(signum, frame):
    # Unwind through the with-block (Lab.__exit__ cleans up); atexit is the backstop.
    _cleanup_all()
    raise SystemExit(128 + signum)


def _install_handlers() -> None:
    global _HANDLERS_INSTALLED
    if _HANDLERS_INSTALLED:
        return
    atexit.register(_cleanup_all)
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, _on_signal)
    _HANDLERS_INSTALLED = True


class Lab:
    """Context manager: builds the topology on enter, tears everything down on exit.

    ``Lab(extra_nodes=[("d", "198.18.0.13/24")])`` adds nodes; ``lab.add_node(...)`` works later too.
    ``keep=True`` leaves everything running on exit (``python3 -m vipdlab --teardown`` removes it)."""

    def __init__(self, prefix: str | None = None, extra_nodes: Iterable[tuple[str, str]] = (),
                 keep: bool = False, sysctls: dict[str, str] | None = None, quiet: bool = False):
        self.prefix = prefix or f"vl{os.getpid()}-{secrets.token_hex(2)}"
        self.keep = keep
        self.quiet = quiet
        self.node_sysctls = {"net.ipv4.ip_forward": "0", "net.ipv4.conf.all.arp_accept": "0",
                             "net.ipv4.conf.default.arp_accept": "0", **(sysctls or {})}
        self.nodes: dict[str, Node] = {}
        self.procs: list[Proc] = []
        self.namespaces: list[str] = []
        self._node_specs = list(DEFAULT_NODES) + list(extra_nodes)
        self.lan = f"{self.prefix}-lan"
        self.dir = Path(tempfile.mkdtemp(prefix=f"{self.prefix}-"))
        os.chmod(self.dir, 0o755)  # nginx workers (user nobody) stat files in here
        self._closed = False

    # -- convenience ------------------------------------------------------------------------
    @property
    def a(self) -> Node:
        return self.nodes["a"]

    @property
    def b(self) -> Node:
        return self.nodes["b"]

    @property
    def c(self) -> Node:
        return self.nodes["c"]

    def node(self, name: str) -> Node:
        return self.nodes[name]

    def _log(self, msg: str) -> None:
        if not self.quiet:
            log(msg)

    # -- lifecycle --------------------------------------------------------------------------
    def __enter__(self) -> "Lab":
        _install_handlers()
        _LIVE_LABS.append(self)
        try:
            self._setup()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self.keep:
            self._save_state()
            _LIVE_LABS.remove(self)
            self._log(f"kept lab {self.prefix} (tear down: python3 -m vipdlab --teardown {self.prefix})")
            return
        self.close()

    def _ip(self, *argv: str) -> None:
        r = subprocess.run(["ip", *argv], capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError(f"ip {' '.join(argv)}: {r.stderr.strip()}")

    def _add_ns(self, ns: str) -> None:
        self._ip("netns", "add", ns)
        self.namespaces.append(ns)
        self._save_state()
        self._ip("-n", ns, "link", "set", "lo", "up")

    def _setup(self) -> None:
        teardown(stale_only=True, quiet=True)  # labs whose owner was SIGKILLed (ctest timeout)
        self._log(f"creating lab {self.prefix} (state in {self.dir})")
        self._add_ns(self.lan)
        self._ip("-n", self.lan, "link", "add", "br0", "type", "bridge", "forward_delay", "0",
                 "stp_state", "0", "mcast_snooping", "0")
        self._ip("-n", self.lan, "link", "set", "br0", "up")
        for name, cidr in self._node_specs:
            self.add_node(name, cidr)

    def add_node(self, name: str, cidr: str) -> Node:
        """A new namespace on the bridge: ``<prefix>-<name>``, interface ``veth<NAME>``."""
        _check_lab_address(cidr)
        if name in self.nodes:
            raise ValueError(f"node {name} exists")
        node = Node(self, name, f"{self.prefix}-{name}", f"veth{name.upper()}",
                    f"p{name.upper()}", cidr)
        self._add_ns(node.ns)
        for key, value in self.node_sysctls.items():
            node.run("sysctl", "-q", "-w", f"{key}={value}")
        # Both ends are created in the LAN namespace; the node end moves straight to the node.
        self._ip("-n", self.lan, "link", "add", node.port, "type", "veth", "peer", "name",
                 node.iface, "netns", node.ns)
        self._ip("-n", self.lan, "link", "set", node.port, "master", "br0", "up")
        self._ip("-n", node.ns, "addr", "add", cidr, "dev", node.iface)
        self._ip("-n", node.ns, "link", "set", node.iface, "up")
        self.nodes[name] = node
        return node

    def add_segment(self, bridge: str, members: dict[str, str], iface: str = "vin") -> dict[str, str]:
        """A second layer-2 segment (e.g. a proxy's backend network beside the client side).

        Creates bridge ``bridge`` in the LAN namespace and, for each ``node name → cidr``, a veth
        whose node end is ``iface`` (the same name in every node) and whose bridge end is
        ``<bridge><NAME>``. Returns node name → bridge port, for ``port_down``/``port_up``."""
        self._ip("-n", self.lan, "link", "add", bridge, "type", "bridge", "forward_delay", "0",
                 "stp_state", "0", "mcast_snooping", "0")
        self._ip("-n", self.lan, "link", "set", bridge, "up")
        ports: dict[str, str] = {}
        for name, cidr in members.items():
            _check_lab_address(cidr)
            node = self.nodes[name]
            port = f"{bridge}{name.upper()}"
            self._ip("-n", self.lan, "link", "add", port, "type", "veth", "peer", "name", iface,
                     "netns", node.ns)
            self._ip("-n", self.lan, "link", "set", port, "master", bridge, "up")
            self._ip("-n", node.ns, "addr", "add", cidr, "dev", iface)
            self._ip("-n", node.ns, "link", "set", iface, "up")
            ports[name] = port
        return ports

    def port_down(self, port: str) -> None:
        """Carrier loss on a segment: the bridge-side end ``port`` goes down."""
        self._ip("-n", self.lan, "link", "set", port, "down")

    def port_up(self, port: str) -> None:
        self._ip("-n", self.lan, "link", "set", port, "up")

    def node_ipv4(self, node: Node) -> set[str]:
        """Every IPv4 address (no prefix) on any interface of the node: one ``ip`` call, so one
        consistent reading of the node."""
        r = subprocess.run(["ip", "-n", node.ns, "-4", "-o", "addr", "show"],
                           capture_output=True, text=True, timeout=10)
        out = set()
        for line in r.stdout.splitlines():
            f = line.split()
            if len(f) >= 4 and f[2] == "inet":
                out.add(f[3].split("/")[0])
        return out

    def add_ipv6(self, node: Node, cidr: str, timeout: float = 5.0) -> None:
        """Adds an IPv6 address from 2001:db8::/32 (LAB.md) to the node's interface without DAD,
        and waits until its link-local address is usable (not tentative): IPv6 adverts are sent
        from it. Create the lab with ``sysctls=IPV6_NO_DAD`` so the link-local skips DAD too."""
        _check_lab_address6(cidr)
        node.run("ip", "-6", "addr", "add", cidr, "dev", node.iface, "nodad")

        def link_local_ready() -> bool:
            r = node.run("ip", "-6", "-o", "addr", "show", "dev", node.iface, "scope", "link",
                         check=False)
            return "fe80::" in r.stdout and "tentative" not in r.stdout
        wait_for(link_local_ready, timeout, f"an IPv6 link-local address on {node.label}")

    def add_ipv6_all(self, addrs: dict[str, str] = ADDR6) -> None:
        """``add_ipv6`` on each node named in ``addrs`` (default: A, B, C as 2001:db8::11, ::12,
        ::50 /64)."""
        for name, cidr in addrs.items():
            self.add_ipv6(self.nodes[name], cidr)

    def link_local(self, node: Node) -> str:
        """The node's IPv6 link-local address on its lab interface (no prefix length)."""
        r = node.run("ip", "-6", "-o", "addr", "show", "dev", node.iface, "scope", "link")
        return r.stdout.split()[3].split("/")[0]

    def close(self) -> None:
        """Kill every tracked process (SIGTERM, then SIGKILL) and delete the lab's namespaces."""
        if self._closed:
            return
        self._closed = True
        if self in _LIVE_LABS:
            _LIVE_LABS.remove(self)
        live = [p for p in self.procs if p.popen.returncode is None]
        for p in live:
            p._signal_group(signal.SIGTERM)
        deadline = time.monotonic() + 5
        for p in live:
            while not p._exited_unreaped() and time.monotonic() < deadline:
                time.sleep(0.01)
            p._signal_group(signal.SIGKILL)
            try:
                p.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                log(f"warning: {p.name} pid {p.pid} survived SIGKILL")
        _delete_namespaces(self.namespaces)
        _state_file(self.prefix).unlink(missing_ok=True)
        if os.environ.get("VIPD_LAB_KEEP_LOGS"):
            self._log(f"logs kept in {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def _save_state(self) -> None:
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        state = {"prefix": self.prefix, "owner": os.getpid(), "keep": self.keep,
                 "namespaces": self.namespaces, "dir": str(self.dir),
                 "pids": [p.pid for p in self.procs if p.popen.returncode is None]}
        _state_file(self.prefix).write_text(json.dumps(state))

    # -- processes --------------------------------------------------------------------------
    def _popen(self, argv: list[str], name: str, log_path: Path | None, cls=Proc, **kw) -> Proc:
        if log_path is not None and "stdout" not in kw:
            fh = open(log_path, "ab")
            kw["stdout"] = fh
            kw["stderr"] = subprocess.STDOUT
        else:
            fh = None
        kw.setdefault("stdin", subprocess.DEVNULL)
        extra = kw.pop("proc_args", ())
        popen = subprocess.Popen(argv, start_new_session=True, **kw)
        if fh:
            fh.close()
        proc = cls(self, name, popen, log_path, *extra)
        self.procs.append(proc)
        self._save_state()
        return proc

    def start_nginx(self, node: Node, ready_timeout: float = 10.0,
                    on_started: Callable[[Nginx], None] | None = None) -> Nginx:
        """A real nginx in ``node``: "/" → "node-X\\n", "/healthz" → 200 or 503 (see Nginx).

        Returns once it answers on 127.0.0.1:80 inside the node. ``on_started`` is called with
        the process as soon as it is started, before that wait (e.g. to timestamp the start)."""
        prefix = self.dir / f"nginx-{node.name}"
        prefix.mkdir(exist_ok=True)
        os.chmod(prefix, 0o755)
        conf = prefix / "nginx.conf"
        conf.write_text(nginx_conf(prefix, node.label))
        argv = node.cmd(NGINX, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log"))
        proc = self._popen(argv, f"nginx@{node.label}", prefix / "stderr.log", Nginx,
                           proc_args=(node, prefix, conf))
        if on_started:
            on_started(proc)
        wait_for(lambda: (not proc.alive() and _raise(f"nginx on {node.label} exited: "
                                                        f"{proc.log_text()}{_read(proc.error_log)}"))
                 or node.http_get("http://127.0.0.1/", timeout=0.5) == (200, f"{node.label}\n"),
                 ready_timeout, f"nginx on {node.label} to answer")
        node.procs.append(proc)
        return proc

    def start_vipd(self, node: Node, config_text: str, args: Iterable[str] = ()) -> Proc:
        """``$VIPD_BIN run -c FILE`` in ``node``; stderr (and stdout) go to ``handle.log``."""
        binary = vipd_bin()
        if not binary:
            raise RuntimeError(f"VIPD_BIN={os.environ.get('VIPD_BIN', '')!r} is not an executable")
        n = sum(1 for p in node.procs if p.name.startswith("vipd@"))
        cfg = self.dir / f"vipd-{node.name}{'-' + str(n) if n else ''}.toml"
        cfg.write_text(config_text)
        logf = cfg.with_suffix(".log")
        proc = self._popen(node.cmd(binary, "run", "-c", str(cfg), *args), f"vipd@{node.label}",
                           logf)
        proc.config = cfg
        node.procs.append(proc)
        return proc

    def start_keepalived(self, node: Node, config_text: str, ready_timeout: float = 10.0,
                         binary: str | None = None) -> Proc:
        """keepalived 2.2.x in ``node``, foreground, VRRP only, logging to ``handle.log``.

        ``keepalived -n -l -D -G -P -f CONF -p PID -r VRRP_PID -c CHECK_PID``: own pid files per
        node (the namespaces share the filesystem; keepalived refuses to start when its pid file
        names a live process)."""
        n = sum(1 for p in node.procs if p.name.startswith("keepalived@"))
        base = self.dir / f"keepalived-{node.name}{'-' + str(n) if n else ''}"
        conf = base.with_suffix(".conf")
        conf.write_text(config_text)
        logf = base.with_suffix(".log")
        # ``binary`` (or ``lab.keepalived_bin``) runs another build, e.g. 2.4.3 (authlab.py).
        binary = binary or getattr(self, "keepalived_bin", None) or KEEPALIVED
        argv = node.cmd(binary, "-n", "-l", "-D", "-G", "-P", "-f", str(conf),
                        "-p", f"{base}.pid", "-r", f"{base}-vrrp.pid", "-c", f"{base}-check.pid")
        proc = self._popen(argv, f"keepalived@{node.label}", logf)
        proc.config = conf
        proc.pidfiles = (Path(f"{base}.pid"), Path(f"{base}-vrrp.pid"))
        node.procs.append(proc)
        # Ready when the VRRP child has written its pid file; a config or pid-file problem makes
        # keepalived exit (often with rc 0, e.g. "daemon is already running"): report it.
        wait_for(lambda: (not proc.alive() and _raise(
                     f"keepalived on {node.label} exited (rc {proc.returncode}):\n"
                     f"{proc.log_text()[-2000:]}")) or proc.pidfiles[1].exists(),
                 ready_timeout, f"keepalived on {node.label} to start its VRRP process")
        return proc

    def poller(self, host: str = VIP, interval: float = 0.01, timeout: float = 0.2,
               client: Node | None = None, path: str = "/") -> Poller:
        """Start polling http://host/ from node C (or ``client``)."""
        _check_lab_address(host)
        return Poller(self, client or self.c, host, path=path, interval=interval, timeout=timeout)

    def capture(self, node: Node | None, bpf: str = "", file: str | Path | None = None,
                iface: str | None = None, ready_timeout: float = 5.0) -> Capture:
        """tcpdump in ``node`` (None = the LAN namespace, default iface br0) writing a pcap."""
        ns = node.ns if node else self.lan
        iface = iface or (node.iface if node else "br0")
        file = Path(file) if file else self.dir / f"cap-{(node.name if node else 'lan')}-{len(self.procs)}.pcap"
        logf = file.with_suffix(".tcpdump.log")
        argv = ["ip", "netns", "exec", ns, "tcpdump", "-n", "-U", "--immediate-mode", "-i", iface,
                "-w", str(file)]
        argv += bpf.split() if bpf else []
        cap = self._popen(argv, f"tcpdump@{ns}:{iface}", logf, Capture)
        cap.file = file
        cap.wait_log(r"listening on", ready_timeout, f"tcpdump on {ns}:{iface} to start")
        return cap

    # -- network state ----------------------------------------------------------------------
    def addresses(self, node: Node) -> list[str]:
        """IPv4/IPv6 addresses (with prefix) on the node's lab interface."""
        r = subprocess.run(["ip", "-n", node.ns, "-br", "addr", "show", "dev", node.iface],
                           capture_output=True, text=True, timeout=10)
        fields = r.stdout.split()
        return fields[2:] if len(fields) > 2 else []

    def has_vip(self, node: Node, vip: str = VIP) -> bool:
        """True if ``vip`` ("198.18.0.100" or "198.18.0.100/24") is on the node's interface."""
        want = vip.split("/")[0]
        return any(a.split("/")[0] == want for a in self.addresses(node))

    def vip_holders(self, vip: str = VIP) -> list[str]:
        return [n.label for n in self.nodes.values() if self.has_vip(n, vip)]

    def ip_addr_del(self, node: Node, cidr: str = VIP_CIDR) -> None:
        """Remove an address from the node's interface behind the speaker's back."""
        self._ip("-n", node.ns, "addr", "del", cidr, "dev", node.iface)

    def link_down(self, node: Node) -> None:
        """Carrier loss for the node: the bridge-side veth end goes down (the node's end stays
        admin-up but shows NO-CARRIER)."""
        self._ip("-n", self.lan, "link", "set", node.port, "down")

    def link_up(self, node: Node) -> None:
        self._ip("-n", self.lan, "link", "set", node.port, "up")

    def node_link_down(self, node: Node) -> None:
        """Admin-down the node's own interface (deletes its IPv6 addresses; IPv4 stays)."""
        self._ip("-n", node.ns, "link", "set", node.iface, "down")

    def node_link_up(self, node: Node) -> None:
        self._ip("-n", node.ns, "link", "set", node.iface, "up")

    def netem(self, node: Node, *spec: str) -> None:
        """``tc qdisc replace ... netem <spec>`` on the node's interface (e.g. "loss", "30%").

        Some kernels are built without netem (CONFIG_NET_SCH_NETEM unset): check
        ``netem_available()`` first and skip."""
        r = node.run("tc", "qdisc", "replace", "dev", node.iface, "root", "netem", *spec,
                     check=False)
        if r.returncode != 0:
            raise RuntimeError(f"netem on {node.label} failed ({r.stderr.strip()}); "
                               f"this kernel may lack CONFIG_NET_SCH_NETEM")

    def netem_available(self) -> bool:
        """True if this kernel has the netem qdisc (tried on node C's interface, then removed)."""
        c = self.c
        r = c.run("tc", "qdisc", "add", "dev", c.iface, "root", "netem", "delay", "0ms",
                  check=False)
        if r.returncode == 0:
            c.run("tc", "qdisc", "del", "dev", c.iface, "root", check=False)
        return r.returncode == 0


def _raise(msg: str):
    raise RuntimeError(msg)


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _state_file(prefix: str) -> Path:
    return STATE_DIR / f"{prefix}.json"


def _delete_namespaces(namespaces: Iterable[str]) -> None:
    for ns in namespaces:
        if not Path(f"/run/netns/{ns}").exists():
            continue
        # Anything still running inside a namespace the lab made was started by the lab.
        r = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
        for pid in r.stdout.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        r = subprocess.run(["ip", "netns", "del", ns], capture_output=True, text=True)
        if r.returncode != 0:
            log(f"warning: could not delete namespace {ns}: {r.stderr.strip()}")


# --------------------------------------------------------------------------------------------
# Teardown of kept / stale labs
# --------------------------------------------------------------------------------------------

def teardown(prefix: str | None = None, stale_only: bool = False, quiet: bool = False) -> int:
    """Remove a kept lab (``prefix``), or every kept lab and every lab whose owner died
    (``stale_only``: only those whose owner died without cleaning up, never kept ones)."""
    removed = 0
    for f in sorted(STATE_DIR.glob("*.json")) if STATE_DIR.exists() else []:
        try:
            st = json.loads(f.read_text())
        except (OSError, ValueError):
            continue
        if prefix and st.get("prefix") != prefix:
            continue
        owner_alive = _pid_alive(st.get("owner", 0))
        if not prefix and not st.get("keep") and owner_alive:
            continue  # a running test owns it
        if stale_only and (st.get("keep") or owner_alive):
            continue
        for pid in st.get("pids", []):
            # The pid was started by the lab; only signal it if it still lives in a lab namespace.
            try:
                ns_of_pid = os.readlink(f"/proc/{pid}/ns/net")
            except OSError:
                continue
            lab_ns = set()
            for ns in st.get("namespaces", []):
                try:
                    lab_ns.add(f"net:[{os.stat(f'/run/netns/{ns}').st_ino}]")
                except OSError:
                    pass
            if ns_of_pid in lab_ns:
                try:
                    os.killpg(pid, signal.SIGTERM)
                except (ProcessLookupError, PermissionError):
                    pass
        _delete_namespaces(st.get("namespaces", []))
        shutil.rmtree(st.get("dir", ""), ignore_errors=True)
        f.unlink(missing_ok=True)
        log(f"removed {'stale ' if stale_only else ''}lab {st.get('prefix')}")
        removed += 1
    if not removed and not quiet:
        log("no kept or stale lab to remove" + (f" named {prefix}" if prefix else ""))
    return removed
