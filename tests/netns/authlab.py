"""Helpers for the auth_hmac / checksum interop tests (issue 12). Not a test itself.

    keepalived_243() -> path of keepalived 2.4.3 built from ../shared/peers (cached under the
                        build tree: <build>/peers), or skip (exit 77) with the reason
    ka_auth_block(key_hex, ...) / vipd_auth(key_hex, ...)   config snippets, one key each or more
    forge_advert(...) -> an IPv4 VRRPv3 advert signed like keepalived (stdlib hmac), for replayed,
                        stale and wrong-key frames; send_frame(node, ip_packet) puts it on the wire
"""

from __future__ import annotations

import hmac
import hashlib
import socket
import struct
import time

# keepalived 2.4.3 and the config snippets live in the lab package (the bench uses them too)
from vipdlab.auth import KEY1, KEY2, WRONG, ka_auth_block, keepalived_243, vipd_auth  # noqa: F401

# ------------------------------------------------------------------------------------------------
# Forged frames (the attacker's side; the HMAC here is the test's, from Python's stdlib)
# ------------------------------------------------------------------------------------------------

def _csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def forge_advert(src: str, vrid: int, prio: int, vips: list[str], key_hex: str | None,
                 key_id: int = 1, when: float | None = None, ctr: int = 0,
                 interval_cs: int = 10, dst: str = "224.0.0.18") -> bytes:
    """An IPv4 packet: VRRPv3 advert (pseudo-header checksum, as keepalived) + auth trailer
    signed with ``key_hex`` at wall time ``when`` (None: no trailer)."""
    s, d = socket.inet_aton(src), socket.inet_aton(dst)
    body = struct.pack("!BBBBH", 0x31, vrid, prio, len(vips), interval_cs & 0x0FFF)
    addrs = b"".join(socket.inet_aton(v) for v in vips)
    msg0 = body + b"\0\0" + addrs
    pseudo = s + d + struct.pack("!BBH", 0, 112, len(msg0))
    msg = body + struct.pack("!H", _csum(pseudo + msg0)) + addrs
    payload = msg
    if key_hex is not None:
        t = time.time() if when is None else when
        sec = int(t)
        subsec = int((t - sec) * 65536) & 0xFFFF
        head = struct.pack("!BBHIHH", 1, key_id, 0, sec & 0xFFFFFFFF, subsec, ctr)
        mac_in = (bytes([4, 3, vrid, 0]) + s + bytes(12) + msg0 + head + bytes(16))
        mac = hmac.new(bytes.fromhex(key_hex), mac_in, hashlib.sha256).digest()[:16]
        payload = msg + head + mac
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0xC0, 20 + len(payload), 0x1234, 0, 255, 112, 0, s, d)
    ip = ip[:10] + struct.pack("!H", _csum(ip)) + ip[12:]
    return ip + payload


SEND_FRAME = r"""
import socket, sys
iface, dst_mac, data = sys.argv[1], bytes.fromhex(sys.argv[2]), bytes.fromhex(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
src_mac = s.getsockname()[4]
s.send(dst_mac + src_mac + b"\x08\x00" + data)
"""


def send_frame(node, ip_packet: bytes, dst_mac: str = "01005e000012") -> None:
    """Puts ``ip_packet`` on ``node``'s link as one Ethernet frame (any source address: this is
    how an attacker on the segment sends)."""
    node.run("python3", "-c", SEND_FRAME, node.iface, dst_mac, ip_packet.hex())


# ------------------------------------------------------------------------------------------------
# FRR's vrrpd as a VRRP peer (Debian's frr): zebra + vrrpd inside a lab node, own config, pid, zserv
# and vty socket paths; the VIP on a macvlan with the virtual MAC, as FRR requires.
# ------------------------------------------------------------------------------------------------

class FrrVrrpd:
    def __init__(self, lab, node, priority: int, vrid: int = 51, advert_ms: int = 100,
                 vip: str = "198.18.0.100/24", preempt: bool = True):
        import shutil as _shutil
        self.lab, self.node, self.vrid = lab, node, vrid
        # A fresh directory per start: a stale zserv socket would let vrrpd connect before zebra.
        n = sum(1 for _ in lab.dir.glob(f"frr-{node.name}-*"))
        self.dir = lab.dir / f"frr-{node.name}-{n}"
        self.dir.mkdir()
        self.macvlan = f"vrrp4-{vrid}"
        node.run("ip", "link", "add", self.macvlan, "link", node.iface, "type", "macvlan",
                 "mode", "bridge")
        node.run("ip", "link", "set", "dev", self.macvlan, "address", f"00:00:5e:00:01:{vrid:02x}")
        node.run("ip", "addr", "add", vip, "dev", self.macvlan)
        node.run("ip", "link", "set", "dev", self.macvlan, "up")
        (self.dir / "zebra.conf").write_text("hostname zebra\n")
        (self.dir / "vrrpd.conf").write_text(
            f"hostname vrrpd\ninterface {node.iface}\n vrrp {vrid} version 3\n"
            f" vrrp {vrid} priority {priority}\n vrrp {vrid} advertisement-interval {advert_ms}\n"
            f"{'' if preempt else f' no vrrp {vrid} preempt' + chr(10)}"
            f" vrrp {vrid} ip {vip.split('/')[0]}\n")
        _shutil.chown(self.dir, "frr", "frr")
        for f in self.dir.iterdir():
            _shutil.chown(f, "frr", "frr")
        common = ["-z", str(self.dir / "zserv.api"), "--vty_socket", str(self.dir), "-u", "frr",
                  "-g", "frr", "-P", "0", "--log", "stdout"]
        self.zebra = node.popen("/usr/lib/frr/zebra", "-f", str(self.dir / "zebra.conf"), "-i",
                                str(self.dir / "zebra.pid"), *common, name=f"zebra@{node.label}",
                                log=self.dir / "zebra.log")
        from vipdlab import wait_for
        wait_for(lambda: (self.dir / "zserv.api").exists(), 10, "zebra's zserv socket")
        self.vrrpd = node.popen("/usr/lib/frr/vrrpd", "-f", str(self.dir / "vrrpd.conf"), "-i",
                                str(self.dir / "vrrpd.pid"), *common, name=f"vrrpd@{node.label}",
                                log=self.dir / "vrrpd.log")
        wait_for(lambda: self.state() is not None, 10, "FRR vrrpd to answer show vrrp")

    def state(self) -> str | None:
        """"Master", "Backup", "Initialize" or None (not answering)."""
        import json as _json
        r = self.node.run("vtysh", "--vty_socket", str(self.dir), "-c", f"show vrrp {self.vrid} json",
                          check=False, timeout=5)
        try:
            return _json.loads(r.stdout)[0]["v4"]["status"]
        except (ValueError, LookupError, TypeError):
            return None

    def stop(self) -> None:
        for p in (self.vrrpd, self.zebra):
            p.stop(timeout=5)
        self.node.run("ip", "link", "del", self.macvlan, check=False)
