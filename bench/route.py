#!/usr/bin/env python3
"""Route-mode failover bench (issue 16): vipd route mode with a node routing engine (FRR, BIRD 2,
ExaBGP fed by tools/exabgp-kernel-routes) against ExaBGP's healthcheck (Debian's exabgp 4.2, at 1 s and
0.1 s check interval, rise/fall 1, curl -m 0.5), on the routed lab (vipdlab.routed: FRR router
with BFD 50 ms x 3 and hold 3 s, nodes A 198.18.5.10 and B 198.18.6.10 running nginx, client
198.18.7.50 behind the router). A bench, not a test: it prints MISSes, it never fails on them.

The client requests http://198.19.0.100/ every 10 ms, open loop (a new TCP connection each, 1 s
timeout: a request with no answer by then is "hung"). Switch time = from the action (t0) to the
start of the first request answered by the other node and followed by 4 more answered by it
(10 ms granularity). Cases, each run after a random 0-1 s wait (seeded) so that ExaBGP's check
phase is random:
  1        nginx on A killed (SIGKILL to its master and workers) -> served by B
  3        nginx on A started again -> served by A (from the process start)
  2        A's uplink down (bridge port; the router keeps its carrier) -> B: BFD where the engine
           has it, the 3 s hold timer otherwise (ExaBGP has no BFD); restored afterwards
  floor    (kernel-route engines) vipd on A SIGKILLed, then A's table-198 route deleted by hand
           -> B, from the kernel's change (ip monitor): the engine + the router; then re-added by hand (floor-add) -> A; then vipd is
           started again: its start-up sweep and reinstall, and what the client saw (restart)
  killed   (vipd) vipd on A SIGKILLed and nginx on A stopped: the route stays, clients to A
           fail; vipd started again (a supervisor's restart) -> served by B: from the restart
For vipd the breakdown of case 1 is printed: nginx's exit -> A's route deleted (vipd, from
`ip -ts monitor route` in A) -> the router's route changed (A's engine + the router) -> client.

  sudo VIPD_BIN=build-rel/vipd PYTHONPATH=pylab python3 bench/route.py --runs 5
Options: --runs N, --engines frr,bird,exabgp (default; also frr:wqN), --exabgp 1,0.1 (intervals; "" for none), --cases
1,3,2,floor,killed, --poll-ms 10, --seed S, --out FILE (default bench/results/route-latest.txt;
the raw figures go next to it as .json)."""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import random
import signal
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "pylab"))

from vipdlab import require_root_or_skip, require_vipd_or_skip, wait_for  # noqa: E402
from vipdlab.exabgpengine import ExabgpEngine, ExabgpKernelEngine, exabgp_available  # noqa: E402
from vipdlab.openloop import OpenLoopPoller  # noqa: E402
from vipdlab.route import ROUTE_VIP  # noqa: E402
from vipdlab.routed import (FrrEngine, RoutedLab, frr_available,  # noqa: E402
                            routed_vipd_config)

TIMEOUT = 1.0
A_ADDR, B_ADDR = "198.18.5.10", "198.18.6.10"
TARGETS = {"1": 80, "2": 250, "3": 100}
BREAKDOWN = ("nginx_ms", "vipd_ms", "detect_ms", "engine_ms", "router_ms")


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def engine_class(name: str):
    """A node engine factory (lab, node) -> RouteEngine for --engines: frr (zebra work-queue 0),
    frr:wqN (zebra work-queue N ms; FRR's default is 10), bird (vipdlab.birdengine), exabgp
    (vipd's kernel routes fed to ExaBGP by tools/exabgp-kernel-routes)."""
    if name == "frr":
        return FrrEngine
    if name.startswith("frr:wq"):
        return lambda lab, node: FrrEngine(lab, node, work_queue=int(name[6:]))
    if name == "exabgp":
        return ExabgpKernelEngine
    if name == "bird":
        try:
            return importlib.import_module("vipdlab.birdengine").BirdEngine
        except (ImportError, AttributeError) as e:
            raise RuntimeError(f"no BIRD engine in vipdlab ({e})")
    raise RuntimeError(f"unknown engine {name}")


class RouteMonitor:
    """``ip -ts monitor route`` in a namespace: timestamps (monotonic) of lines about the VIP."""

    def __init__(self, node):
        self.node = node
        self.proc = node.popen("ip", "-ts", "monitor", "route", name=f"ipmon@{node.label}",
                               log=node.lab.dir / f"ipmon-{node.name}.log")
        self.offset = time.time() - time.monotonic()
        time.sleep(0.2)

    def events(self, since: float, needle: str = ROUTE_VIP) -> list[tuple[float, str]]:
        out = []
        for line in self.proc.log_text().splitlines():
            if not line.startswith("[") or needle not in line:
                continue
            stamp, _, rest = line[1:].partition("] ")
            try:
                t = datetime.datetime.fromisoformat(stamp).timestamp() - self.offset
            except ValueError:
                continue
            if t >= since:
                out.append((t, rest))
        return out

    def first(self, since: float, pred) -> float | None:
        for t, rest in self.events(since):
            if pred(rest):
                return t
        return None


class UpdateWatch:
    """tcpdump in the router on A's link: wall-clock times of BGP UPDATE messages from A."""

    def __init__(self, lab):
        bpf = (f"src host {A_ADDR} and tcp port 179 and "
               "tcp[((tcp[12:1] & 0xf0) >> 2) + 18:1] = 2")
        self.proc = lab.r.popen("tcpdump", "-tt", "-n", "-l", "-i", "ra", bpf,
                                name="tcpdump-updates@router", log=lab.dir / "updates.log")
        self.offset = time.time() - time.monotonic()
        wait_for(lambda: "listening on" in self.proc.log_text(), 5, "tcpdump to start")

    def first(self, since: float) -> float | None:
        for line in self.proc.log_text().splitlines():
            try:
                t = float(line.split()[0]) - self.offset
            except (ValueError, IndexError):
                continue
            if t >= since:
                return t
        return None


class Speaker:
    """One side of the comparison on its own routed lab."""

    def __init__(self, kind: str, arg, poll: float, quiet: bool = True):
        self.kind, self.arg, self.poll = kind, arg, poll
        self.name = f"vipd+{arg}" if kind == "vipd" else f"exabgp {arg:g}s"
        self.lab = RoutedLab(prefix=f"rl-b{os.getpid() % 10000}", quiet=quiet)
        self.vipd = {}

    def __enter__(self):
        lab = self.lab.__enter__()
        self.nginx = {"a": lab.start_nginx(lab.a), "b": lab.start_nginx(lab.b)}
        if self.kind == "vipd":
            cls = engine_class(self.arg)
            engines = [cls(lab, lab.a), cls(lab, lab.b)]
        else:
            engines = [ExabgpEngine(lab, lab.a, 150, self.arg), ExabgpEngine(lab, lab.b, 100, self.arg)]
        self.bfd = engines[0].bfd
        lab.start_router(bfd=self.bfd)
        for e in engines:
            lab.start_engine(e)
        lab.wait_sessions(timeout=30)
        if self.kind == "vipd":
            self.cfg = {"a": routed_vipd_config(lab, lab.a, 150), "b": routed_vipd_config(lab, lab.b, 100)}
            for n in ("a", "b"):
                self.vipd[n] = lab.start_vipd(lab.node(n), self.cfg[n])
        wait_for(lambda: lab.router.bgp_paths() == {A_ADDR: 106, B_ADDR: 156}, 20,
                 lambda: f"router paths A 106, B 156 (has {lab.router.bgp_paths()})")
        self.mon_a = RouteMonitor(lab.a)
        self.mon_r = RouteMonitor(lab.r)
        self.updates = UpdateWatch(lab)
        self.poller = OpenLoopPoller(lab.c, ROUTE_VIP, interval=self.poll, timeout=TIMEOUT)
        self.poller.switch("node-a", time.monotonic(), 10)
        return self

    def __exit__(self, *exc):
        self.lab.__exit__(*exc)

    def session_drops(self) -> int:
        """How often the router's BGP session with A went down (FRR's connectionsDropped)."""
        data = self.lab.router.frr.json(f"show bgp neighbors {A_ADDR} json") or {}
        return int((data.get(A_ADDR) or {}).get("connectionsDropped", 0))

    # -- helpers ---------------------------------------------------------------------------
    def measure(self, t0: float, label: str, limit: float) -> dict:
        s = self.poller.switch(label, t0, limit)
        time.sleep(TIMEOUT + 0.05)  # requests in flight finish (answer or time out)
        w = self.poller.window(t0, s.start)
        return {"ms": (s.start - t0) * 1000, "failed": w["failed"], "hung": w["hung"],
                "t_switch": s.start}

    def served_a(self, limit: float = 20) -> None:
        self.poller.switch("node-a", time.monotonic(), limit)

    # -- cases -----------------------------------------------------------------------------
    def case1(self) -> dict:
        lab = self.lab
        nginx = self.nginx["a"]
        t0 = time.monotonic()
        nginx._signal_group(signal.SIGKILL)  # killed: master and workers at once
        while not nginx._exited_unreaped():
            time.sleep(0.001)
        t_exit = time.monotonic()
        nginx.wait_exit(timeout=5)
        r = self.measure(t0, "node-b", 10)
        self.breakdown(r, t0, "Deleted", B_ADDR)
        r["nginx_ms"] = (t_exit - t0) * 1000
        r["_lab"] = lab.prefix
        return r

    def breakdown(self, r: dict, t0: float, change: str, new_hop: str) -> None:
        """Where the time went: t0 -> A's table-198 route changed (vipd; absent for ExaBGP) ->
        A's UPDATE on the wire (A's engine) -> the router's kernel route changed (the router)."""
        t_upd = self.updates.first(t0)
        t_rtr = self.mon_r.first(t0, lambda s: new_hop in s and "Deleted" not in s)
        t_node = None
        if self.kind == "vipd":
            deleted = change == "Deleted"
            t_node = self.mon_a.first(t0, lambda s: s.startswith("Deleted") == deleted
                                      and "table 198" in s)
        if t_upd and t_rtr:
            if t_node:
                r["vipd_ms"] = (t_node - t0) * 1000
                r["engine_ms"] = (t_upd - t_node) * 1000
            else:
                r["detect_ms"] = (t_upd - t0) * 1000
            r["router_ms"] = (t_rtr - t_upd) * 1000

    def case3(self) -> dict:
        starts = []
        self.nginx["a"] = self.lab.start_nginx(self.lab.a, on_started=lambda p: starts.append(time.monotonic()))
        r = self.measure(starts[0], "node-a", 10)
        self.breakdown(r, starts[0], "Added", A_ADDR)
        # nginx writes its pidfile once it listens: its mtime is when vipd's pid check can see it
        mtime = self.nginx["a"].pidfile.stat().st_mtime - self.updates.offset
        r["nginx_ms"] = (mtime - starts[0]) * 1000
        return r

    def case2(self) -> dict:
        lab = self.lab
        lab.wait_sessions(timeout=30, names=("a",))  # a spurious drop (BFD under load) heals first
        self.served_a(30)
        t0 = time.monotonic()
        lab.uplink_down(lab.a)
        r = self.measure(t0, "node-b", 15)
        lab.uplink_up(lab.a)
        lab.wait_sessions(timeout=30, names=("a",))
        self.served_a(30)
        return r

    def floor(self) -> dict[str, dict]:
        lab, a = self.lab, self.lab.a
        self.vipd["a"].kill()
        # t0 = the kernel's change (ip monitor in A), not the start of `ip netns exec ip ...`
        t0 = time.monotonic()
        a.run("ip", "route", "del", ROUTE_VIP, "table", "198", "proto", "99")
        t0 = self.mon_a.first(t0, lambda s: s.startswith("Deleted") and "table 198" in s) or t0
        r_del = self.measure(t0, "node-b", 10)
        t1 = time.monotonic()
        a.run("ip", "route", "add", ROUTE_VIP, "dev", "lo", "table", "198", "proto", "99", "metric", "106")
        t1 = self.mon_a.first(t1, lambda s: not s.startswith("Deleted") and "table 198" in s) or t1
        r_add = self.measure(t1, "node-a", 10)
        t2 = time.monotonic()
        self.vipd["a"] = lab.start_vipd(a, self.cfg["a"])
        time.sleep(2.0 + TIMEOUT)
        w = self.poller.window(t2, t2 + 2.0)
        outcomes = sorted({s.outcome for s in self.poller.by_start(t2, t2 + 2.0)})
        restart = {"ms": 0.0, "failed": w["failed"], "hung": w["hung"], "other": sum(
            1 for s in self.poller.by_start(t2, t2 + 2.0) if s.outcome == "node-b"), "outcomes": outcomes}
        self.served_a(10)
        return {"floor": r_del, "floor-add": r_add, "restart": restart}

    def killed(self) -> dict:
        lab, a = self.lab, self.lab.a
        self.vipd["a"].kill()
        self.nginx["a"].stop(timeout=5)
        time.sleep(0.3)
        t0 = time.monotonic()
        self.vipd["a"] = lab.start_vipd(a, self.cfg["a"])
        r = self.measure(t0, "node-b", 10)
        self.nginx["a"] = lab.start_nginx(a)
        self.served_a(10)
        return r


def summarize(vals: list[float]) -> str:
    if not vals:
        return "-"
    return f"{statistics.median(vals):.0f} ({min(vals):.0f}-{max(vals):.0f})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--engines", default="frr,bird,exabgp")
    ap.add_argument("--exabgp", default="1,0.1")
    ap.add_argument("--cases", default="1,3,2,floor,killed")
    ap.add_argument("--poll-ms", type=float, default=10)
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "route-latest.txt"))
    args = ap.parse_args()
    require_root_or_skip(need=("nginx", "curl"))
    why = frr_available()
    if why:
        print(f"skipped: {why}")
        return 77
    cases = [c for c in args.cases.split(",") if c]
    speakers = []
    for e in filter(None, args.engines.split(",")):
        require_vipd_or_skip()
        speakers.append(("vipd", e))
    if args.exabgp:
        why = exabgp_available()
        if why:
            print(f"ExaBGP left out: {why}")
        else:
            speakers += [("exabgp", float(x)) for x in args.exabgp.split(",")]
    rng = random.Random(args.seed)
    results: dict[str, dict] = {}
    for kind, arg in speakers:
        name = f"vipd+{arg}" if kind == "vipd" else f"exabgp {arg:g}s"
        res: dict[str, list] = {}
        res["load_start"] = loadavg()
        print(f"== {name} (load {res['load_start']})", flush=True)
        try:
            with Speaker(kind, arg, args.poll_ms / 1000) as sp:
                for run in range(args.runs):
                    for case in cases:
                        if case in ("floor", "killed") and kind != "vipd":
                            continue
                        time.sleep(rng.uniform(0, 1))
                        out = getattr(sp, {"1": "case1", "2": "case2", "3": "case3"}.get(case, case))()
                        parts = out if case == "floor" else {case: out}
                        for k, v in parts.items():
                            v.pop("t_switch", None)
                            v.pop("_lab", None)
                            res.setdefault(k, []).append(v)
                            extra = "".join(f" {x}={v[x]:.0f}" for x in BREAKDOWN if x in v)
                            if k == "restart":
                                print(f"  run {run + 1} restart: failed {v['failed']} hung {v['hung']} "
                                      f"to node-b {v['other']} outcomes {v['outcomes']}", flush=True)
                            else:
                                print(f"  run {run + 1} case {k}: {v['ms']:.0f} ms failed {v['failed']} "
                                      f"hung {v['hung']}{extra}", flush=True)
                res["session_drops"] = sp.session_drops()
                res["expected_drops"] = args.runs if "2" in cases else 0
        except (AssertionError, RuntimeError) as e:
            print(f"  {name}: ERROR {e}", flush=True)
            res["error"] = str(e)
        res["load_end"] = loadavg()
        results[name] = res
    report = render(results, args, cases)
    print(report)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report)
    out.with_suffix(".json").write_text(json.dumps(results, indent=1, default=str))
    return 0


def render(results: dict, args, cases: list[str]) -> str:
    cols = []
    for c in cases:
        cols += ["floor", "floor-add", "restart"] if c == "floor" else [c]
    names = {"1": "(1) nginx killed", "2": "(2) uplink down", "3": "(3) nginx back",
             "floor": "floor: route del", "floor-add": "floor: route add",
             "killed": "vipd killed+nginx dead: restart -> B", "restart": "vipd restart (sweep)"}
    lines = [f"route-mode bench: {args.runs} runs, client every {args.poll_ms:g} ms (open loop, "
             f"{TIMEOUT:g} s timeout), {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
             f"command: bench/route.py --runs {args.runs} --engines {args.engines} --exabgp "
             f"'{args.exabgp}' --cases {args.cases}", "",
             "| case | " + " | ".join(results) + " |", "|---|" + "---|" * len(results)]
    for c in cols:
        row = f"| {names.get(c, c)} |"
        for name, res in results.items():
            rs = res.get(c) or []
            if not rs:
                row += " - |"
                continue
            if c == "restart":
                row += (f" to B {sum(r['other'] for r in rs)}, failed {sum(r['failed'] for r in rs)}, "
                        f"hung {sum(r['hung'] for r in rs)} |")
                continue
            ms = [r["ms"] for r in rs]
            row += (f" {summarize(ms)} ms; failed {sum(r['failed'] for r in rs)}, "
                    f"hung {sum(r['hung'] for r in rs)} (n={len(rs)}) |")
        lines.append(row)
    lines.append("")
    for name, res in results.items():
        line = f"{name}: load average {res.get('load_start')} -> {res.get('load_end')}"
        for c in ("1", "3"):
            parts = []
            for key, what in (("nginx_ms", "nginx (SIGKILL -> master reaped; start -> pidfile written)"),
                              ("vipd_ms", "vipd (action -> A's kernel route)"),
                              ("detect_ms", "healthcheck + ExaBGP (action -> UPDATE)"),
                              ("engine_ms", "A's engine (kernel route -> UPDATE on the wire)"),
                              ("router_ms", "router (UPDATE -> its kernel route)")):
                vals = [r[key] for r in res.get(c, []) if key in r]
                if vals:
                    parts.append(f"{what} {statistics.median(vals):.0f}")
            if parts:
                line += f"; case {c} breakdown (median ms): " + ", ".join(parts)
        if "session_drops" in res:
            line += (f"; router's BGP session with A dropped {res['session_drops']} times "
                     f"({res['expected_drops']} by case 2)")
        if res.get("error"):
            line += f"; ERROR {res['error']}"
        lines.append(line)
    lines.append("")
    for c, target in TARGETS.items():
        for name, res in results.items():
            if not name.startswith("vipd") or not res.get(c):
                continue
            med = statistics.median(r["ms"] for r in res[c])
            verdict = "ok" if med <= target else "MISS"
            ratio = ""
            if c in ("1", "2"):
                for ex in ("exabgp 0.1s", "exabgp 1s"):
                    if results.get(ex, {}).get(c):
                        ratio += f", {statistics.median(r['ms'] for r in results[ex][c]) / med:.1f}x {ex}"
            lines.append(f"target case {c} <= {target} ms: {name} median {med:.0f} ms {verdict}{ratio}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
