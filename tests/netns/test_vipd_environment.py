#!/usr/bin/env python3
"""[netns] A bad environment gets a clear error that names the fix, and an interface that
vanishes at runtime means FAULT, not a crash (issue "vipd on real networking").

Cases (one lab):
  1. an unknown interface: vipd exits 1 and says the interface does not exist
  2. an interface without an IPv4 address: exits 1, says so and names the fixes
  3. a VIP equal to the node's own address: exits 1 and explains why that cannot work — also when
     it is a secondary address (vipd marks the addresses it adds; one without the mark is not a
     leftover), and the address stays on the interface (`vipd cleanup` leaves it too)
  4. the master's interface is deleted at runtime (`ip link del`): vipd stays alive, reports FAULT
     ("vanished"), the backup takes over; the interface is created again: vipd rebuilds its socket
     and, with preempt on, takes the VIP back
Exit 0 pass, 1 fail, 77 skipped."""

import sys
import time

from vipdlab import VIP, require_root_or_skip, vipd_config, wait_for
from vipdlab.processes import vipd_bin
from vipdlab.vipd import API, Figures, inst, run_test, step, wait_state
FIG = Figures("vipd_environment")


def expect_refusal(lab, node, config: str, patterns: list[str], what: str) -> None:
    """vipd must exit 1 quickly, with every pattern in its log, and claim nothing."""
    proc = lab.start_vipd(node, config)
    rc = proc.wait_exit(timeout=10)
    log = proc.log_text()
    assert rc == 1, f"{what}: vipd exited {rc}, expected 1; log:\n{log}"
    for p in patterns:
        assert p in log, f"{what}: the log does not say {p!r}; log:\n{log}"
    assert not lab.has_vip(node), f"{what}: the VIP was installed although vipd refused to start"
    print(f"  {what}: refused with: {[l for l in log.splitlines() if 'error' in l][0]}")


def body(lab) -> None:
    a, b = lab.a, lab.b
    for n in (a, b):
        lab.start_nginx(n)

    step("1. unknown interface")
    cfg = vipd_config(a, 150).replace(f'interface = "{a.iface}"', 'interface = "nosuch0"')
    expect_refusal(lab, a, cfg, ["nosuch0", "does not exist"], "unknown interface")

    step("2. interface without IPv4")
    a.run("ip", "link", "add", "vx0", "type", "veth", "peer", "name", "vx1")
    a.run("ip", "link", "set", "vx0", "up")
    a.run("ip", "link", "set", "vx1", "up")
    cfg = vipd_config(a, 150).replace(f'interface = "{a.iface}"', 'interface = "vx0"')
    expect_refusal(lab, a, cfg, ["has no IPv4 address", "unicast_src", "ip addr add"],
                   "interface without IPv4")

    step("3. VIP equal to the node's own address")
    cfg = vipd_config(a, 150, vips=("198.18.0.11/24",))
    expect_refusal(lab, a, cfg, ["is the only IPv4 address on", "no node owns"],
                   "VIP is the node's address")
    own = "198.18.0.21/24"
    a.run("ip", "addr", "add", own, "dev", a.iface)
    cfg = vipd_config(a, 150, vips=(own,))
    expect_refusal(lab, a, cfg, ["198.18.0.21/24 is on", "vipd did not add it", "no node owns"],
                   "VIP is the node's secondary address")
    assert own in lab.addresses(a), "vipd run deleted the node's own secondary address"
    conf = lab.dir / "own-address.toml"
    conf.write_text(cfg)
    r = a.run(vipd_bin(), "cleanup", "-c", str(conf), check=False)
    assert own in lab.addresses(a), f"vipd cleanup deleted the node's own address: {r.stderr}"
    assert "was not added by vipd" in r.stderr, f"vipd cleanup: {r.stdout} {r.stderr}"
    a.run("ip", "addr", "del", own, "dev", a.iface)

    step("4. the master's interface vanishes at runtime, then comes back")
    va = lab.start_vipd(a, vipd_config(a, 150, api_listen=API))
    vb = lab.start_vipd(b, vipd_config(b, 100, api_listen=API))
    wait_state(a, "MASTER", 5, va)
    wait_state(b, "BACKUP", 5, vb)
    poller = lab.poller()
    poller.wait_served_by("node-a", 5)

    t0 = time.monotonic()
    a.run("ip", "link", "del", a.iface)  # both veth ends go: the node is cut off
    i = wait_state(a, "FAULT", 5, va)
    FIG.add("vanished -> FAULT", (time.monotonic() - t0) * 1000)
    assert "vanished" in (i.get("fault") or "") or "vanished" in i.get("reason", ""), \
        f"FAULT does not say the interface vanished: {i.get('fault')!r} / {i.get('reason')!r}"
    assert i["reason_code"] == "link_down", i["reason_code"]
    wait_state(b, "MASTER", 5, vb)
    s = poller.wait_served_by("node-b", 5, since=t0)
    FIG.add("vanished -> client served by B", (s.start - t0) * 1000)
    va.expect_alive()

    # The interface comes back (a new index): vipd must rebuild its socket and rejoin.
    lan = lab.lan
    t1 = time.monotonic()
    a.run("ip", "link", "add", a.iface, "type", "veth", "peer", "name", a.port, "netns", lan)
    lab_run = lambda *argv: a.run("ip", "netns", "exec", lan, *argv)  # noqa: E731
    lab_run("ip", "link", "set", a.port, "master", "br0")
    lab_run("ip", "link", "set", a.port, "up")
    a.run("ip", "addr", "add", a.cidr, "dev", a.iface)
    a.run("ip", "link", "set", a.iface, "up")
    wait_state(a, "MASTER", 10, va)
    FIG.add("recreated -> A MASTER again", (time.monotonic() - t1) * 1000)
    wait_for(lambda: lab.vip_holders() == ["node-a"], 5,
             lambda: f"the VIP only on node-a (holders: {lab.vip_holders()})")
    poller.wait_served_by("node-a", 5, since=t1)
    va.expect_alive()
    vb.expect_alive()
    assert "interface vethA is back" in va.log_text() or "is back" in va.log_text(), \
        "vipd did not log that the interface came back"


if __name__ == "__main__":
    require_root_or_skip(need=("nginx", "vipd"))
    sys.exit(run_test(body, FIG))
