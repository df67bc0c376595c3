"""The failover benchmark's settings (the command line sets the mutable ones: read them as
``common.NAME``), its output and the small formatters shared by its modules."""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from pathlib import Path

PHASE_RNG = random.Random(20261122)  # cases 3–4: the action's phase (reproducible)
REPO = Path(__file__).resolve().parents[3]
os.environ.setdefault("VIPD_BIN", str(REPO / "build" / "vipd"))

VIPD_REALTIME: int | None = None  # --vipd-realtime: [agent] realtime_priority of every vipd
VIPD_INSTANCE_EXTRA = ""  # lines added to every vipd [[instance]] of the cases (bench/auth.py: auth)

# --family 4|6: the address family of the failover matrix. The lab's nodes keep their IPv4
# addresses; with 6 they also get 2001:db8::11, ::12, ::50 /64 (nodad), the VIP is
# 2001:db8::100/64, the clients connect over IPv6 and the adverts go from the link-locals.
FAMILY = 4
VIP, VIP_CIDR = "198.18.0.100", "198.18.0.100/24"


def set_family(family: int) -> None:
    global FAMILY, VIP, VIP_CIDR
    from vipdlab import configs
    FAMILY = family
    VIP, VIP_CIDR = ((configs.VIP6, configs.VIP6_CIDR) if family == 6 else
                     (configs.VIP, configs.VIP_CIDR))


def agent_lines() -> str:
    """[agent] lines for every vipd of the bench: realtime_priority when --vipd-realtime is set."""
    return "" if VIPD_REALTIME is None else f"realtime_priority = {VIPD_REALTIME}\n"


API = "127.0.0.1:9555"
PRIO_A, PRIO_B = 150, 100
POLL_INTERVAL, POLL_TIMEOUT = 0.010, 0.200
# the second, open-loop client: a new request every 1 ms whatever the others do (vipdlab.bench.probe);
# None = off (--no-fine-probe)
FINE_INTERVAL: float | None = 0.001
FINE_TIMEOUT = 0.200
# vipd's http check in cases 3-4: nginx answers on loopback in well under 1 ms, so the probe
# timeout is half the interval instead of the default (= interval)
HTTP_INTERVAL_MS, HTTP_FALL, HTTP_TIMEOUT_MS = 50, 2, 25
# keepalived in cases 1, 2, 6: "file" = track_file fed by a pidfd watcher (emulates its best,
# vrrp_track_process, which cannot run in a network namespace); "script" = 1 s vrrp_script
KA_TRACK = "file"
CASES = {
    "1": "nginx stopped on the master (weight 0)",
    "2": "nginx stopped on the master (weight -60)",
    "3": "nginx answers 503 on /healthz",
    "4": "nginx hung (SIGSTOP: accepts, never answers)",
    "5": "node crash (master's link down)",
    "6": "preempt back after recovery (nginx restarted on A)",
    "7": "planned handover (vipd drain / keepalived SIGTERM)",
}
SPEAKERS = ("vipd", "keepalived")

OUT_LINES: list[str] = []  # what out() printed: the report file
LOAD: list[float] = []


def _sample_load() -> None:
    while True:
        LOAD.append(os.getloadavg()[0])
        time.sleep(10)


def out(line: str = "") -> None:
    print(line, flush=True)
    OUT_LINES.append(line)


def start_report(title: str, script: str, conditions: list[str]) -> None:
    """Starts the report file's text: its title, the command that made it, the conditions."""
    OUT_LINES.clear()
    out(f"# {title}")
    out("")
    out(f"command: sudo PYTHONPATH=pylab python3 {script} " + " ".join(sys.argv[1:]))
    for line in conditions:
        out(line)


def write_report(path: str | Path, t_start: float) -> None:
    """Ends the report (the load during the run, the run time) and writes it to ``path``."""
    out("")
    if LOAD:
        out(f"1-min load average during the run (sampled every 10 s): min {min(LOAD):.2f}, "
            f"median {statistics.median(LOAD):.2f}, max {max(LOAD):.2f} on {os.cpu_count()} CPUs")
    out(f"total run time: {(time.monotonic() - t_start) / 60:.1f} min")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("\n".join(OUT_LINES) + "\n")


def note(msg: str) -> None:
    print(f"  .. {msg}", flush=True)


def parse_interval(s: str) -> float:
    s = s.strip()
    if s.endswith("ms"):
        return float(s[:-2]) / 1000
    if s.endswith("s"):
        return float(s[:-1])
    return float(s)


def ilabel(sec: float) -> str:
    return f"{sec * 1000:g}ms" if sec < 1 else f"{sec:g}s"


def ms(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:.1f}" if x < 100 else f"{x:.0f}"
