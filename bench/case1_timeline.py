#!/usr/bin/env python3
"""Where the time goes in case 1 (nginx stopped on the master, vipd pid check weight 0,
group_size = 2): one line per run with every step on one clock (ms after the SIGTERM to nginx).

    sudo PYTHONPATH=pylab python3 bench/case1_timeline.py [--runs 5] [--advert 10ms] [--poll-ms 1] [--speaker vipd]

Steps: nginx's master exits (pidfd, stamped by failover.py's SCHED_FIFO exit watcher); A's priority-0 advert and B's first advert
and first gratuitous ARP on the LAN bridge (tcpdump; pcap wall-clock times converted to
CLOCK_MONOTONIC); the VIP added on B (netlink watcher); the first client answer from node-b
(poller every --poll-ms, default 1 ms, to see below the 10 ms resolution of failover.py).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

from vipdlab import VIP, Lab, require_root_or_skip
from vipdlab.bench import common as C
from vipdlab.bench.cases import Bench


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--advert", default="10ms")
    ap.add_argument("--poll-ms", type=float, default=1.0)
    ap.add_argument("--speaker", default="vipd", choices=C.SPEAKERS)
    ap.add_argument("--ka-track", choices=("file", "script"), default="file",
                    help="keepalived: track_file fed by the exit watcher (default) or 1 s script")
    args = ap.parse_args()
    require_root_or_skip(need=("nginx", "keepalived", "vipd", "tcpdump", "tshark"))
    C.POLL_INTERVAL = args.poll_ms / 1000
    C.FINE_INTERVAL = None  # the poller itself runs at --poll-ms here
    C.KA_TRACK = args.ka_track
    advert = C.parse_interval(args.advert)
    off = time.time() - time.monotonic()  # pcap (wall clock) → monotonic
    print(f"{args.speaker}, case 1, {args.advert} adverts, client poll {args.poll_ms:g} ms; "
          f"ms after SIGTERM to nginx's master")
    print(f"{'run':>3} {'nginx exit':>10} {'A prio-0':>9} {'B advert':>9} {'B VIP up':>9} "
          f"{'B GARP':>8} {'served':>8}")
    with Lab(quiet=True) as lab:
        b = Bench(lab, args.speaker, advert)
        b.setup_case("1")
        for r in range(args.runs):
            cap = lab.capture(None, "ip proto 112 or arp")
            time.sleep(0.2)
            ng = b.nginx["a"]
            t0 = time.monotonic()
            os.kill(ng.pid, signal.SIGTERM)
            ng.wait_exit(5)
            d = b.watch["a"].down_after(t0)
            t_exit = d[0] if d else None
            s = b.poller.wait_served_by("node-b", 10, since=t0)
            up = b.wb.first("add", t0)
            time.sleep(0.3)
            cap.stop()
            rr = subprocess.run(["tshark", "-n", "-r", str(cap.file), "-T", "fields",
                                 "-e", "frame.time_epoch", "-e", "ip.src", "-e", "vrrp.prio",
                                 "-e", "arp.src.proto_ipv4"],
                                capture_output=True, text=True, timeout=60).stdout
            p0 = badv = garp = None
            for line in rr.splitlines():
                f = (line.split("\t") + ["", "", "", ""])[:4]
                t = float(f[0]) - off
                if t < t0:
                    continue
                if f[1] == "198.18.0.11" and f[2] == "0" and p0 is None:
                    p0 = t
                elif f[1] == "198.18.0.12" and f[2] and badv is None:
                    badv = t
                elif f[3] == VIP and garp is None:
                    garp = t

            def rel(x):
                return f"{(x - t0) * 1000:.2f}" if x else "—"
            print(f"{r + 1:>3} {rel(t_exit):>10} {rel(p0):>9} {rel(badv):>9} {rel(up):>9} "
                  f"{rel(garp):>8} {rel(s.end):>8}", flush=True)
            t1 = time.monotonic()
            b.start_nginx(lab.a)
            b.poller.wait_served_by("node-a", 10, since=t1)
            b.wait_a_master()
        b.stop_speakers()
    return 0


if __name__ == "__main__":
    sys.exit(main())
