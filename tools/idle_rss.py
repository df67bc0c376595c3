#!/usr/bin/env python3
"""Idle memory of vipd: VmRSS, thread count and what the resident pages are (docs/performance.md).

Runs the bench's idle set-up (bench/failover.py idle_and_jitter): vipd on node A (priority 150)
and node B (100) of a netns lab, 1 s adverts, one instance, no checks, group_size 2; waits until A
holds the VIP, lets both idle, then reads /proc/PID/status (VmRSS, Threads) of each, and their
CPU time over the idle window. Repeats in a fresh lab per run and prints every figure and the
median. ``--advert 10ms --secs 30`` compares the CPU cost of two builds on the hot path. ``--api`` enables the HTTP API
(api_listen = 127.0.0.1:9555) and scrapes /status and /metrics a few times before measuring, as a
real deployment (health check, Prometheus) would. ``--smaps`` prints A's resident kB per mapping.

    sudo python3 tools/idle_rss.py --bin build-rel/vipd --runs 5 [--api] [--smaps]
"""

import argparse
import os
import re
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

from vipdlab import Lab, require_root_or_skip, vipd_config, wait_for
def status_field(pid: int, name: str) -> int:
    m = re.search(rf"^{name}:\s+(\d+)", Path(f"/proc/{pid}/status").read_text(), re.M)
    return int(m.group(1)) if m else 0


def cpu_seconds(pid: int) -> float:
    """CPU time of all the process's threads so far (schedstat: nanoseconds on a CPU)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            total += int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[0])
        except (OSError, ValueError):
            pass
    return total / 1e9


def smaps_by_mapping(pid: int) -> dict[str, int]:
    """Resident kB per mapped file ([heap], [anon], ... for the others)."""
    res: dict[str, int] = defaultdict(int)
    name = "[anon]"
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        f = line.split()
        if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
            name = os.path.basename(f[5]) if len(f) > 5 else "[anon]"
        elif f[0] == "Rss:":
            res[name] += int(f[1])
    return dict(res)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default=os.environ.get("VIPD_BIN", "build-rel/vipd"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--secs", type=float, default=5.0, help="idle time before measuring")
    ap.add_argument("--advert", default="1s", help="advert_interval (default 1s, as the bench)")
    ap.add_argument("--api", action="store_true", help="api_listen = 127.0.0.1:9555 + scrapes")
    ap.add_argument("--smaps", action="store_true", help="print A's resident kB per mapping")
    args = ap.parse_args()
    os.environ["VIPD_BIN"] = str(Path(args.bin).resolve())
    require_root_or_skip(need=("vipd", "curl") if args.api else ("vipd",))
    api = "127.0.0.1:9555" if args.api else ""
    rss, threads, cpu = [], [], []
    for run in range(args.runs):
        with Lab(quiet=True) as lab:
            pa = lab.start_vipd(lab.a, vipd_config(lab.a, 150, advert=args.advert, group_size=2,
                                                   api_listen=api))
            pb = lab.start_vipd(lab.b, vipd_config(lab.b, 100, advert=args.advert, group_size=2,
                                                   api_listen=api))
            wait_for(lambda: lab.has_vip(lab.a) and not lab.has_vip(lab.b), 15, "VIP on A")
            if args.api:
                for _ in range(3):
                    for node in (lab.a, lab.b):
                        for path in ("/status", "/metrics", "/healthz"):
                            node.http_get(f"http://{api}{path}")
            t0, c0 = time.monotonic(), [cpu_seconds(p.pid) for p in (pa, pb)]
            time.sleep(args.secs)
            el = time.monotonic() - t0
            for p, c in zip((pa, pb), c0):
                rss.append(status_field(p.pid, "VmRSS"))
                threads.append(status_field(p.pid, "Threads"))
                cpu.append((cpu_seconds(p.pid) - c) / el * 100)
            print(f"run {run + 1}: VmRSS A {rss[-2]} kB, B {rss[-1]} kB; threads {threads[-2:]}; "
                  f"CPU A {cpu[-2]:.3f}% B {cpu[-1]:.3f}% over {el:.0f} s", flush=True)
            if args.smaps and run == 0:
                m = smaps_by_mapping(pa.pid)
                for name, kb in sorted(m.items(), key=lambda kv: -kv[1]):
                    if kb:
                        print(f"  {kb:6d} kB  {name}")
                print(f"  {sum(m.values()):6d} kB  total")
                roll = Path(f"/proc/{pa.pid}/smaps_rollup").read_text()
                print("  smaps_rollup: " + ", ".join(
                    f"{k} {v} kB" for k, v in re.findall(r"^(Pss|Private_Dirty|Private_Clean|"
                                                         r"Shared_Clean):\s+(\d+)", roll, re.M)))
    print(f"VmRSS kB over {len(rss)} processes: median {statistics.median(rss):.0f}, "
          f"min {min(rss)}, max {max(rss)}; threads {sorted(set(threads))}; CPU % of a core: "
          f"A median {statistics.median(cpu[0::2]):.3f}, B {statistics.median(cpu[1::2]):.3f}"
          f"{'; API on' if args.api else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
