"""Helpers for the observability tests (test_metrics_promtool.py, test_prometheus_lab.py,
test_drain.py, test_status_contract.py). Not a test itself (ctest only runs ``test_*.py``).

    prometheus_bin_or_skip() -> Path          # tools/get-prometheus.sh (apt-get download +
                                              #   dpkg-deb -x, cached); exit 77 if unavailable
    node_config(node, priority, nginx, ...)   # vipd TOML: the nginx pid (weight 0) + http
                                              #   (weight -60) checks, own state_dir, token file
    start_pair(lab, ...) -> Pair              # nginx + vipd on A (150) and B (100), A MASTER
    Prometheus(lab, node, targets, rules)     # a real Prometheus server inside a lab node
        .query(expr) -> dict  .query_range(expr, start, end, step)  .alerts() -> [dict]
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from vipdlab import Lab, Node, Proc, skip, vipd_config, wait_for
from vipdlab.vipd import wait_state

REPO = Path(os.environ.get("VIPD_SOURCE") or Path(__file__).resolve().parents[2])
ALERTS = REPO / "packaging" / "prometheus" / "vipd-alerts.yml"
DASHBOARD = REPO / "packaging" / "grafana" / "vipd-dashboard.json"
API_PORT = 9555


def prometheus_bin_or_skip() -> Path:
    """The directory holding Debian's promtool and prometheus binaries (fetched and unpacked on
    first use, never installed: the package's postinst would start a daemon). Exit 77 when apt
    cannot fetch the package."""
    script = REPO / "tools" / "get-prometheus.sh"
    try:
        r = subprocess.run(["sh", str(script)], capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        skip("tools/get-prometheus.sh timed out (apt mirror unreachable?)")
    if r.returncode != 0:
        skip(f"cannot get promtool/prometheus ({script}): {r.stderr.strip()[-500:]}")
    path = Path(r.stdout.strip().splitlines()[-1])
    for exe in ("promtool", "prometheus"):
        if not os.access(path / exe, os.X_OK):
            skip(f"{path / exe} is missing after tools/get-prometheus.sh")
    return path


def node_config(node: Node, priority: int, nginx, api_listen: str = f"127.0.0.1:{API_PORT}",
                state_dir: Path | None = None, token_file: Path | None = None,
                advert: str = "100ms", preempt: bool = True, group_size: int = 0,
                http_check: bool = True) -> str:
    """A vipd config with the recommended nginx pair of checks: `nginx-pid` (pidfile, weight 0:
    nginx gone -> FAULT) and `nginx-http` (/healthz every 200 ms, weight -60)."""
    track = '{ check = "nginx-pid", weight = 0 }'
    extra = f'[[check]]\nname = "nginx-pid"\ntype = "pid"\npidfile = "{nginx.pidfile}"\n'
    if http_check:
        track += ', { check = "nginx-http", weight = -60 }'
        extra += ('\n[[check]]\nname = "nginx-http"\ntype = "http"\n'
                  'url = "http://127.0.0.1/healthz"\ninterval = "200ms"\ntimeout = "100ms"\n'
                  'rise = 2\nfall = 2\n')
    agent = ""
    if state_dir is not None:
        agent += f'state_dir = "{state_dir}"\n'
    if token_file is not None:
        agent += f'api_token_file = "{token_file}"\n'
    return vipd_config(node, priority=priority, advert=advert, preempt=preempt,
                       api_listen=api_listen, group_size=group_size,
                       extra_instance=f"track = [ {track} ]", extra=extra, extra_agent=agent)


class Pair:
    """nginx + vipd (with checks) on A (priority 150) and B (100); A ends up MASTER."""

    def __init__(self, lab: Lab, api_listen=None, state_dirs: bool = True,
                 token_file: Path | None = None, advert: str = "100ms"):
        self.lab = lab
        self.ng = {"a": lab.start_nginx(lab.a), "b": lab.start_nginx(lab.b)}
        self.listen = api_listen or (lambda node: f"127.0.0.1:{API_PORT}")
        self.state_dir = {n: (lab.dir / f"state-{n}") for n in ("a", "b")} if state_dirs else {}
        self.token_file = token_file
        self.advert = advert
        self.vd: dict[str, Proc] = {}
        self.start("a", 150)
        # A answers before B starts, so A wins the start-up election (as test_vipd_failover).
        wait_for(lambda: self.vd["a"].expect_alive() or self.status("a"), 10,
                 "vipd on node-a to answer /status")
        self.start("b", 100)
        wait_state(lab.a, "MASTER", 10, self.vd["a"])
        wait_state(lab.b, "BACKUP", 10, self.vd["b"],
                   extra=lambda i: (i.get("master") or {}).get("address") == lab.a.addr)

    def node(self, n: str) -> Node:
        return self.lab.nodes[n]

    def config(self, n: str, priority: int) -> str:
        node = self.node(n)
        return node_config(node, priority, self.ng[n], api_listen=self.listen(node),
                           state_dir=self.state_dir.get(n), token_file=self.token_file,
                           advert=self.advert)

    def start(self, n: str, priority: int) -> Proc:
        self.vd[n] = self.lab.start_vipd(self.node(n), self.config(n, priority))
        return self.vd[n]

    def status(self, n: str) -> dict | None:
        return self.node(n).http_json(f"http://127.0.0.1:{API_PORT}/status")


def nft(node_or_ns, script: str) -> None:
    """Run an nft script (``nft -f -``) inside a namespace (a Node or a namespace name)."""
    ns = node_or_ns.ns if isinstance(node_or_ns, Node) else node_or_ns
    r = subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=script,
                       capture_output=True, text=True, timeout=10)
    if r.returncode != 0:
        raise RuntimeError(f"nft in {ns}: {r.stderr.strip()}\n{script}")


PARTITION = """\
table bridge vipdtest_partition {
    chain forward {
        type filter hook forward priority 0; policy accept;
        ip protocol 112 drop
    }
}
"""


def partition(lab: Lab) -> None:
    """Drop every VRRP packet (IP protocol 112) the lab bridge would forward: A and B stop
    hearing each other; everything else (the client, scrapes) still flows."""
    nft(lab.lan, PARTITION)


def heal(lab: Lab) -> None:
    nft(lab.lan, "delete table bridge vipdtest_partition\n")


class Prometheus:
    """A Prometheus server (Debian's binary, unpacked by tools/get-prometheus.sh) running in a lab
    node: TSDB in the lab's temp dir, web on 127.0.0.1:9090 of that node, 1 s scrape and rule
    evaluation. Queries go through curl inside the node (the node's loopback is not the
    test's)."""

    def __init__(self, lab: Lab, node: Node, bindir: Path, targets: list[str],
                 rule_files: list[Path] = (), listen: str = "127.0.0.1:9090"):
        self.lab, self.node, self.listen = lab, node, listen
        self.dir = lab.dir / f"prometheus-{node.name}"
        (self.dir / "data").mkdir(parents=True, exist_ok=True)
        cfg = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "900ms",
                       "evaluation_interval": "1s"},
            "rule_files": [str(p) for p in rule_files],
            # As packaging/prometheus/scrape-example.yml: job vipd, honor_labels false.
            "scrape_configs": [{"job_name": "vipd", "honor_labels": False,
                                "static_configs": [{"targets": targets}]}],
        }
        self.config = self.dir / "prometheus.yml"
        self.config.write_text(json.dumps(cfg, indent=2))  # JSON is YAML
        self.proc = node.popen(str(bindir / "prometheus"), f"--config.file={self.config}",
                               f"--storage.tsdb.path={self.dir / 'data'}",
                               f"--web.listen-address={listen}", "--log.level=warn",
                               name=f"prometheus@{node.label}", log=self.dir / "prometheus.log")
        wait_for(lambda: self.proc.expect_alive() or self._ready(), 30,
                 lambda: f"Prometheus in {node.label} to be ready; log: {self.proc.log_text()[-800:]}")

    def _ready(self) -> bool:
        code, _ = self.node.http_get(f"http://{self.listen}/-/ready", timeout=1)
        return code == 200

    def _get(self, path: str, params: dict[str, str]) -> dict:
        argv = ["curl", "-s", "-m", "5", "-G", f"http://{self.listen}{path}"]
        for k, v in params.items():
            argv += ["--data-urlencode", f"{k}={v}"]
        r = self.node.run(*argv, check=False, timeout=10)
        try:
            return json.loads(r.stdout)
        except ValueError:
            return {"status": "error", "error": f"curl rc {r.returncode}: {r.stdout[:300]!r}"}

    def query(self, expr: str, at: float | None = None) -> dict:
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        return self._get("/api/v1/query", params)

    def query_range(self, expr: str, start: float, end: float, step: float) -> dict:
        return self._get("/api/v1/query_range", {"query": expr, "start": f"{start:.3f}",
                                                   "end": f"{end:.3f}", "step": f"{step:g}"})

    def targets_up(self) -> list[str]:
        d = self._get("/api/v1/targets", {})
        return [t["labels"]["instance"] for t in d.get("data", {}).get("activeTargets", [])
                if t.get("health") == "up"]

    def alerts(self) -> list[dict]:
        return self._get("/api/v1/alerts", {}).get("data", {}).get("alerts", [])

    def stop(self) -> None:
        self.proc.stop(timeout=10)
