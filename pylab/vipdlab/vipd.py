"""Helpers shared by the vipd netns tests (test_vipd_*.py, test_keepalived_interop.py).

Not a test itself (ctest only runs ``test_*.py``). Everything here builds on vipdlab.netns:

    API / status(node) / inst(node) / state(node) / wait_state(node, "MASTER", timeout)
    metrics(node) / metric(text, name, **labels)      # vipd's /metrics inside the node
    transitions(proc) -> [Transition]                 # parsed from vipd's log
    VipWatcher(lab, node[, vip])                      # netlink RTM_NEWADDR/RTM_DELADDR (v4+v6) with
        .first("add"|"del", since) -> t               #   CLOCK_MONOTONIC times (one clock with
        .wait("add", since, timeout) -> t             #   the test and the poller)
    skew_ms(prio, advert_ms), master_down_ms(prio, advert_ms)   # RFC 9568 §6.1
    Figures: .add(name, ms) and .line() -> "FIGURES name=12.3ms ..."
    run_test(body, figures) -> exit code (0 pass, 1 fail with the speakers' logs)
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
import traceback
from dataclasses import dataclass

from vipdlab import VIP, Lab, Node, Proc, wait_for

API = "127.0.0.1:9555"  # vipd's api_listen inside every node namespace (separate loopbacks)


# ------------------------------------------------------------------------------------------------
# RFC 9568 timers (§6.1): Skew_Time = ((256 - Priority) * Master_Adver_Interval) / 256,
# Master_Down_Interval = 3 * Master_Adver_Interval + Skew_Time.
# ------------------------------------------------------------------------------------------------

def skew_ms(priority: int, advert_ms: float) -> float:
    return (256 - priority) * advert_ms / 256


def master_down_ms(priority: int, advert_ms: float) -> float:
    return 3 * advert_ms + skew_ms(priority, advert_ms)


# ------------------------------------------------------------------------------------------------
# vipd's API (/status, /metrics) inside a node
# ------------------------------------------------------------------------------------------------

def status(node: Node, timeout: float = 1.0) -> dict | None:
    return node.http_json(f"http://{API}/status", timeout=timeout)


def inst(node: Node, index: int = 0) -> dict | None:
    s = status(node)
    if not s or len(s.get("instances", [])) <= index:
        return None
    return s["instances"][index]


def state(node: Node) -> str | None:
    i = inst(node)
    return i.get("state") if i else None


def wait_state(node: Node, want: str, timeout: float, proc: Proc | None = None,
               extra=None) -> dict:
    """Wait until /status instances[0].state == want (and ``extra(instance)`` is truthy);
    returns the instance object. ``proc`` (the vipd) is checked to be alive meanwhile."""
    last: dict = {}

    def check():
        if proc is not None:
            proc.expect_alive()
        i = inst(node)
        if i:
            last["i"] = i
        if i and i.get("state") == want and (extra is None or extra(i)):
            return i
        return None
    return wait_for(check, timeout, lambda: f"vipd on {node.label} to report {want} "
                    f"(last /status instance: {_brief(last.get('i'))})")


def _brief(i: dict | None) -> str:
    if not i:
        return "none (API not answering)"
    return (f"state={i.get('state')} reason={i.get('reason')!r} master={i.get('master')} "
            f"priority={i.get('priority', {}).get('effective')} vips={i.get('vips')} "
            f"fault={i.get('fault')!r}")


def metrics(node: Node) -> str:
    code, body = node.http_get(f"http://{API}/metrics", timeout=1.0)
    return body if code == 200 else ""


def metric(text: str, name: str, **labels: str) -> float | None:
    """The value of the first sample ``name{labels...}`` (labels matched as a subset)."""
    for line in text.splitlines():
        if not line.startswith(name) or line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)", line)
        if not m or m.group(1) != name:
            continue
        have = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            return float(m.group(4))
    return None


# ------------------------------------------------------------------------------------------------
# vipd's log
# ------------------------------------------------------------------------------------------------

TRANSITION_RE = re.compile(
    r"instance (?P<instance>\S+): state (?P<frm>[A-Z]+) -> (?P<to>[A-Z]+) "
    r"\(reason (?P<reason>[a-z_]+)\): (?P<sentence>.*)")


@dataclass(frozen=True)
class Transition:
    instance: str
    frm: str
    to: str
    reason: str
    sentence: str

    def __str__(self) -> str:
        return f"{self.frm} -> {self.to} ({self.reason}): {self.sentence}"


def transitions(proc: Proc) -> list[Transition]:
    return [Transition(**m.groupdict()) for m in TRANSITION_RE.finditer(proc.log_text())]


def wait_transition(proc: Proc, to: str, timeout: float, after: int = 0,
                    reason: str | None = None) -> Transition:
    """Wait for the first logged transition to ``to`` among transitions[after:]."""
    def check():
        for t in transitions(proc)[after:]:
            if t.to == to and (reason is None or t.reason == reason):
                return t
        return None
    return wait_for(check, timeout, lambda: f"{proc.name} to log a transition to {to}"
                    f"{' (reason ' + reason + ')' if reason else ''}; transitions so far: "
                    f"{[str(t) for t in transitions(proc)]}")


# ------------------------------------------------------------------------------------------------
# Netlink address watcher: exact times at which the VIP appears on / leaves a node
# ------------------------------------------------------------------------------------------------

_WATCHER_SRC = r"""
import socket, struct, sys, time
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
s.bind((0, 0x10 | 0x100))  # RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR
print("ready", flush=True)
while True:
    data = s.recv(65536)
    t = time.monotonic()
    off = 0
    while off + 16 <= len(data):
        ln, typ = struct.unpack_from("=IH", data, off)
        if ln < 16:
            break
        if typ in (20, 21):  # RTM_NEWADDR, RTM_DELADDR
            fam, plen, _fl, _sc, idx = struct.unpack_from("=BBBBI", data, off + 16)
            a, addr = off + 24, None
            while a + 4 <= off + ln:
                alen, atyp = struct.unpack_from("=HH", data, a)
                if alen < 4:
                    break
                if fam == 2 and atyp in (1, 2) and alen >= 8:  # IFA_ADDRESS, IFA_LOCAL
                    addr = socket.inet_ntoa(data[a + 4:a + 8])
                elif fam == 10 and atyp in (1, 2) and alen >= 20:  # AF_INET6
                    addr = socket.inet_ntop(socket.AF_INET6, data[a + 4:a + 20])
                a += (alen + 3) & ~3
            if addr:
                print(f"{t:.6f} {'add' if typ == 20 else 'del'} {addr}/{plen} {idx}", flush=True)
        off += (ln + 3) & ~3
"""


class _NsReader:
    """A small Python program (``src``) in a node's namespace whose stdout is read line by line
    by a thread: it prints "ready" once listening, then one reading per line (``_line``). The
    start-up shared by VipWatcher and AddressPoller."""

    def _start(self, node: Node, src: str, name: str, *args: str) -> None:
        self.node = node
        self._ready = threading.Event()
        self.proc = node.popen("python3", "-u", "-c", src, *args, name=f"{name}@{node.label}",
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        if not self._ready.wait(5):
            raise AssertionError(f"{name} in {node.label} did not start")

    def _read(self) -> None:
        for raw in self.proc.popen.stdout:
            line = raw.decode(errors="replace").split()
            if line == ["ready"]:
                self._ready.set()
            elif line:
                self._line(line)

    def _line(self, fields: list[str]) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        self.proc.stop(timeout=2)


@dataclass(frozen=True)
class AddrEvent:
    t: float      # time.monotonic() when the watcher read the netlink message
    op: str       # "add" | "del"
    address: str  # "198.18.0.100/24"


class VipWatcher(_NsReader):
    """Follows RTM_NEWADDR/RTM_DELADDR in a node's namespace (IPv4 and IPv6) and timestamps them.

    Sharper than polling ``ip addr`` (a VIP removed and re-added within a few ms is seen, and the
    time is the kernel's notification, not the next poll). ``vip`` may be IPv4 or IPv6 (in
    ``inet_ntop`` form, e.g. "2001:db8::100")."""

    def __init__(self, lab: Lab, node: Node, vip: str = VIP):
        self.vip = vip.split("/")[0]
        self._events: list[AddrEvent] = []
        self._cond = threading.Condition()
        self._start(node, _WATCHER_SRC, "addrwatch")

    def _line(self, line: list[str]) -> None:
        if len(line) != 4:
            return
        ev = AddrEvent(float(line[0]), line[1], line[2])
        with self._cond:
            self._events.append(ev)
            self._cond.notify_all()

    def events(self, since: float = 0.0, until: float | None = None) -> list[AddrEvent]:
        with self._cond:
            evs = list(self._events)
        return [e for e in evs if e.address.split("/")[0] == self.vip and e.t >= since and
                (until is None or e.t <= until)]

    def first(self, op: str, since: float) -> float | None:
        for e in self.events(since):
            if e.op == op:
                return e.t
        return None

    def wait(self, op: str, since: float, timeout: float) -> float:
        return wait_for(lambda: self.first(op, since), timeout,
                        f"the VIP to be {'added to' if op == 'add' else 'removed from'} "
                        f"{self.node.label} (netlink)")


# ------------------------------------------------------------------------------------------------
# Reporting
# ------------------------------------------------------------------------------------------------

class Figures:
    """Measured figures, printed as they come and as one summary line at the end."""

    def __init__(self, test: str):
        self.test = test
        self.items: list[tuple[str, str]] = []

    def add(self, name: str, ms: float, note: str = "") -> float:
        self.items.append((name, f"{ms:.1f}ms"))
        print(f"  figure {name} = {ms:.1f} ms{'  (' + note + ')' if note else ''}", flush=True)
        return ms

    def text(self, name: str, value: str) -> None:
        self.items.append((name, value))
        print(f"  figure {name} = {value}", flush=True)

    def line(self) -> str:
        return f"FIGURES {self.test}: " + " ".join(f"{k}={v}" for k, v in self.items)


def step(msg: str) -> None:
    print(f"==> {msg}", flush=True)


def dump_logs(lab: Lab) -> None:
    """Print the log tail of every vipd and keepalived the lab started (before the lab's temp dir,
    which holds the logs, is removed)."""
    for p in lab.procs:
        if not p.name.startswith(("vipd@", "keepalived@")):
            continue
        print(f"---- {p.name} (pid {p.pid}, rc {p.returncode}) log {p.log} ----")
        print(p.log_text()[-4000:])


def run_test(body, figures: Figures, **lab_kwargs) -> int:
    """``with Lab(**lab_kwargs) as lab: body(lab)``; prints the figures line either way; on
    failure prints the speakers' logs (inside the lab, while they still exist) and returns 1."""
    try:
        with Lab(**lab_kwargs) as lab:
            try:
                body(lab)
            except BaseException as e:
                if not isinstance(e, SystemExit):
                    dump_logs(lab)
                raise
        print(figures.line())
        return 0
    except SystemExit:
        raise
    except AssertionError as e:
        print(figures.line())
        print(f"FAIL: {e}")
        return 1
    except BaseException:
        traceback.print_exc()
        print(figures.line())
        print("FAIL: unexpected error (see traceback)")
        return 1


def hold(predicate, duration: float, what: str, interval: float = 0.02) -> None:
    """Assert ``predicate()`` stays truthy for ``duration`` seconds (checked every ``interval``)."""
    deadline = time.monotonic() + duration
    while True:
        ok = predicate()
        if not ok:
            raise AssertionError(f"{what} did not hold (broke after "
                                 f"{duration - (deadline - time.monotonic()):.2f}s of {duration}s)")
        if time.monotonic() >= deadline:
            return
        time.sleep(interval)


def log_mark(proc: Proc) -> int:
    """The log's current length: pass it to ``wait_log_after`` to match only newer lines."""
    return len(proc.log_text())


def wait_log_after(proc: Proc, pattern: str, mark: int, timeout: float,
                   what: str | None = None) -> re.Match:
    rx = re.compile(pattern)
    return wait_for(lambda: rx.search(proc.log_text(), mark), timeout,
                    lambda: (what or f"{proc.name} log to match /{pattern}/") +
                    f"; log since then: {proc.log_text()[mark:][-1500:]!r}")


_DUMP_SRC = r"""
import socket, struct, sys, time
interval = float(sys.argv[1])
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
s.bind((0, 0))
seq = 0
print("ready", flush=True)
while True:
    seq += 1
    t = time.monotonic()
    # RTM_GETADDR (22), NLM_F_REQUEST | NLM_F_DUMP, struct ifaddrmsg for AF_INET
    s.send(struct.pack("=IHHII", 24, 22, 0x1 | 0x300, seq, 0) + struct.pack("=BBBBI", 2, 0, 0, 0, 0))
    addrs, done = [], False
    while not done:
        data = s.recv(1 << 16)
        off = 0
        while off + 16 <= len(data):
            ln, typ = struct.unpack_from("=IH", data, off)
            if ln < 16 or typ in (2, 3):  # NLMSG_ERROR, NLMSG_DONE
                done = True
                break
            if typ == 20:
                a = off + 24
                while a + 4 <= off + ln:
                    alen, atyp = struct.unpack_from("=HH", data, a)
                    if alen < 4:
                        break
                    if atyp == 2 and alen >= 8:  # IFA_LOCAL
                        addrs.append(socket.inet_ntoa(data[a + 4:a + 8]))
                    a += (alen + 3) & ~3
            off += (ln + 3) & ~3
    print(f"{t:.6f} {','.join(addrs)}", flush=True)
    time.sleep(max(0.0, interval - (time.monotonic() - t)))
"""


class AddressPoller(_NsReader):
    """Reads every IPv4 address of a node (a netlink RTM_GETADDR dump, what ``ip addr`` does)
    every ``interval`` seconds from a process inside the node's namespace, and keeps the
    readings as ``(time.monotonic(), set of addresses)``. A process in the namespace polls at
    10 ms on a loaded machine where spawning ``ip`` cannot."""

    def __init__(self, node: Node, interval: float = 0.010):
        self.readings: list[tuple[float, frozenset[str]]] = []
        self._lock = threading.Lock()
        self._start(node, _DUMP_SRC, "addrpoll", str(interval))

    def _line(self, line: list[str]) -> None:
        addrs = frozenset(line[1].split(",")) if len(line) > 1 else frozenset()
        with self._lock:
            self.readings.append((float(line[0]), addrs))

    def snapshot(self) -> list[tuple[float, frozenset[str]]]:
        with self._lock:
            return list(self.readings)
