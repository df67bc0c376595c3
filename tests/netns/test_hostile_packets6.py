#!/usr/bin/env python3
"""[netns] Malformed and forged VRRP over IPv6 from a hostile host on the segment (issue 15):
every kind is dropped and counted under its own reason, nothing changes state, both agents keep
running.

A (priority 150) and B (100) run two IPv6 instances, VRRPv3, adverts every 100 ms:
  web6  VRID 51, multicast (ff02::12), VIP 2001:db8::100/64: A MASTER, B BACKUP
  uni6  VRID 52, unicast between A's and B's link-local addresses, VIP 2001:db8::101/64
Node C crafts IPv6 packets with scapy and sends them one kind at a time; after each kind the
agents' vipd_vrrp_packets_dropped_total must have grown as stated:

  kinds the kernel advert filter passes (VRID 51, v3 advert header), 20 of each, counted exactly:
    ttl                    hop limit 64
    source_not_link_local  from 2001:db8::50 (C's global address) to ff02::12
    short                  a 6-byte message; a list shorter than its count (truncated)
    bad_checksum           one bit off, and a checksum computed over another source
    wrong_destination      unicast to A's link-local in multicast mode (A only)
  kinds the kernel filter drops (only its 1-in-64 sample reaches vipd), 640 of each, counted from
  the sample (between 1 and 100):
    bad_version            a VRRPv2 header over IPv6 (VRID 51)
    unknown_vrid           VRID 99
    not_a_peer             uni6 (VRID 52), priority 255, from C's link-local to A's (A only):
                           a forged higher priority from a non-peer in unicast mode

After every kind: A MASTER and B BACKUP of both instances, no new transition, each VIP on A only.
Exit 0 pass, 1 fail, 77 skipped (no scapy: tools/install-deps.sh installs python3-scapy)."""

import os

from vipdlab import require_root_or_skip, skip, wait_for
from vipdlab.hostile import (SENDER_CSUM, SENDER_LOOP, Sender, check_exact, check_sampled, mac_of,
                             scapy_python)
from vipdlab.netns import IPV6_NO_DAD
from vipdlab.vipd import API, Figures, inst, run_test, wait_state

FIG = Figures("test_hostile_packets6")
VIP6 = "2001:db8::100"
VIP6_UNI = "2001:db8::101"
ADDR6 = {"a": "2001:db8::11/64", "b": "2001:db8::12/64", "c": "2001:db8::50/64"}

# The sender runs in node C: reads "KIND COUNT" lines, sends, answers "sent N" (SENDER_LOOP).
SENDER = r'''
import socket, struct, sys
from scapy.all import Ether, IPv6, Raw, conf
conf.verb = 0
conf.logLevel = 40
iface, a_mac, c_mac, a_ll, c_ll, c_global = sys.argv[1:7]
out = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
out.bind((iface, 0))
MCAST_MAC = "33:33:00:00:00:12"
GROUP = "ff02::12"
''' + SENDER_CSUM + r'''
def advert(src, dst, vt=0x31, vrid=51, prio=200, count=1, addrs=("2001:db8::100",), good=True,
           csum_src=None):
    body = struct.pack("!BBBBH", vt, vrid, prio, count, 10) + b"\0\0"
    body += b"".join(socket.inet_pton(socket.AF_INET6, a) for a in addrs)
    # RFC 8200 §8.1 pseudo-header: source, destination, upper-layer length, next header 112.
    pseudo = (socket.inet_pton(socket.AF_INET6, csum_src or src) +
              socket.inet_pton(socket.AF_INET6, dst) + struct.pack("!I3xB", len(body), 112))
    c = csum(pseudo + body)
    if not good: c ^= 0x0001
    return body[:6] + struct.pack("!H", c) + body[8:]
def frame(src=None, dst=GROUP, hlim=255, eth_dst=MCAST_MAC, payload=None, **kw):
    src = src or c_ll
    data = payload if payload is not None else advert(src, dst, **kw)
    return bytes(Ether(dst=eth_dst, src=c_mac) / IPv6(src=src, dst=dst, hlim=hlim, nh=112) /
                 Raw(data))
def frames(kind, n):
    if kind == "ttl": return [frame(hlim=64)] * n
    if kind == "source_not_link_local": return [frame(src=c_global)] * n
    if kind == "short": return [frame(payload=advert(c_ll, GROUP)[:6])] * n
    if kind == "short_list": return [frame(count=3)] * n
    if kind == "bad_checksum": return [frame(good=False)] * n
    if kind == "checksum_other_source": return [frame(csum_src="fe80::99")] * n
    if kind == "wrong_destination": return [frame(dst=a_ll, eth_dst=a_mac)] * n
    if kind == "bad_version": return [frame(vt=0x21)] * n
    if kind == "unknown_vrid": return [frame(vrid=99)] * n
    if kind == "not_a_peer":
        return [frame(dst=a_ll, eth_dst=a_mac, vrid=52, prio=255, addrs=("2001:db8::101",))] * n
    raise SystemExit(f"unknown kind {kind}")
''' + SENDER_LOOP

EXACT = [("ttl", "ttl"), ("source_not_link_local", "source_not_link_local"), ("short", "short"),
         ("short_list", "short"), ("bad_checksum", "bad_checksum"),
         ("checksum_other_source", "bad_checksum"), ("wrong_destination", "wrong_destination")]
SAMPLED = [("bad_version", "bad_version"), ("unknown_vrid", "unknown_vrid"),
           ("not_a_peer", "not_a_peer")]
A_ONLY = {"wrong_destination", "not_a_peer"}


def config(node, priority: int, peer_ll: str) -> str:
    return (f'[agent]\nnode_name = "{node.label}"\napi_listen = "{API}"\n\n'
            f'[[instance]]\nname = "web6"\ninterface = "{node.iface}"\nvrid = 51\n'
            f'priority = {priority}\nadvert_interval = "100ms"\nvips = ["{VIP6}/64"]\n\n'
            f'[[instance]]\nname = "uni6"\ninterface = "{node.iface}"\nvrid = 52\n'
            f'priority = {priority}\nadvert_interval = "100ms"\nvips = ["{VIP6_UNI}/64"]\n'
            f'unicast_peers = ["{peer_ll}"]\n')


def body(lab):
    a, b, c = lab.a, lab.b, lab.c
    for n in (a, b, c):
        lab.add_ipv6(n, ADDR6[n.name])
    ll = {n.name: lab.link_local(n) for n in (a, b, c)}
    va = lab.start_vipd(a, config(a, 150, ll["b"]))
    wait_state(a, "MASTER", 10, va)
    vb = lab.start_vipd(b, config(b, 100, ll["a"]))
    wait_state(b, "BACKUP", 10, vb)

    def states(node):
        return [inst(node, i) for i in (0, 1)]

    wait_for(lambda: [i["state"] for i in states(a)] == ["MASTER"] * 2 and
             [i["state"] for i in states(b)] == ["BACKUP"] * 2, 5,
             lambda: f"A MASTER and B BACKUP of both (A {[i['state'] for i in states(a)]}, "
                     f"B {[i['state'] for i in states(b)]})")
    for vip in (VIP6, VIP6_UNI):
        wait_for(lambda vip=vip: lab.vip_holders(vip) == [a.label], 3,
                 lambda vip=vip: f"{vip} on A only (have {lab.vip_holders(vip)})")
    before = {n.name: [i["transitions"] for i in states(n)] for n in (a, b)}
    with Sender(c, SENDER, c.iface, mac_of(a), mac_of(c), ll["a"], ll["c"],
                ADDR6["c"].split("/")[0]) as sender:
        def unchanged(kind):
            sa, sb = states(a), states(b)
            assert [i["state"] for i in sa] == ["MASTER"] * 2 and \
                [i["state"] for i in sb] == ["BACKUP"] * 2, \
                f"after {kind}: A {[i['state'] for i in sa]}, B {[i['state'] for i in sb]}"
            now = {"a": [i["transitions"] for i in sa], "b": [i["transitions"] for i in sb]}
            assert now == before, f"after {kind}: transitions {before} -> {now}"
            for vip in (VIP6, VIP6_UNI):
                assert lab.vip_holders(vip) == [a.label], \
                    f"after {kind}: {vip} on {lab.vip_holders(vip)}"

        check_exact(a, b, sender, EXACT, FIG, unchanged, a_only=A_ONLY)
        check_sampled(a, sender, SAMPLED, FIG, unchanged)
        va.expect_alive()
        vb.expect_alive()

if __name__ == "__main__":
    require_root_or_skip(need=("vipd",))
    if scapy_python() is None:
        skip("python3-scapy is not installed (tools/install-deps.sh installs it)")
    raise SystemExit(run_test(body, FIG, prefix=f"v6hhp{os.getpid()}", sysctls=IPV6_NO_DAD))
