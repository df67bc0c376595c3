"""The failover benchmark's command line (bench/failover.py is a thin wrapper around ``main``)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import threading
import time
from pathlib import Path

from vipdlab import require_root_or_skip
from vipdlab.bench import common as C
from vipdlab.bench.cases import run_matrix
from vipdlab.bench.common import (CASES, HTTP_FALL, HTTP_INTERVAL_MS, HTTP_TIMEOUT_MS, POLL_TIMEOUT,
                                  REPO, SPEAKERS, _sample_load, ilabel, out, parse_interval)
from vipdlab.bench.hoststats import idle_and_jitter
from vipdlab.bench.report import (ka_track_text, report_crash, report_idle, report_matrix,
                                  report_policy, report_scale_instances, report_scale_vips,
                                  report_steps)
from vipdlab.bench.scale import scale_instances, scale_vips

DESCRIPTION = """vipd vs keepalived 2.2.7: failover benchmark on the netns lab (bench/README.md).

    sudo PYTHONPATH=pylab python3 bench/failover.py [--runs 5] [--intervals 1s,100ms,10ms]
                                   [--cases 1,2,3,4,5,6,7] [--quick] [--no-idle] [--no-scale]
                                   [--out FILE] [--no-fine-probe] [--ka-track file|script]
                                   [--family 4|6]

Same lab as tests/netns (LAB.md): A 198.18.0.11 priority 150 (master), B 198.18.0.12 priority
100, real nginx on both, client C polling http://198.18.0.100/ every 10 ms with a 0.2 s request
timeout, nodes with ip_forward = 0; beside it an open-loop probe (a request every 1 ms) for a
finer "served", an exit watcher stamping nginx master's exit (pidfd), a capture on the bridge for
the adverts. For each speaker (vipd, then keepalived) and each advert interval, each case is run
N times; the tables give min / median / max, the ratio keepalived / vipd of the medians, the
requests that failed fast and hung, where the time goes, and PASS/MISS per target.

--family 6 runs the failover matrix over IPv6: the nodes also get 2001:db8::11, ::12, ::50 /64,
the VIP is 2001:db8::100/64 (VRRPv3 from the link-locals to ff02::12, unsolicited NAs in place of
gratuitous ARP), both clients connect to http://[2001:db8::100]/. The idle and scale sections are
IPv4 only (left out with --family 6).

Not a test (not under tests/, not run by ctest): it measures and prints; it never fails on a MISS.
"""


def conditions(args, intervals) -> list[str]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ka = subprocess.run(["keepalived", "--version"], capture_output=True, text=True)
    kav = (ka.stderr or ka.stdout).splitlines()[0] if (ka.stderr or ka.stdout) else "?"
    vv = subprocess.run([os.environ["VIPD_BIN"], "version"], stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT, text=True)
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True).stdout.strip()
    return [
        f"date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}   vipd commit {head}",
        f"kernel: {platform.release()}   CPU: {cpu} × {os.cpu_count()}   "
        f"load avg at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        f"vipd: {vv.stdout.strip()}   keepalived: {kav}",
        ("family: IPv6 — VIP 2001:db8::100/64 (nodad), nodes 2001:db8::11/::12/::50, adverts from "
         "the link-locals to ff02::12; GARP column = first unsolicited NA for the VIP"
         if C.FAMILY == 6 else "family: IPv4 — VIP 198.18.0.100/24"),
        f"lab: netns + veth + bridge, nodes ip_forward=0, arp_accept=0; VRRPv3; A prio 150, B 100; "
        f"client polls every {C.POLL_INTERVAL * 1000:g} ms, timeout {POLL_TIMEOUT * 1000:g} ms, new TCP "
        f"connection per request",
        (f"second client: open-loop probe, a request every {C.FINE_INTERVAL * 1000:g} ms, timeout "
         f"{C.FINE_TIMEOUT * 1000:g} ms, on only around each action" if C.FINE_INTERVAL else
         "second client: none (--no-fine-probe)"),
        f"vipd: group_size = 2; cases 1, 2, 6 pid check (pidfd); cases 3–4 http check interval "
        f"{HTTP_INTERVAL_MS} ms, timeout {HTTP_TIMEOUT_MS} ms, fall {HTTP_FALL}, rise 1, weight -60",
        ka_track_text() + "; cases 3–4: 1 s vrrp_script curl -m 0.1, weight -60",
        "cases 3–4: each action at a random phase (uniform 0–1 s wait, seeded) of the periodic checks",
        f"runs per cell: {args.runs}; advert intervals: {', '.join(ilabel(i) for i in intervals)}",
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--intervals", default="1s,100ms,10ms")
    ap.add_argument("--cases", default="1,2,3,4,5,6,7")
    ap.add_argument("--quick", action="store_true", help="3 runs, 100ms and 10ms only, short idle")
    ap.add_argument("--no-idle", action="store_true")
    ap.add_argument("--no-scale", action="store_true")
    ap.add_argument("--no-failover", action="store_true")
    ap.add_argument("--speakers", default="vipd,keepalived",
                    help="failover matrix only: which speakers (default both)")
    ap.add_argument("--poll-ms", type=float, default=10,
                    help="client poll interval (default 10 ms; the served figure's resolution)")
    ap.add_argument("--fine-ms", type=float, default=1,
                    help="interval of the second, open-loop probe (default 1 ms)")
    ap.add_argument("--fine-timeout-ms", type=float, default=200,
                    help="request timeout of the open-loop probe (default 200 ms)")
    ap.add_argument("--no-fine-probe", action="store_true",
                    help="no second probe (to check that it does not disturb the measurement)")
    ap.add_argument("--ka-track", choices=("file", "script"), default="file",
                    help="keepalived in cases 1, 2, 6: track_file fed by a pidfd watcher "
                         "(default; emulates vrrp_track_process) or a 1 s vrrp_script")
    ap.add_argument("--idle-seconds", type=float, default=60)
    ap.add_argument("--vipd-realtime", type=int, default=None,
                    help="[agent] realtime_priority of every vipd (default: vipd's own, 10)")
    ap.add_argument("--family", type=int, choices=(4, 6), default=4,
                    help="address family of the failover matrix (6: IPv6 in 2001:db8::/32; the "
                         "idle and scale sections are IPv4 only and left out)")
    ap.add_argument("--out", default=None,
                    help="report file (default bench/results/latest.txt, with --family 6 "
                         "latest-ipv6.txt)")
    args = ap.parse_args()
    C.set_family(args.family)
    if args.out is None:
        args.out = str(REPO / "bench" / "results" /
                       ("latest-ipv6.txt" if args.family == 6 else "latest.txt"))
    if args.family == 6 and not (args.no_idle and args.no_scale):
        print("--family 6: the idle and scale sections are IPv4 only: left out", flush=True)
        args.no_idle = args.no_scale = True
    C.VIPD_REALTIME = args.vipd_realtime
    if args.quick:
        args.runs = min(args.runs, 3)
        if args.intervals == "1s,100ms,10ms":
            args.intervals = "100ms,10ms"
        args.idle_seconds = min(args.idle_seconds, 15)
    require_root_or_skip(need=("nginx", "keepalived", "vipd", "tcpdump", "tshark", "curl") +
                         (() if args.no_fine_probe else ("cc",)))
    C.POLL_INTERVAL = args.poll_ms / 1000
    C.FINE_INTERVAL = None if args.no_fine_probe else args.fine_ms / 1000
    C.FINE_TIMEOUT = args.fine_timeout_ms / 1000
    C.KA_TRACK = args.ka_track
    args.speakers = [x for x in args.speakers.split(",") if x in SPEAKERS]
    intervals = [parse_interval(x) for x in args.intervals.split(",") if x.strip()]
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    for c in cases:
        if c not in CASES:
            ap.error(f"unknown case {c!r}: {', '.join(CASES)}")
    t_start = time.monotonic()
    threading.Thread(target=_sample_load, daemon=True).start()
    cond = conditions(args, intervals)
    for line in cond:
        print(line, flush=True)

    res = run_matrix(args, intervals, cases) if not args.no_failover else None
    idle_rows, sv, si = [], [], []
    if not args.no_idle:
        secs = args.idle_seconds
        idle_rows = idle_and_jitter(args, [(1.0, secs, False), (0.1, max(20, secs / 3), True),
                                           (0.01, secs, True)])
    if not args.no_scale:
        sv = scale_vips(args, 3)
        si = scale_instances(args, 30 if not args.quick else 15)

    C.start_report("vipd vs keepalived — failover benchmark (bench/failover.py)",
                   "bench/failover.py", cond)
    out("cases: " + "; ".join(f"{k} {v}" for k, v in CASES.items() if k in cases))
    if res:
        report_matrix(res, intervals, cases)
        report_steps(res, intervals, cases)
        report_crash(res, intervals)
        report_policy(res)
    report_idle(idle_rows)
    report_scale_vips(sv)
    report_scale_instances(si)
    C.write_report(args.out, t_start)
    raw = Path(args.out).with_suffix(".json")
    if res:
        raw.write_text(json.dumps({"conditions": cond,
                                   "runs": {f"{k[0]}|{k[1]}|{k[2]}": v
                                            for k, v in res["runs"].items()},
                                   "crash": {f"{k[0]}|{k[1]}": v for k, v in res["crash"].items()},
                                   "fine_probe": {f"{k[0]}|{k[1]}": v
                                                  for k, v in res["fine"].items()}},
                                  indent=1))
    print(f"\nwritten: {args.out}", flush=True)
    return 0
