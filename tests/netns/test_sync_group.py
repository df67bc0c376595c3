#!/usr/bin/env python3
"""[netns] A sync group moves its members together (issue 14, [[group]]).

Two nodes, each with two interfaces: outside (vethA/vethB on the lab bridge, 198.18.0.0/24, the
client C there too) and inside (vin on a second bridge, 198.19.0.0/24: a proxy's backend network).
One [[group]] "edge" of two instances per node: "outside" (VRID 61, VIP 198.18.0.100/24, real
nginx behind it with the pid check at weight 0 and the http check at -60) and "inside" (VRID 62,
VIP 198.19.0.100/24). A priority 150, B 100, preempt = false (so no move back: every move below is
a failover), 100 ms adverts, group_size = 2.

  1. A holds both VIPs; the client on C is answered by node-a.
  2. nginx stopped on A: BOTH VIPs move to B (the inside member follows the outside one into
     FAULT); A's group notify hook ran with "edge FAULT"; /status shows the group FAULT.
  3. nginx back on A: nothing moves (preempt off), A's group is BACKUP.
  4. the inside link of the master (B) loses its carrier: BOTH VIPs move to A (the outside
     member resigns with priority 0 although its own link is fine; A's inside member follows
     A's outside member to MASTER at once, the inside VIP is on no node < 200 ms).
  5. the link back: nothing moves.
Start-up with nginx up is quiet: no "starting in fault" line (the instances wait for their checks'
first results, then start as BACKUP).
A thread reads `ip addr` of both nodes every ~10 ms throughout, and the test fails if any reading
has the two VIPs on different nodes (outside only on one node, inside only on the other).
Exit 0 pass, 1 fail, 77 skipped."""

import os
import sys
import time

from vipdlab import require_root_or_skip, wait_for
from vipdlab.vipd import (API, AddressPoller, Figures, metric, metrics, run_test, status,
                          step)

FIG = Figures("test_sync_group")
OUT_VIP, IN_VIP = "198.18.0.100", "198.19.0.100"
INSIDE = {"a": "198.19.0.11/24", "b": "198.19.0.12/24"}


def config(lab, node, priority, nginx, notify_file) -> str:
    def instance(name, iface, vrid, vip, track):
        return (f'[[instance]]\nname = "{name}"\ninterface = "{iface}"\nvrid = {vrid}\n'
                f'priority = {priority}\npreempt = false\nadvert_interval = "100ms"\n'
                f'group_size = 2\nvips = ["{vip}/24"]\n{track}\n')
    return (f'[agent]\nnode_name = "{node.label}"\napi_listen = "{API}"\n'
            f'state_dir = "{lab.dir}/state-{node.name}"\n\n'
            + instance("outside", node.iface, 61, OUT_VIP,
                       'track = [ { check = "nginx-pid", weight = 0 }, '
                       '{ check = "nginx-http", weight = -60 } ]\n')
            + instance("inside", "vin", 62, IN_VIP, "")
            + f'[[check]]\nname = "nginx-pid"\ntype = "pid"\npidfile = "{nginx.pidfile}"\n\n'
            + '[[check]]\nname = "nginx-http"\ntype = "http"\nurl = "http://127.0.0.1/healthz"\n'
              'interval = "50ms"\ntimeout = "100ms"\n\n'
            + '[[group]]\nname = "edge"\ninstances = ["outside", "inside"]\n'
              f'notify = ["/bin/sh", "-c", "echo \\"$0 $1\\" >> {notify_file}"]\n')


class Sampler:
    """Both nodes' addresses read every ~10 ms (AddressPoller: a netlink dump, as `ip addr`, from
    inside each node). The timeline is the merged readings: at each reading of one node, that node
    as read then and the other node as last read."""

    def __init__(self, lab):
        self.labels = (lab.a.label, lab.b.label)
        self.pollers = (AddressPoller(lab.a), AddressPoller(lab.b))

    def stop(self):
        for p in self.pollers:
            p.stop()

    def timeline(self, since=0.0):
        """[(t, holders of OUT_VIP, holders of IN_VIP)] once both nodes have been read."""
        merged = sorted((t, i, addrs) for i, p in enumerate(self.pollers)
                        for t, addrs in p.snapshot())
        last, out = [None, None], []
        for t, i, addrs in merged:
            last[i] = addrs
            if None in last or t < since:
                continue
            hold_out = frozenset(self.labels[k] for k in (0, 1) if OUT_VIP in last[k])
            hold_in = frozenset(self.labels[k] for k in (0, 1) if IN_VIP in last[k])
            out.append((t, hold_out, hold_in))
        return out

    def readings(self):
        return sum(len(p.snapshot()) for p in self.pollers)

    def splits(self):
        """Readings with the two VIPs on different nodes."""
        return [s for s in self.timeline() if s[1] and s[2] and not (s[1] & s[2])]

    def gaps_ms(self, since):
        """How long (ms, between readings) each VIP was on no node after `since`."""
        line = self.timeline(since)
        res = []
        for idx in (1, 2):
            empty = [s[0] for s in line if not s[idx]]
            res.append((empty[-1] - empty[0]) * 1000 if empty else 0.0)
        return res


def holders(lab):
    return (tuple(lab.vip_holders(OUT_VIP)), lab.has_vip(lab.a, IN_VIP), lab.has_vip(lab.b, IN_VIP))


def both_on(lab, node):
    other = lab.b if node is lab.a else lab.a
    have = lab.node_ipv4(node)
    return OUT_VIP in have and IN_VIP in have and not ({OUT_VIP, IN_VIP} & lab.node_ipv4(other))


def group(node):
    s = status(node)
    return (s or {}).get("groups", [{}])[0] if s else {}


def body(lab):
    a, b = lab.a, lab.b
    ports = lab.add_segment("brin", INSIDE)
    ngx_a = lab.start_nginx(a)
    ngx_b = lab.start_nginx(b)
    notify_a, notify_b = lab.dir / "group-notify-a", lab.dir / "group-notify-b"
    step("1. A holds both VIPs")
    vd_a = lab.start_vipd(a, config(lab, a, 150, ngx_a, notify_a))
    wait_for(lambda: both_on(lab, a), 10, lambda: f"both VIPs on A ({holders(lab)})")
    vd_b = lab.start_vipd(b, config(lab, b, 100, ngx_b, notify_b))
    wait_for(lambda: group(b).get("state") == "BACKUP", 10, lambda: f"B's group BACKUP ({group(b)})")
    wait_for(lambda: group(a).get("state") == "MASTER", 5, lambda: f"A's group MASTER ({group(a)})")
    wait_for(lambda: lab.c.http_get(f"http://{OUT_VIP}/", timeout=1.0)[1].strip() == a.label, 5,
             "the client on C answered by node-a")
    # Start-up is quiet (issue 14): nginx is up, so no instance may log that it starts in fault
    # and clears it a moment later; each waits for its checks' first results, then starts BACKUP.
    for vd in (vd_a, vd_b):
        text = vd.log_text()
        if "starting in fault" in text:
            raise AssertionError(f"{vd.name} logged a start-up fault with nginx up:\n{text}")
        for name in ("outside", "inside"):
            if f"instance {name}: state INIT -> BACKUP" not in text:
                raise AssertionError(f"{vd.name}: {name} did not start as BACKUP:\n{text}")
    sampler = Sampler(lab)
    try:
        step("2. nginx stopped on A: both VIPs move to B")
        t0 = time.monotonic()
        ngx_a.stop()
        wait_for(lambda: both_on(lab, b), 5, lambda: f"both VIPs on B ({holders(lab)})")
        FIG.add("nginx_stop_both_on_b", (time.monotonic() - t0) * 1000, "includes ip polling")
        g = group(a)
        if g.get("state") != "FAULT" or g.get("faulty_member") is None:
            raise AssertionError(f"A's group should be FAULT with its faulty member named: {g}")
        wait_for(lambda: "edge FAULT" in (notify_a.read_text() if notify_a.exists() else ""), 3,
                 "A's group notify hook to run with 'edge FAULT'")
        wait_for(lambda: "edge MASTER" in (notify_b.read_text() if notify_b.exists() else ""), 3,
                 "B's group notify hook to run with 'edge MASTER'")
        wait_for(lambda: lab.c.http_get(f"http://{OUT_VIP}/", timeout=1.0)[1].strip() == b.label,
                 5, "the client on C answered by node-b")
        gap_out, gap_in = sampler.gaps_ms(t0)
        FIG.add("nginx_stop_out_vip_nowhere", gap_out)
        FIG.add("nginx_stop_in_vip_nowhere", gap_in)
        m = metrics(b)
        if metric(m, "vipd_group_state", group="edge", state="MASTER") != 1:
            raise AssertionError("vipd_group_state{group=edge,state=MASTER} should be 1 on B")

        step("3. nginx back on A: nothing moves (preempt = false)")
        ngx_a = lab.start_nginx(a)
        wait_for(lambda: group(a).get("state") == "BACKUP", 5, lambda: f"A's group BACKUP ({group(a)})")
        time.sleep(0.5)
        if not both_on(lab, b):
            raise AssertionError(f"both VIPs should stay on B: {holders(lab)}")

        step("4. B's inside link loses its carrier: both VIPs move to A")
        t1 = time.monotonic()
        lab.port_down(ports["b"])
        wait_for(lambda: both_on(lab, a), 5, lambda: f"both VIPs on A ({holders(lab)})")
        FIG.add("inside_link_down_both_on_a", (time.monotonic() - t1) * 1000, "includes ip polling")
        g = group(b)
        if g.get("state") != "FAULT" or g.get("faulty_member") != "inside":
            raise AssertionError(f"B's group should be FAULT because of 'inside': {g}")
        outside_b = [i for i in status(b)["instances"] if i["name"] == "outside"][0]
        if "sync group edge" not in (outside_b.get("fault") or ""):
            raise AssertionError(f"B's outside member should be in FAULT for its group: {outside_b}")
        gap_out, gap_in = sampler.gaps_ms(t1)
        FIG.add("link_down_out_vip_nowhere", gap_out)
        FIG.add("link_down_in_vip_nowhere", gap_in, "A's inside follows its outside to MASTER")
        # B's inside cannot send its priority 0 on the dead link: without the group's "MASTER
        # follows MASTER", A's inside would wait its Master_Down_Interval (341 ms here).
        if gap_in >= 200:
            raise AssertionError(f"the inside VIP was on no node for {gap_in:.0f} ms: A's inside "
                                 "member did not follow its outside member to MASTER")

        step("5. the link back: nothing moves")
        lab.port_up(ports["b"])
        wait_for(lambda: group(b).get("state") == "BACKUP", 5, lambda: f"B's group BACKUP ({group(b)})")
        time.sleep(0.5)
        if not both_on(lab, a):
            raise AssertionError(f"both VIPs should stay on A: {holders(lab)}")
    finally:
        sampler.stop()
    split = sampler.splits()
    FIG.text("readings", str(sampler.readings()))
    FIG.text("split_readings", str(len(split)))
    if sampler.readings() < 200:
        raise AssertionError(f"too few address readings to judge ({sampler.readings()})")
    if split:
        raise AssertionError(f"the VIPs were on different nodes in {len(split)} reading(s), first "
                             f"{split[0]}")
    vd_a.expect_alive()
    vd_b.expect_alive()


if __name__ == "__main__":
    require_root_or_skip(need=("nginx", "vipd"))
    sys.exit(run_test(body, FIG, prefix=os.environ.get("VIPD_LAB_PREFIX")))
