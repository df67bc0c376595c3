"""An open-loop client for the benches: a new HTTP request every ``interval`` whether or not the
previous ones have answered (the lab's ``Poller`` waits for each answer, so one request lost in a
blackhole would hide the next ``timeout`` of the switch-over). Each request is a new TCP
connection with its own ``timeout``; one "start end outcome" line per request, in completion
order, collected as ``Sample``s (``SampleStream``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vipdlab.processes import wait_for
from vipdlab.sampling import OUTCOME_SRC, Sample, SampleStream, first_run

if TYPE_CHECKING:
    from vipdlab.netns import Node

_SRC = OUTCOME_SRC + r"""
import asyncio, sys, time
host, port, path, interval, timeout = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
req = f"GET {path} HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()

async def one(t0):
    outcome = "?"
    try:
        async def go():
            r, w = await asyncio.open_connection(host, port)
            w.write(req)
            data = await r.read()
            w.close()
            return data
        data = await asyncio.wait_for(go(), timeout)
        outcome = answer_outcome(data)
    except asyncio.TimeoutError:
        outcome = "timeout"
    except OSError as e:
        outcome = error_outcome(e)
    sys.stdout.write(f"{t0:.6f} {time.monotonic():.6f} {outcome}\n")
    sys.stdout.flush()

async def main():
    nxt = time.monotonic()
    while True:
        asyncio.ensure_future(one(time.monotonic()))
        nxt += interval
        delay = nxt - time.monotonic()
        if delay < 0:
            nxt, delay = time.monotonic(), 0
        await asyncio.sleep(delay)

asyncio.run(main())
"""


class OpenLoopPoller(SampleStream):
    """Requests http://host/ from ``client`` every ``interval`` (open loop), ``timeout`` each."""

    def __init__(self, client: "Node", host: str, port: int = 80, path: str = "/",
                 interval: float = 0.01, timeout: float = 1.0):
        self._start(client, _SRC, "openpoller", host, port, path, interval, timeout)

    def by_start(self, since: float, until: float | None = None) -> list[Sample]:
        """Samples that started in [since, until], in start order."""
        return sorted((s for s in self.samples() if s.start >= since and
                       (until is None or s.start <= until)), key=lambda s: s.start)

    def switch(self, label: str, since: float, timeout: float, consecutive: int = 5) -> Sample:
        """The first request started after ``since`` answered by ``label`` and followed (in start
        order) by ``consecutive - 1`` more answered by it; waits up to ``timeout``. Requests
        started earlier may still be in flight: wait ``self.timeout`` before ``window``."""
        return wait_for(lambda: first_run(self.by_start(since), label, consecutive), timeout,
                        lambda: f"client served by {label}; last: "
                        f"{[s.outcome for s in self.by_start(since)][-8:]}")

    def window(self, since: float, until: float) -> dict:
        """Counts for the requests started in [since, until]: ok, failed (answered with an
        error: refused, reset, ...) and hung (no answer within the timeout)."""
        ok = failed = hung = 0
        for s in self.by_start(since, until):
            if s.ok:
                ok += 1
            elif s.outcome == "timeout":
                hung += 1
            else:
                failed += 1
        return {"ok": ok, "failed": failed, "hung": hung}
