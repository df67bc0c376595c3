"""Hostile packets on the lab segment (issues 13 and 15), shared by tests/netns/test_hostile_packets
and test_hostile_packets6: a scapy sender run in node C (the test gives the family's frames), the
agents' drop counters, and the two checks each kind goes through (counted exactly, or sampled by
the kernel advert filter)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

from vipdlab.vipd import metrics, step

# The sender's own parts: SENDER_CSUM (the Internet checksum) goes before the family's frames(),
# SENDER_LOOP after it: it reads "KIND COUNT" lines, sends frames(KIND, COUNT) through the packet
# socket ``out`` and answers "sent N".
SENDER_CSUM = r'''
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack(f"!{len(b)//2}H", b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff
'''

SENDER_LOOP = r'''
print("ready", flush=True)
for line in sys.stdin:
    kind, n = line.split()
    pkts = frames(kind, int(n))
    for p in pkts:  # scapy builds (checksums, lengths); a packet socket sends the bytes as built
        out.send(bytes(p))
    print(f"sent {len(pkts)}", flush=True)
'''


def scapy_python() -> str | None:
    """An interpreter that can import scapy: this one, or Debian's (python3-scapy installs into
    /usr/lib/python3/dist-packages, which a python3 from elsewhere on PATH does not search)."""
    for exe in (sys.executable, "/usr/bin/python3"):
        if os.access(exe, os.X_OK) and subprocess.run(
                [exe, "-c", "import scapy.all"], capture_output=True).returncode == 0:
            return exe
    return None


def drops(node) -> dict[str, int]:
    """vipd_vrrp_packets_dropped_total by reason on ``node``."""
    return {m.group(1): int(float(m.group(2))) for m in re.finditer(
        r'^vipd_vrrp_packets_dropped_total\{reason="(\w+)"\} (\S+)$', metrics(node), re.M)}


def mac_of(node) -> str:
    return node.run("cat", f"/sys/class/net/{node.iface}/address").stdout.strip()


class Sender:
    """The scapy sender ``src`` running in ``node`` with ``args``; ``send(kind, n)`` sends n
    frames of a kind and waits for both agents to read them. Use as a context manager."""

    def __init__(self, node, src: str, *args: str):
        self.proc = subprocess.Popen(node.cmd(scapy_python(), "-u", "-c", src, *args),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def __enter__(self) -> "Sender":
        try:
            assert self.proc.stdout.readline().strip() == "ready", "the scapy sender did not start"
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def send(self, kind: str, n: int) -> None:
        self.proc.stdin.write(f"{kind} {n}\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline().strip()
        assert line == f"sent {n}", f"sender: {line!r}"
        time.sleep(0.3)  # let both agents read their queues


def check_exact(a, b, sender: Sender, kinds, fig, unchanged, a_only=()) -> None:
    """Each (kind, reason) of ``kinds``: 20 packets, counted exactly under ``reason`` by A and B
    (by A only, B 0, for a kind in ``a_only``); then ``unchanged(kind)``."""
    for kind, reason in kinds:
        step(f"{kind}: 20 packets, counted exactly as {reason}")
        da0, db0 = drops(a), drops(b)
        sender.send(kind, 20)
        da1, db1 = drops(a), drops(b)
        got_a = da1.get(reason, 0) - da0.get(reason, 0)
        got_b = db1.get(reason, 0) - db0.get(reason, 0)
        fig.text(f"{kind}_counted", f"A{got_a}/B{got_b}")
        assert got_a == 20, f"{kind}: A counted {got_a} under {reason}, want 20 ({da1})"
        want_b = 0 if kind in a_only else 20
        assert got_b == want_b, f"{kind}: B counted {got_b} under {reason}, want {want_b}"
        unchanged(kind)


def check_sampled(a, sender: Sender, kinds, fig, unchanged) -> None:
    """Each (kind, reason) of ``kinds``: 640 packets of which the kernel filter passes only its
    sample: A counts between 1 and 100 under ``reason`` (None: under any reason); then
    ``unchanged(kind)``."""
    for kind, reason in kinds:
        step(f"{kind}: 640 packets, the kernel filter passes only its sample")
        da0 = drops(a)
        sender.send(kind, 640)
        da1 = drops(a)
        got = (sum(da1.values()) - sum(da0.values()) if reason is None
               else da1.get(reason, 0) - da0.get(reason, 0))
        fig.text(f"{kind}_counted_of_640", str(got))
        assert 1 <= got <= 100, f"{kind}: A counted {got} of 640 under {reason or 'any'}"
        unchanged(kind)
