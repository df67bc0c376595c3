#!/usr/bin/env python3
"""[netns] What vipd puts on the wire, decoded by an independent implementation (tshark).

For each VRRPv3 checksum mode (A 150 and B 100 both configured with it):
  - every IP-protocol-112 frame on the bridge is dissected as VRRP with checksum status Good,
    with the Wireshark preference `vrrp.v3_checksum_as_in_v2` matching the mode:
      checksum = "rfc9568"       -> TRUE  (checksum over the VRRP message only, as in v2)
      checksum = "pseudo-header" -> FALSE (IPv4 pseudo-header included: Wireshark's default,
                                          keepalived's and FRR's mode)
    and with the opposite preference every one is Bad (so the mode really is the configured one);
    IP TTL 255, destination 224.0.0.18, protocol 112, VRRP version 3, VRID 51; a priority-0
    advert when a master stops.
    (Verified against this tshark with keepalived 2.2.7's adverts, which use the pseudo-header:
    Good with FALSE, Bad with TRUE. The field `vrrp.checksum.status` is 1 for Good — Wireshark's
    PROTO_CHECKSUM_E_GOOD; 0 is Bad, 2 Unverified.)
  - gratuitous ARP, in both the request and the reply form, reaches the client namespace and
    updates the client's existing neighbour entry for the VIP to B's MAC on failover — without
    the client asking (see the comment at the neighbour check); and each form alone, replayed,
    overrides a fresh entry (inside the neighbour locktime only a valid gratuitous ARP may),
    while a non-gratuitous control frame does not.
Exit 0 pass, 1 fail, 77 skipped."""

import struct
import sys
import time

from vipdlab import VIP, require_root_or_skip, vipd_config, wait_for
from vipdlab.vipd import (API, Figures, hold, run_test, skew_ms, step, wait_state,
                          wait_transition, transitions)

ADVERT_MS = 100
PRIO_A, PRIO_B = 150, 100
BOUND_NEIGH_MS = skew_ms(PRIO_B, ADVERT_MS) + 100  # GARP is sent on takeover: same bound
GOOD, BAD = "1", "0"  # vrrp.checksum.status (PROTO_CHECKSUM_E_GOOD / _BAD)
FIELDS = ("frame.time_epoch", "eth.src", "ip.src", "ip.dst", "ip.ttl", "ip.proto",
          "vrrp.version", "vrrp.type", "vrrp.virt_rtr_id", "vrrp.prio", "vrrp.checksum.status",
          "vrrp.ip_addr")
ARP_FIELDS = ("frame.time_epoch", "eth.src", "eth.dst", "arp.opcode", "arp.src.hw_mac",
              "arp.src.proto_ipv4", "arp.dst.hw_mac", "arp.dst.proto_ipv4")

FIG = Figures("test_vipd_wire")


def mac_of(node) -> str:
    out = node.run("ip", "-br", "link", "show", "dev", node.iface).stdout.split()
    return out[2].lower()


def neigh(node, ip=VIP) -> tuple[str | None, str | None]:
    """(lladdr, state) of the node's neighbour entry for ``ip`` (None, None if there is none)."""
    out = node.run("ip", "neigh", "show", ip, "dev", node.iface).stdout.split()
    lladdr = out[out.index("lladdr") + 1].lower() if "lladdr" in out else None
    return lladdr, (out[-1] if out else None)


def pcap_frames(path) -> list[bytes]:
    """Ethernet frames of a classic pcap file (what `tcpdump -w` writes)."""
    data = open(path, "rb").read()
    magic = struct.unpack_from("<I", data)[0]
    end = "<" if magic in (0xa1b2c3d4, 0xa1b23c4d) else ">"
    assert struct.unpack_from(end + "I", data, 20)[0] == 1, f"{path}: not an Ethernet capture"
    frames, off = [], 24
    while off + 16 <= len(data):
        incl = struct.unpack_from(end + "I", data, off + 8)[0]
        frames.append(data[off + 16:off + 16 + incl])
        off += 16 + incl
    return frames


def garp_frames(path, mac: str, ip: str) -> dict[int, bytes]:
    """The first gratuitous ARP frame per opcode (1 request, 2 reply) sent from ``mac`` for ``ip``."""
    want_mac = bytes.fromhex(mac.replace(":", ""))
    want_ip = bytes(int(x) for x in ip.split("."))
    out: dict[int, bytes] = {}
    for f in pcap_frames(path):
        if len(f) < 42 or f[12:14] != b"\x08\x06":
            continue
        arp = f[14:42]
        op = struct.unpack_from(">H", arp, 6)[0]
        if arp[8:14] == want_mac and arp[14:18] == want_ip and arp[24:28] == want_ip:
            out.setdefault(op, f)
    return out


_SEND_SRC = r"""
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
s.send(bytes.fromhex(sys.argv[2]))
"""


def replay_forms(lab, frames: dict[int, bytes], mac_a: str, mac_b: str) -> None:
    """Each GARP form vipd sent, alone, must override a *fresh* client entry.

    Replays B's captured request-form and reply-form frames one at a time from B's namespace
    after setting the client's entry for the VIP to A's MAC just now. Within the neighbour
    locktime (1 s) Linux only lets an ARP override an entry when it is gratuitous
    (net/ipv4/arp.c arp_is_garp(): sender IP == target IP, and for a reply target MAC == sender
    MAC), so an entry that moves to B's MAC proves the form is a valid GARP on its own. The
    control: the reply with its target MAC zeroed (not gratuitous for Linux) must NOT move it."""
    a, b, c = lab.a, lab.b, lab.c
    reply = frames[2]
    control = reply[:14 + 18] + bytes(6) + reply[14 + 24:]
    for name, frame, moves in (("request", frames[1], True), ("reply", reply, True),
                               ("control: reply with zero target MAC", control, False)):
        c.run("ip", "neigh", "replace", VIP, "lladdr", mac_a, "dev", c.iface, "nud", "reachable")
        t0 = time.monotonic()
        b.run("python3", "-c", _SEND_SRC, b.iface, frame.hex())
        if moves:
            wait_for(lambda: neigh(c)[0] == mac_b, 0.5,
                     lambda: f"the {name} form alone to move the client's fresh entry to B "
                             f"(entry now {neigh(c)})")
            FIG.add(f"garp_{name}_alone", (time.monotonic() - t0) * 1000,
                    "fresh entry overridden; includes starting the sender")
        else:
            hold(lambda: neigh(c)[0] == mac_a, 0.3,
                 f"{name}: the client's fresh entry keeps A's MAC (the check can fail)")


def fields(cap, display_filter, names, *opts) -> list[dict]:
    args = []
    for o in opts:
        args += ["-o", o]
    args += ["-T", "fields", "-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=,"]
    for n in names:
        args += ["-e", n]
    out = cap.decode(display_filter, *args)
    rows = []
    for line in out.splitlines():
        parts = line.split("|")
        if len(parts) == len(names):
            rows.append(dict(zip(names, parts)))
    return rows


def one_mode(lab, mode: str) -> None:
    a, b, c = lab.a, lab.b, lab.c
    pref = "TRUE" if mode == "rfc9568" else "FALSE"
    other = "FALSE" if pref == "TRUE" else "TRUE"
    mac_a, mac_b, mac_c = mac_of(a), mac_of(b), mac_of(c)
    step(f"checksum = {mode!r}: capture on the bridge (VRRP, ARP) and in the client (ARP)")
    c.run("ip", "neigh", "flush", "dev", c.iface)
    cap = lab.capture(None, "ip proto 112 or arp")
    capc = lab.capture(c, "arp")
    va = lab.start_vipd(a, vipd_config(a, priority=PRIO_A, checksum=mode, api_listen=API))
    vb = lab.start_vipd(b, vipd_config(b, priority=PRIO_B, checksum=mode, api_listen=API))
    wait_state(a, "MASTER", 5, va)
    wait_state(b, "BACKUP", 5, vb, extra=lambda i: (i.get("master") or {}).get("address") == a.addr)

    # The client's neighbour entry for the VIP: created by a first request, naming A's MAC.
    code, body = c.http_get(f"http://{VIP}/")
    assert (code, body) == (200, "node-a\n"), f"first request: {code} {body!r}"
    lladdr, nud = neigh(c)
    assert lladdr == mac_a, f"client's entry for the VIP: {lladdr} {nud}, want A's MAC {mac_a}"
    # Ten adverts from A; the entry also gets older than the neighbour locktime (1 s), so any
    # form of unsolicited ARP may override it (net/ipv4/arp.c: arp_process()).
    hold(lambda: lab.vip_holders() == ["node-a"], 1.1, "VIP on node-a only")
    lladdr, nud = neigh(c)
    assert lladdr == mac_a and nud in ("REACHABLE", "STALE", "DELAY"), (lladdr, nud)
    print(f"  client's entry before failover: {lladdr} {nud}")

    # Failover. The client sends nothing to the VIP from here on, so its kernel has no reason to
    # resolve the VIP again (a REACHABLE or STALE entry is only re-validated when used; the
    # reachable time is 15-45 s and we look within a second). A change of the entry to B's MAC
    # can therefore only come from B's unsolicited (gratuitous) ARP — and the capture in the
    # client proves it sent no ARP request for the VIP meanwhile.
    n_b = len(transitions(vb))
    wall0, t0 = time.time(), time.monotonic()
    va.terminate()
    wait_for(lambda: neigh(c)[0] == mac_b, 1.0,
             lambda: f"client's entry for the VIP to name B's MAC {mac_b} (now {neigh(c)})")
    t_neigh = time.monotonic()
    lladdr, nud = neigh(c)
    ms = FIG.add(f"{mode}_neigh_updated", (t_neigh - t0) * 1000,
                 f"SIGTERM on A -> client entry names B; bound {BOUND_NEIGH_MS:.1f} ms")
    print(f"  client's entry after failover: {lladdr} {nud}")
    assert ms <= BOUND_NEIGH_MS, \
        f"client's neighbour entry updated {ms:.1f} ms after SIGTERM; bound {BOUND_NEIGH_MS:.1f} ms"
    assert va.wait_exit(5) == 0, f"vipd on A exited with rc {va.returncode}"
    wait_transition(vb, "MASTER", 2, after=n_b)
    hold(lambda: lab.vip_holders() == ["node-b"], 0.35, "VIP on node-b only")  # B's adverts
    assert vb.stop() == 0, f"vipd on B exited with rc {vb.returncode}"  # priority 0 from B too
    wall1 = time.time()
    cap.stop()
    capc.stop()

    # -- VRRP on the bridge --------------------------------------------------------------------
    rows = fields(cap, "ip.proto == 112", FIELDS, f"vrrp.v3_checksum_as_in_v2:{pref}")
    assert rows, "no IP protocol 112 frame captured on the bridge"
    bad = [r for r in rows if not r["vrrp.version"]]
    assert not bad, f"{len(bad)} protocol-112 frames not dissected as VRRP: {bad[:3]}"
    from_a = [r for r in rows if r["ip.src"] == a.addr]
    from_b = [r for r in rows if r["ip.src"] == b.addr]
    others = [r for r in rows if r["ip.src"] not in (a.addr, b.addr)]
    assert not others, f"VRRP from unexpected sources: {others[:3]}"
    for r in rows:
        want = {"ip.ttl": "255", "ip.dst": "224.0.0.18", "ip.proto": "112", "vrrp.version": "3",
                "vrrp.type": "1", "vrrp.virt_rtr_id": "51", "vrrp.checksum.status": GOOD,
                "vrrp.ip_addr": VIP}
        wrong = {k: r[k] for k, v in want.items() if r[k] != v}
        assert not wrong, (f"advert from {r['ip.src']} (prio {r['vrrp.prio']}) with "
                           f"vrrp.v3_checksum_as_in_v2:{pref}: wrong {wrong}; want "
                           f"{ {k: want[k] for k in wrong} }")
    assert len(from_a) >= 10, f"only {len(from_a)} adverts from A in > 1 s of mastership"
    assert from_b, "no advert from B after it took over"
    prios_a = [r["vrrp.prio"] for r in from_a]
    prios_b = [r["vrrp.prio"] for r in from_b]
    assert prios_a[-1] == "0", f"A's last advert (SIGTERM) has priority {prios_a[-1]}, want 0"
    assert set(prios_a[:-1]) <= {str(PRIO_A), "0"}, prios_a
    assert prios_b[-1] == "0", f"B's last advert (SIGTERM) has priority {prios_b[-1]}, want 0"
    FIG.text(f"{mode}_adverts_good", f"{len(rows)}/{len(rows)}(A={len(from_a)},B={len(from_b)})")
    # The other preference must call every one of them bad: the mode is really `mode`.
    cross = fields(cap, "ip.proto == 112", FIELDS, f"vrrp.v3_checksum_as_in_v2:{other}")
    not_bad = [r for r in cross if r["vrrp.checksum.status"] != BAD]
    assert len(cross) == len(rows) and not not_bad, \
        f"with vrrp.v3_checksum_as_in_v2:{other} {len(not_bad)} of {len(cross)} adverts are " \
        f"not Bad: {not_bad[:3]} — the checksum does not follow checksum = {mode!r} alone"

    # -- gratuitous ARP in the client ----------------------------------------------------------
    arps = fields(capc, "arp", ARP_FIELDS)
    garp_b = [r for r in arps if r["arp.src.hw_mac"].lower() == mac_b and
              r["arp.src.proto_ipv4"] == VIP and r["arp.dst.proto_ipv4"] == VIP and
              float(r["frame.time_epoch"]) >= wall0]
    forms = sorted({r["arp.opcode"] for r in garp_b})
    FIG.text(f"{mode}_garp_from_b", f"{len(garp_b)}(opcodes={','.join(forms)})")
    assert "1" in forms and "2" in forms, \
        f"gratuitous ARP from B seen in the client: opcodes {forms} ({len(garp_b)} frames); " \
        f"want both the request (1) and the reply (2) form"
    for r in garp_b:
        assert r["eth.dst"].lower() == "ff:ff:ff:ff:ff:ff", f"GARP not broadcast: {r}"
    asked = [r for r in arps if r["eth.src"].lower() == mac_c and r["arp.opcode"] == "1" and
             r["arp.dst.proto_ipv4"] == VIP and wall0 <= float(r["frame.time_epoch"]) <= wall1]
    assert not asked, f"the client itself asked for the VIP after the failover: {asked}"
    # Broadcast replies and requests do not confirm reachability (arp_process): a STALE entry
    # with B's MAC is the mark of an unsolicited update (a solicited reply would be REACHABLE).
    assert nud == "STALE", f"client's entry after the GARP is {nud}, expected STALE"
    if mode == "rfc9568":  # the ARP frames do not depend on the checksum mode: once is enough
        frames = garp_frames(capc.file, mac_b, VIP)
        assert 1 in frames and 2 in frames, f"GARP forms in the client capture: {sorted(frames)}"
        replay_forms(lab, frames, mac_a, mac_b)
        c.run("ip", "neigh", "flush", "dev", c.iface)
    wait_for(lambda: lab.vip_holders() == [], 2, "no VIP anywhere after both agents stopped")


def body(lab):
    lab.start_nginx(lab.a)
    lab.start_nginx(lab.b)
    for mode in ("rfc9568", "pseudo-header"):
        one_mode(lab, mode)


def main() -> int:
    require_root_or_skip(need=("nginx", "curl", "tcpdump", "tshark", "vipd"))
    return run_test(body, FIG)


if __name__ == "__main__":
    sys.exit(main())
