#!/usr/bin/env python3
"""[netns] Dual stack (issue 15): on each node one vipd runs an IPv4 instance and an IPv6
instance with the same VRID 51 on the same interface: two virtual routers (RFC 9568 §1), each
with its own advert channel, both served by real nginx.

  1. A (150) holds 198.18.0.100 and 2001:db8::100, B (100) neither; the client on C is served by
     A on both; each agent heard the other's adverts on both instances and dropped none as
     unknown VRID (IPv4 adverts never reach the IPv6 instance, nor the reverse)
  2. SIGTERM to vipd on A: B holds both, the client is served by B on both
Exit 0 pass, 1 fail, 77 skipped."""

import sys
import time

from vipdlab import VIP, require_root_or_skip, wait_for
from vipdlab.netns import IPV6_NO_DAD
from vipdlab.vipd import API, Figures, metric, metrics, run_test, step, wait_state

FIG = Figures("test_ipv6_dual_stack")
VIP6 = "2001:db8::100"
URLS = (f"http://{VIP}/", f"http://[{VIP6}]/")


def config(node, priority: int) -> str:
    def instance(name, vip):
        return (f'[[instance]]\nname = "{name}"\ninterface = "{node.iface}"\nvrid = 51\n'
                f'priority = {priority}\nadvert_interval = "100ms"\ngroup_size = 2\n'
                f'vips = ["{vip}"]\n\n')
    return (f'[agent]\nnode_name = "{node.label}"\napi_listen = "{API}"\n\n' +
            instance("web4", f"{VIP}/24") + instance("web6", f"{VIP6}/64"))


def served(lab) -> tuple:
    out = []
    for url in URLS:
        code, body = lab.c.http_get(url, timeout=0.5)
        out.append(body.strip() if code == 200 else "")
    return tuple(out)


def holders(lab) -> tuple:
    return (tuple(lab.vip_holders(VIP)), tuple(lab.vip_holders(VIP6)))


def body(lab):
    a, b = lab.a, lab.b
    lab.add_ipv6_all()  # A, B, C: 2001:db8::11, ::12, ::50 /64
    lab.start_nginx(a)
    lab.start_nginx(b)

    step("1. A holds both VIPs; the client is served by A over IPv4 and IPv6")
    va = lab.start_vipd(a, config(a, 150))
    vb = lab.start_vipd(b, config(b, 100))
    wait_state(a, "MASTER", 5, va)
    wait_for(lambda: holders(lab) == ((a.label,), (a.label,)), 5,
             lambda: f"both VIPs on A only (have {holders(lab)})")
    wait_for(lambda: served(lab) == (a.label, a.label), 5, "the client served by A on both")
    wait_for(lambda: all((metric(metrics(b), "vipd_vrrp_adverts_received_total",
                                 instance=i) or 0) >= 5 for i in ("web4", "web6")), 3,
             "B to hear A's adverts on both instances")
    st = b.http_json(f"http://{API}/status")
    states = {i["name"]: i["state"] for i in st["instances"]}
    assert states == {"web4": "BACKUP", "web6": "BACKUP"}, f"B: {states}"
    for node in (a, b):
        text = metrics(node)
        for reason in ("unknown_vrid", "address_family", "short", "bad_checksum", "ttl",
                       "source_not_link_local", "address_list_mismatch"):
            dropped = metric(text, "vipd_vrrp_packets_dropped_total", reason=reason) or 0
            assert dropped == 0, f"{node.label} dropped {dropped} adverts as {reason}"
        conflicts = metric(text, "vipd_vrrp_vrid_conflicts_total") or 0
        assert conflicts == 0, f"{node.label} saw {conflicts} VRID conflicts"

    step("2. SIGTERM to vipd on A: B holds both, the client is served by B on both")
    t0 = time.monotonic()
    va.terminate()
    wait_for(lambda: served(lab) == (b.label, b.label), 3, "the client served by B on both")
    FIG.add("sigterm_to_served_by_b_both", (time.monotonic() - t0) * 1000,
            "SIGTERM on A -> both VIPs answered by B's nginx")
    assert va.wait_exit(5) == 0, f"vipd on A exited with rc {va.returncode}"
    wait_for(lambda: holders(lab) == ((b.label,), (b.label,)), 2,
             lambda: f"both VIPs on B only (have {holders(lab)})")
    vb.expect_alive()


if __name__ == "__main__":
    require_root_or_skip(need=("nginx", "curl", "vipd"))
    sys.exit(run_test(body, FIG, sysctls=IPV6_NO_DAD))
