#!/usr/bin/env python3
"""[netns] checksum = "auto" (vipd's default) against peers that verify only one VRRPv3/IPv4
checksum form (issue 12): keepalived 2.2.7 (Debian), keepalived 2.4.3 (built from
../shared/peers), FRR 8.4 vrrpd (always the pseudo-header form, no knob; zebra + vrrpd started in
the node with their own config and socket paths, the VIP on a macvlan with the virtual MAC).

For each peer, vipd higher (A, 150) and lower (B, 100), started first and second: after the
second starts, exactly one master — the higher — and the lower BACKUP, held for three
Master_Down_Intervals of the lower (the hard case is vipd higher and first: the peer is a silent
backup whose form vipd cannot learn, so vipd alternates the forms and the peer accepts every
second advert). vipd runs with no `checksum` key. When vipd is the lower, /status says it learnt
the peer's form. 100 ms adverts. Exit 0 pass, 1 fail, 77 skip.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # ctest also sets PYTHONPATH
from authlab import FrrVrrpd, keepalived_243  # noqa: E402
from vipdlab import KEEPALIVED, keepalived_config, require_root_or_skip, vipd_config, wait_for  # noqa: E402
from vipdlab.vipd import API, Figures, hold, inst, master_down_ms, run_test, step  # noqa: E402

FIG = Figures("test_checksum_auto")
HI, LO, ADVERT_MS = 150, 100, 100


def ka_state(proc) -> str | None:
    states = [l for l in proc.log_text().splitlines() if "Entering" in l and "STATE" in l]
    if not states:
        return None
    return states[-1].split("Entering ")[1].split(" STATE")[0].capitalize()


class Peer:
    def __init__(self, lab, kind: str, node, prio: int, binary: str | None = None):
        self.lab, self.kind, self.node, self.prio, self.binary = lab, kind, node, prio, binary
        self.handle = None

    def start(self):
        if self.kind == "frr":
            self.handle = FrrVrrpd(self.lab, self.node, self.prio, advert_ms=ADVERT_MS)
        elif self.kind == "vipd":
            self.handle = self.lab.start_vipd(self.node, vipd_config(
                self.node, priority=self.prio, checksum=None, api_listen=API))
            wait_for(lambda: self.handle.expect_alive() or inst(self.node), 5, "vipd /status")
        else:
            self.handle = self.lab.start_keepalived(
                self.node, keepalived_config(self.node, priority=self.prio), binary=self.binary)

    def state(self) -> str | None:
        if self.kind == "frr":
            return self.handle.state()
        if self.kind == "vipd":
            self.handle.expect_alive()
            s = (inst(self.node) or {}).get("state")
            return s.capitalize() if s else None
        self.handle.expect_alive()
        return ka_state(self.handle)

    def stop(self):
        if self.kind == "frr":
            self.handle.stop()
        else:
            rc = self.handle.stop(timeout=5)
            assert rc == 0, f"{self.kind} exited with rc {rc}"


def run_case(lab, peer_kind: str, binary: str | None, vipd_high: bool, vipd_first: bool) -> None:
    a, b = lab.a, lab.b
    vipd = Peer(lab, "vipd", a if vipd_high else b, HI if vipd_high else LO)
    peer = Peer(lab, peer_kind if peer_kind == "frr" else "keepalived", b if vipd_high else a,
                LO if vipd_high else HI, binary)
    hi, lo = (vipd, peer) if vipd_high else (peer, vipd)
    first, second = (vipd, peer) if vipd_first else (peer, vipd)
    tag = f"{peer_kind}/vipd-{'high' if vipd_high else 'low'}/{'vipd' if vipd_first else 'peer'}-first"
    step(f"{tag}: vipd({vipd.prio}) vs {peer_kind}({peer.prio}), {first.kind} started first")
    first.start()
    wait_for(lambda: first.state() == "Master", master_down_ms(first.prio, ADVERT_MS) / 1000 + 5,
             lambda: f"{tag}: {first.kind} to become Master alone (now {first.state()})")
    t0 = time.monotonic()
    second.start()
    wait_for(lambda: hi.state() == "Master" and lo.state() == "Backup", 5,
             lambda: f"{tag}: {hi.kind} Master and {lo.kind} Backup "
                     f"(now {hi.state()} / {lo.state()})")
    FIG.add(f"{tag}_converge", (time.monotonic() - t0) * 1000)
    hold(lambda: hi.state() == "Master" and lo.state() == "Backup",
         3 * master_down_ms(LO, ADVERT_MS) / 1000 + 0.3,
         f"{tag}: exactly one master ({hi.kind}) for three Master_Down_Intervals", interval=0.05)
    i = inst(vipd.node) or {}
    if not vipd_high:
        assert i.get("checksum") == "auto (learnt pseudo-header)", \
            f"{tag}: vipd /status checksum = {i.get('checksum')!r}"
    FIG.text(f"{tag}_checksum", repr(i.get("checksum")))
    for s in (second, first):
        s.stop()
    wait_for(lambda: inst(vipd.node) is None, 5, "vipd gone")


def body(lab):
    peers = [("keepalived-2.2.7", KEEPALIVED)]
    try:
        peers.append(("keepalived-2.4.3", keepalived_243()))
    except SystemExit:  # keepalived_243() printed "skipped: <why>": only that part is skipped
        print("  the keepalived 2.4.3 cases are skipped (above); the others run")
        FIG.text("keepalived_243", "skipped")
    peers.append(("frr", None))
    only = os.environ.get("TRU_ONLY", "")
    t0 = time.monotonic()
    n = 0
    for kind, binary in peers:
        if only and only not in kind:
            continue
        for vipd_high in (True, False):
            for vipd_first in (True, False):
                run_case(lab, kind, binary, vipd_high, vipd_first)
                n += 1
    FIG.text("cases_passed", str(n))
    FIG.add("total_runtime", (time.monotonic() - t0) * 1000)


def main() -> int:
    require_root_or_skip(need=("keepalived", "vtysh", "curl", "vipd"))
    if not os.path.exists("/usr/lib/frr/vrrpd"):
        print("skipped: FRR's vrrpd is not installed (apt-get install frr; tools/install-deps.sh)")
        return 77
    return run_test(body, FIG, prefix=f"tru{os.getpid() % 100000}")


if __name__ == "__main__":
    sys.exit(main())
