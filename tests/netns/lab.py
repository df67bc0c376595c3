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

    from lab import Lab, require_root_or_skip, wait_for
    require_root_or_skip()
    with Lab() as lab:
        lab.start_nginx(lab.a); lab.start_nginx(lab.b)
        ka = lab.start_keepalived(lab.a, keepalived_config(lab.a, priority=150))
        ...
        wait_for(lambda: lab.has_vip(lab.a, VIP), 5, "VIP on node-a")

Run ``python3 tests/netns/lab.py --teardown`` to remove labs left by ``--keep`` or by a crashed run.
"""

from __future__ import annotations

import atexit
import ipaddress
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

VIP = "198.18.0.100"
VIP_CIDR = "198.18.0.100/24"
LAB_NET = ipaddress.ip_network("198.18.0.0/15")
DEFAULT_NODES = (("a", "198.18.0.11/24"), ("b", "198.18.0.12/24"), ("c", "198.18.0.50/24"))
STATE_DIR = Path(os.environ.get("VIPD_LAB_STATE_DIR", "/run/vipd-lab"))
SKIP = 77

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
KEEPALIVED = shutil.which("keepalived") or "/usr/sbin/keepalived"


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------

def log(msg: str) -> None:
    print(f"[lab] {msg}", flush=True)


def skip(reason: str) -> None:
    """Exit 77 (ctest: skipped) with a clear reason."""
    print(f"skipped: {reason}", flush=True)
    sys.exit(SKIP)


def require_root_or_skip(need: Iterable[str] = ("nginx", "keepalived")) -> None:
    """Skip (exit 77) unless root, `ip netns` works, and the named tools are installed.

    ``need`` may contain "nginx", "keepalived", "tcpdump", "tshark", "curl", "vipd"."""
    if os.geteuid() != 0:
        skip("needs root (network namespaces, raw sockets); run as root")
    if not shutil.which("ip"):
        skip("iproute2 (`ip`) is not installed")
    probe = f"vlprobe{os.getpid()}-{secrets.token_hex(2)}"
    r = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if r.returncode != 0:
        skip(f"`ip netns add` does not work here: {r.stderr.strip()}")
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    tools = {"nginx": NGINX, "keepalived": KEEPALIVED, "tcpdump": "tcpdump", "tshark": "tshark",
             "curl": "curl"}
    for name in need:
        if name == "vipd":
            require_vipd_or_skip()
            continue
        path = tools.get(name, name)
        if not (shutil.which(path) or (os.path.isfile(path) and os.access(path, os.X_OK))):
            skip(f"{name} is not installed (tools/install-deps.sh installs it)")


def vipd_bin() -> str | None:
    """$VIPD_BIN if it names an executable file, else None."""
    path = os.environ.get("VIPD_BIN", "")
    return path if path and os.path.isfile(path) and os.access(path, os.X_OK) else None


def require_vipd_or_skip() -> str:
    path = vipd_bin()
    if not path:
        skip(f"vipd binary not found (VIPD_BIN={os.environ.get('VIPD_BIN', '')!r}); build it first")
    return path


def run_main(main: Callable[[], int]) -> int:
    """The exit code of a test script's ``main()``: its own value; 1 with a ``FAIL:`` line on an
    assertion or an unexpected error (traceback printed); SystemExit (77 skips) passes through."""
    try:
        return main()
    except AssertionError as e:
        print(f"FAIL: {e}")
        return 1
    except SystemExit:
        raise
    except BaseException:
        traceback.print_exc()
        print("FAIL: unexpected error (see traceback)")
        return 1


def wait_for(predicate: Callable[[], object], timeout: float, what: str | Callable[[], str],
             interval: float = 0.01) -> object:
    """Poll ``predicate`` until it returns a truthy value (returned) or raise AssertionError.

    ``what`` says what was awaited; a callable is evaluated at the deadline (for live details)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for "
                                 f"{what() if callable(what) else what}")
        time.sleep(interval)


def _check_lab_address(addr: str) -> None:
    ip = ipaddress.ip_interface(addr).ip
    if ip not in LAB_NET:
        raise ValueError(f"{addr} is outside 198.18.0.0/15: the lab only uses that range (LAB.md)")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


# --------------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------------

class Proc:
    """A process the lab started, in its own session (pgid == pid), tracked by PID.

    ``stop()`` sends SIGTERM to the leader (graceful stop) and waits, ``kill()`` sends SIGKILL to
    the whole process group (a crash, nothing left behind). The group is only signalled while the
    leader is not yet reaped, so its PID cannot have been reused."""

    def __init__(self, lab: "Lab", name: str, popen: subprocess.Popen, log: Path | None):
        self.lab, self.name, self.popen, self.log = lab, name, popen, log
        self.pid = popen.pid

    def __repr__(self) -> str:
        return f"<Proc {self.name} pid={self.pid} rc={self.popen.returncode}>"

    @property
    def returncode(self) -> int | None:
        return self.popen.returncode

    def alive(self) -> bool:
        return self.popen.poll() is None

    def _exited_unreaped(self) -> bool:
        if self.popen.returncode is not None:
            return True
        try:
            info = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return True
        return info is not None

    def _signal_group(self, sig: int) -> None:
        if self.popen.returncode is not None:
            return  # reaped: the pgid may belong to someone else now
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the leader only (e.g. SIGHUP to reload)."""
        if self.popen.returncode is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def _finish(self, timeout: float) -> int | None:
        """Wait for the leader to exit; SIGKILL the group on deadline; reap. Returns the rc."""
        deadline = time.monotonic() + timeout
        while not self._exited_unreaped() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not self._exited_unreaped():
            log(f"{self.name} (pid {self.pid}) did not exit within {timeout:g}s: SIGKILL")
        self._signal_group(signal.SIGKILL)  # the leader's children (nginx workers, VRRP child)
        try:
            return self.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            log(f"{self.name} (pid {self.pid}) still not reaped after SIGKILL")
            return None

    def terminate(self) -> None:
        """SIGTERM the leader without waiting (then ``wait_exit``)."""
        self.signal(signal.SIGTERM)

    def wait_exit(self, timeout: float = 10.0) -> int | None:
        """Wait for the leader to exit, SIGKILL the group on deadline, reap; returns rc."""
        return self._finish(timeout)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM the leader (graceful stop), wait up to ``timeout``, then SIGKILL. Returns rc."""
        self.signal(signal.SIGTERM)
        return self._finish(timeout)

    def kill(self) -> int | None:
        """SIGKILL the whole process group (a crash) and reap. Returns rc (-9)."""
        self._signal_group(signal.SIGKILL)
        return self._finish(5)

    def wait(self, timeout: float) -> int:
        return self.popen.wait(timeout=timeout)

    def expect_alive(self) -> None:
        """Raise AssertionError (with the log's tail) if the process has exited."""
        if not self.alive():
            raise AssertionError(f"{self.name} (pid {self.pid}) exited with rc {self.returncode}:"
                                 f"\n{self.log_text()[-2000:]}")

    def log_text(self) -> str:
        if not self.log or not self.log.exists():
            return ""
        return self.log.read_text(errors="replace")

    def wait_log(self, pattern: str, timeout: float, what: str | None = None) -> re.Match:
        """Wait until the log matches the regex ``pattern``; returns the match."""
        rx = re.compile(pattern)
        return wait_for(lambda: rx.search(self.log_text()), timeout,
                        what or f"{self.name} log to match /{pattern}/")


class Nginx(Proc):
    """A real nginx (``daemon off``, master under our Popen) serving "node-X\\n" on 0.0.0.0:80.

    ``/healthz`` answers 200 "ok" unless the file ``self.unhealthy_flag`` exists (then 503):
    ``set_healthy(False)`` flips it with no reload."""

    def __init__(self, lab, name, popen, log, node: "Node", prefix: Path, conf: Path):
        super().__init__(lab, name, popen, log)
        self.node, self.prefix, self.conf = node, prefix, conf
        self.pidfile = prefix / "nginx.pid"
        self.unhealthy_flag = prefix / "unhealthy"
        self.error_log = prefix / "error.log"

    def set_healthy(self, healthy: bool) -> None:
        if healthy:
            self.unhealthy_flag.unlink(missing_ok=True)
        else:
            self.unhealthy_flag.touch()

    def reload(self) -> None:
        """``nginx -s reload`` against this instance's pid file (master PID stays the same)."""
        r = subprocess.run([NGINX, "-p", str(self.prefix), "-c", str(self.conf), "-e",
                            str(self.error_log), "-s", "reload"], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"nginx reload on {self.node.label} failed: {r.stderr.strip()}")

    def worker_pids(self) -> list[int]:
        return _children(self.pid)


def _children(pid: int) -> list[int]:
    try:
        out = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in out.split()]


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
        r = self.run("curl", "-s", "-m", str(timeout), "-o", "-", "-w", "\n%{http_code}", url,
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
# The poller: a client in ns C hitting the VIP every 10 ms
# --------------------------------------------------------------------------------------------

_POLLER_SRC = r"""
import socket, sys, time
host, port, path, interval, timeout = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
req = f"GET {path} HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
out = sys.stdout
nxt = time.monotonic()
while True:
    t0 = time.monotonic()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((host, port))
        s.sendall(req)
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status = head.split(b" ", 2)[1].decode() if head.startswith(b"HTTP/") else "?"
        body = body.decode(errors="replace").strip()
        outcome = (body.split()[0] if body else "empty") if status == "200" else f"http-{status}"
    except socket.timeout:
        outcome = "timeout"
    except ConnectionRefusedError:
        outcome = "refused"
    except ConnectionResetError:
        outcome = "reset"
    except OSError as e:
        outcome = "error:" + (e.strerror or type(e).__name__).replace(" ", "_")
    finally:
        s.close()
    t1 = time.monotonic()
    out.write(f"{t0:.6f} {t1:.6f} {outcome}\n")
    out.flush()
    nxt += interval
    now = time.monotonic()
    if nxt > now:
        time.sleep(nxt - now)
    else:
        nxt = now
"""


@dataclass(frozen=True)
class Sample:
    start: float     # time.monotonic() (system-wide clock, comparable with the test's)
    end: float
    outcome: str     # "node-a", "refused", "timeout", "reset", "http-503", "error:..."

    @property
    def ok(self) -> bool:
        return self.outcome.startswith("node-")


class SampleStream:
    """The requests of a client subprocess that prints one "start end outcome" line per request
    (times are ``time.monotonic()`` values), collected by a reader thread as ``Sample``s."""

    def _read_from(self, proc: "Proc") -> None:
        self.proc = proc
        self._samples: list[Sample] = []
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for line in self.proc.popen.stdout:
            parts = line.decode(errors="replace").split()
            if len(parts) != 3:
                continue
            s = Sample(float(parts[0]), float(parts[1]), parts[2])
            with self._cond:
                self._samples.append(s)
                self._cond.notify_all()

    def samples(self, since: float | None = None, until: float | None = None) -> list[Sample]:
        with self._lock:
            out = list(self._samples)
        return [s for s in out if (since is None or s.end >= since) and
                (until is None or s.start <= until)]


class Poller(SampleStream):
    """Requests ``url`` from node C every ``interval`` (10 ms) with a short timeout.

    Each request is a new TCP connection; the subprocess streams one line per request and a reader
    thread collects them as ``Sample``s. Times are ``time.monotonic()`` values."""

    def __init__(self, lab: "Lab", client: Node, host: str = VIP, port: int = 80, path: str = "/",
                 interval: float = 0.01, timeout: float = 0.2):
        self.host, self.interval, self.timeout = host, interval, timeout
        self._read_from(client.popen("python3", "-u", "-c", _POLLER_SRC, host, str(port), path,
                                     str(interval), str(timeout), name=f"poller@{client.label}",
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL))

    def stop(self) -> None:
        self.proc.stop(timeout=2)

    def last(self) -> Sample | None:
        with self._lock:
            return self._samples[-1] if self._samples else None

    def first(self, outcome: str, since: float) -> Sample | None:
        """The first sample with ``outcome`` that completed at or after ``since``."""
        for s in self.samples(since=since):
            if s.outcome == outcome and s.end >= since:
                return s
        return None

    def wait_served_by(self, outcome: str, timeout: float, since: float | None = None,
                       consecutive: int = 1) -> Sample:
        """Wait until ``consecutive`` answers in a row (completed after ``since``) are ``outcome``;
        returns the first of them. ``outcome`` is e.g. "node-b"."""
        since = time.monotonic() if since is None else since

        def check():
            run = []
            for s in self.samples(since=since):
                run = run + [s] if s.outcome == outcome else []
                if len(run) >= consecutive:
                    return run[0]
            return None
        return wait_for(check, timeout, lambda: f"client to be served by {outcome} "
                        f"({consecutive} in a row); last answers: {self.tail(8)}")

    def tail(self, n: int = 10) -> str:
        return " ".join(s.outcome for s in self.samples()[-n:]) or "(none yet)"

    def summary(self, since: float, until: float | None = None) -> dict:
        """Counts per outcome, plus ``failed_fast`` (non-answers quicker than half the timeout) and
        ``hung`` (timeouts) among requests in the window."""
        counts: dict[str, int] = {}
        failed_fast = hung = 0
        for s in self.samples(since, until):
            counts[s.outcome] = counts.get(s.outcome, 0) + 1
            if s.outcome == "timeout":
                hung += 1
            elif not s.ok and (s.end - s.start) < self.timeout / 2:
                failed_fast += 1
        return {"counts": counts, "failed_fast": failed_fast, "hung": hung,
                "total": sum(counts.values())}

    def timeline(self, since: float, until: float | None = None) -> list[tuple[float, float, str, int]]:
        """Runs of equal outcomes: (first start, last end, outcome, count), relative to nothing."""
        runs: list[list] = []
        for s in self.samples(since, until):
            if runs and runs[-1][2] == s.outcome:
                runs[-1][1] = s.end
                runs[-1][3] += 1
            else:
                runs.append([s.start, s.end, s.outcome, 1])
        return [tuple(r) for r in runs]


# --------------------------------------------------------------------------------------------
# Packet capture
# --------------------------------------------------------------------------------------------

class Capture(Proc):
    """A tcpdump writing a pcap; ``stop()`` flushes it; ``decode()`` runs tshark on it."""
    file: Path

    def stop(self, timeout: float = 5.0) -> int | None:
        self.signal(signal.SIGINT)  # tcpdump flushes and exits on SIGINT
        return self._finish(timeout)

    def decode(self, display_filter: str = "", *extra: str) -> str:
        argv = ["tshark", "-n", "-r", str(self.file)]
        if display_filter:
            argv += ["-Y", display_filter]
        r = subprocess.run(argv + list(extra), capture_output=True, text=True, timeout=60)
        return r.stdout


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
    ``keep=True`` leaves everything running on exit (``python3 lab.py --teardown`` removes it)."""

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
            self._log(f"kept lab {self.prefix} (tear down: python3 {__file__} --teardown {self.prefix})")
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
        conf.write_text(f"""\
daemon off;
master_process on;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
events {{ worker_connections 512; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    default_type text/plain;
    keepalive_timeout 5s;
    server {{
        listen 0.0.0.0:80;
        location = /healthz {{
            if (-f {prefix}/unhealthy) {{ return 503 "unhealthy {node.label}\\n"; }}
            return 200 "ok {node.label}\\n";
        }}
        location / {{ return 200 "{node.label}\\n"; }}
    }}
}}
""")
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

    def start_keepalived(self, node: Node, config_text: str, ready_timeout: float = 10.0) -> Proc:
        """keepalived 2.2.x in ``node``, foreground, VRRP only, logging to ``handle.log``.

        ``keepalived -n -l -D -G -P -f CONF -p PID -r VRRP_PID -c CHECK_PID``: own pid files per
        node (the namespaces share the filesystem; keepalived refuses to start when its pid file
        names a live process)."""
        n = sum(1 for p in node.procs if p.name.startswith("keepalived@"))
        base = self.dir / f"keepalived-{node.name}{'-' + str(n) if n else ''}"
        conf = base.with_suffix(".conf")
        conf.write_text(config_text)
        logf = base.with_suffix(".log")
        argv = node.cmd(KEEPALIVED, "-n", "-l", "-D", "-G", "-P", "-f", str(conf),
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
# Config builders (so tests and the demo write the same configs)
# --------------------------------------------------------------------------------------------

def keepalived_config(node: Node, priority: int, vrid: int = 51, advert: float = 0.1,
                      vips: Iterable[str] = (VIP_CIDR,), version: int = 3,
                      preempt: bool = True, unicast_peers: Iterable[str] = (),
                      extra_instance: str = "", extra_global: str = "",
                      scripts: str = "") -> str:
    """A keepalived.conf for ``node``. ``scripts`` (vrrp_script blocks) goes before the instance,
    which may reference them with ``extra_instance="track_script { NAME }"``."""
    vip_lines = "\n".join(f"        {v} dev {node.iface}" for v in vips)
    peers = list(unicast_peers)
    unicast = ""
    if peers:
        unicast = (f"    unicast_src_ip {node.addr}\n    unicast_peer {{\n" +
                   "".join(f"        {p}\n" for p in peers) + "    }\n")
    return f"""\
global_defs {{
    router_id {node.label}
    vrrp_version {version}
    vrrp_garp_master_delay 0
    vrrp_garp_master_repeat 5
    vrrp_garp_interval 0.001
    script_user root
    enable_script_security
{extra_global}}}
{scripts}
vrrp_instance VI_{vrid} {{
    state BACKUP
    interface {node.iface}
    virtual_router_id {vrid}
    priority {priority}
    advert_int {advert:g}
    {'' if preempt else 'nopreempt'}
{unicast}    virtual_ipaddress {{
{vip_lines}
    }}
{extra_instance}}}
"""


def vipd_config(node: Node, priority: int, vrid: int = 51, advert: str = "100ms",
                vips: Iterable[str] = (VIP_CIDR,), version: int = 3, preempt: bool = True,
                unicast_peers: Iterable[str] = (), checksum: str = "rfc9568",
                api_listen: str = "", group_size: int = 0, extra_instance: str = "",
                extra: str = "", extra_agent: str = "") -> str:
    """A vipd TOML config (DESIGN.md §3). ``extra_agent`` and ``extra_instance`` are lines added
    to [agent] and [[instance]]; ``extra`` is appended (e.g. [[check]] tables)."""
    def toml_list(xs):
        return "[" + ", ".join(json.dumps(x) for x in xs) + "]"
    return f"""\
[agent]
node_name = "{node.label}"
api_listen = "{api_listen}"
log_level = "info"
{extra_agent}
[[instance]]
name = "web"
interface = "{node.iface}"
vrid = {vrid}
priority = {priority}
version = {version}
advert_interval = "{advert}"
preempt = {str(preempt).lower()}
group_size = {group_size}
vips = {toml_list(vips)}
unicast_peers = {toml_list(unicast_peers)}
checksum = "{checksum}"
{extra_instance}
{extra}"""


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


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description="vipd network-namespace lab")
    ap.add_argument("--teardown", nargs="?", const="", metavar="PREFIX",
                    help="remove a kept lab (or all kept/stale labs)")
    ap.add_argument("--list", action="store_true", help="list kept/running labs")
    args = ap.parse_args()
    if args.list:
        for f in sorted(STATE_DIR.glob("*.json")) if STATE_DIR.exists() else []:
            st = json.loads(f.read_text())
            print(f"{st['prefix']}: keep={st['keep']} owner={st['owner']} "
                  f"alive={_pid_alive(st['owner'])} ns={' '.join(st['namespaces'])}")
    elif args.teardown is not None:
        teardown(args.teardown or None)
    else:
        ap.print_help()
