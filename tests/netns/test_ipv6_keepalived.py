#!/usr/bin/env python3
"""[netns] vipd and keepalived 2.2.7 (Debian) as IPv6 VRRPv3 peers (issue 15), in both roles.

  (1) vipd on A (150), keepalived on B (100): vipd is MASTER and the only holder of
      2001:db8::100; keepalived stays backup for a Master_Down_Interval of its own (it accepts
      vipd's adverts: link-local source, hop limit 255, checksum over the IPv6 pseudo-header);
      SIGTERM to vipd -> keepalived takes the VIP; vipd back -> it preempts
  (2) keepalived on A (150), vipd on B (100): vipd is BACKUP naming keepalived's link-local
      address as master and accepts its adverts (none dropped); SIGTERM to keepalived -> vipd
      becomes MASTER and holds the VIP
Exit 0 pass, 1 fail, 77 skipped."""

import sys

from vipdlab import keepalived_config, require_root_or_skip, wait_for
from vipdlab.netns import IPV6_NO_DAD
from vipdlab.vipd import API, Figures, hold, metric, metrics, run_test, step, wait_state

FIG = Figures("test_ipv6_keepalived")
VIP6 = "2001:db8::100"


def vipd_conf(node, priority: int) -> str:
    return (f'[agent]\nnode_name = "{node.label}"\napi_listen = "{API}"\n\n'
            f'[[instance]]\nname = "web6"\ninterface = "{node.iface}"\nvrid = 51\n'
            f'priority = {priority}\nadvert_interval = "100ms"\nvips = ["{VIP6}/64"]\n')


def ka_conf(node, priority: int) -> str:
    return keepalived_config(node, priority, vips=(f"{VIP6}/64",), advert=0.1)


def no_drops(node) -> None:
    text = metrics(node)
    for reason in ("bad_checksum", "ttl", "source_not_link_local", "short", "bad_version",
                   "address_family", "unknown_vrid"):
        dropped = metric(text, "vipd_vrrp_packets_dropped_total", reason=reason) or 0
        assert dropped == 0, f"vipd on {node.label} dropped {dropped} adverts as {reason}"


def body(lab):
    a, b = lab.a, lab.b
    lab.add_ipv6_all()  # A, B, C: 2001:db8::11, ::12, ::50 /64

    step("(1) vipd A (150) MASTER, keepalived B (100) backup")
    va = lab.start_vipd(a, vipd_conf(a, 150))
    kb = lab.start_keepalived(b, ka_conf(b, 100))
    wait_state(a, "MASTER", 5, va)
    # keepalived's Master_Down_Interval at 100 ms and priority 100 is 361 ms: hold longer.
    hold(lambda: lab.vip_holders(VIP6) == [a.label], 1.0, "the VIP on A (vipd) only")
    kb.expect_alive()
    step("    SIGTERM to vipd: keepalived takes over")
    va.terminate()
    wait_for(lambda: lab.vip_holders(VIP6) == [b.label], 3,
             lambda: f"the VIP on B (keepalived) only (have {lab.vip_holders(VIP6)})")
    assert va.wait_exit(5) == 0, f"vipd on A exited with rc {va.returncode}"
    step("    vipd back: it preempts keepalived")
    va = lab.start_vipd(a, vipd_conf(a, 150))
    wait_state(a, "MASTER", 5, va)
    wait_for(lambda: lab.vip_holders(VIP6) == [a.label], 3,
             lambda: f"the VIP back on A only (have {lab.vip_holders(VIP6)})")
    no_drops(a)
    received = metric(metrics(a), "vipd_vrrp_adverts_received_total", instance="web6") or 0
    assert received > 0, "vipd on A never heard keepalived"
    va.stop()
    kb.stop()
    wait_for(lambda: lab.vip_holders(VIP6) == [], 3, "no VIP anywhere between the cases")

    step("(2) keepalived A (150) MASTER, vipd B (100) BACKUP")
    ka = lab.start_keepalived(a, ka_conf(a, 150))
    wait_for(lambda: lab.vip_holders(VIP6) == [a.label], 5,
             lambda: f"the VIP on A (keepalived) (have {lab.vip_holders(VIP6)})")
    vb = lab.start_vipd(b, vipd_conf(b, 100))
    ll_a = lab.link_local(a)
    wait_state(b, "BACKUP", 5, vb,
               extra=lambda i: (i.get("master") or {}).get("address") == ll_a)
    hold(lambda: lab.vip_holders(VIP6) == [a.label], 1.0, "the VIP on A (keepalived) only")
    no_drops(b)
    step("    SIGTERM to keepalived: vipd takes over")
    ka.stop()
    wait_state(b, "MASTER", 3, vb)
    wait_for(lambda: lab.vip_holders(VIP6) == [b.label], 3,
             lambda: f"the VIP on B (vipd) only (have {lab.vip_holders(VIP6)})")
    vb.expect_alive()
    FIG.text("roles", "both")


if __name__ == "__main__":
    require_root_or_skip(need=("keepalived", "vipd"))
    sys.exit(run_test(body, FIG, sysctls=IPV6_NO_DAD))
