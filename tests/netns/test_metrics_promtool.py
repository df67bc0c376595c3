#!/usr/bin/env python3
"""[netns] /metrics of a live vipd passes `promtool check metrics`; the shipped alert rules pass
`promtool check rules` (DESIGN.md §7: "Prometheus text format, valid under promtool").

A and B run nginx and vipd with the recommended checks (nginx-pid weight 0, nginx-http weight
-60). nginx is stopped on the master A so that B takes over: then every metric family of
DESIGN.md §7 has series (the failover histogram only gets one from a takeover). /metrics of both
nodes is fetched live and fed to promtool: exit 0 and no output (no lint). promtool comes from
Debian's prometheus package, unpacked by tools/get-prometheus.sh (never installed).
Exit 0 pass, 1 fail, 77 skipped."""

import subprocess
import sys
import time

from vipdlab import require_root_or_skip
from vipdlab.obs import ALERTS, Pair, prometheus_bin_or_skip
from vipdlab.vipd import Figures, metrics, run_test, step, wait_state
FIG = Figures("test_metrics_promtool")

# DESIGN.md §7, every family (histograms are checked through their _bucket series).
FAMILIES = [
    "vipd_vrrp_state", "vipd_vrrp_priority", "vipd_vrrp_transitions_total",
    "vipd_vrrp_adverts_sent_total", "vipd_vrrp_adverts_received_total",
    "vipd_vrrp_packets_dropped_total", "vipd_vrrp_master_last_seen_seconds", "vipd_vip_present",
    "vipd_vip_operations_total", "vipd_garp_sent_total", "vipd_connections_reset_total",
    "vipd_connection_reset_failures_total", "vipd_check_up",
    "vipd_check_duration_seconds", "vipd_check_runs_total", "vipd_failover_duration_seconds",
    "vipd_config_reload_success", "vipd_config_last_reload_timestamp_seconds", "vipd_build_info",
]


def promtool(bindir, *args, stdin=None):
    r = subprocess.run([str(bindir / "promtool"), *args], input=stdin, capture_output=True,
                       text=True, timeout=60)
    return r.returncode, (r.stdout + r.stderr).strip()


def families(text: str) -> set[str]:
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            names.add(line.split()[2])
    return names


def body(lab, bindir):
    step("promtool check rules packaging/prometheus/vipd-alerts.yml")
    rc, out = promtool(bindir, "check", "rules", str(ALERTS))
    print("  " + out.replace("\n", "\n  "))
    assert rc == 0 and "SUCCESS" in out, f"promtool check rules: rc {rc}: {out}"

    step("A (150) and B (100) with nginx checks; stop nginx on A: B takes over")
    pair = Pair(lab)
    t0 = time.monotonic()
    pair.ng["a"].terminate()
    wait_state(lab.b, "MASTER", 5, pair.vd["b"],
               extra=lambda i: i["counters"]["failovers"] >= 1)
    FIG.add("takeover_after_nginx_stop", (time.monotonic() - t0) * 1000, "upper bound, polled")
    wait_state(lab.a, "FAULT", 5, pair.vd["a"])
    time.sleep(0.5)  # a few more check runs and adverts into the counters

    union = set()
    for node in (lab.a, lab.b):
        step(f"promtool check metrics < {node.label}'s live /metrics")
        text = metrics(node)
        assert text, f"{node.label}: /metrics did not answer 200"
        fams = families(text)
        union |= fams
        rc, out = promtool(bindir, "check", "metrics", stdin=text)
        FIG.text(f"{node.label}_families", str(len(fams)))
        FIG.text(f"{node.label}_samples",
                 str(sum(1 for ln in text.splitlines() if ln and not ln.startswith("#"))))
        assert rc == 0 and out == "", \
            f"promtool check metrics on {node.label}'s /metrics: rc {rc}, output:\n{out}\n" \
            f"---- /metrics ----\n{text[:3000]}"
        print(f"  clean: rc 0, no lint output ({len(fams)} families)")
    missing = [f for f in FAMILIES if f not in union]
    assert not missing, f"metric families of DESIGN.md §7 missing from /metrics: {missing}"
    b_missing = [f for f in FAMILIES if f not in families(metrics(lab.b))]
    assert not b_missing, f"B (which took over) lacks families: {b_missing}"


def main() -> int:
    require_root_or_skip(need=("nginx", "curl", "vipd"))
    bindir = prometheus_bin_or_skip()
    return run_test(lambda lab: body(lab, bindir), FIG)


if __name__ == "__main__":
    sys.exit(main())
