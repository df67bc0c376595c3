#!/usr/bin/env python3
"""[netns] vipd on real networking: election, failover, failback, leftovers, reconcile, link
fault and reload — asserted through the client's timeline, `ip addr`, netlink, the log and /status.

Topology (LAB.md): A 198.18.0.11 priority 150, B 198.18.0.12 priority 100, client C polling
http://198.18.0.100/ every 10 ms, real nginx on A and B answering with their node name; VRRPv3,
100 ms adverts, VIP 198.18.0.100/24, api_listen 127.0.0.1:9555 in each node.

Steps (one lab, in order; each leaves the lab in the state the next one starts from):
  1. initial election: VIP on A only; B BACKUP with master 198.18.0.11 (/status)
  2. `ip addr del` of the VIP on the master: back within 100 ms
  3. SIGHUP with an invalid file: refused, no transition, VIP stays; SIGHUP with a changed
     priority: applied, no flap
  4. SIGTERM on the master: the client is served by node-b within Skew_Time(B) + 100 ms
  5. the old master returns (preempt = true): it preempts back
  6. the master's link goes down: A goes FAULT and stops claiming; B takes over; link up: A back
  7. SIGKILL on the master (+ its link down, to model the node crash): the client is served by
     node-b within Master_Down_Interval(B) + 100 ms
  8. A restarted after the crash, preempt = false: its leftover VIP is removed, exactly one node
     holds the VIP, and A does not preempt B
Exit 0 pass, 1 fail, 77 skipped."""

import signal
import sys
import time

from vipdlab import require_root_or_skip, vipd_config, wait_for
from vipdlab.vipd import (API, Figures, VipWatcher, hold, inst, log_mark, master_down_ms,
                          run_test, skew_ms, state, status, step, transitions, wait_log_after,
                          wait_state, wait_transition)

ADVERT_MS = 100
PRIO_A, PRIO_B = 150, 100
SKEW_B = skew_ms(PRIO_B, ADVERT_MS)          # 60.9 ms
MDI_B = master_down_ms(PRIO_B, ADVERT_MS)    # 360.9 ms
BOUND_SIGTERM_MS = SKEW_B + 100              # the issue: "B serves within Skew_Time + 100 ms"
BOUND_SIGKILL_MS = MDI_B + 100               # "... within Master_Down_Interval + 100 ms"
BOUND_READD_MS = 100                         # "a VIP removed by ip addr del is back within 100 ms"
# The client's requests time out after 50 ms (not the lab's default 200 ms): the poller is
# sequential, so a request that went to the old master's MAC just before the GARP holds the next
# one back by up to this timeout. 50 ms is ~10x a LAN request to nginx and keeps that
# measurement error well inside the 100 ms slack of the bounds.
POLL_TIMEOUT = 0.05
WAIT = 5.0  # generous deadline for things that are not measured against a bound

FIG = Figures("test_vipd_failover")


def check_reported_failover(node, proc, tag, floor_ms, bound_ms):
    """vipd's own failover measure (DESIGN.md §7 vipd_failover_duration_seconds, /status
    counters.last_failover_seconds, the "VIPs installed and announced" log line): from the last
    advert heard from the old master to VIP installed and first GARP sent. It cannot be shorter
    than the timer that ran in between (Master_Down_Interval, or Skew_Time after a priority-0
    advert) and must be within the issue's bound."""
    i = wait_state(node, "MASTER", 1, proc)
    last = i["counters"]["last_failover_seconds"]
    assert last is not None, f"{tag}: /status counters.last_failover_seconds is null: {i['counters']}"
    ms = FIG.add(f"{tag}_b_reported_failover", last * 1000,
                 f"B's /status: last advert heard -> VIP + GARP; timer {floor_ms:.1f} ms")
    assert floor_ms - 1 <= ms <= bound_ms, \
        f"{tag}: vipd reports its failover took {ms:.1f} ms from the last advert it heard; " \
        f"the timer alone is {floor_ms:.1f} ms (bound {bound_ms:.1f} ms)"


def body(lab):
    a, b = lab.a, lab.b

    def cfg(node, prio, preempt=True):
        return vipd_config(node, priority=prio, advert=f"{ADVERT_MS}ms", preempt=preempt,
                           api_listen=API)

    lab.start_nginx(a)
    lab.start_nginx(b)
    wa, wb = VipWatcher(lab, a), VipWatcher(lab, b)

    # -- 1. initial election ------------------------------------------------------------------
    step("1. initial election: A (150) and B (100) start; the VIP goes to A only")
    t0 = time.monotonic()
    va = lab.start_vipd(a, cfg(a, PRIO_A))
    # A's agent is up (its API answers) before B's starts: both then wait in BACKUP and the
    # shorter Master_Down_Interval (A: 341.4 ms, B: 360.9 ms) decides, whatever the start-up
    # time of either process (slow under sanitizers) — otherwise a 20 ms start-up lag of A
    # would let B claim the VIP first and be preempted.
    wait_for(lambda: va.expect_alive() or status(a), WAIT, "vipd on node-a to answer /status")
    vb = lab.start_vipd(b, cfg(b, PRIO_B))
    wait_state(a, "MASTER", WAIT, va)
    t_vip_a = wa.wait("add", t0, 1)
    FIG.add("election_vip_on_a", (t_vip_a - t0) * 1000,
            "from starting both agents; expect ~ Master_Down_Interval(A) 341 ms + start-up")
    ib = wait_state(b, "BACKUP", WAIT, vb,
                    extra=lambda i: (i.get("master") or {}).get("address") == a.addr)
    assert ib["master"]["priority"] == PRIO_A, f"B sees master priority {ib['master']}"
    assert lab.vip_holders() == ["node-a"], f"VIP on {lab.vip_holders()}, want node-a only"
    assert not wb.events(t0), f"the VIP appeared on node-b during the election: {wb.events(t0)}"
    assert not any(t.to == "MASTER" for t in transitions(vb)), \
        f"B was MASTER during the initial election: {[str(t) for t in transitions(vb)]}"
    ia = inst(a)
    assert ia["vips"] == [{"address": "198.18.0.100/24", "present": True}], ia["vips"]
    assert abs(ia["master_down_interval_ms"] - master_down_ms(PRIO_A, ADVERT_MS)) < 1, ia
    assert abs(ib["master_down_interval_ms"] - MDI_B) < 1, ib
    poller = lab.poller(timeout=POLL_TIMEOUT)
    poller.wait_served_by("node-a", WAIT, consecutive=20)

    # -- 2. VIP removed behind the master's back ----------------------------------------------
    step("2. `ip addr del` of the VIP on the master: vipd puts it back")
    mark = log_mark(va)
    t0 = time.monotonic()
    lab.ip_addr_del(a)
    t_del = wa.wait("del", t0, 1)
    t_add = wa.wait("add", t_del, 2)
    readd = FIG.add("vip_readd", (t_add - t_del) * 1000, f"bound {BOUND_READD_MS} ms")
    assert readd <= BOUND_READD_MS, \
        f"VIP back on node-a {readd:.1f} ms after `ip addr del`; bound {BOUND_READD_MS} ms"
    wait_log_after(va, r"VIP 198\.18\.0\.100/24 was removed .* put back", mark, 1)
    ia = wait_state(a, "MASTER", 1, va, extra=lambda i: i["counters"]["vip_readded"] >= 1)
    assert ia["vips"][0]["present"], ia["vips"]
    assert lab.vip_holders() == ["node-a"], lab.vip_holders()
    poller.wait_served_by("node-a", WAIT, since=t_add, consecutive=10)

    # -- 3. SIGHUP ----------------------------------------------------------------------------
    step("3. SIGHUP with an invalid file: refused, nothing changes")
    good = va.config.read_text()
    assert "priority = 150" in good
    n_a, n_b = len(transitions(va)), len(transitions(vb))
    mark = log_mark(va)
    t0 = time.monotonic()
    va.config.write_text(good.replace("priority = 150", 'priority = "high"'))
    va.signal(signal.SIGHUP)
    wait_log_after(va, r"reload refused", mark, 3)
    s = status(a)
    assert s and s["config"]["last_reload_success"] is False, f"/status config: {s and s['config']}"
    ia = s["instances"][0]
    assert ia["state"] == "MASTER" and ia["priority"]["base"] == PRIO_A, ia
    va.expect_alive()

    step("3b. SIGHUP with priority 150 -> 140 (still above B): applied in place, no flap")
    mark = log_mark(va)
    va.config.write_text(good.replace("priority = 150", "priority = 140"))
    va.signal(signal.SIGHUP)
    wait_log_after(va, r"reload done", mark, 3)
    wait_state(a, "MASTER", 2, va, extra=lambda i: i["priority"]["base"] == 140 and
               i["priority"]["effective"] == 140)
    s = status(a)
    assert s["config"]["last_reload_success"] is True, s["config"]
    # Let three advert intervals pass: a flap caused by the reload would show by then.
    hold(lambda: state(a) == "MASTER" and state(b) == "BACKUP", 0.4,
         "A MASTER and B BACKUP after the reload")
    t1 = time.monotonic()
    assert not wa.events(t0), f"the VIP moved on node-a during the reloads: {wa.events(t0)}"
    assert not wb.events(t0), f"the VIP moved on node-b during the reloads: {wb.events(t0)}"
    assert len(transitions(va)) == n_a, \
        f"A logged a transition on reload: {[str(t) for t in transitions(va)[n_a:]]}"
    assert len(transitions(vb)) == n_b, \
        f"B logged a transition on A's reload: {[str(t) for t in transitions(vb)[n_b:]]}"
    bad = [x for x in poller.samples(t0, t1) if x.outcome != "node-a"]
    assert not bad, f"the client was not served by node-a during the reloads: {bad[:5]}"
    FIG.text("reload_client_answers", f"{len(poller.samples(t0, t1))}/all-node-a")
    va.config.write_text(good)  # back to the file the agent started with (150)

    # -- 4. SIGTERM on the master -------------------------------------------------------------
    step(f"4. SIGTERM on the master: B serves within Skew_Time {SKEW_B:.1f} ms + 100 ms")
    poller.wait_served_by("node-a", WAIT, consecutive=10)
    n_b = len(transitions(vb))
    t0 = time.monotonic()
    va.terminate()
    t_vip_b = wb.wait("add", t0, 3)
    first_b = poller.wait_served_by("node-b", 3, since=t0)
    rc = va.wait_exit(5)
    vip_b = FIG.add("sigterm_vip_on_b", (t_vip_b - t0) * 1000)
    served = FIG.add("sigterm_client_on_b", (first_b.end - t0) * 1000,
                     f"bound {BOUND_SIGTERM_MS:.1f} ms")
    t_del_a = wa.first("del", t0)
    if t_del_a:
        FIG.add("sigterm_vip_off_a", (t_del_a - t0) * 1000)
    sm = poller.summary(t0, first_b.end)
    print(f"  client between SIGTERM and node-b: {sm}")
    assert rc == 0, f"vipd on node-a exited with rc {rc} after SIGTERM"
    # "Serves" is what a client sees: the bound is asserted on the first answer from node-b
    # (which also bounds the VIP's arrival on B, measured above for the report).
    assert served <= BOUND_SIGTERM_MS, \
        f"client served by node-b {served:.1f} ms after SIGTERM on the master " \
        f"(VIP on B after {vip_b:.1f} ms); bound Skew_Time + 100 = {BOUND_SIGTERM_MS:.1f} ms"
    tr = wait_transition(vb, "MASTER", 1, after=n_b)
    assert tr.reason == "priority_zero", f"B took over with reason {tr.reason}: {tr}"
    assert t_del_a is not None and not lab.has_vip(a), "node-a kept the VIP after SIGTERM"
    assert lab.vip_holders() == ["node-b"], lab.vip_holders()
    check_reported_failover(b, vb, "sigterm", SKEW_B, BOUND_SIGTERM_MS)

    # -- 5. the old master returns, preempt = true --------------------------------------------
    step("5. the old master returns with preempt = true: it takes the VIP back")
    n_b = len(transitions(vb))
    t0 = time.monotonic()
    va = lab.start_vipd(a, cfg(a, PRIO_A))
    t_vip_a = wa.wait("add", t0, WAIT)
    first_a = poller.wait_served_by("node-a", WAIT, since=t0)
    wait_state(a, "MASTER", 2, va)
    tr = wait_transition(vb, "BACKUP", 2, after=n_b)
    assert tr.reason == "higher_priority", f"B stepped down with reason {tr.reason}: {tr}"
    wait_for(lambda: lab.vip_holders() == ["node-a"], 1, "the VIP on node-a only after failback")
    FIG.add("preempt_vip_on_a", (t_vip_a - t0) * 1000, "from starting A's agent")
    FIG.add("preempt_client_on_a", (first_a.end - t0) * 1000, "from starting A's agent")
    t_del_b = wb.first("del", t0)
    if t_del_b:
        FIG.add("preempt_overlap", (t_del_b - t_vip_a) * 1000,
                "VIP on both nodes: A added it until B removed it")
    wait_state(b, "BACKUP", 1, vb, extra=lambda i: (i.get("master") or {}).get("address") == a.addr)

    # -- 6. the master's link goes down -------------------------------------------------------
    step("6. the master's link goes down: A goes FAULT and stops claiming, B takes over")
    poller.wait_served_by("node-a", WAIT, consecutive=10)
    n_a, n_b = len(transitions(va)), len(transitions(vb))
    t0 = time.monotonic()
    lab.link_down(a)
    ia = wait_state(a, "FAULT", 2, va)
    t_fault = time.monotonic()
    assert ia["reason_code"] == "link_down", f"A in FAULT with reason {ia['reason_code']}: {ia}"
    tr = wait_transition(va, "FAULT", 1, after=n_a)
    assert tr.frm == "MASTER" and tr.reason == "link_down", tr
    t_vip_b = wb.wait("add", t0, 3)
    first_b = poller.wait_served_by("node-b", 3, since=t0)
    FIG.add("linkdown_a_fault", (t_fault - t0) * 1000, "upper bound: /status polled")
    vip_b = FIG.add("linkdown_vip_on_b", (t_vip_b - t0) * 1000, f"bound {BOUND_SIGKILL_MS:.1f} ms")
    FIG.add("linkdown_client_on_b", (first_b.end - t0) * 1000)
    # docs/operations.md: "master's link goes down: the backup takes over after
    # Master_Down_Interval" (B hears nothing more from A).
    assert vip_b <= BOUND_SIGKILL_MS, \
        f"VIP on node-b {vip_b:.1f} ms after A's link went down; bound {BOUND_SIGKILL_MS:.1f} ms"
    tr = wait_transition(vb, "MASTER", 1, after=n_b)
    assert tr.reason == "master_down", f"B took over with reason {tr.reason}: {tr}"
    wa.wait("del", t0, 1)  # A released the VIP on entering FAULT
    sent = inst(a)["counters"]["adverts_sent"]
    # "Does not keep claiming": for 5 advert intervals A stays FAULT, holds no VIP, sends nothing.
    hold(lambda: (lambda i: i and i["state"] == "FAULT" and not i["vips"][0]["present"] and
                  i["counters"]["adverts_sent"] == sent)(inst(a)) and not lab.has_vip(a), 0.5,
         "A in FAULT, without the VIP, sending no adverts")
    assert lab.vip_holders() == ["node-b"], lab.vip_holders()

    step("6b. A's link comes back: FAULT -> BACKUP, then it preempts B")
    n_a = len(transitions(va))
    t1 = time.monotonic()
    lab.link_up(a)
    t_vip_a = wa.wait("add", t1, 3)
    first_a = poller.wait_served_by("node-a", 3, since=t1)
    FIG.add("linkup_vip_on_a", (t_vip_a - t1) * 1000)
    FIG.add("linkup_client_on_a", (first_a.end - t1) * 1000)
    trs = [str(t) for t in transitions(va)[n_a:]]
    assert any(t.frm == "FAULT" for t in transitions(va)[n_a:]), trs
    wait_state(a, "MASTER", 2, va)
    wait_for(lambda: lab.vip_holders() == ["node-a"], 1, "the VIP on node-a only after link up")

    # -- 7. SIGKILL on the master ------------------------------------------------------------
    step(f"7. SIGKILL on the master (+ link down: the node crashed): B serves within "
         f"Master_Down_Interval {MDI_B:.1f} ms + 100 ms")
    poller.wait_served_by("node-a", WAIT, consecutive=10)
    n_b = len(transitions(vb))
    t0 = time.monotonic()
    va.kill()
    # A SIGKILLed vipd leaves the VIP on A's interface, and A's kernel would keep answering for
    # it: the client (whose ARP entry names A's MAC) would still be served by node-a and nothing
    # would measure a takeover. A crashed *node* is what the bound is about, so A also leaves the
    # segment (its link goes down) right after its agent dies; the stale VIP stays on A, for
    # step 8.
    lab.link_down(a)
    t_vip_b = wb.wait("add", t0, 3)
    first_b = poller.wait_served_by("node-b", 3, since=t0)
    vip_b = FIG.add("sigkill_vip_on_b", (t_vip_b - t0) * 1000)
    served = FIG.add("sigkill_client_on_b", (first_b.end - t0) * 1000,
                     f"bound {BOUND_SIGKILL_MS:.1f} ms")
    print(f"  client between SIGKILL and node-b: {poller.summary(t0, first_b.end)}")
    # As in step 4 the bound is asserted where "serves" is observed: the client's first answer
    # from node-b (B installed the VIP and its GARP moved the client's ARP entry).
    assert served <= BOUND_SIGKILL_MS, \
        f"client served by node-b {served:.1f} ms after SIGKILL on the master (VIP on B after " \
        f"{vip_b:.1f} ms); bound Master_Down_Interval + 100 = {BOUND_SIGKILL_MS:.1f} ms"
    tr = wait_transition(vb, "MASTER", 1, after=n_b)
    assert tr.reason == "master_down", f"B took over with reason {tr.reason}: {tr}"
    check_reported_failover(b, vb, "sigkill", MDI_B, BOUND_SIGKILL_MS)
    assert lab.has_vip(a), "precondition: a SIGKILLed vipd leaves its VIP on the interface"

    # -- 8. restart after the crash: leftover removed; preempt = false -----------------------
    step("8. A comes back and restarts vipd with preempt = false: leftover removed, no preempt")
    lab.link_up(a)
    assert sorted(lab.vip_holders()) == ["node-a", "node-b"], \
        f"precondition (stale VIP on A, live VIP on B): {lab.vip_holders()}"
    n_b = len(transitions(vb))
    t0 = time.monotonic()
    va = lab.start_vipd(a, cfg(a, PRIO_A, preempt=False))
    va.wait_log(r"removed leftover VIP 198\.18\.0\.100/24", WAIT)
    t_del = wa.wait("del", t0, 1)
    FIG.add("leftover_removed", (t_del - t0) * 1000, "from starting A's agent")
    wait_state(a, "BACKUP", WAIT, va,
               extra=lambda i: (i.get("master") or {}).get("address") == b.addr)
    wait_for(lambda: lab.vip_holders() == ["node-b"], 1, "the VIP on node-b only")
    # preempt = false: A (150) must not take the VIP from B (100). Hold for 3 Master_Down
    # Intervals of A (a preempting A would have taken over after one Skew_Time).
    hold(lambda: lab.vip_holders() == ["node-b"] and state(a) == "BACKUP", 1.1,
         "preempt = false: VIP on node-b only and A BACKUP")
    assert not wa.first("add", t0), "A added the VIP although preempt = false"
    assert len(transitions(vb)) == n_b, \
        f"B changed state: {[str(t) for t in transitions(vb)[n_b:]]}"
    after = [x for x in poller.samples(t_del + 0.05) if x.outcome != "node-b"]
    assert not after, f"client answered by something else than node-b: {after[:5]}"
    poller.stop()


def main() -> int:
    require_root_or_skip(need=("nginx", "curl", "vipd"))
    return run_test(body, FIG)


if __name__ == "__main__":
    sys.exit(main())
