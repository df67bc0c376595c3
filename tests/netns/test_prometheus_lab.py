#!/usr/bin/env python3
"""[netns] A real Prometheus scrapes both agents through a failover; every dashboard query and
every alert expression is evaluated; the split-brain alert fires on a partition and clears after
it heals.

Topology: A (198.18.0.11, priority 150) and B (198.18.0.12, priority 100) run nginx and vipd with
the recommended checks (nginx-pid weight 0, nginx-http weight -60); each vipd listens on
0.0.0.0:9555 inside its own namespace (the helpers use 127.0.0.1, Prometheus the node address).
Prometheus (Debian's binary, tools/get-prometheus.sh) runs in the client namespace C: scrape and
rule evaluation every 1 s, TSDB in the lab's temp dir, web on C's 127.0.0.1:9090; the scrape
config is packaging/prometheus/scrape-example.yml's (job vipd, honor_labels false), the rules are
packaging/prometheus/vipd-alerts.yml — loaded as shipped, except that VipdSplitBrain's `for`
is shortened to 1 s in a test copy (15 s in production rides out handover overlaps; the test
wants to see the alert within seconds).

Steps:
  1. steady state (A MASTER), both targets up
  2. failover: nginx stopped on A (pid check, weight 0) -> B MASTER; nginx back -> A preempts
  3. every panel query of packaging/grafana/vipd-dashboard.json, template variables set to
     "All" ($job, $node, $instance -> .*) and $__rate_interval -> 1m (covers the failover), is
     evaluated with /api/v1/query: status success and at least one finite sample. Each template
     variable's label_values() source is evaluated too (it must carry the label it reads).
  4. every alert expression of vipd-alerts.yml evaluates successfully; as they are normally
     empty (no alert), each one's *inner* expression — the same expression with the threshold
     comparisons removed (`X > 1` -> `X`, `absent(X)` -> `X`) — must return series: this proves
     every metric and label the rule reads exists under the names the scrape config produces
     (a rule on a misspelt metric or on `instance` instead of `exported_instance` would be
     silently empty forever).
  5. partition (nft in the LAN namespace drops IP protocol 112 on the bridge): both nodes
     MASTER; VipdSplitBrain goes firing. Heal: B steps down, the alert clears.
Set VIPD_RENDER_DASHBOARD=/tmp/vipd-dashboard.png to render the dashboard's panels over the
test's time range (tools/render-dashboard.py, needs python3-matplotlib) before the lab goes away.
Exit 0 pass, 1 fail, 77 skipped."""

import json
import math
import os
import re
import subprocess
import sys
import time

import yaml

from vipdlab import require_root_or_skip, wait_for
from vipdlab.obs import (ALERTS, API_PORT, DASHBOARD, REPO, Pair, Prometheus, heal,
                         partition, prometheus_bin_or_skip)
from vipdlab.vipd import Figures, run_test, state, step, wait_state
FIG = Figures("test_prometheus_lab")
VARS = {"$job": ".*", "$node": ".*", "$instance": ".*", "${datasource}": "",
        "$__rate_interval": "1m", "$__interval": "1s", "$__range": "5m"}


def substitute(expr: str) -> str:
    for k in sorted(VARS, key=len, reverse=True):
        expr = expr.replace(k, VARS[k])
    assert "$" not in expr, f"unsubstituted template variable in {expr!r}"
    return expr


def dashboard_queries() -> list[tuple[str, str]]:
    dash = json.loads(DASHBOARD.read_text())
    out = []
    for p in dash["panels"]:
        for t in p.get("targets", []):
            out.append((f"panel {p['title']!r} {t['refId']}", t["expr"]))
    return out


def variable_sources() -> list[tuple[str, str, str]]:
    """(variable, PromQL selector behind label_values(SELECTOR, LABEL), LABEL)."""
    dash = json.loads(DASHBOARD.read_text())
    out = []
    for v in dash["templating"]["list"]:
        if v["type"] != "query":
            continue
        q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
        m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", q.strip())
        assert m, f"variable {v['name']}: unexpected query {q!r}"
        out.append((v["name"], m.group(1), m.group(2)))
    return out


def _depth_map(expr: str) -> list[int]:
    depth, out = 0, []
    for ch in expr:
        if ch in "([{":
            depth += 1
        out.append(depth)
        if ch in ")]}":
            depth -= 1
    return out


COMPARISON = re.compile(r"\s*(==|!=|>=|<=|>|<)\s*(bool\s+)?-?[0-9][0-9.e+-]*\s*"
                        r"(?=$|\b(and|or|unless)\b)")


def inner_expression(expr: str) -> str:
    """The alert expression without its thresholds: comparisons with a number at the top level
    are removed, and a top-level absent(X) becomes X."""
    expr = " ".join(expr.split())
    while True:
        depth = _depth_map(expr)
        for m in COMPARISON.finditer(expr):
            if depth[m.start()] == 0:
                expr = (expr[:m.start()] + " " + expr[m.end():]).strip()
                break
        else:
            break
    expr = re.sub(r"\babsent\((.*)\)\s*$", r"\1", expr)
    return " ".join(expr.split())


def finite_samples(result: dict) -> int:
    n = 0
    for r in result.get("data", {}).get("result", []):
        v = r.get("value") or (r.get("values") or [[0, "NaN"]])[-1]
        if not math.isnan(float(v[1])):
            n += 1
    return n


def firing(prom, name):
    return [a for a in prom.alerts() if a["labels"].get("alertname") == name]


def body(lab, bindir):
    a, b = lab.a, lab.b
    # Rules as shipped, plus the test copy with VipdSplitBrain for: 1s.
    rules = yaml.safe_load(ALERTS.read_text())
    for g in rules["groups"]:
        for r in g["rules"]:
            if r.get("alert") == "VipdSplitBrain":
                FIG.text("splitbrain_for_shipped", r["for"])
                r["for"] = "1s"
    test_rules = lab.dir / "vipd-alerts-test.yml"
    test_rules.write_text(yaml.safe_dump(rules, sort_keys=False))
    r = subprocess.run([str(bindir / "promtool"), "check", "rules", str(test_rules)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"promtool check rules on the test copy: {r.stdout}{r.stderr}"

    step("1. A (150) and B (100), vipd on 0.0.0.0:9555 in each node; Prometheus in C")
    pair = Pair(lab, api_listen=lambda node: f"0.0.0.0:{API_PORT}")
    targets = [f"{n.addr}:{API_PORT}" for n in (a, b)]
    t_start = time.time()
    prom = Prometheus(lab, lab.c, bindir, targets, rule_files=[test_rules])
    wait_for(lambda: sorted(prom.targets_up()) == sorted(targets), 15,
             lambda: f"both targets up in Prometheus: {prom._get('/api/v1/targets', {})}")
    wait_for(lambda: finite_samples(prom.query('vipd_vrrp_state{state="MASTER"} == 1')) == 1, 10,
             "Prometheus to have scraped exactly one MASTER")
    assert not firing(prom, "VipdSplitBrain"), f"split brain before any fault: {prom.alerts()}"

    step("2. failover: stop nginx on A (pid check weight 0) -> B MASTER; nginx back -> A")
    time.sleep(2)
    t0 = time.monotonic()
    pair.ng["a"].terminate()
    wait_state(b, "MASTER", 5, pair.vd["b"])
    FIG.add("failover_b_master", (time.monotonic() - t0) * 1000, "upper bound, /status polled")
    wait_for(lambda: finite_samples(prom.query(
        f'vipd_vrrp_state{{instance="{b.addr}:{API_PORT}", state="MASTER"}} == 1')), 5,
        "Prometheus to see B as MASTER")
    time.sleep(3)
    pair.ng["a"] = lab.start_nginx(a)
    t1 = time.monotonic()
    wait_state(a, "MASTER", 10, pair.vd["a"])
    wait_state(b, "BACKUP", 5, pair.vd["b"])
    FIG.add("preempt_back_a_master", (time.monotonic() - t1) * 1000, "nginx restarted -> A MASTER")
    time.sleep(3)

    step("3. every dashboard query returns data")
    problems = []
    for var, selector, label in variable_sources():
        res = prom.query(substitute(selector))
        vals = {s["metric"].get(label) for s in res.get("data", {}).get("result", [])} - {None}
        print(f"  variable ${var}: label_values({selector}, {label}) -> {sorted(vals)}")
        if res.get("status") != "success" or not vals:
            problems.append(f"variable {var}: {selector} has no label {label}: {res}")
    queries = dashboard_queries()
    for what, expr in queries:
        res = prom.query(substitute(expr))
        n = finite_samples(res)
        print(f"  {what}: {n} series")
        if res.get("status") != "success" or n == 0:
            problems.append(f"{what}: {expr}\n    -> {json.dumps(res)[:400]}")
    FIG.text("dashboard_queries", f"{len(queries) - sum(1 for p in problems if p.startswith('panel'))}"
             f"/{len(queries)}")
    assert not problems, "dashboard queries without data:\n  " + "\n  ".join(problems)

    step("4. every alert expression evaluates; its inner expression returns series")
    n_rules = 0
    for g in rules["groups"]:
        for rule in g["rules"]:
            n_rules += 1
            full = prom.query(rule["expr"])
            inner = inner_expression(rule["expr"])
            res = prom.query(inner)
            n = len(res.get("data", {}).get("result", []))
            print(f"  {rule['alert']}: expr {full.get('status')} "
                  f"({len(full.get('data', {}).get('result', []))} series); inner {inner!r} -> {n}")
            if full.get("status") != "success":
                problems.append(f"{rule['alert']}: {rule['expr']} -> {full}")
            if res.get("status") != "success" or n == 0 or inner == " ".join(rule["expr"].split()):
                problems.append(f"{rule['alert']}: inner {inner!r} -> {json.dumps(res)[:300]}")
    assert not problems, "alert expressions:\n  " + "\n  ".join(problems)
    FIG.text("alert_rules_checked", str(n_rules))
    active = [x["labels"]["alertname"] for x in prom.alerts()]
    print(f"  active alerts now: {active}")
    assert "VipdSplitBrain" not in active, prom.alerts()

    step("5. partition: drop VRRP between A and B (nft, bridge) -> both MASTER -> VipdSplitBrain")
    t_part = time.monotonic()
    partition(lab)
    wait_state(b, "MASTER", 5, pair.vd["b"])
    assert state(a) == "MASTER", f"A is {state(a)} during the partition"
    FIG.add("partition_b_master", (time.monotonic() - t_part) * 1000)
    fired = wait_for(lambda: [x for x in firing(prom, "VipdSplitBrain") if x["state"] == "firing"],
                     20, lambda: f"VipdSplitBrain to fire; alerts {prom.alerts()}")
    t_fire = time.monotonic()
    FIG.add("splitbrain_alert_firing", (t_fire - t_part) * 1000,
            "from the partition: takeover + scrape 1s + eval 1s + for 1s")
    print(f"  firing: {fired[0]['labels']} value {fired[0]['value']}")
    assert fired[0]["labels"].get("exported_instance") == "web", fired
    assert float(fired[0]["value"]) == 2, fired
    time.sleep(2)

    step("5b. heal: B hears A again and steps down; the alert clears")
    t_heal = time.monotonic()
    heal(lab)
    wait_state(b, "BACKUP", 5, pair.vd["b"])
    FIG.add("heal_b_backup", (time.monotonic() - t_heal) * 1000)
    wait_for(lambda: not firing(prom, "VipdSplitBrain"), 20,
             lambda: f"VipdSplitBrain to clear; alerts {prom.alerts()}")
    FIG.add("splitbrain_alert_cleared", (time.monotonic() - t_heal) * 1000, "from the heal")
    assert state(a) == "MASTER", f"A is {state(a)} after the heal"
    wait_for(lambda: lab.vip_holders() == ["node-a"], 3, "the VIP on node-a only after the heal")
    time.sleep(3)
    t_end = time.time()

    out = os.environ.get("VIPD_RENDER_DASHBOARD")
    if out:
        step(f"rendering the dashboard to {out}")
        r = subprocess.run([sys.executable, str(REPO / "tools" / "render-dashboard.py"),
                            "--netns", lab.c.ns, "--url", f"http://{prom.listen}",
                            "--start", f"{t_start:.0f}", "--end", f"{t_end:.0f}", "--out", out],
                           capture_output=True, text=True, timeout=300)
        print(r.stdout + r.stderr)
        assert r.returncode == 0, f"render-dashboard.py rc {r.returncode}"
    prom.stop()


def main() -> int:
    require_root_or_skip(need=("nginx", "curl", "vipd", "nft"))
    bindir = prometheus_bin_or_skip()
    return run_test(lambda lab: body(lab, bindir), FIG)


if __name__ == "__main__":
    sys.exit(main())
