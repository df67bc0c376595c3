#!/usr/bin/env python3
"""Flood budget over IPv6 (issue 15): bench/flood.py's measurement for an IPv6 instance, so the
kernel advert filter on the IPv6 raw socket (agent/net/advert_filter.cpp, the VRRP message at
offset 0) is measured beside the IPv4 one.

A runs vipd alone (MASTER of VRID 51, VIP 2001:db8::100/64, adverts every 100 ms from its
link-local address to ff02::12). Node C floods ff02::12 with Ethernet frames built here
(AF_PACKET, paced in 1 ms batches), from a link-local source with hop limit 255, one kind at a
time:

  unknown_vrid   valid VRRPv3 adverts for VRID 99 (correct pseudo-header checksums)
  bad_checksum   VRRPv3 adverts for VRID 51 with a wrong checksum (they pass the filter)
  garbage        random 8..40-byte payloads (next header 112)

Each kind runs with vipd's filter detached ("off": a duplicate of vipd's IPv6 raw socket taken
with pidfd_getfd, SO_DETACH_FILTER) and attached again (a SIGHUP reload reinstalls it). vipd's CPU
and the master's advert spacing are measured as in bench/flood.py (which this reuses).

  sudo PYTHONPATH=pylab VIPD_BIN=build-rel/vipd python3 bench/flood6.py [--rate 100000]
       [--seconds 8] [--json FILE]
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import signal
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import flood  # noqa: E402  (cpu_ns, pcap_times, spacing, drops, the syscall numbers)

from vipdlab import Lab, require_root_or_skip, wait_for  # noqa: E402
from vipdlab.netns import IPV6_NO_DAD  # noqa: E402
from vipdlab.vipd import API, wait_state  # noqa: E402

VIP6 = "2001:db8::100"

SENDER = r'''
import random, socket, struct, sys, time
iface, rate, seconds, kind = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
SRC, DST = socket.inet_pton(socket.AF_INET6, "fe80::50"), socket.inet_pton(socket.AF_INET6, "ff02::12")
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack(f"!{len(b)//2}H", b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff
def frame(vrrp):
    ip6 = struct.pack("!IHBB", 0x6c000000, len(vrrp), 112, 255) + SRC + DST
    eth = bytes.fromhex("333300000012") + bytes.fromhex("02000000c0de") + b"\x86\xdd"
    return eth + ip6 + vrrp
def advert(vrid, good):
    head = struct.pack("!BBBBH", 0x31, vrid, 100, 1, 100)
    addr = socket.inet_pton(socket.AF_INET6, "2001:db8::100")
    body = head + b"\0\0" + addr
    c = csum(SRC + DST + struct.pack("!I3xB", len(body), 112) + body)
    if not good: c ^= 0x5a5a
    return head + struct.pack("!H", c) + addr
rnd = random.Random(13)
if kind == "unknown_vrid": frames = [frame(advert(99, True))]
elif kind == "bad_checksum": frames = [frame(advert(51, False))]
else: frames = [frame(bytes(rnd.randrange(256) for _ in range(rnd.randrange(8, 41)))) for _ in range(512)]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
per_ms = max(1, rate // 1000)
sent, i, t0 = 0, 0, time.monotonic()
tick = t0
while time.monotonic() - t0 < seconds:
    for _ in range(per_ms):
        s.send(frames[i % len(frames)]); i += 1
    sent += per_ms
    tick += 0.001
    d = tick - time.monotonic()
    if d > 0: time.sleep(d)
print(sent, time.monotonic() - t0, flush=True)
'''


def detach_filter6(pid: int) -> None:
    """flood.detach_filter for vipd's IPv6 raw socket (protocol 112 in /proc/PID/net/raw6)."""
    inodes = {line.split()[9] for line in
              Path(f"/proc/{pid}/net/raw6").read_text().splitlines()[1:]
              if line.split()[1].endswith(":0070")}
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            link = os.readlink(fd)
        except OSError:
            continue
        if link.startswith("socket:[") and link[8:-1] in inodes:
            libc = ctypes.CDLL(None, use_errno=True)
            pidfd = os.pidfd_open(pid)
            try:
                dup = libc.syscall(flood.SYS_PIDFD_GETFD, pidfd, int(fd.name), 0)
                if dup < 0:
                    raise OSError(ctypes.get_errno(), "pidfd_getfd")
                s = socket.socket(fileno=dup)
                s.setsockopt(socket.SOL_SOCKET, flood.SO_DETACH_FILTER, 0)
                s.close()
            finally:
                os.close(pidfd)
            return
    raise RuntimeError("vipd's VRRP IPv6 raw socket not found")


def config(node) -> str:
    return (f'[agent]\nnode_name = "{node.label}"\napi_listen = "{API}"\n\n'
            f'[[instance]]\nname = "web6"\ninterface = "{node.iface}"\nvrid = 51\n'
            f'priority = 150\nadvert_interval = "100ms"\nvips = ["{VIP6}/64"]\n')


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rate", type=int, default=40000, help="packets per second (default 40000)")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--kinds", default="unknown_vrid,bad_checksum,garbage")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    require_root_or_skip(need=("vipd", "curl", "tcpdump"))
    results = {"family": 6, "rate": args.rate, "seconds": args.seconds,
               "load_before": os.getloadavg(), "runs": []}
    with Lab(prefix=f"v6hfl{os.getpid()}", sysctls=IPV6_NO_DAD) as lab:
        a, c = lab.a, lab.c
        for n, addr in ((a, "2001:db8::11/64"), (c, "2001:db8::50/64")):
            lab.add_ipv6(n, addr)
        ll_a = lab.link_local(a)
        vd = lab.start_vipd(a, config(a))
        wait_state(a, "MASTER", 10, vd)
        pid = vd.pid
        time.sleep(1)
        c0, t0 = flood.cpu_ns(pid), time.monotonic()
        time.sleep(args.seconds)
        idle_rate = (flood.cpu_ns(pid) - c0) / (time.monotonic() - t0)
        results["idle_cpu_percent"] = round(idle_rate / 1e7, 3)
        print(f"idle: vipd {idle_rate / 1e7:.3f} % of a core", flush=True)
        for kind in args.kinds.split(","):
            for filtered in (False, True):
                if filtered:
                    mark = len(vd.log_text())
                    vd.signal(signal.SIGHUP)  # the reload reinstalls the filter
                    wait_for(lambda: "reload done" in vd.log_text()[mark:], 10, "the reload")
                else:
                    detach_filter6(pid)
                time.sleep(0.5)
                cap = lab.capture(None, f"ip6 proto 112 and src host {ll_a}",
                                  file=lab.dir / f"{kind}-{filtered}.pcap")
                d0 = flood.drops(a)
                c0, t0 = flood.cpu_ns(pid), time.monotonic()
                r = c.run("python3", "-c", SENDER, c.iface, str(args.rate), str(args.seconds),
                          kind, timeout=args.seconds + 30)
                elapsed = time.monotonic() - t0
                used = flood.cpu_ns(pid) - c0 - idle_rate * elapsed
                sent = int(r.stdout.split()[0])
                time.sleep(0.3)
                cap.stop()
                d1 = flood.drops(a)
                delta = {k: int(d1.get(k, 0) - d0.get(k, 0)) for k in d1
                         if d1.get(k, 0) != d0.get(k, 0)}
                row = {"kind": kind, "filter": filtered, "sent": sent,
                       "pps": round(sent / elapsed),
                       "vipd_cpu_us_per_pkt": round(used / 1e3 / sent, 4),
                       "vipd_cpu_percent": round(used / elapsed / 1e7, 2),
                       "dropped_counted": delta,
                       "advert_spacing": flood.spacing(flood.pcap_times(cap.file, ll_a))}
                results["runs"].append(row)
                print(json.dumps(row), flush=True)
                vd.expect_alive()
        assert wait_state(a, "MASTER", 5, vd)
    results["load_after"] = os.getloadavg()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
