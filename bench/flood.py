#!/usr/bin/env python3
"""Flood budget (issue 13): vipd's CPU per received bad packet, with and without its kernel
advert filter, and the master's advert spacing under the flood.

A runs vipd alone (MASTER, VRID 51, adverts every 100 ms). Node C floods 224.0.0.18 with Ethernet
frames built here (AF_PACKET, paced in 1 ms batches), one kind at a time:

  unknown_vrid   valid VRRPv3 adverts for VRID 99 (correct checksums, TTL 255)
  bad_checksum   VRRPv3 adverts for VRID 51 with a wrong checksum (they pass the filter: the
                 user-space drop path, as every packet took before the filter)
  garbage        random 8..40-byte payloads (IP protocol 112, TTL 255)

Each kind runs twice: with vipd's socket filter detached ("no filter": the bench takes a
duplicate of vipd's raw socket with pidfd_getfd and sets SO_DETACH_FILTER; this is how every
packet was handled before the filter existed) and attached again (a SIGHUP reload reinstalls it).
vipd's CPU is the sum of its threads' /proc schedstat run time; the idle rate measured first is
subtracted. Advert spacing comes from a tcpdump on the lab bridge (kernel timestamps).

  sudo PYTHONPATH=pylab python3 bench/flood.py [--rate 40000] [--seconds 10] [--json FILE]
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import re
import signal
import socket
import statistics
import struct
import sys
import time
from pathlib import Path

from vipdlab import Lab, require_root_or_skip, vipd_config, wait_for
from vipdlab.hostile import SENDER_CSUM
from vipdlab.vipd import metrics, wait_state

SO_DETACH_FILTER = 27
SYS_PIDFD_GETFD = 438

# The sender run on node C: SENDER_HEAD (arguments, vipdlab.hostile's checksum), then the family's
# frame() and advert(), then SENDER_LOOP (the frames of one kind, sent in 1 ms batches). flood6.py
# reuses both.
SENDER_HEAD = r'''
import os, random, socket, struct, sys, time
iface, rate, seconds, kind = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
''' + SENDER_CSUM

SENDER_LOOP = r'''
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

SENDER = SENDER_HEAD + r'''
def frame(vrrp):
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0xc0, 20 + len(vrrp), 0, 0, 255, 112, 0,
                     socket.inet_aton("198.18.0.50"), socket.inet_aton("224.0.0.18"))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    eth = bytes.fromhex("01005e000012") + bytes.fromhex("02000000c0de") + b"\x08\x00"
    return eth + ip + vrrp
def advert(vrid, good):
    head = struct.pack("!BBBBH", 0x31, vrid, 100, 1, 100)  # ver/type, VRID, prio, count, int
    addr = socket.inet_aton("198.18.0.100")
    c = csum(head + b"\0\0" + addr)
    if not good: c ^= 0x5a5a
    return head + struct.pack("!H", c) + addr
''' + SENDER_LOOP


def cpu_ns(pid: int) -> int:
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError):
            pass
    return total


def raw_socket_fd(pid: int) -> int:
    """vipd's fd number of its VRRP raw socket (protocol 112 in /proc/PID/net/raw)."""
    inodes = set()
    for line in Path(f"/proc/{pid}/net/raw").read_text().splitlines()[1:]:
        f = line.split()
        if f[1].endswith(":0070"):
            inodes.add(f[9])
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            m = re.match(r"socket:\[(\d+)\]", os.readlink(fd))
        except OSError:
            continue
        if m and m.group(1) in inodes:
            return int(fd.name)
    raise RuntimeError("vipd's VRRP raw socket not found")


def detach_filter(pid: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    try:
        fd = libc.syscall(SYS_PIDFD_GETFD, pidfd, raw_socket_fd(pid), 0)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "pidfd_getfd")
        s = socket.socket(fileno=fd)
        s.setsockopt(socket.SOL_SOCKET, SO_DETACH_FILTER, 0)
        s.close()
    finally:
        os.close(pidfd)


def pcap_times(path: Path, src: str) -> list[float]:
    """Timestamps of the packets in a pcap (tcpdump filtered them already)."""
    data = path.read_bytes()
    magic = struct.unpack("<I", data[:4])[0]
    nano = magic == 0xa1b23c4d
    off, out = 24, []
    while off + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack("<IIII", data[off:off + 16])
        out.append(sec + frac / (1e9 if nano else 1e6))
        off += 16 + incl
    return out


def spacing(times: list[float]) -> dict:
    gaps = sorted((b - a) * 1000 for a, b in zip(times, times[1:]))
    if len(gaps) < 2:
        return {"n": len(gaps)}
    return {"n": len(gaps), "p50_ms": round(statistics.median(gaps), 3),
            "p99_ms": round(gaps[min(len(gaps) - 1, int(len(gaps) * 0.99))], 3),
            "max_ms": round(gaps[-1], 3)}


def drops(node) -> dict:
    text = metrics(node)
    out = {}
    for m in re.finditer(r'^vipd_vrrp_packets_dropped_total\{reason="(\w+)"\} (\S+)$', text, re.M):
        out[m.group(1)] = float(m.group(2))
    return out


def measure(lab, vd, sender: str, args, results: dict, *, detach, cap_filter: str,
            src: str) -> None:
    """vipd's idle CPU, then each kind of args.kinds flooded from node C by `sender`, with vipd's
    filter detached (`detach(pid)`) and reattached (SIGHUP); rows go to results["runs"]. The
    master's adverts are captured with `cap_filter` and timed from `src`."""
    c = lab.c
    pid = vd.pid
    time.sleep(1)
    c0, t0 = cpu_ns(pid), time.monotonic()
    time.sleep(args.seconds)
    idle_rate = (cpu_ns(pid) - c0) / (time.monotonic() - t0)  # ns of CPU per second
    results["idle_cpu_percent"] = round(idle_rate / 1e7, 3)
    print(f"idle: vipd {idle_rate / 1e7:.3f} % of a core", flush=True)
    for kind in args.kinds.split(","):
        for filtered in (False, True):
            if filtered:
                mark = len(vd.log_text())
                vd.signal(signal.SIGHUP)  # the reload reinstalls the filter
                wait_for(lambda: "reload done" in vd.log_text()[mark:], 10, "the reload")
            else:
                detach(pid)
            time.sleep(0.5)
            cap = lab.capture(None, cap_filter, file=lab.dir / f"{kind}-{filtered}.pcap")
            d0 = drops(lab.a)
            c0, t0 = cpu_ns(pid), time.monotonic()
            r = c.run("python3", "-c", sender, c.iface, str(args.rate), str(args.seconds),
                      kind, timeout=args.seconds + 30)
            elapsed = time.monotonic() - t0
            used = cpu_ns(pid) - c0 - idle_rate * elapsed
            sent = int(r.stdout.split()[0])
            time.sleep(0.3)
            cap.stop()
            d1 = drops(lab.a)
            delta = {k: int(d1.get(k, 0) - d0.get(k, 0)) for k in d1 if d1.get(k, 0) != d0.get(k, 0)}
            row = {"kind": kind, "filter": filtered, "sent": sent,
                   "pps": round(sent / elapsed), "vipd_cpu_us_per_pkt": round(used / 1e3 / sent, 4),
                   "vipd_cpu_percent": round(used / elapsed / 1e7, 2),
                   "dropped_counted": delta,
                   "advert_spacing": spacing(pcap_times(cap.file, src))}
            results["runs"].append(row)
            print(json.dumps(row), flush=True)
            vd.expect_alive()


def parse_args(doc: str) -> argparse.Namespace:
    """The options of flood.py and flood6.py (``doc``: the script's help); skips (77) unless
    root with vipd, curl and tcpdump."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rate", type=int, default=40000, help="packets per second (default 40000)")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--kinds", default="unknown_vrid,bad_checksum,garbage")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    require_root_or_skip(need=("vipd", "curl", "tcpdump"))
    return args


def main() -> int:
    args = parse_args(__doc__)
    results = {"rate": args.rate, "seconds": args.seconds, "runs": []}
    with Lab(prefix=f"hstfl{os.getpid()}") as lab:
        a = lab.a
        vd = lab.start_vipd(a, vipd_config(a, priority=150, api_listen="127.0.0.1:9555"))
        wait_state(a, "MASTER", 10, vd)
        measure(lab, vd, SENDER, args, results, detach=detach_filter,
                cap_filter="ip proto 112 and src host 198.18.0.11", src=a.addr)
        assert wait_state(a, "MASTER", 5, vd)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
