#!/usr/bin/env python3
"""[netns] Route mode (issue 16) with BIRD 2 as the nodes' routing engine, on the routed lab
(vipdlab.routed.RoutedLab; vipdlab.birdengine.BirdEngine): an FRR router (BFD 50 ms x 3, hold
3 s, always-compare-med), two nodes running nginx, vipd in route mode and Debian's BIRD 2
(`protocol kernel` learning table 198, BGP export with MED = krt_metric, `protocol bfd`), and a
client behind the router polling http://198.19.0.100/ every 10 ms. Namespace prefix rb-.

vipd on A has priority 150 (MED 106) plus a `knob` file check (weight 1: its number is a priority
delta), on B 100 (MED 156). Asserts:
  start → BIRD on each node exports the VIP with its MED; the router has both paths with those
      MEDs; the client is served by node-a;
  (1) nginx stopped on A → node-b serves (BIRD withdraws the learnt route), 0 hung requests;
  (3) nginx back on A → node-a again, 0 hung requests;
  (2) A's uplink down (the router keeps its carrier) → node-b within 1.5 s, which only BFD gives
      (the hold timer is 3 s); uplink back → BGP + BFD up, node-a again;
  priority changes without a gap: knob -10 on A (MED 106 → 116, still best) → the router's MED
      for A follows; tcpdump -v on the router's link to A sees A's UPDATE with MED 116 and no
      withdrawal (vipd runs with route replace = "add-first": BIRD keeps both metrics it learns
      and re-exports the survivor; delete-first made it send a withdrawal 0.04-0.15 ms before the
      new MED), and `ip monitor route` on the router shows its route to the VIP never leaving A;
      knob -60 (MED 166 > B's 156) → node-b serves, no hung request
      and at most 2 failed (connections in flight when the router switches are reset by B);
  SIGTERM of both vipds → the router has no path left.
Times are printed (one run each). Exit 0/1/77 (77: BIRD 2, FRR, nginx or curl missing)."""

import os
import re
import sys
import time

from vipdlab import require_root_or_skip, require_vipd_or_skip, run_main, skip, wait_for
from vipdlab.birdengine import BirdEngine, bird_available
from vipdlab.route import ROUTE_VIP, table_routes
from vipdlab.routed import (RoutedLab, frr_available, print_vipd_logs, routed_vipd_config,
                            sigterm_vipds, switch_case)

A_ADDR, B_ADDR = "198.18.5.10", "198.18.6.10"


def bgp_updates(text: str) -> list[tuple[float, str, int | None]]:
    """(time, "update" | "withdraw", MED) of each BGP UPDATE for the VIP in ``tcpdump -tt -v``
    output."""
    out = []
    stamp, med, section = 0.0, None, ""
    for line in text.splitlines():
        if m := re.match(r"^(\d+\.\d+) IP", line):
            stamp, med, section = float(m.group(1)), None, ""
        elif m := re.search(r"Multi Exit Discriminator.*: (\d+)", line):
            med = int(m.group(1))
        elif "Withdrawn routes" in line:
            section = "withdraw"
        elif "Updated routes" in line:
            section = "update"
        elif line.strip() == f"{ROUTE_VIP}/32" and section:
            out.append((stamp, section, med))
    return out


def main() -> int:
    require_root_or_skip(need=("nginx", "curl", "tcpdump", "vipd"))
    require_vipd_or_skip()
    for why in (frr_available(), bird_available()):
        if why:
            skip(why)
    with RoutedLab(prefix=f"rb-{os.getpid() % 100000}") as lab:
        a, b = lab.a, lab.b
        knob = lab.dir / "knob"
        knob.write_text("0\n")
        nginx, router = lab.start_services(BirdEngine, bfd=True)
        engines = lab.engines
        knob_check = f'\n[[check]]\nname = "knob"\ntype = "file"\npath = "{knob}"\ninterval = "20ms"\n'
        # BIRD keeps both metrics it learns: add-first replaces without a withdrawal.
        add_first = ', replace = "add-first"'
        cfg_a = routed_vipd_config(lab, a, 150, extra_check=knob_check,
                                   extra_track=', { check = "knob", weight = 1 }',
                                   route_extra=add_first)
        cfg_b = routed_vipd_config(lab, b, 100, route_extra=add_first)
        vipd = {"a": lab.start_vipd(a, cfg_a), "b": lab.start_vipd(b, cfg_b)}
        monitor = None
        try:
            want = {A_ADDR: 106, B_ADDR: 156}
            wait_for(lambda: router.bgp_paths() == want, 15,
                     lambda: f"router paths {want} (has {router.bgp_paths()}; BIRD A exports "
                             f"{engines['a'].view()}, B {engines['b'].view()})")
            assert engines["a"].view() == {f"{ROUTE_VIP}/32": 106}, engines["a"].view()
            assert engines["b"].view() == {f"{ROUTE_VIP}/32": 156}, engines["b"].view()
            poller = lab.poller(host=ROUTE_VIP, client=lab.c)
            poller.wait_served_by("node-a", 10, consecutive=3)
            print(f"start: BIRD exports A {engines['a'].view()}, B {engines['b'].view()}; router "
                  f"paths {router.bgp_paths()}; client served by node-a")

            switch_case(poller, "(1) nginx stopped on A", lambda: nginx["a"].stop(timeout=5),
                        "node-b", 3, True)
            assert table_routes(a) == [], f"route left on A: {table_routes(a)}"
            wait_for(lambda: engines["a"].view() == {}, 2, "BIRD on A to stop exporting the VIP")

            def nginx_back():
                nginx["a"] = lab.start_nginx(a)
            switch_case(poller, "(3) nginx back on A", nginx_back, "node-a", 3, True)

            switch_case(poller, "(2) A's uplink down", lambda: lab.uplink_down(a), "node-b", 1.5,
                        False)
            wait_for(lambda: not router.bfd_up("a"), 2, "the router's BFD session with A down")
            lab.uplink_up(a)
            lab.wait_sessions(names=("a",))
            poller.wait_served_by("node-a", 10, consecutive=3)
            wait_for(lambda: router.bgp_paths() == want, 5, lambda: f"paths {router.bgp_paths()}")
            print("uplink back: BGP + BFD up again, node-a serves")

            # A priority change replaces the kernel route (delete + add in one datagram): BIRD
            # must re-export it with the new MED, never withdraw it in between.
            mon_log = lab.dir / "router-monitor.log"
            monitor = lab.r.popen("ip", "-N", "monitor", "route", name="router-monitor", log=mon_log)
            wire_log = lab.dir / "router-bgp-wire.log"
            wire = lab.r.popen("tcpdump", "-tt", "-n", "-l", "-v", "-i", "ra", "tcp", "port", "179",
                               name="router-bgp-wire", log=wire_log)
            wait_for(lambda: "listening on" in wire.log_text(), 5, "tcpdump to start")
            time.sleep(0.3)
            t0 = time.monotonic()
            knob.write_text("-10\n")
            wait_for(lambda: router.bgp_paths().get(A_ADDR) == 116, 5,
                     lambda: f"router MED 116 for A (has {router.bgp_paths()})")
            ms = (time.monotonic() - t0) * 1000
            time.sleep(0.3)
            monitor.stop()
            monitor = None
            wire.stop()
            on_wire = wire_log.read_text()
            updates = bgp_updates(on_wire)
            announce = [t for t, kind, med in updates if kind == "update" and med == 116]
            assert announce, f"no UPDATE with MED 116 from A:\n{on_wire[-3000:]}"
            # With replace = "delete-first" BIRD sent a withdrawal 0.04-0.15 ms before the new
            # MED (two netlink notifications); add-first must send none.
            withdrawn = [t for t, kind, _ in updates if kind == "withdraw"]
            assert not withdrawn, f"BIRD withdrew the VIP during a MED change:\n{on_wire[-3000:]}"
            events = [line for line in mon_log.read_text().splitlines() if ROUTE_VIP in line]
            assert not any(B_ADDR in line for line in events), \
                f"the router's route left A during a MED change (BIRD withdrew it): {events}"
            assert router.bgp_paths() == {A_ADDR: 116, B_ADDR: 156}, router.bgp_paths()
            print(f"knob -10 on A: router has MED 116 for A after <= {ms:.0f} ms; on the wire an "
                  f"UPDATE with MED 116 and no withdrawal; the router's route to the VIP never "
                  f"left A ({len(events)} kernel events on the router)")
            s = switch_case(poller, "knob -60 on A (MED 166 > B's 156)",
                            lambda: knob.write_text("-60\n"), "node-b", 3, True)
            # A connection whose SYN went to A and whose next packet goes to B once the router
            # switched is reset by B (no state there): at most one or two at the switch.
            others = sum(v for k, v in s["counts"].items() if k not in ("node-a", "node-b"))
            assert others <= 2, f"failed requests while the MED moved: {s}"

            poller.stop()
            sigterm_vipds(vipd, router)
        except AssertionError:
            def bird_log(n):
                log = engines[n].dir / "bird.log"
                if log.exists():
                    print(f"---- BIRD {n} log ----\n{log.read_text()[-1500:]}")
            print_vipd_logs(vipd, extra=bird_log)
            print(f"---- router paths {router.bgp_paths()} next hops {router.nexthops()}")
            raise
        finally:
            if monitor:
                monitor.stop()
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
