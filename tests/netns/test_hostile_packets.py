#!/usr/bin/env python3
"""[netns] Malformed VRRP from a hostile host on the segment (issue 13): every kind is dropped
and counted under its reason, and nothing changes state.

A (198.18.0.11, priority 150) is MASTER of VRID 51 and 198.18.0.100, B (priority 100) BACKUP,
VRRPv3 adverts every 100 ms. Node C crafts packets with scapy (Debian's python3-scapy) and sends
them to 224.0.0.18 (one kind to A's address), one kind at a time; after each kind both agents'
vipd_vrrp_packets_dropped_total must have grown as stated:

  kinds that pass the kernel advert filter (VRID 51, VRRPv3 advert header), 20 of each, counted
  exactly:  ttl (TTL 64), bad_checksum, short (6-byte message; a list shorter than its count),
            zero_interval, zero_address_count, wrong_destination (unicast to A in multicast mode,
            A only)
  kinds the kernel filter drops (only its 1-in-64 sample reaches vipd), 640 of each, counted from
  the sample (between 1 and 100): unknown_vrid (VRID 99), bad_version (a VRRPv2 header on VRID
  51), bad_type (type 2), random payloads (counted under any reason)

and one VRRPv3 advert of priority 200 carrying a 40.95 s interval (issue 12): counted once as
interval_out_of_bounds on each, never learnt (B's Master_Down_Interval stays < 1 s), the VIP stays
on A for the next second.

After every kind: A still MASTER and B BACKUP, no new transition on either, the VIP on A only.
Exit 0 pass, 1 fail, 77 skipped (no scapy: tools/install-deps.sh installs python3-scapy)."""

import os

from vipdlab import VIP, require_root_or_skip, skip, vipd_config
from vipdlab.hostile import (SENDER_CSUM, SENDER_LOOP, Sender, check_exact, check_sampled, drops,
                             mac_of, scapy_python)
from vipdlab.vipd import Figures, hold, inst, run_test, step, wait_state

FIG = Figures("test_hostile_packets")

# The sender runs in node C: reads "KIND COUNT" lines, sends, answers "sent N" (SENDER_LOOP).
SENDER = r'''
import random, socket, struct, sys
from scapy.all import Ether, IP, Raw, conf
conf.verb = 0
conf.logLevel = 40  # no "No route found" warnings: every frame names its own MACs
iface, a_mac, c_mac = sys.argv[1], sys.argv[2], sys.argv[3]
out = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
out.bind((iface, 0))
MCAST = "01:00:5e:00:00:12"
''' + SENDER_CSUM + r'''
def advert(vt=0x31, vrid=51, prio=200, count=1, interval=10, addrs=("198.18.0.100",), good=True,
           fix=None):
    body = struct.pack("!BBBBH", vt, vrid, prio, count, interval & 0x0fff) + b"\0\0"
    body += b"".join(socket.inet_aton(a) for a in addrs)
    c = csum(body)
    if not good: c ^= 0x5a5a
    body = body[:6] + struct.pack("!H", c) + body[8:]
    return body if fix is None else fix(body)
rnd = random.Random(13)
def frames(kind, n):
    ip = dict(src="198.18.0.50", dst="224.0.0.18", ttl=255, proto=112)
    eth = Ether(dst=MCAST, src=c_mac)
    if kind == "ttl": return [eth / IP(**{**ip, "ttl": 64}) / Raw(advert())] * n
    if kind == "bad_checksum": return [eth / IP(**ip) / Raw(advert(good=False))] * n
    if kind == "short": return [eth / IP(**ip) / Raw(advert()[:6])] * n
    if kind == "short_list": return [eth / IP(**ip) / Raw(advert(count=3))] * n
    if kind == "zero_interval": return [eth / IP(**ip) / Raw(advert(interval=0))] * n
    if kind == "zero_address_count": return [eth / IP(**ip) / Raw(advert(count=0, addrs=()))] * n
    if kind == "wrong_destination":
        return [Ether(dst=a_mac, src=c_mac) / IP(**{**ip, "dst": "198.18.0.11"}) / Raw(advert())] * n
    if kind == "long_interval": return [eth / IP(**ip) / Raw(advert(interval=4095))] * n
    if kind == "unknown_vrid": return [eth / IP(**ip) / Raw(advert(vrid=99))] * n
    if kind == "bad_version": return [eth / IP(**ip) / Raw(advert(vt=0x21))] * n
    if kind == "bad_type": return [eth / IP(**ip) / Raw(advert(vt=0x32))] * n
    if kind == "random":
        return [eth / IP(**ip) / Raw(bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 60))))
                for _ in range(n)]
    raise SystemExit(f"unknown kind {kind}")
''' + SENDER_LOOP

EXACT = [("ttl", "ttl"), ("bad_checksum", "bad_checksum"), ("short", "short"),
         ("short_list", "short"), ("zero_interval", "zero_interval"),
         ("zero_address_count", "zero_address_count"), ("wrong_destination", "wrong_destination")]
SAMPLED = [("unknown_vrid", "unknown_vrid"), ("bad_version", "bad_version"),
           ("bad_type", "bad_type"), ("random", None)]


def transitions(node) -> list:
    return (inst(node) or {}).get("transitions")


def body(lab):
    a, b, c = lab.a, lab.b, lab.c
    va = lab.start_vipd(a, vipd_config(a, priority=150, api_listen="127.0.0.1:9555"))
    wait_state(a, "MASTER", 10, va)
    vb = lab.start_vipd(b, vipd_config(b, priority=100, api_listen="127.0.0.1:9555"))
    wait_state(b, "BACKUP", 10, vb)
    with Sender(c, SENDER, c.iface, mac_of(a), mac_of(c)) as sender:
        before_t = {"a": transitions(a), "b": transitions(b)}

        def unchanged(kind):
            ia, ib = inst(a), inst(b)
            assert ia["state"] == "MASTER" and ib["state"] == "BACKUP", \
                f"after {kind}: A {ia['state']}, B {ib['state']}"
            assert ia["transitions"] == before_t["a"] and ib["transitions"] == before_t["b"], \
                f"after {kind}: new transitions {ia['transitions']} / {ib['transitions']}"
            assert lab.vip_holders(VIP) == ["node-a"], f"after {kind}: VIP on {lab.vip_holders(VIP)}"

        check_exact(a, b, sender, EXACT, FIG, unchanged, a_only={"wrong_destination"})
        step("long_interval: ONE advert, priority 200, carrying 40.95 s (issue 12): not learnt, "
             "counted as interval_out_of_bounds, the VIP stays on A")
        da0, db0 = drops(a), drops(b)
        sender.send("long_interval", 1)
        got_a = drops(a).get("interval_out_of_bounds", 0) - da0.get("interval_out_of_bounds", 0)
        got_b = drops(b).get("interval_out_of_bounds", 0) - db0.get("interval_out_of_bounds", 0)
        FIG.text("long_interval_counted", f"A{got_a}/B{got_b}")
        assert got_a == 1 and got_b == 1, f"40.95 s advert counted A {got_a}, B {got_b}, want 1/1"
        hold(lambda: lab.vip_holders(VIP) == ["node-a"] and inst(a)["state"] == "MASTER", 1.0,
             "the VIP on A only, A MASTER, after the 40.95 s advert")
        mdi_b = inst(b)["master_down_interval_ms"]
        assert mdi_b < 1000, f"B's Master_Down_Interval is {mdi_b} ms: the 40.95 s interval was learnt"
        unchanged("long_interval")
        check_sampled(a, sender, SAMPLED, FIG, unchanged)
        va.expect_alive()
        vb.expect_alive()


if __name__ == "__main__":
    require_root_or_skip(need=("vipd", "curl"))
    if scapy_python() is None:
        skip("python3-scapy is not installed (tools/install-deps.sh installs it)")
    raise SystemExit(run_test(body, FIG, prefix=f"hstpk{os.getpid()}"))
