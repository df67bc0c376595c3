#!/usr/bin/env python3
"""[netns] VRRPv3 over IPv6 (issue 15): an IPv6-only pair with real nginx on the VIP.

  1. A (150) and B (100), VIP 2001:db8::100/64: A is MASTER, the VIP is on A only and not
     tentative (added nodad); the client on C is served by A's nginx on http://[2001:db8::100]/
  2. SIGTERM to vipd on A (priority 0): B takes over, the client is served by B's nginx
  3. vipd A back: A preempts, B releases
  4. the wire, decoded by tshark on the bridge: every vipd advert is VRRPv3 from a link-local
     source to ff02::12, hop limit 255, Good checksum; B's unsolicited NA for the VIP goes to
     ff02::1 with hop limit 255, Override set, Solicited clear, and its MAC as target link-layer
     address; no advert was dropped by either agent
Exit 0 pass, 1 fail, 77 skipped."""

import sys
import time

from vipdlab import require_root_or_skip, wait_for
from vipdlab.netns import IPV6_NO_DAD
from vipdlab.processes import vipd_bin
from vipdlab.vipd import API, Figures, metric, metrics, run_test, step, wait_state

FIG = Figures("test_ipv6_failover")
VIP6 = "2001:db8::100"
URL = f"http://[{VIP6}]/"


def config(node, priority: int) -> str:
    return (f'[agent]\nnode_name = "{node.label}"\napi_listen = "{API}"\n\n'
            f'[[instance]]\nname = "web6"\ninterface = "{node.iface}"\nvrid = 51\n'
            f'priority = {priority}\nadvert_interval = "100ms"\ngroup_size = 2\n'
            f'vips = ["{VIP6}/64"]\n')


def answered_by(lab) -> str:
    code, body = lab.c.http_get(URL, timeout=0.5)
    return body.strip() if code == 200 else ""


def mac_of(node) -> str:
    return node.run("cat", f"/sys/class/net/{node.iface}/address").stdout.strip()


def body(lab):
    a, b = lab.a, lab.b
    lab.add_ipv6_all()  # A, B, C: 2001:db8::11, ::12, ::50 /64
    ll = {n.name: lab.link_local(n) for n in (a, b)}
    lab.start_nginx(a)
    lab.start_nginx(b)
    cap = lab.capture(None, "ip6 proto 112 or icmp6")

    step("1. A is MASTER, the client is served by A over IPv6")
    va = lab.start_vipd(a, config(a, 150))
    vb = lab.start_vipd(b, config(b, 100))
    wait_state(a, "MASTER", 5, va)
    wait_state(b, "BACKUP", 5, vb)
    wait_for(lambda: lab.vip_holders(VIP6) == [a.label], 3,
             lambda: f"the VIP on A only (have {lab.vip_holders(VIP6)})")
    flags = a.run("ip", "-6", "-o", "addr", "show", "dev", a.iface, "to", f"{VIP6}/128").stdout
    assert "tentative" not in flags and "dadfailed" not in flags, f"VIP on A: {flags!r}"
    wait_for(lambda: answered_by(lab) == a.label, 5, "the client on C to be served by A")

    step("2. SIGTERM to vipd on A: B takes over, the client is served by B")
    t0 = time.monotonic()
    va.terminate()
    wait_for(lambda: answered_by(lab) == b.label, 3, "the client on C to be served by B")
    FIG.add("sigterm_to_served_by_b", (time.monotonic() - t0) * 1000,
            "SIGTERM on A -> curl on C answered by B's nginx")
    assert va.wait_exit(5) == 0, f"vipd on A exited with rc {va.returncode}"
    wait_state(b, "MASTER", 2, vb)
    wait_for(lambda: lab.vip_holders(VIP6) == [b.label], 2,
             lambda: f"the VIP on B only (have {lab.vip_holders(VIP6)})")

    step("3. vipd A back: A preempts")
    va = lab.start_vipd(a, config(a, 150))
    wait_state(a, "MASTER", 5, va)
    wait_for(lambda: lab.vip_holders(VIP6) == [a.label], 3,
             lambda: f"the VIP back on A only (have {lab.vip_holders(VIP6)})")
    wait_for(lambda: answered_by(lab) == a.label, 5, "the client on C to be served by A again")
    for node in (a, b):
        text = metrics(node)
        for reason in ("bad_checksum", "ttl", "source_not_link_local", "short", "unknown_vrid"):
            dropped = metric(text, "vipd_vrrp_packets_dropped_total", reason=reason) or 0
            assert dropped == 0, f"{node.label} dropped {dropped} adverts as {reason}"
        received = metric(text, "vipd_vrrp_adverts_received_total", instance="web6") or 0
        assert received > 0, f"{node.label} received no advert"
        info = metric(text, "vipd_vrrp_instance_info", instance="web6", family="ipv6")
        assert info == 1, f"{node.label}: vipd_vrrp_instance_info{{family=ipv6}} is {info}"
        st = node.http_json(f"http://{API}/status")
        assert st["instances"][0]["family"] == "ipv6", st["instances"][0]
    va.expect_alive()
    vb.expect_alive()
    time.sleep(0.3)
    cap.stop()

    step("4. the wire (tshark; checksum status 1 = Good)")
    rows = cap.fields("ipv6.nxt == 112", ["ipv6.src", "ipv6.dst", "ipv6.hlim", "vrrp.version",
                                           "vrrp.type", "vrrp.virt_rtr_id", "vrrp.checksum.status",
                                           "vrrp.ipv6_addr"])
    assert len(rows) >= 10, f"only {len(rows)} IPv6 VRRP frames captured"
    for r in rows:
        want = {"ipv6.dst": "ff02::12", "ipv6.hlim": "255", "vrrp.version": "3", "vrrp.type": "1",
                "vrrp.virt_rtr_id": "51", "vrrp.checksum.status": "1", "vrrp.ipv6_addr": VIP6}
        bad = {k: (r.get(k), v) for k, v in want.items() if r.get(k) != v}
        assert not bad, f"advert {r}: (have, want) {bad}"
        assert r["ipv6.src"] in ll.values(), f"advert from {r['ipv6.src']}, not a link-local {ll}"
    FIG.text("adverts_good_checksum", str(len(rows)))
    nas = cap.fields(f"icmpv6.type == 136 && icmpv6.nd.na.target_address == {VIP6}",
                 ["ipv6.src", "ipv6.dst", "ipv6.hlim", "icmpv6.nd.na.flag.r", "icmpv6.nd.na.flag.s",
                  "icmpv6.nd.na.flag.o", "icmpv6.opt.linkaddr", "icmpv6.checksum.status"])
    unsolicited = [r for r in nas if r["ipv6.dst"] == "ff02::1"]
    assert unsolicited, f"no unsolicited NA for {VIP6} to ff02::1 (NAs: {nas[:3]})"
    macs = {mac_of(a), mac_of(b)}
    for r in unsolicited:
        assert r["ipv6.hlim"] == "255", r
        assert r["icmpv6.nd.na.flag.o"] in ("1", "True"), f"Override not set: {r}"
        assert r["icmpv6.nd.na.flag.s"] in ("0", "False"), f"Solicited set: {r}"
        assert r["icmpv6.opt.linkaddr"] in macs, f"target link-layer {r}, not one of {macs}"
        assert r["icmpv6.checksum.status"] == "1", f"NA checksum: {r}"
    assert any(r["icmpv6.opt.linkaddr"] == mac_of(b) for r in unsolicited), "no NA from B"
    na_b = metric(metrics(b), "vipd_garp_sent_total", instance="web6", family="ipv6") or 0
    assert na_b > 0, "B counted no neighbour advertisement under family ipv6"
    FIG.text("unsolicited_na", str(len(unsolicited)))

    step("5. a crashed master's IPv6 VIP: `vipd cleanup` removes it; a restart removes a leftover")
    assert vb.stop(timeout=5) == 0, f"vipd on B exited with rc {vb.returncode}"
    va.kill()  # SIGKILL while MASTER: the VIP stays on A
    assert lab.vip_holders(VIP6) == [a.label], lab.vip_holders(VIP6)
    r = a.run(vipd_bin(), "cleanup", "-c", str(va.config), check=False, timeout=30)
    assert r.returncode == 0, f"vipd cleanup rc {r.returncode}: {r.stdout} {r.stderr}"
    assert lab.vip_holders(VIP6) == [], f"after vipd cleanup: {lab.vip_holders(VIP6)}"
    va = lab.start_vipd(a, config(a, 150))
    wait_state(a, "MASTER", 5, va)
    va.kill()  # the VIP left behind again; this time the restarted vipd finds it
    assert lab.vip_holders(VIP6) == [a.label], lab.vip_holders(VIP6)
    va = lab.start_vipd(a, config(a, 150))
    wait_for(lambda: f"removed leftover VIP {VIP6}" in va.log_text(), 5,
             lambda: f"vipd on A to remove the leftover {VIP6}: {va.log_text()[-800:]}")
    wait_state(a, "MASTER", 5, va)
    wait_for(lambda: lab.vip_holders(VIP6) == [a.label], 3,
             lambda: f"the VIP on A only (have {lab.vip_holders(VIP6)})")


if __name__ == "__main__":
    require_root_or_skip(need=("nginx", "curl", "tcpdump", "tshark", "vipd"))
    sys.exit(run_test(body, FIG, sysctls=IPV6_NO_DAD))
