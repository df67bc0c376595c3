#!/usr/bin/env python3
"""[netns] IPv6 instances across interface events (issue 15): the kernel deletes IPv6 addresses
when an interface goes admin-down, and an interface may have no link-local address at all when
vipd starts.

  1. A (150) MASTER and B (100) BACKUP of 2001:db8::100/64, real nginx, client on C.
     A's interface admin-down (its IPv6 addresses, the link-local one included, are deleted by
     the kernel): A goes FAULT, B takes over and serves. Admin-up: the link-local comes back,
     A preempts and puts the VIP back (not tentative), the client is served by A again; the VIP
     was never on both.
  2. B's interface without IPv6 (disable_ipv6 = 1) when vipd starts on it: vipd does not refuse
     the instance and keeps running; the instance waits in FAULT, its reason names the missing
     link-local address; A stays the only MASTER. IPv6 enabled again: the link-local appears
     (RTM_NEWADDR) and B becomes BACKUP under A (it hears A's adverts).
  3. A's link-local replaced (a new one added, the old one deleted): A re-reads it, stays MASTER
     and advertises from the new one (B's /status names it as the master), no transition.
Exit 0 pass, 1 fail, 77 skipped."""

import os
import sys
import time

from vipdlab import require_root_or_skip, wait_for
from vipdlab.netns import IPV6_NO_DAD
from vipdlab.vipd import API, Figures, inst, run_test, step, wait_state

FIG = Figures("test_ipv6_link_events")
VIP6 = "2001:db8::100"
URL = f"http://[{VIP6}]/"
NEW_LL = "fe80::a:1"


def config(node, priority: int) -> str:
    return (f'[agent]\nnode_name = "{node.label}"\napi_listen = "{API}"\n\n'
            f'[[instance]]\nname = "web6"\ninterface = "{node.iface}"\nvrid = 51\n'
            f'priority = {priority}\nadvert_interval = "100ms"\n'
            f'vips = ["{VIP6}/64"]\n')


def answered_by(lab) -> str:
    code, body = lab.c.http_get(URL, timeout=0.5)
    return body.strip() if code == 200 else ""


def link_locals(node) -> list[str]:
    r = node.run("ip", "-6", "-o", "addr", "show", "dev", node.iface, "scope", "link", check=False)
    return [line.split()[3].split("/")[0] for line in r.stdout.splitlines() if "tentative" not in line]


def body(lab):
    a, b = lab.a, lab.b
    lab.add_ipv6_all()  # A, B, C: 2001:db8::11, ::12, ::50 /64
    lab.start_nginx(a)
    lab.start_nginx(b)
    va = lab.start_vipd(a, config(a, 150))
    vb = lab.start_vipd(b, config(b, 100))
    wait_state(a, "MASTER", 5, va)
    wait_state(b, "BACKUP", 5, vb)
    wait_for(lambda: answered_by(lab) == a.label, 5, "the client on C to be served by A")

    step("1. A's interface admin-down: FAULT, B serves; admin-up: A back as MASTER with the VIP")
    lab.node_link_down(a)
    wait_state(a, "FAULT", 3, va)
    wait_for(lambda: answered_by(lab) == b.label, 3, "the client on C to be served by B")
    assert lab.vip_holders(VIP6) == [b.label], f"VIP on {lab.vip_holders(VIP6)}, want B only"
    t0 = time.monotonic()
    lab.node_link_up(a)
    holders_seen = set()

    def back_on_a():
        h = lab.vip_holders(VIP6)
        holders_seen.add(tuple(h))
        return h == [a.label]
    wait_for(back_on_a, 5, lambda: f"the VIP back on A only (have {lab.vip_holders(VIP6)})")
    FIG.add("admin_up_to_vip_on_a", (time.monotonic() - t0) * 1000,
            "A's interface admin-up -> the VIP on A only (link-local back, preempt, VIP added)")
    assert all(len(h) <= 1 for h in holders_seen), f"the VIP was on two nodes: {holders_seen}"
    wait_state(a, "MASTER", 2, va)
    flags = a.run("ip", "-6", "-o", "addr", "show", "dev", a.iface, "to", f"{VIP6}/128").stdout
    assert VIP6 in flags and "tentative" not in flags, f"VIP on A after admin-up: {flags!r}"
    wait_for(lambda: answered_by(lab) == a.label, 5, "the client on C to be served by A again")

    step("2. B without IPv6 at start: waits in FAULT with the reason, starts when it appears")
    vb.terminate()
    assert vb.wait_exit(5) == 0, f"vipd on B exited with rc {vb.returncode}"
    b.run("sysctl", "-qw", f"net.ipv6.conf.{b.iface}.disable_ipv6=1")
    assert link_locals(b) == [], f"B still has a link-local address: {link_locals(b)}"
    vb = lab.start_vipd(b, config(b, 100))
    i = wait_state(b, "FAULT", 5, vb)
    assert "no IPv6 link-local address" in (i.get("reason") or ""), f"B's reason: {i.get('reason')}"
    FIG.text("fault_reason", repr(i.get("reason")))
    time.sleep(1.0)  # longer than Master_Down_Interval: B must not take over meanwhile
    vb.expect_alive()
    assert inst(b)["state"] == "FAULT" and inst(a)["state"] == "MASTER", \
        f"A {inst(a)['state']}, B {inst(b)['state']}"
    t0 = time.monotonic()
    b.run("sysctl", "-qw", f"net.ipv6.conf.{b.iface}.disable_ipv6=0")
    wait_state(b, "BACKUP", 5, vb)
    FIG.add("ipv6_enabled_to_backup", (time.monotonic() - t0) * 1000,
            "disable_ipv6=0 on B -> B BACKUP (link-local appeared, RTM_NEWADDR)")
    ll_b = link_locals(b)
    assert ll_b, "B has no link-local address after disable_ipv6=0"
    # B hears A: it stays BACKUP (a deaf B would take over after Master_Down_Interval).
    time.sleep(1.0)
    assert inst(b)["state"] == "BACKUP", f"B is {inst(b)['state']} (does it hear A?)"
    assert lab.vip_holders(VIP6) == [a.label], f"VIP on {lab.vip_holders(VIP6)}"
    assert "no IPv6 link-local" in vb.log_text(), "B's log does not say why it waited"

    step("3. A's link-local replaced: A advertises from the new one, no transition")
    old = link_locals(a)
    assert old, "A has no link-local address"
    transitions = (inst(a)["transitions"], inst(b)["transitions"])
    a.run("ip", "-6", "addr", "add", f"{NEW_LL}/64", "dev", a.iface, "nodad")
    for addr in old:
        a.run("ip", "-6", "addr", "del", f"{addr}/64", "dev", a.iface)
    master_of_b = lambda: (inst(b).get("master") or {}).get("address")  # noqa: E731
    wait_for(lambda: master_of_b() == NEW_LL, 3,
             lambda: f"B to name {NEW_LL} as the master (has {master_of_b()})")
    assert (inst(a).get("master") or {}).get("address") == NEW_LL, inst(a).get("master")
    assert inst(a)["state"] == "MASTER" and inst(b)["state"] == "BACKUP", \
        f"A {inst(a)['state']}, B {inst(b)['state']}"
    assert (inst(a)["transitions"], inst(b)["transitions"]) == transitions, "a transition happened"
    assert f"IPv6 advert source {NEW_LL}" in va.log_text(), "A's log does not name the new source"
    assert lab.vip_holders(VIP6) == [a.label], f"VIP on {lab.vip_holders(VIP6)}"
    va.expect_alive()
    vb.expect_alive()


if __name__ == "__main__":
    require_root_or_skip(need=("nginx", "curl", "vipd"))
    sys.exit(run_test(body, FIG, prefix=f"v6hle{os.getpid()}", sysctls=IPV6_NO_DAD))
