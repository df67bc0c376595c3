#!/usr/bin/env python3
"""[netns] Route mode (issue 16) with the real binary, no routing daemon: the kernel routes vipd
keeps are what FRR's `ip import-table` or BIRD's `protocol kernel` would announce.

One node (namespace prefix rt-). Two file checks drive the weighting: `knob` (weight 1: its number
is a priority delta) and `maint` (weight 0: non-zero puts the instance in fault). Asserts, through
`ip route` and /status and /metrics:
  healthy → exactly one route `198.19.0.100 dev lo proto 99 metric 106` in table 198 (256 - 150),
  plus `local 198.19.0.100 dev lo proto 99` in the local table and no address on lo;
  knob -60 → the same single route with metric 166 (replaced, never two);
  maint 1 → withdrawn (the local route stays), /status says why; maint 0 → back;
  SIGKILL → the route stays (nobody withdraws it); restart → swept and reinstalled, still one;
  SIGKILL + `vipd cleanup` (systemd's ExecStopPost) → table 198 and the local route emptied;
  restart, then two reloads under `ip monitor route` (every kernel change, replayed — not
  samples): a VIP added in table 198, then table 198 → 199 and protocol 99 → 97 with the added VIP
  removed: the staying VIP never has zero routes, its local route is never deleted, the removed
  VIP is withdrawn; SIGTERM → exit 0, table 199 empty, local route gone. Exit 0/1/77."""

import signal
import sys
import time

from vipdlab import Lab, require_root_or_skip, require_vipd_or_skip, run_main, vipd_bin, wait_for
from vipdlab.route import (ROUTE_VIP, local_route, replay_route_events, route_config,
                           table_routes)

VIP = ROUTE_VIP
VIP2 = "198.19.0.101"
API = "http://127.0.0.1:9555"


def one_route(node, metric: int):
    routes = table_routes(node)
    if routes == [f"{VIP} dev lo proto 99 scope 253 metric {metric}"]:
        return routes
    return None


def route_view(node):
    status = node.http_json(f"{API}/status")
    if not status or not status.get("route_instances"):
        return None
    return status["route_instances"][0]


def main() -> int:
    require_root_or_skip(need=("vipd", "curl"))
    require_vipd_or_skip()
    with Lab(prefix=f"rt-{int(time.time()) % 100000}") as lab:
        a = lab.a
        (lab.dir / "knob").write_text("0\n")
        (lab.dir / "maint").write_text("0\n")
        text = route_config(lab.dir)
        vipd = lab.start_vipd(a, text)
        try:
            wait_for(lambda: one_route(a, 106), 10, lambda: f"route metric 106, have {table_routes(a)}")
            assert local_route(a), "no local route for the VIP"
            assert VIP not in a.run("ip", "-4", "addr", "show", "dev", "lo").stdout, "VIP is an address on lo"
            view = wait_for(lambda: (v := route_view(a)) and v["installed"] and v, 5, "/status installed")
            assert view["metric"] == 106 and view["table"] == 198 and view["protocol"] == 99, view
            assert view["vips"][0]["local"] is True, view
            print(f"healthy: {table_routes(a)}; /status reason: {view['reason']}")

            (lab.dir / "knob").write_text("-60\n")
            wait_for(lambda: one_route(a, 166), 5, lambda: f"route metric 166, have {table_routes(a)}")
            view = wait_for(lambda: (v := route_view(a)) and v["metric"] == 166 and v, 5, "/status metric 166")
            assert view["counters"]["replaces"] >= 1, view
            print(f"priority 90: {table_routes(a)}")

            (lab.dir / "maint").write_text("1\n")
            wait_for(lambda: table_routes(a) == [], 5, lambda: f"withdrawal, have {table_routes(a)}")
            assert local_route(a), "the local route went with the withdrawal"
            view = wait_for(lambda: (v := route_view(a)) and not v["installed"] and v, 5, "/status withdrawn")
            assert "maint" in view["reason"], view
            metrics = a.run("curl", "-s", f"{API}/metrics").stdout
            assert 'vipd_route_installed{instance="web"} 0' in metrics, "metrics: installed not 0"
            print(f"fault: withdrawn; /status reason: {view['reason']}")

            (lab.dir / "maint").write_text("0\n")
            wait_for(lambda: one_route(a, 166), 5, lambda: f"route back, have {table_routes(a)}")

            vipd.kill()
            time.sleep(0.5)
            assert one_route(a, 166), f"SIGKILL: the route should stay, have {table_routes(a)}"
            print("SIGKILL: the route stays until vipd is restarted")
            vipd = lab.start_vipd(a, text)
            wait_for(lambda: (v := route_view(a)) and v["installed"] and v, 10, "restarted instance installed")
            assert one_route(a, 166), f"after restart: {table_routes(a)}"
            assert route_view(a)["counters"]["swept"] >= 1, route_view(a)

            vipd.kill()
            r = a.run(vipd_bin(), "cleanup", "-c", str(vipd.config), check=False)
            assert r.returncode == 0, f"vipd cleanup rc {r.returncode}: {r.stdout} {r.stderr}"
            assert "2 route(s) removed" in r.stdout, r.stdout
            assert table_routes(a) == [], f"cleanup left {table_routes(a)}"
            assert not local_route(a), "cleanup left the local route"
            print(f"SIGKILL + vipd cleanup: {r.stdout.strip().splitlines()[-1]}")

            vipd = lab.start_vipd(a, text)
            wait_for(lambda: one_route(a, 166), 10, lambda: f"restart, have {table_routes(a)}")
            mon_log = lab.dir / "route-monitor.log"
            monitor = a.popen("ip", "-N", "monitor", "route", name="ip-monitor", log=mon_log)
            time.sleep(0.3)  # subscribed before the first change
            vipd.config.write_text(route_config(lab.dir, vips=(VIP, VIP2)))
            vipd.signal(signal.SIGHUP)
            wait_for(lambda: table_routes(a, VIP2) == [f"{VIP2} dev lo proto 99 scope 253 metric 166"],
                     5, lambda: f"added VIP, have {table_routes(a, VIP2)}")
            assert one_route(a, 166), f"reload 1: {table_routes(a)}"
            vipd.config.write_text(route_config(lab.dir, table=199, protocol=97))
            vipd.signal(signal.SIGHUP)
            wait_for(lambda: table_routes(a, table=199) == [f"{VIP} dev lo proto 97 scope 253 metric 166"],
                     5, lambda: f"table 199, have {table_routes(a, table=199)}")
            wait_for(lambda: table_routes(a) == [] and table_routes(a, VIP2) == [], 5,
                     lambda: f"table 198 emptied, have {table_routes(a)} {table_routes(a, VIP2)}")
            assert local_route(a, protocol=97) and not local_route(a, VIP2, protocol=99), "local routes"
            time.sleep(0.2)
            monitor.stop()
            lines = mon_log.read_text().splitlines()
            counts = replay_route_events(lines, {(198, 166, "99")})
            assert counts and min(counts) >= 1, f"the staying VIP had no route: {counts}\n{lines}"
            assert not any(l.startswith(f"Deleted 2 {VIP} ") for l in lines), lines
            assert any(l.startswith(f"Deleted {VIP2} ") for l in lines), lines
            print(f"reloads (VIP added; table 198->199, protocol 99->97, VIP removed): routes of "
                  f"{VIP} after each of its {len(counts)} kernel changes: {counts}")

            vipd.signal(signal.SIGTERM)
            rc = vipd.wait_exit(timeout=10)
            assert rc == 0, f"vipd exited {rc} after SIGTERM"
            assert table_routes(a, table=199) == [], f"SIGTERM: routes left {table_routes(a, table=199)}"
            assert not local_route(a, protocol=97), "SIGTERM: local route left"
            print("SIGTERM: routes withdrawn, local route removed, exit 0")
        except AssertionError:
            print(f"---- vipd log ----\n{vipd.log_text()[-3000:]}")
            raise
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
