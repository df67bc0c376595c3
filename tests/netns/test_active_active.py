#!/usr/bin/env python3
"""[netns] Active-active (issue 14): two VIPs, each node master for one and the other's backup
(DNS round-robin over 198.18.0.100 and 198.18.0.101), the example in docs/two-hosts.md.

  1. both up: A holds .100 only, B holds .101 only; both VIPs answer a client on C (each node's
     nginx names itself)
  2. SIGTERM to vipd on A: B holds both, both VIPs answer from node-b
  3. vipd A back: A takes .100 back (preempt), B keeps .101
Exit 0 pass, 1 fail, 77 skipped."""

import sys

from vipdlab import require_root_or_skip, wait_for
from vipdlab.vipd import API, Figures, run_test, step

FIG = Figures("test_active_active")
VIP1, VIP2 = "198.18.0.100", "198.18.0.101"


def config(node, prio1, prio2) -> str:
    def instance(name, vrid, prio, vip):
        return (f'[[instance]]\nname = "{name}"\ninterface = "{node.iface}"\nvrid = {vrid}\n'
                f'priority = {prio}\nadvert_interval = "100ms"\ngroup_size = 2\n'
                f'vips = ["{vip}/24"]\n\n')
    return (f'[agent]\nnode_name = "{node.label}"\napi_listen = "{API}"\n\n' +
            instance("vip1", 51, prio1, VIP1) + instance("vip2", 52, prio2, VIP2))


def holders(lab):
    return (tuple(lab.vip_holders(VIP1)), tuple(lab.vip_holders(VIP2)))


def answers(lab, vip):
    return lab.c.http_get(f"http://{vip}/", timeout=1.0)[1].strip()


def body(lab):
    a, b = lab.a, lab.b
    lab.start_nginx(a)
    lab.start_nginx(b)
    step("1. both up: each node serves one VIP")
    vd_a = lab.start_vipd(a, config(a, 150, 100))
    vd_b = lab.start_vipd(b, config(b, 100, 150))
    split = ((a.label,), (b.label,))
    wait_for(lambda: holders(lab) == split, 10, lambda: f"A .100, B .101 (have {holders(lab)})")
    wait_for(lambda: answers(lab, VIP1) == a.label and answers(lab, VIP2) == b.label, 5,
             "the client on C to be answered by A on .100 and B on .101")
    step("2. vipd A stops: B serves both")
    vd_a.stop()
    wait_for(lambda: holders(lab) == ((b.label,), (b.label,)), 3,
             lambda: f"both VIPs on B (have {holders(lab)})")
    wait_for(lambda: answers(lab, VIP1) == b.label and answers(lab, VIP2) == b.label, 5,
             "both VIPs answered by B")
    step("3. vipd A back: the split returns")
    vd_a = lab.start_vipd(a, config(a, 150, 100))
    wait_for(lambda: holders(lab) == split, 10, lambda: f"A .100, B .101 (have {holders(lab)})")
    vd_a.expect_alive()
    vd_b.expect_alive()
    FIG.text("split_restored", "yes")


if __name__ == "__main__":
    require_root_or_skip(need=("nginx", "vipd"))
    sys.exit(run_test(body, FIG))
