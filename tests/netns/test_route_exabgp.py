#!/usr/bin/env python3
"""[netns] Route mode (issue 16) with ExaBGP as the node's engine: Debian's exabgp 4.2 runs
tools/exabgp-kernel-routes as its API process, which announces vipd's table-198 routes with MED =
metric. On the routed lab (vipdlab.routed; namespace prefix rl-): FRR router, vipd + nginx +
ExaBGP on A (priority 150) and B (priority 100), client behind the router. Asserts:
  start → the router has A with MED 106 and B with MED 156, the client is served by node-a;
  a priority change on A (file check knob -60 → MED 166) reaches the router as a new MED without
  A's path leaving it (no withdrawal in ExaBGP's log; the router sampled through vtysh), and the
  client moves to node-b;
  knob back → MED 106, node-a; nginx killed on A → A's path withdrawn, node-b, 0 hung requests;
  nginx back → node-a again; SIGTERM of vipd on A → A's path withdrawn.
Exit 0/1/77 (77: exabgp, FRR, nginx or curl missing)."""

import os
import signal
import sys
import time

from vipdlab import require_root_or_skip, require_vipd_or_skip, run_main, skip, wait_for
from vipdlab.exabgpengine import ExabgpKernelEngine, exabgp_available
from vipdlab.route import ROUTE_VIP
from vipdlab.routed import RoutedLab, frr_available, print_vipd_logs, routed_vipd_config

A, B = "198.18.5.10", "198.18.6.10"


def main() -> int:
    require_root_or_skip(need=("nginx", "curl", "vipd"))
    require_vipd_or_skip()
    why = frr_available() or exabgp_available()
    if why:
        skip(why)
    with RoutedLab(prefix=f"rl-x{os.getpid() % 10000}") as lab:
        a, b = lab.a, lab.b
        nginx, router = lab.start_services(ExabgpKernelEngine, bfd=False, timeout=30)
        knob = lab.dir / "knob-a"
        knob.write_text("0\n")
        knob_check = (f'[[check]]\nname = "knob"\ntype = "file"\npath = "{knob}"\n'
                      f'interval = "50ms"\n')
        cfg_a = routed_vipd_config(lab, a, 150, extra_check=knob_check,
                                   extra_track=', { check = "knob", weight = 1 }')
        vipd = {"a": lab.start_vipd(a, cfg_a), "b": lab.start_vipd(b, routed_vipd_config(lab, b, 100))}
        try:
            wait_for(lambda: router.bgp_paths() == {A: 106, B: 156}, 20,
                     lambda: f"router paths A 106, B 156 (has {router.bgp_paths()})")
            poller = lab.poller(host=ROUTE_VIP, client=lab.c)
            poller.wait_served_by("node-a", 10, consecutive=3)
            print(f"start: router paths {router.bgp_paths()}, client served by node-a")

            exa_a = lab.engines["a"].proc

            def withdrawals() -> int:
                return sum(1 for line in exa_a.log_text().splitlines() if "removed" in line)
            before = withdrawals()
            for value, med, label in (("-60", 166, "node-b"), ("0", 106, "node-a")):
                knob.write_text(value + "\n")
                seen = []
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline:
                    paths = router.bgp_paths()
                    seen.append(paths.get(A))
                    if paths.get(A) == med:
                        break
                assert seen[-1] == med, f"A's MED never became {med}: {seen[-10:]}"
                assert None not in seen, f"A's path left the router during the change: {seen}"
                poller.wait_served_by(label, 5, consecutive=3)
                print(f"knob {value}: A's MED -> {med} ({len(seen)} samples, never withdrawn), "
                      f"client served by {label}")

            assert withdrawals() == before, \
                f"ExaBGP on A withdrew during priority changes:\n{exa_a.log_text()[-1500:]}"
            t0 = time.monotonic()
            nginx["a"].kill()
            wait_for(lambda: A not in router.bgp_paths(), 5, "A's path withdrawn")
            assert withdrawals() > before, "ExaBGP's log shows no withdrawal"
            s = poller.wait_served_by("node-b", 5, since=t0, consecutive=3)
            summary = poller.summary(t0, s.end)
            print(f"nginx killed on A: withdrawn, node-b after {(s.start - t0) * 1000:.0f} ms; "
                  f"{summary['counts']}")
            assert summary["hung"] == 0, f"{summary['hung']} hung request(s)"

            nginx["a"] = lab.start_nginx(a)
            poller.wait_served_by("node-a", 5, consecutive=3)
            assert router.bgp_paths() == {A: 106, B: 156}, router.bgp_paths()
            print("nginx back on A: announced again, node-a")

            vipd["a"].signal(signal.SIGTERM)
            assert vipd["a"].wait_exit(timeout=10) == 0, "vipd on A did not exit 0"
            wait_for(lambda: router.bgp_paths() == {B: 156}, 5,
                     lambda: f"only B left after SIGTERM (has {router.bgp_paths()})")
            print("SIGTERM of vipd on A: withdrawn")
        except AssertionError:
            def exabgp_log(n):
                eng = lab.engines[n]
                print(f"---- exabgp {n} ----\n{eng.proc.log_text()[-1500:] if eng.proc else ''}")
            print_vipd_logs(vipd, extra=exabgp_log)
            raise
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
