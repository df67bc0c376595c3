#!/usr/bin/env python3
"""[netns] vipd and keepalived 2.2.7 in one VRRP group.

Node A has priority 150, node B 100; each case runs twice: vipd on A (the higher priority) with
keepalived on B, then keepalived on A with vipd on B (vipd the lower priority).
  (a) VRRPv3 multicast, 100 ms adverts, vipd checksum = "pseudo-header"
  (b) VRRPv2 with PASS authentication, 1 s adverts (v2 intervals are whole seconds)
  (c) VRRPv3 unicast peers (vipd unicast_peers, keepalived unicast_src_ip/unicast_peer),
      vipd checksum = "pseudo-header" (keepalived 2.2.7 knows no other v3/IPv4 mode)
Each: exactly one master is elected (the higher) and stays the only one for a Master_Down_Interval
of the lower; SIGTERM on the master -> the lower takes over; the master returns -> failback.
Then vipd (B, 100) left at checksum = "rfc9568" against keepalived (A, 150): vipd accepts
keepalived's adverts (stays BACKUP, no dual master) and says so loudly: a log warning naming
`checksum = "pseudo-header"`, vipd_vrrp_checksum_mode_mismatch_total > 0, and a /status warning.
All in one lab, cases in sequence, speakers restarted between cases. Exit 0 pass, 1 fail, 77 skip.
"""

import sys
import time
from dataclasses import dataclass, field

from vipdlab import keepalived_config, require_root_or_skip, vipd_config, wait_for
from vipdlab.vipd import (API, Figures, hold, inst, log_mark, master_down_ms, metric,
                          metrics, run_test, step, transitions, wait_log_after, wait_state)

PRIO_HI, PRIO_LO = 150, 100
FIG = Figures("test_keepalived_interop")


@dataclass
class Case:
    name: str
    version: int
    advert_ms: int
    vipd: dict = field(default_factory=dict)        # extra vipd_config() arguments
    keepalived: dict = field(default_factory=dict)  # extra keepalived_config() arguments
    unicast: bool = False


AUTH_KA = "    authentication {\n        auth_type PASS\n        auth_pass s3cret\n    }\n"
CASES = [
    Case("v3-multicast", 3, 100, vipd={"checksum": "pseudo-header"}),
    Case("v2-pass", 2, 1000, vipd={"extra_instance": 'auth_pass = "s3cret"'},
         keepalived={"extra_instance": AUTH_KA}),
    Case("v3-unicast", 3, 100, vipd={"checksum": "pseudo-header"}, unicast=True),
]


class Speaker:
    """One VRRP speaker (vipd or keepalived) on a node, restartable."""

    def __init__(self, lab, kind: str, node, prio: int, case: Case, peer):
        self.lab, self.kind, self.node, self.prio, self.case, self.peer = \
            lab, kind, node, prio, case, peer
        self.proc = None

    @property
    def label(self) -> str:
        return f"{self.kind}@{self.node.label}({self.prio})"

    def start(self):
        c = self.case
        peers = [self.peer.addr] if c.unicast else []
        if self.kind == "vipd":
            text = vipd_config(self.node, priority=self.prio, version=c.version,
                               advert=f"{c.advert_ms}ms" if c.advert_ms < 1000
                               else f"{c.advert_ms // 1000}s",
                               unicast_peers=peers, api_listen=API, **c.vipd)
            self.proc = self.lab.start_vipd(self.node, text)
            # Like start_keepalived (which waits for its VRRP process): return once it runs.
            wait_for(lambda: self.proc.expect_alive() or inst(self.node), 5,
                     f"{self.label} to answer /status")
        else:
            text = keepalived_config(self.node, priority=self.prio, version=c.version,
                                     advert=c.advert_ms / 1000, unicast_peers=peers,
                                     **c.keepalived)
            self.proc = self.lab.start_keepalived(self.node, text)
        return self.proc

    def stop(self) -> int | None:
        rc = self.proc.stop(timeout=5) if self.proc and self.proc.alive() else None
        return rc

    def is_backup_of(self, master) -> bool:
        """True when this speaker positively reports BACKUP (vipd: /status, following ``master``;
        keepalived: its log's latest state line)."""
        self.proc.expect_alive()
        if self.kind == "vipd":
            i = inst(self.node)
            return bool(i and i["state"] == "BACKUP" and
                        (i.get("master") or {}).get("address") == master.node.addr)
        states = [l for l in self.proc.log_text().splitlines() if "Entering" in l and "STATE" in l]
        return bool(states) and "Entering BACKUP STATE" in states[-1]

    def is_master(self) -> bool:
        self.proc.expect_alive()
        if self.kind == "vipd":
            i = inst(self.node)
            return bool(i and i["state"] == "MASTER")
        states = [l for l in self.proc.log_text().splitlines() if "Entering" in l and "STATE" in l]
        return bool(states) and "Entering MASTER STATE" in states[-1]


def run_case(lab, case: Case, vipd_high: bool) -> None:
    a, b = lab.a, lab.b
    hi = Speaker(lab, "vipd" if vipd_high else "keepalived", a, PRIO_HI, case, b)
    lo = Speaker(lab, "keepalived" if vipd_high else "vipd", b, PRIO_LO, case, a)
    tag = f"{case.name}/{'vipd' if vipd_high else 'keepalived'}-high"
    step(f"{tag}: {hi.label} vs {lo.label}, VRRPv{case.version}, "
         f"{case.advert_ms} ms adverts{', unicast' if case.unicast else ''}")
    mdi_hi = master_down_ms(PRIO_HI, case.advert_ms) / 1000
    mdi_lo = master_down_ms(PRIO_LO, case.advert_ms) / 1000
    vipd = hi if hi.kind == "vipd" else lo

    # Election: both start (the higher first); exactly one master, the higher.
    t0 = time.monotonic()
    hi.start()
    lo.start()
    wait_for(lambda: lab.vip_holders() == ["node-a"], mdi_hi + 5,
             lambda: f"{tag}: the VIP on node-a only (now on {lab.vip_holders()})")
    FIG.add(f"{tag}_election", (time.monotonic() - t0) * 1000)
    wait_for(hi.is_master, 2, f"{hi.label} to report MASTER")
    wait_for(lambda: lo.is_backup_of(hi), 2, f"{lo.label} to report BACKUP following {hi.label}")
    # The lower would claim the VIP one Master_Down_Interval after the last advert it accepted:
    # a full interval (plus 200 ms) with the VIP on A only proves it accepts the higher's.
    hold(lambda: lab.vip_holders() == ["node-a"] and lo.is_backup_of(hi),
         mdi_lo + 0.2, f"{tag}: VIP on node-a only, {lo.label} BACKUP")
    if vipd is lo:
        i = inst(vipd.node)
        assert i["counters"]["adverts_received"] > 0, i["counters"]
    if case.vipd.get("checksum") == "pseudo-header":
        m = metric(metrics(vipd.node), "vipd_vrrp_checksum_mode_mismatch_total")
        assert m == 0, f"{tag}: checksum-mode mismatch counted ({m}) with matching modes"

    # Failover: SIGTERM on the master (priority 0) -> the lower takes over.
    t1 = time.monotonic()
    hi.proc.terminate()
    wait_for(lambda: lab.vip_holders() == ["node-b"], mdi_lo + 3,
             lambda: f"{tag}: the VIP on node-b only after SIGTERM on {hi.label} "
                     f"(now on {lab.vip_holders()})")
    FIG.add(f"{tag}_failover", (time.monotonic() - t1) * 1000, "SIGTERM -> VIP on B only")
    rc = hi.proc.wait_exit(5)
    assert rc == 0, f"{hi.label} exited with rc {rc} on SIGTERM"
    wait_for(lo.is_master, 2, f"{lo.label} to report MASTER")
    if lo.kind == "vipd":
        tr = transitions(lo.proc)
        assert tr and tr[-1].to == "MASTER" and tr[-1].reason == "priority_zero", \
            f"{tag}: vipd took over with {tr[-1] if tr else None}, want reason priority_zero"

    # Failback: the higher returns and preempts.
    t2 = time.monotonic()
    hi.start()
    wait_for(lambda: lab.vip_holders() == ["node-a"], mdi_hi + 5,
             lambda: f"{tag}: the VIP back on node-a only (now on {lab.vip_holders()})")
    FIG.add(f"{tag}_failback", (time.monotonic() - t2) * 1000, "restart -> VIP on A only")
    wait_for(hi.is_master, 2, f"{hi.label} to report MASTER after failback")
    wait_for(lambda: lo.is_backup_of(hi), 2, f"{lo.label} to report BACKUP after failback")
    hold(lambda: lab.vip_holders() == ["node-a"], 2 * case.advert_ms / 1000 + 0.1,
         f"{tag}: VIP on node-a only after failback")

    # Clean slate for the next case.
    for s in (lo, hi):
        rc = s.stop()
        assert rc == 0, f"{s.label} exited with rc {rc} on SIGTERM"
    wait_for(lambda: lab.vip_holders() == [], 3, "no VIP anywhere after both speakers stopped")


def mismatch_case(lab) -> None:
    """vipd left at the RFC 9568 default against keepalived (pseudo-header)."""
    a, b = lab.a, lab.b
    step('checksum mismatch: keepalived@node-a(150) vs vipd@node-b(100) with checksum = "rfc9568"')
    ka = lab.start_keepalived(a, keepalived_config(a, priority=PRIO_HI))
    vb = lab.start_vipd(b, vipd_config(b, priority=PRIO_LO, checksum="rfc9568", api_listen=API))
    mark = log_mark(vb)
    wait_for(lambda: lab.vip_holders() == ["node-a"], 5, "the VIP on node-a (keepalived)")
    wait_state(b, "BACKUP", 3, vb, extra=lambda i: (i.get("master") or {}).get("address") == a.addr)
    hold(lambda: lab.vip_holders() == ["node-a"] and (inst(b) or {}).get("state") == "BACKUP",
         master_down_ms(PRIO_LO, 100) / 1000 + 0.2, "VIP on node-a only, vipd BACKUP (no dual master)")
    m = wait_log_after(vb, r"warn.*checksum = \"pseudo-header\"", mark, 2,
                       "a warning in vipd's log naming checksum = \"pseudo-header\"")
    line = vb.log_text()[m.start():].splitlines()[0]
    print(f"  vipd log: {line[:300]}")
    value = metric(metrics(b), "vipd_vrrp_checksum_mode_mismatch_total")
    assert value is not None and value > 0, \
        f"vipd_vrrp_checksum_mode_mismatch_total = {value}, want > 0"
    FIG.text("mismatch_counter", f"{value:g}")
    warnings = (inst(b) or {}).get("warnings", [])
    assert any("pseudo-header" in w for w in warnings), \
        f"/status instances[0].warnings does not name the fix: {warnings}"
    print(f"  /status warnings: {warnings}")
    for p in (vb, ka):
        assert p.stop(timeout=5) == 0, f"{p.name} exited with rc {p.returncode}"


def body(lab):
    lab.start_nginx(lab.a)
    lab.start_nginx(lab.b)
    t0 = time.monotonic()
    for case in CASES:
        for vipd_high in (True, False):
            run_case(lab, case, vipd_high)
    mismatch_case(lab)
    FIG.add("total_runtime", (time.monotonic() - t0) * 1000)


def main() -> int:
    require_root_or_skip(need=("nginx", "keepalived", "curl", "vipd"))
    return run_test(body, FIG)


if __name__ == "__main__":
    sys.exit(main())
