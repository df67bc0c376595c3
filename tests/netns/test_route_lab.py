#!/usr/bin/env python3
"""[netns] Route mode (issue 16) end to end on the routed lab (vipdlab.routed.RoutedLab): an FRR
router (BFD 50 ms x 3, hold 3 s, always-compare-med), two nodes running nginx, vipd in route mode
and FRR (zebra `ip import-table 198`, bgpd `redistribute table 198 route-map VIPS`, bfdd), and a
client behind the router polling http://198.19.0.100/ every 10 ms. Namespace prefix rl-.

vipd on A has priority 150 (MED 106), on B 100 (MED 156). Asserts:
  start → the router has both paths with those MEDs and the client is served by node-a;
  (1) nginx stopped on A → the client is served by node-b (withdrawal), 0 hung requests;
  (3) nginx started again on A → traffic back on node-a, 0 hung requests;
  (2) A's uplink down (behind a bridge: the router keeps its carrier) → node-b within 1.5 s, which
      only BFD gives (the hold timer is 3 s); uplink back → the session returns, node-a again;
  vipd on A SIGKILLed → the route stays: every request in the next second is still served by
      node-a; vipd started again → its start-up sweep counted, the route reinstalled, node-a again
      (the timeline of the restart is printed: the sweep withdraws before the reinstall);
  equal priorities (vipd on B restarted at 150) → ECMP: the router has both next hops and the
      client (one address; the router hashes on ports) is served by both nodes;
  SIGTERM of both vipds → the router has no path left.
Times are printed (one run each; bench/route.py measures with >= 5 runs). VIPD_ROUTE_LAB_RUNS=N
repeats cases (1)-(3) N times. Exit 0/1/77 (77: FRR, nginx or curl missing)."""

import os
import re
import signal
import sys
import time

from vipdlab import require_root_or_skip, require_vipd_or_skip, run_main, skip, wait_for
from vipdlab.route import ROUTE_VIP, table_routes
from vipdlab.routed import (FrrEngine, RoutedLab, frr_available, print_vipd_logs, routed_vipd_config,
                            sigterm_vipds, switch_case)

API = "http://127.0.0.1:9555"


def metric_value(node, name: str) -> float:
    text = node.run("curl", "-s", "-m", "1", f"{API}/metrics", check=False).stdout
    m = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


def main() -> int:
    require_root_or_skip(need=("nginx", "curl", "vipd"))
    require_vipd_or_skip()
    why = frr_available()
    if why:
        skip(why)
    runs = int(os.environ.get("VIPD_ROUTE_LAB_RUNS", "1"))
    with RoutedLab(prefix=f"rl-{os.getpid() % 100000}") as lab:
        a, b = lab.a, lab.b
        nginx, router = lab.start_services(FrrEngine, bfd=True)
        cfg_a = routed_vipd_config(lab, a, 150)
        vipd = {"a": lab.start_vipd(a, cfg_a), "b": lab.start_vipd(b, routed_vipd_config(lab, b, 100))}
        try:
            wait_for(lambda: router.bgp_paths() == {"198.18.5.10": 106, "198.18.6.10": 156}, 15,
                     lambda: f"router paths A MED 106, B MED 156 (has {router.bgp_paths()})")
            poller = lab.poller(host=ROUTE_VIP, client=lab.c)
            first = poller.wait_served_by("node-a", 10, consecutive=3)
            print(f"start: router paths {router.bgp_paths()}, client served by node-a")

            assert first.outcome == "node-a"
            for _ in range(runs):
                switch_case(poller, "(1) nginx stopped on A", lambda: nginx["a"].stop(timeout=5),
                            "node-b", 3, True)
                assert table_routes(a) == [], f"route left on A: {table_routes(a)}"

                def nginx_back():
                    nginx["a"] = lab.start_nginx(a)
                switch_case(poller, "(3) nginx back on A", nginx_back, "node-a", 3, True)

                switch_case(poller, "(2) A's uplink down", lambda: lab.uplink_down(a), "node-b",
                            1.5, False)
                wait_for(lambda: not router.bfd_up("a"), 2, "the router's BFD session with A down")
                lab.uplink_up(a)
                lab.wait_sessions(names=("a",))
                poller.wait_served_by("node-a", 10, consecutive=3)
                print("uplink back: BGP + BFD up again, node-a serves")

            # vipd killed: nothing withdraws the route until vipd is back.
            sweeps = metric_value(a, 'vipd_route_operations_total{instance="web",op="sweep"}')
            vipd["a"].kill()
            t_kill = time.monotonic()
            time.sleep(1.0)
            summary = poller.summary(t_kill, time.monotonic())
            assert summary["counts"] == {"node-a": summary["total"]} and summary["total"] > 50, \
                f"after vipd SIGKILL traffic should stay on node-a: {summary}"
            assert "198.18.5.10" in router.bgp_paths(), "A's path left the router after SIGKILL"
            print(f"vipd SIGKILLed on A: route stays; 1 s later all {summary['total']} requests "
                  f"still served by node-a")
            t_restart = time.monotonic()
            vipd["a"] = lab.start_vipd(a, cfg_a)
            wait_for(lambda: metric_value(a, 'vipd_route_installed{instance="web"}') == 1, 10,
                     "the restarted vipd to install its route")
            after = metric_value(a, 'vipd_route_operations_total{instance="web",op="sweep"}')
            assert after >= 1, f"restart: no start-up sweep counted (before kill: {sweeps})"
            s = poller.wait_served_by("node-a", 5, since=time.monotonic(), consecutive=3)
            timeline = [(round((t0 - t_restart) * 1000), o, n)
                        for t0, _, o, n in poller.timeline(t_restart, s.end)]
            assert table_routes(a) == [f"{ROUTE_VIP} dev lo proto 99 scope 253 metric 106"], \
                table_routes(a)
            print(f"vipd restarted: sweep counted, route reinstalled; client timeline from the "
                  f"restart (ms, outcome, requests): {timeline}")

            # ECMP: B at A's priority -> equal MEDs -> the router keeps both next hops
            vipd["b"].signal(signal.SIGTERM)
            assert vipd["b"].wait_exit(timeout=10) == 0, "vipd on b did not exit 0"
            vipd["b"] = lab.start_vipd(b, routed_vipd_config(lab, b, 150))
            wait_for(lambda: sorted(router.nexthops()) == ["198.18.5.10", "198.18.6.10"], 10,
                     lambda: f"ECMP: both next hops on the router (has {router.nexthops()}, "
                             f"paths {router.bgp_paths()})")
            t_ecmp = time.monotonic()
            wait_for(lambda: {"node-a", "node-b"} <= set(
                poller.summary(t_ecmp)["counts"]), 5, "the client served by both nodes")
            print(f"ECMP at equal priority: router paths {router.bgp_paths()}, next hops "
                  f"{router.nexthops()}, client: {poller.summary(t_ecmp)['counts']}")

            poller.stop()
            sigterm_vipds(vipd, router)
        except AssertionError:
            print_vipd_logs(vipd)
            print(f"---- router paths {router.bgp_paths()} next hops {router.nexthops()}")
            raise
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
