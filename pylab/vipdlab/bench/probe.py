"""Instruments of the failover benchmark that the test lab (vipdlab.netns) does not have.

- ``FineProbe``: an open-loop HTTP client in the client namespace (``fineprobe.c``, compiled on
  first use) that starts a new request every 1 ms whatever the earlier ones are doing (so a hung
  request never holds the next one back), each with its own timeout. It runs only while switched
  on (around a measurement), so it costs no CPU between runs.
- ``ExitWatcher``: stamps the nginx master's exit (pidfd, in a small SCHED_FIFO process); and
  since keepalived's ``vrrp_track_process`` cannot run in a network namespace (cn_proc exists
  only in the initial one), feeds keepalived's event-driven ``track_file`` (inotify) in its place:
  "1" into the file the moment nginx exits, "0" when it is back.
- ``account()``: the request accounting of a measurement window (answered, failed fast, hung).

All times are ``time.monotonic()`` values (CLOCK_MONOTONIC is system-wide, so the probe's, the
watchers' and the bench's times are on one clock).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from vipdlab import Lab, Node, Sample, SampleStream, wait_for  # noqa: F401 (Lab: type only)

# ------------------------------------------------------------------------------------------------
# Open-loop probe
# ------------------------------------------------------------------------------------------------

PROBE_SRC = Path(__file__).resolve().parent / "fineprobe.c"
_PROBE_BIN: Path | None = None


def probe_binary() -> Path:
    """fineprobe.c compiled once per source version (cc -O2) into the temp directory."""
    global _PROBE_BIN
    if _PROBE_BIN and _PROBE_BIN.exists():
        return _PROBE_BIN
    src = PROBE_SRC.read_bytes()
    out = Path(tempfile.gettempdir()) / f"vipd-bench-fineprobe-{hashlib.sha256(src).hexdigest()[:12]}"
    if not out.exists():
        cc = shutil.which("cc") or shutil.which("gcc")
        if not cc:
            raise RuntimeError("no C compiler (cc) to build fineprobe.c; or --no-fine-probe")
        tmp = out.with_suffix(f".{os.getpid()}")
        subprocess.run([cc, "-O2", "-o", str(tmp), str(PROBE_SRC)], check=True)
        os.replace(tmp, out)
    _PROBE_BIN = out
    return out


class FineProbe(SampleStream):
    """Open-loop client in ``client``'s namespace: while on, a new TCP connection and
    ``GET path`` every ``interval`` (1 ms), each with ``timeout``; outstanding requests never
    delay the next one. One ``Sample`` per request (start, end, outcome), like lab.Poller's."""

    def __init__(self, lab: Lab, client: Node, host: str, interval: float = 0.001,
                 timeout: float = 0.2, path: str = "/"):
        self.interval, self.timeout = interval, timeout
        # up to 1,000 connections a second: give the client the whole ephemeral range (per netns)
        client.run("sysctl", "-qw", "net.ipv4.ip_local_port_range=1024 65000", check=False)
        self._read_from(client.popen(str(probe_binary()), host, "80", path,
                                     str(round(interval * 1e6)), str(round(timeout * 1e6)),
                                     name=f"fineprobe@{client.label}",
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL))
        self.on_since: float | None = None
        self.windows: list[tuple[float, float]] = []  # (on, off) of every time it ran
        self.on_seconds = 0.0
        self.cpu_ticks = 0
        self._ticks0 = 0

    def _send(self, cmd: str) -> None:
        self.proc.popen.stdin.write(cmd.encode() + b"\n")
        self.proc.popen.stdin.flush()

    def _ticks(self) -> int:
        try:
            f = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return int(f[11]) + int(f[12])
        except (OSError, IndexError, ValueError):
            return 0

    def on(self, warm_up: str | None = None, timeout: float = 2.0) -> None:
        """Start probing; with ``warm_up`` ("node-a") return once a request started after now
        was answered by it (the probe is running, the path is warm)."""
        if self.on_since is None:
            self._ticks0 = self._ticks()
            self.on_since = time.monotonic()
            self._send("on")
        if warm_up:
            t = time.monotonic()
            wait_for(lambda: any(s.start >= t and s.outcome == warm_up
                                 for s in self.samples(since=t)), timeout,
                     f"the 1 ms probe to be answered by {warm_up}", interval=0.002)

    def off(self) -> None:
        """Stop starting requests (outstanding ones still finish or time out)."""
        if self.on_since is not None:
            self._send("off")
            self.windows.append((self.on_since, time.monotonic()))
            self.on_seconds += time.monotonic() - self.on_since
            self.cpu_ticks += self._ticks() - self._ticks0
            self.on_since = None

    def first(self, outcome: str, since: float) -> Sample | None:
        """The request answered by ``outcome`` that completed first at or after ``since``."""
        best = None
        for s in self.samples(since=since):
            if s.outcome == outcome and (best is None or s.end < best.end):
                best = s
        return best

    def wait_served_by(self, outcome: str, timeout: float, since: float) -> Sample:
        return wait_for(lambda: self.first(outcome, since), timeout,
                        f"the 1 ms probe to be answered by {outcome}", interval=0.002)

    def requests(self) -> int:
        with self._cond:
            return len(self._samples)

    def spacing(self) -> dict | None:
        """Spacing of the request starts while on (ms): the probe's effective resolution (a busy
        machine delays its launches; a late timer launches once, no catch-up burst)."""
        with self._cond:
            starts = sorted(s.start for s in self._samples)
        gaps = []
        for a, b in self.windows:
            w = [t for t in starts if a <= t <= b]
            gaps += [(y - x) * 1000 for x, y in zip(w, w[1:])]
        if len(gaps) < 10:
            return None
        gaps.sort()
        def q(f):
            return gaps[min(len(gaps) - 1, int(f * len(gaps)))]
        return {"n": len(gaps), "median": q(0.5), "p90": q(0.9), "p99": q(0.99), "max": gaps[-1]}


# ------------------------------------------------------------------------------------------------
# Request accounting
# ------------------------------------------------------------------------------------------------

def account(samples: list[Sample]) -> dict:
    """Outcomes of the requests of a window: ``fast`` = failed with an error before the timeout
    (refused, reset — also a reset that came after the request had waited, e.g. vipd's
    reset_connections on a hung nginx —, EOF, HTTP error), ``hung`` = ran into the timeout,
    ``lost`` = every request not answered 200 by a node, ``fail_max_ms`` = the longest of the
    fast failures (how fast "fast" was)."""
    counts: dict[str, int] = {}
    fast = hung = 0
    fail_max, fail_max_outcome = None, None
    for s in samples:
        counts[s.outcome] = counts.get(s.outcome, 0) + 1
        if s.ok:
            continue
        if s.outcome == "timeout":
            hung += 1
        else:
            fast += 1
            d = (s.end - s.start) * 1000
            if fail_max is None or d > fail_max:
                fail_max, fail_max_outcome = d, s.outcome
    ok = sum(v for k, v in counts.items() if k.startswith("node-"))
    return {"counts": counts, "fast": fast, "hung": hung, "lost": sum(counts.values()) - ok,
            "fail_max_ms": fail_max, "fail_max_outcome": fail_max_outcome,
            "total": sum(counts.values())}


# ------------------------------------------------------------------------------------------------
# nginx's exit, stamped; keepalived's track_file fed (its vrrp_track_process, emulated)
# ------------------------------------------------------------------------------------------------

_WATCH_SRC = r"""
import os, select, sys, time
path = sys.argv[1] if sys.argv[1] != "-" else None
rt = int(sys.argv[2])
IN = sys.stdin.fileno()
policy = "OTHER"
if rt:
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(rt))
        policy = f"FIFO/{rt}"
    except OSError as e:
        policy = f"OTHER (SCHED_FIFO refused: {e.strerror})"
print(f"ready {policy}", flush=True)

def put(val):
    # same length for both values: written in place, no truncation (one IN_CLOSE_WRITE, no
    # IN_MODIFY of an empty file); the time is taken just before close(), which raises the event
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(fd, val)
    t = time.monotonic()
    os.close(fd)
    return t

pidfd = None
inbuf = b""
while True:
    fds = [IN] + ([pidfd] if pidfd is not None else [])
    r, _, _ = select.select(fds, [], [])
    if pidfd is not None and pidfd in r:
        t_wake = time.monotonic()
        t_w = put(b"1\n") if path else 0.0
        os.close(pidfd)
        pidfd = None
        print(f"down {t_wake:.6f} {t_w:.6f}", flush=True)
    if IN in r:
        chunk = os.read(IN, 4096)
        if not chunk:
            sys.exit(0)
        inbuf += chunk
        while b"\n" in inbuf:
            cmd, inbuf = inbuf.split(b"\n", 1)
            f = cmd.split()
            if len(f) == 2 and f[0] == b"up":
                if pidfd is not None:
                    os.close(pidfd)
                pidfd = None
                try:
                    pidfd = os.pidfd_open(int(f[1]))
                except ProcessLookupError:
                    print(f"gone {f[1].decode()}", flush=True)
                    continue
                t_w = put(b"0\n") if path else time.monotonic()
                print(f"up {t_w:.6f}", flush=True)
"""


class ExitWatcher:
    """Follows one node's nginx master by pidfd, in a process of its own at SCHED_FIFO priority
    ``rt`` (1, the lowest real-time priority: it preempts ordinary processes to take its
    timestamp at once, and never an agent running at a higher real-time priority; its work on a
    wake-up is a few tens of microseconds), so the exit time does not carry the wake-up latency
    of a busy bench process (up to ~1 ms on the 2-CPU lab machine).

    With ``track_file`` it also feeds keepalived's ``track_file``: "0" when it starts following
    a master, "1" the moment that master exits (weight 0: FAULT; weight −60: priority − 60) —
    keepalived's ``vrrp_track_process``, which cannot run in a network namespace, emulated."""

    def __init__(self, lab: Lab, node: Node, track_file: bool, rt: int = 1):
        self.node = node
        self.file = lab.dir / f"track-nginx-{node.name}" if track_file else None
        if self.file:
            self.file.write_text("0\n")
        self.events: list[tuple[str, float, float]] = []  # (kind, t_wake, t_write)
        self.policy = ""
        self._cond = threading.Condition()
        self.proc = node.popen("python3", "-u", "-c", _WATCH_SRC, str(self.file or "-"), str(rt),
                               name=f"exitwatch@{node.label}", stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        with self._cond:
            if not self._cond.wait_for(lambda: self.policy, 10):
                raise AssertionError(f"exit watcher on {node.label} did not start")

    def _read(self) -> None:
        for line in self.proc.popen.stdout:
            f = line.decode(errors="replace").split()
            with self._cond:
                if f and f[0] == "ready":
                    self.policy = " ".join(f[1:])
                elif f and f[0] == "down" and len(f) == 3:
                    self.events.append(("down", float(f[1]), float(f[2])))
                elif f and f[0] == "up" and len(f) == 2:
                    self.events.append(("up", float(f[1]), float(f[1])))
                elif f and f[0] == "gone":
                    self.events.append(("gone", 0.0, 0.0))
                self._cond.notify_all()

    def up(self, pid: int, timeout: float = 5.0) -> float:
        """Follow nginx master ``pid`` (track file: writes "0"); returns the time it did."""
        with self._cond:
            n = len(self.events)
        self.proc.popen.stdin.write(f"up {pid}\n".encode())
        self.proc.popen.stdin.flush()
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.events) > n, timeout):
                raise AssertionError(f"exit watcher on {self.node.label} did not answer")
            ev = self.events[n]
        if ev[0] != "up":
            raise AssertionError(f"exit watcher on {self.node.label}: nginx pid {pid} gone")
        return ev[1]

    def down_after(self, t: float, timeout: float = 5.0) -> tuple[float, float | None] | None:
        """(exit seen, track file written or None) of the first exit after ``t``; None if none
        within ``timeout``."""
        def find():
            for k, a, b in self.events:
                if k == "down" and a >= t:
                    return (a, b if self.file else None)
            return None
        with self._cond:
            self._cond.wait_for(lambda: find() is not None, timeout)
            return find()
