#!/usr/bin/env python3
"""Advert timer jitter of a vipd master under CPU load, with and without realtime_priority.

Per round and per setting (realtime_priority = 0, then = 10, alternating): a fresh netns lab,
vipd on A (priority 150) and B (100) at 10 ms adverts (group_size 2, no API, no checks), the VIP
on A; then ``--hogs`` busy loops (python, SCHED_OTHER, started here and ended by PID) load the
machine while tcpdump captures VRRP on the lab bridge for ``--secs``. The spacing of A's adverts
on the wire is computed as bench/failover.py does (vipdlab.bench.wire.spacing_stats): median, p99, max; and B's
adverts in the window are counted (each one is a master-down expiry on B: A was late by more than
Master_Down_Interval = 36.1 ms, a momentary split brain). A second capture on A's own interface
(inside A) timestamps each advert as A's send path hands it to the device, in vipd's own system
call: its spacing is vipd's timer alone, without the delivery to the bridge (a softirq, which
under load can be deferred to ksoftirqd, a SCHED_OTHER thread).

    sudo python3 tools/rt_jitter.py --bin build-rel/vipd --rounds 3 --secs 30 --hogs 4
"""

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from vipdlab import Lab, require_root_or_skip, vipd_config, wait_for
from vipdlab.bench.wire import spacing_stats, vrrp_packets
A_IP, B_IP = "198.18.0.11", "198.18.0.12"
ADVERT_MS = 10.0


def start_hogs(n: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(n)]


def stop_hogs(hogs: list[subprocess.Popen]) -> None:
    for h in hogs:
        if h.poll() is None:
            h.send_signal(signal.SIGKILL)  # by PID: only the loops started here
    for h in hogs:
        h.wait(timeout=10)


def one(args, rt: int) -> dict:
    with Lab(quiet=True) as lab:
        cfgs = []
        for node, prio in ((lab.a, 150), (lab.b, 100)):
            cfgs.append(vipd_config(node, prio, advert="10ms", group_size=2,
                                    extra_agent=f"realtime_priority = {rt}\n"))
        pa = lab.start_vipd(lab.a, cfgs[0])
        lab.start_vipd(lab.b, cfgs[1])
        wait_for(lambda: lab.has_vip(lab.a) and not lab.has_vip(lab.b), 15, "VIP on A")
        policy = Path(f"/proc/{pa.pid}/stat").read_text().rsplit(")", 1)[1].split()[41 - 3]
        time.sleep(1.0)
        hogs = start_hogs(args.hogs)
        try:
            time.sleep(1.0)
            cap = lab.capture(None, "ip proto 112")
            cap_a = lab.capture(lab.a, "ip proto 112")
            load0 = os.getloadavg()[0]
            time.sleep(args.secs)
            cap.stop()
            cap_a.stop()
        finally:
            stop_hogs(hogs)
        pkts = vrrp_packets(cap)
        res = spacing_stats(pkts, A_IP, ADVERT_MS) or {}
        res["b_adverts"] = sum(1 for _, s, _ in pkts if s == B_IP)
        res["at_a"] = spacing_stats(vrrp_packets(cap_a), A_IP, ADVERT_MS) or {}
        res["late_logs"] = pa.log_text().count("late")
        res["policy"] = {"0": "OTHER", "2": "RR"}.get(policy, policy)
        res["load"] = load0
        return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default=os.environ.get("VIPD_BIN", "build-rel/vipd"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--secs", type=float, default=30.0)
    ap.add_argument("--hogs", type=int, default=4, help="busy loops during the capture")
    ap.add_argument("--rt", type=int, default=10, help="realtime_priority of the RT runs")
    args = ap.parse_args()
    os.environ["VIPD_BIN"] = str(Path(args.bin).resolve())
    require_root_or_skip(need=("vipd", "tcpdump", "tshark"))
    rows = {0: [], args.rt: []}
    for r in range(args.rounds):
        for rt in (0, args.rt):
            res = one(args, rt)
            rows[rt].append(res)
            print(f"round {r + 1} realtime_priority={rt:2d} ({res.get('policy')}): "
                  f"n {res.get('n')} median {res.get('median', 0):.3f} p99 {res.get('p99', 0):.3f} "
                  f"p99.9 {res.get('p999', 0):.3f} max {res.get('max', 0):.3f} ms; "
                  f">20 ms {res.get('over_2x')}; B adverts {res['b_adverts']}; "
                  f"'late' log lines {res['late_logs']}; load1 {res['load']:.1f}", flush=True)
            a = res["at_a"]
            print(f"      on A's interface: median {a.get('median', 0):.3f} p99 {a.get('p99', 0):.3f} "
                  f"p99.9 {a.get('p999', 0):.3f} max {a.get('max', 0):.3f} ms", flush=True)
    print(f"\n10 ms adverts, {args.hogs} busy loops on {os.cpu_count()} CPUs, {args.secs:g} s "
          f"captures, {args.rounds} rounds")
    print("where      realtime_priority |      n | median    p99  p99.9    max "
          "(ms; p99/max: worst round) | gaps > 20 ms | B adverts")
    for where in ("bridge", "A's iface"):
        for rt, rs in rows.items():
            ok = [x if where == "bridge" else x["at_a"] for x in rs]
            ok = [x for x in ok if "n" in x]
            if not ok:
                continue
            b = sum(x["b_adverts"] for x in rs) if where == "bridge" else "-"
            print(f"{where:10s} {rt:17d} | {sum(x['n'] for x in ok):6d} | "
                  f"{statistics.median(x['median'] for x in ok):6.3f} "
                  f"{max(x['p99'] for x in ok):6.3f} {max(x['p999'] for x in ok):6.3f} "
                  f"{max(x['max'] for x in ok):6.3f}                            | "
                  f"{sum(x['over_2x'] for x in ok):12d} | {b:>9}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
