#!/usr/bin/env python3
"""[netns] Proves the lab itself with real keepalived as the VRRP speaker.

keepalived on A (priority 150) and B (100), VRRPv3, 100 ms adverts, VIP 198.18.0.100/24:
the VIP is only on A and the client is served by node-a; SIGTERM keepalived on A → the client is
served by node-b within a deadline; keepalived restarted on A → back to node-a (preempt).
Exit 0 pass, 1 fail, 77 skipped."""

import sys
import time

from vipdlab import run_main, VIP, Lab, keepalived_config, require_root_or_skip, wait_for

# Master_Down_Interval at 100 ms adverts is 3 × 100 ms + skew ≈ 0.36 s (B, priority 100); a
# priority-0 advert on graceful stop cuts it to the skew time. Generous deadline for loaded CI.
TAKEOVER_DEADLINE = 3.0


def main() -> int:
    require_root_or_skip(need=("nginx", "keepalived"))
    with Lab() as lab:
        a, b = lab.a, lab.b
        lab.start_nginx(a)
        lab.start_nginx(b)
        ka_a = lab.start_keepalived(a, keepalived_config(a, priority=150))
        ka_b = lab.start_keepalived(b, keepalived_config(b, priority=100))
        try:
            wait_for(lambda: lab.has_vip(a, VIP), 10, "keepalived on node-a to take the VIP")
            ka_b.wait_log(r"Entering BACKUP STATE", 10, "keepalived on node-b to enter BACKUP")
            poller = lab.poller()
            poller.wait_served_by("node-a", 5, consecutive=20)
            assert lab.vip_holders() == ["node-a"], f"VIP on {lab.vip_holders()}, want node-a only"

            # Graceful stop of the master: keepalived sends priority 0 and removes the VIP.
            t0 = time.monotonic()
            ka_a.terminate()
            wait_for(lambda: lab.has_vip(b, VIP), TAKEOVER_DEADLINE, "the VIP on node-b")
            vip_moved = time.monotonic() - t0  # polled with `ip addr` every ~10 ms
            rc = ka_a.wait_exit(timeout=5)
            first_b = poller.wait_served_by("node-b", TAKEOVER_DEADLINE, since=t0)
            takeover = first_b.end - t0
            poller.wait_served_by("node-b", 5, since=first_b.end, consecutive=20)
            s = poller.summary(t0, first_b.end)
            print(f"takeover (SIGTERM keepalived on node-a → client served by node-b): "
                  f"{takeover * 1000:.0f} ms; keepalived rc {rc}; requests in between: "
                  f"{s['counts']} (failed fast {s['failed_fast']}, hung {s['hung']}); "
                  f"VIP seen on node-b after {vip_moved * 1000:.0f} ms")
            assert not lab.has_vip(a, VIP), "node-a kept the VIP after keepalived stopped"
            assert lab.vip_holders() == ["node-b"], f"VIP on {lab.vip_holders()}, want node-b"

            # Restart on A: higher priority + preempt → back to node-a.
            t1 = time.monotonic()
            ka_a = lab.start_keepalived(a, keepalived_config(a, priority=150))
            first_a = poller.wait_served_by("node-a", 10, since=t1)
            poller.wait_served_by("node-a", 5, since=first_a.end, consecutive=20)
            wait_for(lambda: lab.vip_holders() == ["node-a"], 5,
                     "the VIP to be on node-a only after failback")
            print(f"failback (keepalived restarted on node-a → client served by node-a): "
                  f"{(first_a.end - t1) * 1000:.0f} ms (includes keepalived start-up)")
            poller.stop()
        except AssertionError:
            for p in (ka_a, ka_b):
                print(f"---- {p.name} log ({p.log}) ----\n{p.log_text()[-3000:]}")
            raise
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
