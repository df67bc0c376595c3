#!/usr/bin/env python3
"""[netns] vipd and keepalived 2.4.3 (built from ../shared/peers) as IPv6 VRRPv3 peers (issue 15),
in both roles, without and with auth_hmac. VIP 2001:db8::100/64, 100 ms adverts, A 150, B 100.

  (1) no auth: vipd A MASTER, keepalived B backup (the VIP on A only for longer than keepalived's
      Master_Down_Interval); SIGTERM vipd -> keepalived takes the VIP; vipd back -> it preempts
  (2) auth_hmac (enforce, time anti-replay, key id 1) on both: keepalived A MASTER, vipd B BACKUP
      naming keepalived's link-local as master; SIGTERM keepalived -> vipd MASTER with the VIP;
      keepalived back -> it preempts vipd
  (3) auth_hmac on both: vipd A MASTER, keepalived B backup; SIGTERM vipd -> keepalived; vipd back
      -> it preempts
  Every case: no advert dropped by vipd (checksum, hop limit, source, auth_*); keepalived logs
  no HMAC or checksum complaint. The wire (tshark on the bridge): every vipd advert, signed or
  not, decodes as VRRPv3 to ff02::12 with hop limit 255 and a Good checksum (IPv6: over the whole
  payload, the 28-byte trailer included, as keepalived's kernel verifies it).
Exit 0 pass, 1 fail, 77 skipped (not root, a tool missing, or keepalived 2.4.3 cannot be built)."""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # ctest also sets PYTHONPATH
from authlab import KEY1, ka_auth_block, keepalived_243, vipd_auth  # noqa: E402
from vipdlab import (VIP6, VIP6_CIDR, keepalived_config, require_root_or_skip,  # noqa: E402
                     wait_for)
from vipdlab.netns import IPV6_NO_DAD  # noqa: E402
from vipdlab.vipd import (API, Figures, hold, metric, metrics, run_test, step,  # noqa: E402
                          wait_state)

FIG = Figures("test_ipv6_keepalived243")
DROP_REASONS = ("bad_checksum", "ttl", "source_not_link_local", "short", "bad_version",
                "address_family", "unknown_vrid", "auth_missing", "auth_malformed", "auth_stale",
                "auth_unknown_key", "auth_bad_hmac", "auth_replay")


def vipd_conf(node, priority: int, auth: bool) -> str:
    return (f'[agent]\nnode_name = "{node.label}"\napi_listen = "{API}"\n\n'
            f'[[instance]]\nname = "web6"\ninterface = "{node.iface}"\nvrid = 51\n'
            f'priority = {priority}\nadvert_interval = "100ms"\nvips = ["{VIP6_CIDR}"]\n' +
            (vipd_auth({1: KEY1}) + "\n" if auth else ""))


def ka_conf(node, priority: int, auth: bool) -> str:
    return keepalived_config(node, priority, vips=(VIP6_CIDR,), advert=0.1,
                             extra_instance=ka_auth_block({1: KEY1}) if auth else "")


def no_drops(node, what: str) -> None:
    text = metrics(node)
    for reason in DROP_REASONS:
        dropped = metric(text, "vipd_vrrp_packets_dropped_total", reason=reason) or 0
        assert dropped == 0, f"{what}: vipd on {node.label} dropped {dropped} adverts as {reason}"
    received = metric(text, "vipd_vrrp_adverts_received_total", instance="web6") or 0
    assert received > 0, f"{what}: vipd on {node.label} never heard keepalived"


def ka_clean(proc, what: str) -> None:
    """keepalived logged no authentication, checksum or TTL complaint."""
    bad = [line for line in proc.log_text().splitlines()
           if re.search(r"invalid authentication|hmac.*(invalid|fail)|checksum|ttl", line, re.I)]
    assert not bad, f"{what}: keepalived complained: {bad[:5]}"


def holders(lab):
    return lab.vip_holders(VIP6)


def only_on(lab, node, timeout: float, what: str) -> None:
    wait_for(lambda: holders(lab) == [node.label], timeout,
             lambda: f"{what}: the VIP on {node.label} only (have {holders(lab)})")


def vipd_master_ka_backup(lab, auth: bool, what: str) -> None:
    a, b = lab.a, lab.b
    va = lab.start_vipd(a, vipd_conf(a, 150, auth))
    kb = lab.start_keepalived(b, ka_conf(b, 100, auth))
    wait_state(a, "MASTER", 5, va)
    # keepalived's Master_Down_Interval at 100 ms and priority 100 is 361 ms: hold longer
    hold(lambda: holders(lab) == [a.label], 1.0, f"{what}: the VIP on A (vipd) only")
    kb.expect_alive()
    step(f"    {what}: SIGTERM to vipd: keepalived 2.4.3 takes over")
    va.terminate()
    only_on(lab, b, 3, what)
    assert va.wait_exit(5) == 0, f"vipd on A exited with rc {va.returncode}"
    step(f"    {what}: vipd back: it preempts keepalived 2.4.3")
    va = lab.start_vipd(a, vipd_conf(a, 150, auth))
    wait_state(a, "MASTER", 5, va)
    only_on(lab, a, 3, what)
    hold(lambda: holders(lab) == [a.label], 0.5, f"{what}: the VIP back on A only")
    no_drops(a, what)
    ka_clean(kb, what)
    va.stop()
    kb.stop()
    wait_for(lambda: holders(lab) == [], 3, "no VIP anywhere between the cases")


def ka_master_vipd_backup(lab, auth: bool, what: str) -> None:
    a, b = lab.a, lab.b
    ka = lab.start_keepalived(a, ka_conf(a, 150, auth))
    only_on(lab, a, 6, what)
    vb = lab.start_vipd(b, vipd_conf(b, 100, auth))
    ll_a = lab.link_local(a)
    wait_state(b, "BACKUP", 5, vb, extra=lambda i: (i.get("master") or {}).get("address") == ll_a)
    hold(lambda: holders(lab) == [a.label], 1.0, f"{what}: the VIP on A (keepalived) only")
    no_drops(b, what)
    step(f"    {what}: SIGTERM to keepalived 2.4.3: vipd takes over")
    ka.stop()
    wait_state(b, "MASTER", 3, vb)
    only_on(lab, b, 3, what)
    step(f"    {what}: keepalived 2.4.3 back: it preempts vipd")
    ka = lab.start_keepalived(a, ka_conf(a, 150, auth))
    wait_state(b, "BACKUP", 6, vb, extra=lambda i: (i.get("master") or {}).get("address") == ll_a)
    only_on(lab, a, 3, what)
    no_drops(b, what)
    ka_clean(ka, what)
    vb.expect_alive()
    ka.stop()
    vb.stop()
    wait_for(lambda: holders(lab) == [], 3, "no VIP anywhere between the cases")


def body(lab):
    lab.keepalived_bin = keepalived_243()
    lab.add_ipv6_all()
    cap = lab.capture(None, "ip6 proto 112")

    step("(1) no auth: vipd A (150) MASTER, keepalived 2.4.3 B (100) backup")
    vipd_master_ka_backup(lab, False, "(1)")
    step("(2) auth_hmac: keepalived 2.4.3 A (150) MASTER, vipd B (100) BACKUP")
    ka_master_vipd_backup(lab, True, "(2)")
    step("(3) auth_hmac: vipd A (150) MASTER, keepalived 2.4.3 B (100) backup")
    vipd_master_ka_backup(lab, True, "(3)")
    cap.stop()

    step("the wire: every vipd advert (from the node running vipd) has a Good checksum")
    rows = cap.fields("vrrp", ["ipv6.src", "ipv6.dst", "ipv6.hlim", "vrrp.version",
                                "vrrp.checksum.status", "ipv6.plen"])
    assert len(rows) >= 20, f"only {len(rows)} IPv6 VRRP frames captured"
    signed = 0
    for r in rows:
        assert r["ipv6.dst"] == "ff02::12" and r["ipv6.hlim"] == "255" and \
            r["vrrp.version"] == "3", f"advert {r}"
        assert r["vrrp.checksum.status"] == "1", f"advert with a checksum tshark rejects: {r}"
        if r["ipv6.plen"] == str(8 + 16 + 28):
            signed += 1
    assert signed >= 10, f"only {signed} signed adverts (payload 52 bytes) on the wire"
    FIG.text("adverts_good_checksum", str(len(rows)))
    FIG.text("signed_adverts", str(signed))


if __name__ == "__main__":
    require_root_or_skip(need=("keepalived", "vipd", "tcpdump", "tshark"))
    sys.exit(run_test(body, FIG, sysctls=IPV6_NO_DAD))
