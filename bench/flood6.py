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

import ctypes
import json
import os
import socket
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import flood  # noqa: E402  (the sender's head and loop, parse_args, measure, the syscall numbers)

from vipdlab import Lab  # noqa: E402
from vipdlab.netns import IPV6_NO_DAD  # noqa: E402
from vipdlab.vipd import API, wait_state  # noqa: E402

VIP6 = "2001:db8::100"

SENDER = flood.SENDER_HEAD + r'''
SRC, DST = socket.inet_pton(socket.AF_INET6, "fe80::50"), socket.inet_pton(socket.AF_INET6, "ff02::12")
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
''' + flood.SENDER_LOOP


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
    args = flood.parse_args(__doc__)
    results = {"family": 6, "rate": args.rate, "seconds": args.seconds,
               "load_before": os.getloadavg(), "runs": []}
    with Lab(prefix=f"v6hfl{os.getpid()}", sysctls=IPV6_NO_DAD) as lab:
        a, c = lab.a, lab.c
        for n, addr in ((a, "2001:db8::11/64"), (c, "2001:db8::50/64")):
            lab.add_ipv6(n, addr)
        ll_a = lab.link_local(a)
        vd = lab.start_vipd(a, config(a))
        wait_state(a, "MASTER", 10, vd)
        flood.measure(lab, vd, SENDER, args, results, detach=detach_filter6,
                      cap_filter=f"ip6 proto 112 and src host {ll_a}", src=ll_a)
        assert wait_state(a, "MASTER", 5, vd)
    results["load_after"] = os.getloadavg()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
