"""Sampling the service from a client node: the lab's poller (a request every 10 ms, each a new
TCP connection) and the ``Sample`` stream any client subprocess can feed."""

from __future__ import annotations

import subprocess
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vipdlab.configs import VIP
from vipdlab.processes import wait_for

if TYPE_CHECKING:
    from vipdlab.netns import Lab, Node
    from vipdlab.processes import Proc


# Prepended to each client's source: the outcome word of an HTTP answer ("node-a" or whatever the
# body's first word is, "empty", "http-503") and of a failed connection ("refused", "reset",
# "error:..."; each client catches its own timeout first and reports "timeout").
OUTCOME_SRC = r"""
def answer_outcome(data):
    head, _, body = data.partition(b"\r\n\r\n")
    status = head.split(b" ", 2)[1].decode() if head.startswith(b"HTTP/") else "?"
    body = body.decode(errors="replace").strip()
    return (body.split()[0] if body else "empty") if status == "200" else f"http-{status}"

def error_outcome(e):
    if isinstance(e, ConnectionRefusedError):
        return "refused"
    if isinstance(e, ConnectionResetError):
        return "reset"
    return "error:" + (e.strerror or type(e).__name__).replace(" ", "_")
"""

_POLLER_SRC = OUTCOME_SRC + r"""
import socket, sys, time
host, port, path, interval, timeout = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
hh = f"[{host}]" if fam == socket.AF_INET6 else host
req = f"GET {path} HTTP/1.0\r\nHost: {hh}\r\nConnection: close\r\n\r\n".encode()
out = sys.stdout
nxt = time.monotonic()
while True:
    t0 = time.monotonic()
    s = socket.socket(fam, socket.SOCK_STREAM)
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
        outcome = answer_outcome(data)
    except socket.timeout:
        outcome = "timeout"
    except OSError as e:
        outcome = error_outcome(e)
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


def first_run(samples: list[Sample], outcome: str, consecutive: int) -> Sample | None:
    """The first of ``consecutive`` samples in a row (in the order given) with ``outcome``."""
    run: list[Sample] = []
    for s in samples:
        run = run + [s] if s.outcome == outcome else []
        if len(run) >= consecutive:
            return run[0]
    return None


class SampleStream:
    """The requests of a client subprocess that prints one "start end outcome" line per request
    (times are ``time.monotonic()`` values), collected by a reader thread as ``Sample``s."""

    def _start(self, client: "Node", src: str, name: str, host: str, port: int, path: str,
               interval: float, timeout: float) -> None:
        """Runs ``src`` on ``client`` as ``python3 -c src host port path interval timeout``."""
        self.host, self.interval, self.timeout = host, interval, timeout
        self._read_from(client.popen("python3", "-u", "-c", src, host, str(port), path,
                                     str(interval), str(timeout), name=f"{name}@{client.label}",
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL))

    def stop(self) -> None:
        self.proc.stop(timeout=2)

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
    """Requests http://host/ (IPv4 or IPv6 address) from node C every ``interval`` (10 ms) with a short timeout.

    Each request is a new TCP connection; the subprocess streams one line per request and a reader
    thread collects them as ``Sample``s. Times are ``time.monotonic()`` values."""

    def __init__(self, lab: "Lab", client: Node, host: str = VIP, port: int = 80, path: str = "/",
                 interval: float = 0.01, timeout: float = 0.2):
        self._start(client, _POLLER_SRC, "poller", host, port, path, interval, timeout)

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

        return wait_for(lambda: first_run(self.samples(since=since), outcome, consecutive), timeout,
                        lambda: f"client to be served by {outcome} "
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
