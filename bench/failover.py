#!/usr/bin/env python3
"""vipd vs keepalived 2.2.7: failover benchmark on the netns lab (bench/README.md).

    sudo python3 bench/failover.py [--runs 5] [--intervals 1s,100ms,10ms] [--cases 1,2,3,4,5,6,7]
                                   [--quick] [--no-idle] [--no-scale] [--out FILE]
                                   [--no-fine-probe] [--ka-track file|script]

Same lab as tests/netns (LAB.md): A 198.18.0.11 priority 150 (master), B 198.18.0.12 priority
100, real nginx on both, client C polling http://198.18.0.100/ every 10 ms with a 0.2 s request
timeout, nodes with ip_forward = 0; beside it an open-loop probe (a request every 1 ms) for a
finer "served", an exit watcher stamping nginx master's exit (pidfd), a capture on the bridge for
the adverts. For each speaker (vipd, then keepalived) and each advert interval, each case is run
N times; the tables give min / median / max, the ratio keepalived / vipd of the medians, the
requests that failed fast and hung, where the time goes, and PASS/MISS per target.

Not a test (not under tests/, not run by ctest): it measures and prints; it never fails on a MISS.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

PHASE_RNG = random.Random(20261122)  # cases 3–4: the action's phase (reproducible)
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "netns"))
os.environ.setdefault("VIPD_BIN", str(REPO / "build" / "vipd"))

from lab import (VIP, VIP_CIDR, Lab, keepalived_config, require_root_or_skip,  # noqa: E402
                 vipd_config, wait_for)
from vipdtest import VipWatcher, master_down_ms, skew_ms  # noqa: E402
from probe import ExitWatcher, FineProbe, account  # noqa: E402

VIPD_REALTIME: int | None = None  # --vipd-realtime: [agent] realtime_priority of every vipd


def agent_lines() -> str:
    """[agent] lines for every vipd of the bench: realtime_priority when --vipd-realtime is set."""
    return "" if VIPD_REALTIME is None else f"realtime_priority = {VIPD_REALTIME}\n"


API = "127.0.0.1:9555"
PRIO_A, PRIO_B = 150, 100
POLL_INTERVAL, POLL_TIMEOUT = 0.010, 0.200
# the second, open-loop client: a new request every 1 ms whatever the others do (bench/probe.py);
# None = off (--no-fine-probe)
FINE_INTERVAL: float | None = 0.001
FINE_TIMEOUT = 0.200
# vipd's http check in cases 3-4: nginx answers on loopback in well under 1 ms, so the probe
# timeout is half the interval instead of the default (= interval)
HTTP_INTERVAL_MS, HTTP_FALL, HTTP_TIMEOUT_MS = 50, 2, 25
# keepalived in cases 1, 2, 6: "file" = track_file fed by a pidfd watcher (emulates its best,
# vrrp_track_process, which cannot run in a network namespace); "script" = 1 s vrrp_script
KA_TRACK = "file"
CASES = {
    "1": "nginx stopped on the master (weight 0)",
    "2": "nginx stopped on the master (weight -60)",
    "3": "nginx answers 503 on /healthz",
    "4": "nginx hung (SIGSTOP: accepts, never answers)",
    "5": "node crash (master's link down)",
    "6": "preempt back after recovery (nginx restarted on A)",
    "7": "planned handover (vipd drain / keepalived SIGTERM)",
}
SPEAKERS = ("vipd", "keepalived")

OUT_LINES: list[str] = []
LOAD: list[float] = []


def _sample_load() -> None:
    while True:
        LOAD.append(os.getloadavg()[0])
        time.sleep(10)


def out(line: str = "") -> None:
    print(line, flush=True)
    OUT_LINES.append(line)


def note(msg: str) -> None:
    print(f"  .. {msg}", flush=True)


def parse_interval(s: str) -> float:
    s = s.strip()
    if s.endswith("ms"):
        return float(s[:-2]) / 1000
    if s.endswith("s"):
        return float(s[:-1])
    return float(s)


def ilabel(sec: float) -> str:
    return f"{sec * 1000:g}ms" if sec < 1 else f"{sec:g}s"


def ms(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:.1f}" if x < 100 else f"{x:.0f}"


# --------------------------------------------------------------------------------------------
# Configurations
# --------------------------------------------------------------------------------------------

def vipd_cfg(lab: Lab, node, prio: int, case: str, advert: float) -> str:
    pidfile = lab.dir / f"nginx-{node.name}" / "nginx.pid"
    state_dir = lab.dir / f"state-{node.name}"
    state_dir.mkdir(exist_ok=True)
    token = lab.dir / "api.token"
    if not token.exists():
        token.write_text("bench-token-0123456789abcdef\n")
        os.chmod(token, 0o600)
    extra_i, extra = "", ""
    if case in ("1", "6"):
        extra_i = 'track = [ { check = "nginx-pid", weight = 0 } ]'
    elif case == "2":
        extra_i = 'track = [ { check = "nginx-pid", weight = -60 } ]'
    elif case in ("3", "4"):
        extra_i = 'track = [ { check = "nginx-http", weight = -60 } ]'
    if case in ("1", "2", "6"):
        extra = f'[[check]]\nname = "nginx-pid"\ntype = "pid"\npidfile = "{pidfile}"\n'
    elif case in ("3", "4"):
        extra = (f'[[check]]\nname = "nginx-http"\ntype = "http"\n'
                 f'url = "http://127.0.0.1/healthz"\ninterval = "{HTTP_INTERVAL_MS}ms"\n'
                 f'timeout = "{HTTP_TIMEOUT_MS}ms"\nfall = {HTTP_FALL}\nrise = 1\n')
    return vipd_config(node, prio, advert=ilabel(advert), api_listen=API, group_size=2,
                       extra_instance=extra_i, extra=extra,
                       extra_agent=f'state_dir = "{state_dir}"\napi_token_file = "{token}"\n' +
                       agent_lines())


def keepalived_cfg(lab: Lab, node, prio: int, case: str, advert: float) -> str:
    scripts, extra_i = "", ""
    if case in ("1", "2", "6") and KA_TRACK == "file":
        # keepalived's best, vrrp_track_process, cannot run in a network namespace: the kernel's
        # process-events connector (NETLINK_CONNECTOR / cn_proc) exists only in the initial one
        # ("Failed to set/clear process event listen - errno 111", then FAULT for ever). Emulated
        # with its event-driven track_file (inotify): a watcher blocked on nginx master's pidfd
        # writes "1" the moment nginx exits (weight 0: FAULT, priority-0 advert; weight -60:
        # priority 150 - 60), "0" when nginx is back (bench/probe.py, ExitWatcher).
        weight = 0 if case in ("1", "6") else -60
        track = lab.dir / f"track-nginx-{node.name}"
        scripts = f'track_file nginx_up {{\n    file "{track}"\n    weight {weight}\n}}\n'
        extra_i = "    track_file {\n        nginx_up\n    }\n"
    elif case in ("1", "2", "6"):
        # --ka-track script: what works in a container too, a 1 s vrrp_script (its minimum
        # interval), fall 1 / rise 1.
        weight = 0 if case in ("1", "6") else -60
        pidfile = lab.dir / f"nginx-{node.name}" / "nginx.pid"
        scripts = (f'vrrp_script nginx_pid {{\n'
                   f'    script "/bin/sh -c \'kill -0 $(cat {pidfile})\'"\n'
                   f'    interval 1\n    timeout 1\n    fall 1\n    rise 1\n    weight {weight}\n}}\n')
        extra_i = "    track_script {\n        nginx_pid\n    }\n"
    elif case in ("3", "4"):
        scripts = ('vrrp_script nginx_http {\n'
                   '    script "/usr/bin/curl -sf -o /dev/null -m 0.1 http://127.0.0.1/healthz"\n'
                   '    interval 1\n    timeout 1\n    fall 1\n    rise 1\n    weight -60\n}\n')
        extra_i = "    track_script {\n        nginx_http\n    }\n"
    return keepalived_config(node, prio, advert=advert, scripts=scripts, extra_instance=extra_i)


# --------------------------------------------------------------------------------------------
# One lab per (speaker, interval)
# --------------------------------------------------------------------------------------------

def outcome_runs(samples, t0: float, until: float) -> list:
    """The probe's requests that started before ``until``, in start order, as runs of equal
    outcomes: [first start, last start, last end, outcome, count], ms after t0 (JSON only: what
    the probe saw around the switch, e.g. whether a slow "served" was a late launch)."""
    runs: list[list] = []
    for smp in sorted((x for x in samples if x.start <= until), key=lambda x: x.start):
        st, en = round((smp.start - t0) * 1000, 3), round((smp.end - t0) * 1000, 3)
        if runs and runs[-1][3] == smp.outcome:
            runs[-1][1] = st
            runs[-1][2] = max(runs[-1][2], en)
            runs[-1][4] += 1
        else:
            runs.append([st, st, en, smp.outcome, 1])
    return runs


class Bench:
    def __init__(self, lab: Lab, speaker: str, advert: float):
        self.lab, self.speaker, self.advert = lab, speaker, advert
        self.nginx = {}
        self.sp = {}
        self.case = None
        self.policy = ""
        # one per node, following its nginx master: stamps its exit; keepalived's track_file
        # feeders in KA_TRACK "file" mode
        track = speaker == "keepalived" and KA_TRACK == "file"
        self.watch = {n.name: ExitWatcher(lab, n, track_file=track) for n in (lab.a, lab.b)}
        for n in (lab.a, lab.b):
            self.start_nginx(n)
        self.wa = VipWatcher(lab, lab.a)
        self.wb = VipWatcher(lab, lab.b)
        self.poller = lab.poller(interval=POLL_INTERVAL, timeout=POLL_TIMEOUT)
        self.fine = (FineProbe(lab, lab.c, VIP, interval=FINE_INTERVAL, timeout=FINE_TIMEOUT)
                     if FINE_INTERVAL else None)
        self.mdi_b = master_down_ms(PRIO_B, advert * 1000)
        self.skew_b = skew_ms(PRIO_B, advert * 1000)

    def start_nginx(self, node):
        """Start nginx on ``node``; its exit watcher follows the new master (and, for keepalived
        with the track file, writes "0")."""
        ng = self.lab.start_nginx(node)
        self.nginx[node.name] = ng
        self.watch[node.name].up(ng.pid)
        return ng

    # -- speakers -------------------------------------------------------------------------
    def start_speaker(self, node, case: str):
        prio = PRIO_A if node.name == "a" else PRIO_B
        if self.speaker == "vipd":
            p = self.lab.start_vipd(node, vipd_cfg(self.lab, node, prio, case, self.advert))
        else:
            p = self.lab.start_keepalived(node, keepalived_cfg(self.lab, node, prio, case,
                                                               self.advert))
        self.sp[node.name] = p
        return p

    def stop_speakers(self):
        for name, p in list(self.sp.items()):
            if p.alive():
                p.stop(timeout=5)
        self.sp.clear()
        # a drained mark must not survive into the next case
        for n in ("a", "b"):
            (self.lab.dir / f"state-{n}" / "drained").unlink(missing_ok=True)

    def ensure_nginx(self):
        for n in (self.lab.a, self.lab.b):
            ng = self.nginx[n.name]
            ng.set_healthy(True)
            if not ng.alive():
                self.start_nginx(n)
            else:
                for pid in [ng.pid] + ng.worker_pids():
                    try:
                        os.kill(pid, signal.SIGCONT)
                    except ProcessLookupError:
                        pass

    def setup_case(self, case: str):
        self.stop_speakers()
        self.ensure_nginx()
        self.lab.link_up(self.lab.a)
        self.case = case
        self.start_speaker(self.lab.a, case)
        self.start_speaker(self.lab.b, case)
        self.wait_a_master(timeout=20)
        p = self.sp["a"]
        self.policy = sched_policies([p.pid] if self.speaker == "vipd" else proc_tree(p.pid))

    def wait_a_master(self, timeout: float = 15):
        lab = self.lab
        t = time.monotonic()
        wait_for(lambda: lab.has_vip(lab.a) and not lab.has_vip(lab.b), timeout,
                 lambda: f"VIP on A only (holders {lab.vip_holders()})")
        self.poller.wait_served_by("node-a", timeout, since=t, consecutive=3)
        # let B hear a couple of adverts from the settled master
        time.sleep(max(0.3, 1.2 * self.advert))

    # -- measurements -----------------------------------------------------------------------
    def fine_on(self, holder: str) -> None:
        """Switch the 1 ms probe on before an action; returns once ``holder`` answers it."""
        if self.fine:
            try:
                self.fine.on(warm_up=holder)
            except AssertionError as e:
                note(f"1 ms probe: {e}")

    @staticmethod
    def clock() -> tuple[float, float]:
        """(monotonic now, wall − monotonic offset): pcap times are wall-clock."""
        w0 = time.time()
        t = time.monotonic()
        w1 = time.time()
        return t, (w0 + w1) / 2 - t

    def failover_result(self, t0: float, timeout: float, want: str = "node-b",
                        vip_node="b", off: float | None = None) -> dict:
        try:
            s = self.poller.wait_served_by(want, timeout, since=t0)
            fs = None
            if self.fine and self.fine.on_since is not None:
                try:
                    fs = self.fine.wait_served_by(want, max(1.0, t0 + timeout - time.monotonic()),
                                                  since=t0)
                except AssertionError as e:
                    note(f"1 ms probe: {e}")
            until = s.end + 0.25
            funtil = (fs.end if fs else s.end) + 0.25
            time.sleep(max(0.0, max(until, funtil) - time.monotonic()) + 0.01)
        finally:
            if self.fine:
                self.fine.off()
        acc = account(self.poller.samples(t0, until))
        res = {"t0": t0, "off": off,
               "served": (s.end - t0) * 1000,
               "served_fine": (fs.end - t0) * 1000 if fs else None,
               "failed_fast": acc["fast"], "hung": acc["hung"], "lost": acc["lost"],
               "fail_max": acc["fail_max_ms"], "fail_max_outcome": acc["fail_max_outcome"]}
        if self.fine and fs:
            # every request the probe started in the window has finished (or timed out)
            time.sleep(max(0.0, funtil + FINE_TIMEOUT + 0.02 - time.monotonic()))
            fsamples = self.fine.samples(t0, funtil)
            facc = account(fsamples)
            res.update({"fine_fast": facc["fast"], "fine_hung": facc["hung"],
                        "fine_lost": facc["lost"], "fine_fail_max": facc["fail_max_ms"],
                        "fine_total": facc["total"],
                        "fine_timeline": outcome_runs(fsamples, t0, fs.end + 0.002)})
        w_new, w_old = (self.wb, self.wa) if vip_node == "b" else (self.wa, self.wb)
        up = w_new.first("add", t0)
        gone = w_old.first("del", t0)
        res["vip_up"] = (up - t0) * 1000 if up else None
        res["vip_gone"] = (gone - t0) * 1000 if gone and gone < until + 1 else None
        return res

    def fo_timeout(self) -> float:
        return 4 * self.advert + 6.0

    def nginx_back(self, a) -> tuple[float, float]:
        """Start nginx on A again: (t1, offset), t1 = when its process is started (not when it
        answers: an agent may see it, and take the VIP back, before that); at the same moment
        the exit watcher follows the new master — for keepalived it writes "0" to the track
        file, as vrrp_track_process would see the process appear."""
        mark = {}

        def started(ng):
            mark["t1"], mark["off"] = self.clock()
            self.watch["a"].up(ng.pid)
        self.nginx["a"] = self.lab.start_nginx(a, on_started=started)
        return mark["t1"], mark["off"]

    def run_case(self, case: str) -> tuple[dict | None, dict | None]:
        """One run: the action, the failover measured; the recovery (measured as case 6 after
        case 1). Returns (failover, recovery)."""
        lab, a = self.lab, self.lab.a
        ng = self.nginx["a"]
        rec = None
        if case in ("3", "4"):
            # Periodic checks (vipd's 50 ms http check, keepalived's 1 s vrrp_script): act at a
            # random phase of their schedule, or a fixed-length run sequence aligns the action
            # with the same point of keepalived's 1 s script period in every run.
            time.sleep(PHASE_RNG.uniform(0.0, 1.0))
        self.fine_on("node-a")
        if case in ("1", "2", "6"):
            t0, off = self.clock()
            os.kill(ng.pid, signal.SIGTERM)  # nginx -s stop: fast shutdown
            ng.wait_exit(5)
            fo = self.failover_result(t0, self.fo_timeout(), off=off)
            # nginx master's exit: pidfd, stamped by the SCHED_FIFO watcher (initial PID ns)
            d = self.watch["a"].down_after(t0)
            fo["nginx_exit"] = (d[0] - t0) * 1000 if d else None
            fo["track_write"] = (d[1] - t0) * 1000 if d and d[1] is not None else None
            self.fine_on("node-b")
            t1, off1 = self.nginx_back(a)
            rec = self.failover_result(t1, self.fo_timeout() + 5, want="node-a", vip_node="a",
                                       off=off1)
        elif case == "3":
            t0, off = self.clock()
            ng.set_healthy(False)
            fo = self.failover_result(t0, self.fo_timeout() + 2, off=off)
            self.fine_on("node-b")
            t1, off1 = self.clock()
            ng.set_healthy(True)
            rec = self.failover_result(t1, self.fo_timeout() + 5, want="node-a", vip_node="a",
                                       off=off1)
        elif case == "4":
            pids = [ng.pid] + ng.worker_pids()
            t0, off = self.clock()
            for pid in pids:
                os.kill(pid, signal.SIGSTOP)
            fo = self.failover_result(t0, self.fo_timeout() + 2, off=off)
            self.fine_on("node-b")
            t1, off1 = self.clock()
            for pid in pids:
                os.kill(pid, signal.SIGCONT)
            rec = self.failover_result(t1, self.fo_timeout() + 5, want="node-a", vip_node="a",
                                       off=off1)
        elif case == "5":
            lab.link_down(a)
            t0, off = self.clock()  # carrier is off once `ip link set down` has returned
            fo = self.failover_result(t0, self.fo_timeout(), off=off)
            self.fine_on("node-b")
            t1, off1 = self.clock()
            lab.link_up(a)
            rec = self.failover_result(t1, self.fo_timeout() + 5, want="node-a", vip_node="a",
                                       off=off1)
        elif case == "7":
            if self.speaker == "vipd":
                tok = lab.dir / "api.token"
                t0, off = self.clock()
                r = a.run(os.environ["VIPD_BIN"], "drain", "--url", f"http://{API}",
                          "--token-file", str(tok), "--wait", "0", check=False)
                if r.returncode != 0:
                    note(f"vipd drain rc {r.returncode}: {r.stdout.strip()} {r.stderr.strip()}")
                fo = self.failover_result(t0, self.fo_timeout(), off=off)
                self.fine_on("node-b")
                t1, off1 = self.clock()
                a.run(os.environ["VIPD_BIN"], "undrain", "--url", f"http://{API}",
                      "--token-file", str(tok), check=False)
                rec = self.failover_result(t1, self.fo_timeout() + 5, want="node-a",
                                           vip_node="a", off=off1)
            else:
                p = self.sp["a"]
                t0, off = self.clock()
                p.terminate()
                fo = self.failover_result(t0, self.fo_timeout(), off=off)
                p.wait_exit(5)
                self.fine_on("node-b")
                t1, off1 = self.clock()
                self.start_speaker(a, case)
                rec = self.failover_result(t1, self.fo_timeout() + 5, want="node-a",
                                           vip_node="a", off=off1)
        else:
            raise ValueError(case)
        return fo, rec


# --------------------------------------------------------------------------------------------
# Capture analysis
# --------------------------------------------------------------------------------------------

def vrrp_packets(cap) -> list[tuple[float, str, int]]:
    """(time, source, priority) of every VRRP packet in a capture."""
    r = subprocess.run(["tshark", "-n", "-r", str(cap.file), "-Y", "vrrp", "-T", "fields",
                        "-e", "frame.time_epoch", "-e", "ip.src", "-e", "vrrp.prio"],
                       capture_output=True, text=True, timeout=120)
    pkts = []
    for line in r.stdout.splitlines():
        f = line.split("\t")
        if len(f) >= 3 and f[0] and f[2]:
            pkts.append((float(f[0]), f[1], int(f[2].split(",")[0])))
    return pkts


def wire_events(cap) -> list[tuple[float, str, int | None, bool]]:
    """(wall time, IP source, VRRP priority or None, gratuitous ARP for the VIP?) of every VRRP
    packet and ARP of a capture."""
    r = subprocess.run(["tshark", "-n", "-r", str(cap.file), "-T", "fields",
                        "-e", "frame.time_epoch", "-e", "ip.src", "-e", "vrrp.prio",
                        "-e", "arp.src.proto_ipv4", "-e", "arp.dst.proto_ipv4"],
                       capture_output=True, text=True, timeout=300)
    evs = []
    for line in r.stdout.splitlines():
        f = (line.split("\t") + [""] * 5)[:5]
        if not f[0]:
            continue
        prio = int(f[2].split(",")[0]) if f[2] else None
        evs.append((float(f[0]), f[1], prio, f[3] == VIP and f[4] == VIP))
    return evs


def attach_wire_times(runs: list, evs) -> None:
    """Adds to each run (ms after its t0): a_adv = A's first advert with another priority than
    its own (0 or lowered), b_adv = B's first advert, garp = the first gratuitous ARP for the
    VIP (B's), from a capture on the LAN bridge (wall-clock times mapped with the run's offset)."""
    for r in runs:
        if not r or r.get("off") is None:
            continue
        t0w = r["t0"] + r["off"]
        end = t0w + (r["served"] + 300) / 1000
        for t, src, prio, garp in evs:
            if t < t0w or t > end:
                continue
            rel = (t - t0w) * 1000
            if src == "198.18.0.11" and prio is not None and prio != PRIO_A and "a_adv" not in r:
                r["a_adv"] = rel
                r["a_adv_prio"] = prio
            elif src == "198.18.0.12" and prio is not None and "b_adv" not in r:
                r["b_adv"] = rel
            elif garp and "garp" not in r:
                r["garp"] = rel


def crash_takeovers(pkts, a_ip="198.18.0.11", b_ip="198.18.0.12") -> list[float]:
    """For each handover A → B in the capture: B's first advert − A's last advert (ms)."""
    res = []
    last_a = None
    b_master = False
    for t, src, prio in pkts:
        if src == a_ip:
            last_a = t
            b_master = False
        elif src == b_ip and not b_master:
            if last_a is not None:
                res.append((t - last_a) * 1000)
            b_master = True
    return res


def spacing_stats(pkts, src: str, nominal_ms: float) -> dict | None:
    """Gaps between consecutive adverts of ``src`` (ms): order statistics, deviation from the
    nominal interval, and how many gaps exceed twice it (also used by tools/rt_jitter.py)."""
    ts = [t for t, s, p in pkts if s == src]
    d = [(b - a) * 1000 for a, b in zip(ts, ts[1:])]
    if len(d) < 10:
        return None
    d.sort()
    dev = sorted(abs(x - nominal_ms) for x in d)
    return {"n": len(d), "min": d[0], "median": statistics.median(d),
            "p99": d[min(len(d) - 1, int(0.99 * len(d)))],
            "p999": d[min(len(d) - 1, int(0.999 * len(d)))], "max": d[-1],
            "over_2x": sum(1 for x in d if x > 2 * nominal_ms),
            "dev_median": statistics.median(dev), "dev_p99": dev[min(len(dev) - 1, int(0.99 * len(dev)))]}


# --------------------------------------------------------------------------------------------
# Failover matrix
# --------------------------------------------------------------------------------------------

def run_matrix(args, intervals, cases) -> dict:
    """results[(speaker, interval, case)] = list of run dicts (case 6 from case 1's recovery)."""
    results: dict = {}
    crash: dict = {}
    policy: dict = {}
    fine: dict = {}
    run_cases = sorted({("1" if c == "6" else c) for c in cases})
    for advert in intervals:
        for speaker in args.speakers:
            out(f"# {speaker} at {ilabel(advert)} adverts")
            with Lab(quiet=True) as lab:
                b = Bench(lab, speaker, advert)
                for case in run_cases:
                    try:
                        b.setup_case(case)
                    except Exception as e:
                        out(f"  case {case}: set-up failed: {e}")
                        continue
                    cap = lab.capture(None, "ip proto 112 or arp") if case in ("1", "2", "3", "4", "5") else None
                    policy[(speaker, advert)] = b.policy
                    policy["exit watcher"] = b.watch["a"].policy
                    if case == "5":
                        # the capture must hold an advert of A before the first crash: B's
                        # takeover is measured from A's last advert
                        time.sleep(1.2 * advert + 0.05)
                    for r in range(args.runs):
                        try:
                            fo, rec = b.run_case(case)
                            results.setdefault((speaker, advert, case), []).append(fo)
                            if case == "1":
                                results.setdefault((speaker, advert, "6"), []).append(rec)
                            print(f"  case {case} run {r + 1}: served by B {ms(fo['served'])} ms, "
                                  f"1 ms probe {ms(fo['served_fine'])} "
                                  f"(nginx exit {ms(fo.get('nginx_exit'))}, "
                                  f"VIP up {ms(fo['vip_up'])}, gone {ms(fo['vip_gone'])}) "
                                  f"fast {fo['failed_fast']} hung {fo['hung']} lost {fo['lost']} "
                                  f"(1 ms probe: fast {fo.get('fine_fast', '—')} "
                                  f"hung {fo.get('fine_hung', '—')}, slowest failure "
                                  f"{ms(fo.get('fine_fail_max'))} ms); "
                                  f"back on A {ms(rec['served']) if rec else '—'} ms", flush=True)
                            b.wait_a_master()
                        except Exception as e:
                            out(f"  case {case} run {r + 1}: FAILED: {str(e)[:300]}")
                            results.setdefault((speaker, advert, case), []).append(None)
                            try:
                                b.setup_case(case)
                            except Exception as e2:
                                out(f"  case {case}: re-setup failed: {e2}")
                                break
                    if cap:
                        cap.stop()
                        if case == "5":
                            crash[(speaker, advert)] = crash_takeovers(vrrp_packets(cap))
                        else:
                            attach_wire_times(results.get((speaker, advert, case), []),
                                              wire_events(cap))
                        cap.file.unlink(missing_ok=True)
                b.stop_speakers()
                if b.fine:
                    fine[(speaker, advert)] = {"seconds": b.fine.on_seconds,
                                               "cpu_ticks": b.fine.cpu_ticks,
                                               "requests": b.fine.requests(),
                                               "spacing": b.fine.spacing()}
    return {"runs": results, "crash": crash, "policy": policy, "fine": fine}


def stats3(vals):
    vals = [v for v in vals if v is not None]
    if not vals:
        return None
    return (min(vals), statistics.median(vals), max(vals))


def fmt3(s) -> str:
    return "—" if s is None else f"{ms(s[1])} [{ms(s[0])}–{ms(s[2])}]"


def ka_track_text() -> str:
    if KA_TRACK == "file":
        return ("keepalived cases 1, 2, 6: track_file (inotify) fed by a pidfd watcher on nginx's "
                "master = its vrrp_track_process, emulated (bench/README.md)")
    return ("keepalived cases 1, 2, 6: vrrp_script kill -0 $(cat pidfile), interval 1 s "
            "(--ka-track script)")


def cell_stats(runs, sp, advert, case, key):
    return stats3([r.get(key) for r in runs.get((sp, advert, case), []) if r])


def ratio_of(a, b):
    return (a[1] / b[1]) if a and b and b[1] else None


def report_matrix(res: dict, intervals, cases) -> None:
    runs = res["runs"]
    fine = any(r and r.get("served_fine") is not None for lst in runs.values() for r in lst)
    out("")
    out("## Failover: time to the first client request answered by the new node (ms)")
    out(f"median [min–max] over the runs, from the action (t0). served = the lab's client: a request")
    out(f"every {POLL_INTERVAL * 1000:g} ms, sequential, {POLL_TIMEOUT * 1000:g} ms timeout "
        f"({POLL_INTERVAL * 1000:g} ms resolution; a hung request holds the next one back).")
    if fine:
        out(f"1ms = the same from the open-loop probe: a new request every "
            f"{FINE_INTERVAL * 1000:g} ms whatever the others do, {FINE_TIMEOUT * 1000:g} ms timeout "
            f"(median; [min–max] below).")
    out("fast/hung/lost = the lab client's requests in [t0, served + 0.25 s], summed over the runs:")
    out("failed with an error before the timeout (refused, reset), hung until the timeout, all not")
    out("answered 200 by a node. Targets are judged on the 1 ms probe when it ran.")
    out(ka_track_text())
    out("")
    hdr = (f"{'case':<4} {'advert':>6} | {'vipd served':>20} {'1ms':>6} {'VIP up':>7} "
           f"{'old gone':>8} {'fast':>4} {'hung':>4} {'lost':>4} | {'keepalived served':>20} "
           f"{'1ms':>6} {'VIP up':>7} {'old gone':>8} {'fast':>4} {'hung':>4} {'lost':>4} | "
           f"{'ka/vipd':>7} {'1ms':>6}  target")
    out(hdr)
    out("-" * len(hdr))
    for case in cases:
        for advert in intervals:
            row = [f"{case:<4} {ilabel(advert):>6} |"]
            per = {}
            for sp in SPEAKERS:
                lst = runs.get((sp, advert, case), [])
                good = [r for r in lst if r]
                s = stats3([r["served"] for r in good])
                sf = stats3([r.get("served_fine") for r in good])
                up = stats3([r["vip_up"] for r in good])
                gone = stats3([r["vip_gone"] for r in good])
                fast = sum(r["failed_fast"] for r in good)
                hung = sum(r["hung"] for r in good)
                lost = sum(r["lost"] for r in good)
                fails = len(lst) - len(good)
                after = stats3([r["served_fine"] - r["nginx_exit"] for r in good
                                if r.get("served_fine") is not None and
                                r.get("nginx_exit") is not None])
                per[sp] = {"s": s, "sf": sf, "after": after, "hung": hung, "lost": lost,
                           "n": len(good), "fails": fails}
                row.append(f"{fmt3(s):>20}{'!' if fails else ' '}{ms(sf[1]) if sf else '—':>5} "
                           f"{ms(up[1]) if up else '—':>7} {ms(gone[1]) if gone else '—':>8} "
                           f"{fast:>4} {hung:>4} {lost:>4} |")
            r10 = ratio_of(per["keepalived"]["s"], per["vipd"]["s"])
            r1 = ratio_of(per["keepalived"]["sf"], per["vipd"]["sf"])
            row.append(f"{(f'{r10:.1f}x') if r10 else '—':>7} {(f'{r1:.1f}x') if r1 else '—':>6}  "
                       f"{target_verdict(case, advert, per, r1 if fine else r10, fine)}")
            out(" ".join(row))
    if KA_TRACK == "script" and "1" in cases and any(("keepalived", a, "7") in runs
                                                     for a in intervals):
        out("")
        out("case 1 against keepalived's priority-0 path (its case 7: SIGTERM = zero detection time;")
        out("a lower bound for keepalived with vrrp_track_process + weight 0):")
        key = "served_fine" if fine else "served"
        for advert in intervals:
            v = cell_stats(runs, "vipd", advert, "1", key)
            k = cell_stats(runs, "keepalived", advert, "7", key)
            if v and k:
                need = 2 if advert <= 0.0101 else (100 if advert >= 0.999 else None)
                ratio = k[1] / v[1]
                verdict = (f"  target ≥ {need}×: {'PASS' if ratio >= need else 'MISS'}" if need else "")
                out(f"  {ilabel(advert):>6}: vipd case 1 {fmt3(v)} vs keepalived case 7 {fmt3(k)}: "
                    f"{ratio:.1f}x{verdict}")
    out("")
    out("('!' after a cell: a run did not complete — see the log above the tables)")
    slow = []
    for (sp, advert, case), lst in runs.items():
        fm = [(r["fail_max"], r.get("fail_max_outcome")) for r in lst
              if r and r.get("fail_max") is not None]
        if fm and max(fm)[0] > 5:
            slow.append(f"{sp} case {case} {ilabel(advert)}: {ms(max(fm)[0])} ms ({max(fm)[1]})")
    if slow:
        out("'fast' failures of the lab client that took over 5 ms (a request that waited, then was "
            "reset — or a client process scheduled late on a busy machine), the slowest per cell: " +
            "; ".join(slow))
    if fine:
        report_fine(res, intervals, cases)


def report_fine(res: dict, intervals, cases) -> None:
    runs = res["runs"]
    out("")
    out(f"## The 1 ms probe: time to the first request answered by the new node (ms)")
    out(f"open-loop: a new TCP connection every {FINE_INTERVAL * 1000:g} ms from the client "
        f"namespace whatever the earlier ones do, {FINE_TIMEOUT * 1000:g} ms timeout each; it "
        f"runs only around an action.")
    out("fast/hung = its requests in [t0, served + 0.25 s] (a concurrent client population's view:")
    out("every request of a failure window counts), summed over the runs; slowest = the longest")
    out("fast failure (ms). For cases 1–2 'after exit' = served − nginx master's exit (pidfd).")
    out("")
    hdr = (f"{'case':<4} {'advert':>6} | {'vipd 1ms':>20} {'after exit':>18} {'fast':>5} "
           f"{'hung':>5} {'slowest':>7} | {'keepalived 1ms':>20} {'after exit':>18} {'fast':>5} "
           f"{'hung':>5} {'slowest':>7} | {'ka/vipd':>7}")
    out(hdr)
    out("-" * len(hdr))
    for case in cases:
        for advert in intervals:
            row = [f"{case:<4} {ilabel(advert):>6} |"]
            med = {}
            for sp in SPEAKERS:
                good = [r for r in runs.get((sp, advert, case), []) if r]
                sf = stats3([r.get("served_fine") for r in good])
                after = stats3([r["served_fine"] - r["nginx_exit"] for r in good
                                if r.get("served_fine") is not None and
                                r.get("nginx_exit") is not None])
                fast = sum(r.get("fine_fast", 0) for r in good)
                hung = sum(r.get("fine_hung", 0) for r in good)
                fm = [r.get("fine_fail_max") for r in good if r.get("fine_fail_max") is not None]
                med[sp] = sf
                row.append(f"{fmt3(sf):>20} {fmt3(after):>18} {fast:>5} {hung:>5} "
                           f"{ms(max(fm)) if fm else '—':>7} |")
            r1 = ratio_of(med["keepalived"], med["vipd"])
            row.append(f"{(f'{r1:.1f}x') if r1 else '—':>7}")
            out(" ".join(row))
    out("")
    for (sp, advert), f in sorted(res.get("fine", {}).items(), key=lambda x: (x[0][1], x[0][0])):
        if f["seconds"] > 0:
            sp_ = f.get("spacing")
            gaps = (f"; request spacing median {sp_['median']:.2f}, p90 {sp_['p90']:.2f}, "
                    f"p99 {sp_['p99']:.2f}, max {sp_['max']:.1f} ms" if sp_ else "")
            out(f"1 ms probe, {sp} at {ilabel(advert)}: on for {f['seconds']:.1f} s, "
                f"{f['requests'] / f['seconds']:.0f} requests/s, its CPU "
                f"{f['cpu_ticks'] / CLK / f['seconds'] * 100:.1f}% of one core while on{gaps}")


def report_steps(res: dict, intervals, cases) -> None:
    runs = res["runs"]
    steps = [c for c in cases if c in ("1", "2", "3", "4")]
    if not any(r and "a_adv" in r for lst in runs.values() for r in lst):
        return
    out("")
    out("## Where the time goes (cases 1–4): ms after the action, median [min–max], one clock")
    out("nginx exit = nginx master's exit (pidfd, initial PID namespace); file = keepalived's track")
    out("file written by the watcher; A adv = A's first advert with another priority (0 or lowered),")
    out("B adv = B's first advert, GARP = B's first gratuitous ARP, from a capture on the LAN bridge;")
    out("VIP up = on B (netlink); 1ms = the 1 ms probe served by B. react = A adv − its trigger")
    out("(vipd: nginx exit; keepalived: file written, or nginx exit with --ka-track script).")
    out("")
    hdr = (f"{'case':<4} {'advert':>6} {'speaker':<10} | {'nginx exit':>16} {'file':>6} "
           f"{'A adv':>16} {'prio':>4} {'react':>16} {'B adv':>16} {'VIP up':>7} {'GARP':>7} "
           f"{'1ms':>7}")
    out(hdr)
    out("-" * len(hdr))
    for case in steps:
        for advert in intervals:
            for sp in SPEAKERS:
                good = [r for r in runs.get((sp, advert, case), []) if r]
                if not good:
                    continue

                def st(key):
                    return stats3([r.get(key) for r in good])

                def trig(r):
                    if r.get("a_adv") is None or case not in ("1", "2"):
                        return None
                    base = r.get("track_write")
                    if base is None:
                        base = r.get("nginx_exit")
                    return r["a_adv"] - base if base is not None else None
                react = stats3([trig(r) for r in good])
                prios = sorted({r["a_adv_prio"] for r in good if "a_adv_prio" in r})
                tw = st("track_write")
                up, garp, sf = st("vip_up"), st("garp"), st("served_fine")
                out(f"{case:<4} {ilabel(advert):>6} {sp:<10} | {fmt3(st('nginx_exit')):>16} "
                    f"{ms(tw[1]) if tw else '—':>6} {fmt3(st('a_adv')):>16} "
                    f"{','.join(map(str, prios)) or '—':>4} {fmt3f(react):>16} "
                    f"{fmt3(st('b_adv')):>16} {ms(up[1]) if up else '—':>7} "
                    f"{ms(garp[1]) if garp else '—':>7} {ms(sf[1]) if sf else '—':>7}")
    react_ka = [r["a_adv"] - r["track_write"] for (sp, a, c), lst in runs.items()
                if sp == "keepalived" and c == "1" for r in lst
                if r and r.get("a_adv") is not None and r.get("track_write") is not None]
    if react_ka:
        out("")
        out(f"keepalived's reaction to the track file (case 1, weight 0: file written → its "
            f"priority-0 advert on the wire), all runs: median {statistics.median(react_ka):.3f} ms, "
            f"max {max(react_ka):.3f} ms over {len(react_ka)} runs")


def fmt3f(s) -> str:
    """Like fmt3 with two decimals (sub-millisecond figures)."""
    return "—" if s is None else f"{s[1]:.2f} [{s[0]:.2f}–{s[2]:.2f}]"


def target_verdict(case, advert, per, ratio, fine: bool) -> str:
    v = per.get("vipd", {})
    s = v.get("sf") if fine else v.get("s")
    tag = "served@1ms" if fine else "served"
    verdicts = []
    if s is None:
        return "no data"
    if case in ("1", "2"):
        verdicts.append((f"{tag} ≤ 5 ms", s[1] <= 5.0))
        if fine and v.get("after"):
            verdicts.append(("after exit ≤ 5 ms", v["after"][1] <= 5.0))
        if advert <= 0.0101:
            verdicts.append(("≥ 2× ka", ratio is not None and ratio >= 2))
        if advert >= 0.999:
            verdicts.append(("≥ 100× ka", ratio is not None and ratio >= 100))
    if case in ("3", "4"):
        bound = HTTP_INTERVAL_MS * HTTP_FALL + 10
        verdicts.append((f"{tag} ≤ {bound} ms", s[1] <= bound))
        verdicts.append(("≥ 5× ka", ratio is not None and ratio >= 5))
    if case == "5":
        return "see the node-crash table (t0 is not when the last advert left A)"
    if case == "7":
        verdicts.append(("0 lost", v.get("lost", 1) == 0))
    if case in ("1", "2", "3", "4", "7"):
        verdicts.append(("0 hung", v.get("hung", 1) == 0))
    return "; ".join(f"{name} {'PASS' if ok else 'MISS'}" for name, ok in verdicts) or "—"


def report_policy(res) -> None:
    pol = res.get("policy", {})
    if not pol:
        return
    out("")
    watcher = pol.pop("exit watcher", None)
    out("scheduling policy of A's speaker in the failover runs (threads' policies joined by '+'; "
        "keepalived = parent,VRRP child): " +
        "; ".join(f"{sp} {ilabel(a)} {v}" for (sp, a), v in sorted(pol.items(),
                                                                      key=lambda x: (x[0][0], x[0][1]))))
    if watcher:
        out(f"nginx exit watcher (pidfd; keepalived's track-file feeder): {watcher}")


def report_crash(res, intervals) -> None:
    crash = res["crash"]
    if not crash:
        return
    out("")
    out("## Node crash: B's first advert − A's last advert, from a capture on the LAN bridge (ms)")
    out(f"{'advert':>6} {'MDI(B)':>7} | {'vipd median [min–max]':>24} {'err':>6} | "
        f"{'keepalived median [min–max]':>28} {'err':>6}")
    for advert in intervals:
        mdi = master_down_ms(PRIO_B, advert * 1000)
        cells = []
        for sp in SPEAKERS:
            s = stats3(crash.get((sp, advert), []))
            cells.append((fmt3(s), f"{s[1] - mdi:+.1f}" if s else "—"))
        v = stats3(crash.get(("vipd", advert), []))
        verdict = ("  target |err| ≤ 2 ms: " + ("PASS" if abs(v[1] - mdi) <= 2 else "MISS")) if v else ""
        out(f"{ilabel(advert):>6} {mdi:>7.1f} | {cells[0][0]:>24} {cells[0][1]:>6} | "
            f"{cells[1][0]:>28} {cells[1][1]:>6}{verdict}")


# --------------------------------------------------------------------------------------------
# Idle cost and timer jitter
# --------------------------------------------------------------------------------------------

CLK = os.sysconf("SC_CLK_TCK")


def proc_tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                kids = Path(f"/proc/{p}/task/{task}/children").read_text().split()
                todo.extend(int(k) for k in kids)
        except OSError:
            pass
    return pids


def cpu_ticks(pids) -> int:
    tot = 0
    for p in pids:
        try:
            f = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            tot += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])  # utime stime cutime cstime
        except (OSError, IndexError):
            pass
    return tot


def sched_policies(pids) -> str:
    """Scheduling policy (and RT priority) of each process, from /proc/PID/task/*/stat fields
    40-41: one entry per process, its threads' distinct policies joined by "+" (e.g. a SCHED_RR
    event-loop thread beside SCHED_OTHER helpers: "OTHER+RR/10")."""
    names = {0: "OTHER", 1: "FIFO", 2: "RR", 3: "BATCH", 5: "IDLE"}
    res = []
    for p in pids:
        pols = []
        try:
            tasks = sorted(os.listdir(f"/proc/{p}/task"), key=int)
        except OSError:
            continue
        for t in tasks:
            try:
                f = Path(f"/proc/{p}/task/{t}/stat").read_text().rsplit(")", 1)[1].split()
                pol, rt = int(f[38]), int(f[37])
            except (OSError, IndexError, ValueError):
                continue
            name = names.get(pol, str(pol)) + (f"/{rt}" if rt else "")
            if name not in pols:
                pols.append(name)
        if pols:
            res.append("+".join(pols))
    return ",".join(res)


def rss_kb(pids) -> int:
    tot = 0
    for p in pids:
        try:
            m = re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{p}/status").read_text())
            tot += int(m.group(1)) if m else 0
        except OSError:
            pass
    return tot


class Pair:
    """A speaker on A and B in a lab of its own, for the idle/scale measurements."""

    def __init__(self, lab, speaker, cfg_a, cfg_b):
        self.lab, self.speaker = lab, speaker
        start = lab.start_vipd if speaker == "vipd" else lab.start_keepalived
        self.pa = start(lab.a, cfg_a)
        self.pb = start(lab.b, cfg_b)

    def pids(self, which):
        p = self.pa if which == "a" else self.pb
        if self.speaker == "vipd":
            return [p.pid]
        return proc_tree(p.pid)


def idle_and_jitter(args, windows) -> list:
    """windows: [(advert, seconds, capture?)]. Both speakers measured at once, each in its own lab."""
    rows = []
    for advert, secs, capture in windows:
        note(f"idle window: {ilabel(advert)} adverts, {secs:g} s, both speakers in parallel labs")
        labs = [Lab(quiet=True) for _ in SPEAKERS]
        try:
            pairs, caps = {}, {}
            for lab, sp in zip(labs, SPEAKERS):
                lab.__enter__()
                if sp == "vipd":
                    ca = vipd_config(lab.a, PRIO_A, advert=ilabel(advert), group_size=2,
                                     extra_agent=agent_lines())
                    cb = vipd_config(lab.b, PRIO_B, advert=ilabel(advert), group_size=2,
                                     extra_agent=agent_lines())
                else:
                    ca = keepalived_config(lab.a, PRIO_A, advert=advert)
                    cb = keepalived_config(lab.b, PRIO_B, advert=advert)
                pairs[sp] = Pair(lab, sp, ca, cb)
            for lab, sp in zip(labs, SPEAKERS):
                wait_for(lambda: lab.has_vip(lab.a) and not lab.has_vip(lab.b), 15,
                         f"{sp}: VIP on A")
            time.sleep(1.0)
            if capture:
                for lab, sp in zip(labs, SPEAKERS):
                    caps[sp] = lab.capture(None, "ip proto 112")
            t0 = time.monotonic()
            c0 = {(sp, w): cpu_ticks(pairs[sp].pids(w)) for sp in SPEAKERS for w in "ab"}
            time.sleep(secs)
            el = time.monotonic() - t0
            c1 = {(sp, w): cpu_ticks(pairs[sp].pids(w)) for sp in SPEAKERS for w in "ab"}
            for sp in SPEAKERS:
                row = {"speaker": sp, "advert": advert, "secs": el}
                for w in "ab":
                    row[f"cpu_{w}"] = (c1[(sp, w)] - c0[(sp, w)]) / CLK / el * 100
                    row[f"rss_{w}"] = rss_kb(pairs[sp].pids(w))
                    row[f"nproc_{w}"] = len(pairs[sp].pids(w))
                    row[f"policy_{w}"] = sched_policies(pairs[sp].pids(w))
                if capture:
                    caps[sp].stop()
                    pk = vrrp_packets(caps[sp])
                    row["jitter"] = spacing_stats(pk, "198.18.0.11", advert * 1000)
                rows.append(row)
        finally:
            for lab in labs:
                lab.close()
    return rows


def report_idle(rows) -> None:
    if not rows:
        return
    out("")
    out("## Idle cost (no failover, bare VRRP, no checks): CPU % of one core and RSS")
    out("keepalived = its parent + VRRP child (-P), summed; A = master, B = backup")
    out(f"{'advert':>6} {'window':>6} | {'vipd A cpu%':>11} {'B cpu%':>7} {'A RSS kB':>9} {'B RSS kB':>9} | "
        f"{'ka A cpu%':>9} {'B cpu%':>7} {'A RSS kB':>9} {'B RSS kB':>9}")
    by = {}
    for r in rows:
        by.setdefault(r["advert"], {})[r["speaker"]] = r
    for advert, d in by.items():
        v, k = d.get("vipd"), d.get("keepalived")
        if not v or not k:
            continue
        out(f"{ilabel(advert):>6} {v['secs']:>5.0f}s | {v['cpu_a']:>11.3f} {v['cpu_b']:>7.3f} "
            f"{v['rss_a']:>9} {v['rss_b']:>9} | {k['cpu_a']:>9.3f} {k['cpu_b']:>7.3f} "
            f"{k['rss_a']:>9} {k['rss_b']:>9}")
    pol = {r["speaker"]: r.get("policy_a", "") for r in rows}
    out(f"scheduling policy of the processes: " + "; ".join(f"{k} {v}" for k, v in pol.items()))
    jit = [r for r in rows if r.get("jitter")]
    if jit:
        out("")
        out("## Timer precision: spacing of the master's adverts on the wire (ms), capture on the bridge")
        out(f"{'speaker':<10} {'advert':>6} {'n':>5} | {'min':>7} {'median':>7} {'p99':>7} {'max':>7} | "
            f"{'|dev| median':>12} {'|dev| p99':>9}")
        for r in jit:
            j = r["jitter"]
            out(f"{r['speaker']:<10} {ilabel(r['advert']):>6} {j['n']:>5} | {j['min']:>7.3f} "
                f"{j['median']:>7.3f} {j['p99']:>7.3f} {j['max']:>7.3f} | {j['dev_median']:>12.3f} "
                f"{j['dev_p99']:>9.3f}")


# --------------------------------------------------------------------------------------------
# Scale
# --------------------------------------------------------------------------------------------

def many_vips(n=1000) -> list[str]:
    base = (198 << 24) | (18 << 16) | (4 << 8)  # 198.18.4.0/22
    return [f"{(x >> 24) & 255}.{(x >> 16) & 255}.{(x >> 8) & 255}.{x & 255}/32"
            for x in (base + 1 + i for i in range(n))]


def addr_events(w: VipWatcher, op: str, since: float, prefix="198.18.") -> list[float]:
    with w._cond:
        evs = list(w._events)
    return sorted(e.t for e in evs if e.op == op and e.t >= since and
                  e.address.startswith(("198.18.4.", "198.18.5.", "198.18.6.", "198.18.7.")))


def scale_vips(args, runs: int) -> list:
    """1,000 /32 VIPs on one instance: A (master) SIGTERMed → B installs all; A restarted → A
    preempts back. Times from the action to the first/last address event (netlink)."""
    rows = []
    vips = many_vips(1000)
    for sp in SPEAKERS:
        note(f"scale (a): 1000 VIPs, {sp}")
        with Lab(quiet=True) as lab:
            def cfg(node, prio):
                if sp == "vipd":
                    return vipd_config(node, prio, advert="100ms", vips=vips, group_size=2,
                                       extra_agent=agent_lines())
                return keepalived_config(node, prio, advert=0.1, vips=vips)
            start = lab.start_vipd if sp == "vipd" else lab.start_keepalived
            wa, wb = VipWatcher(lab, lab.a, vips[-1]), VipWatcher(lab, lab.b, vips[-1])
            pa = start(lab.a, cfg(lab.a, PRIO_A))
            pb = start(lab.b, cfg(lab.b, PRIO_B))
            try:
                wait_for(lambda: len(addr_events(wa, "add", 0)) >= 1000 and
                         not lab.has_vip(lab.b, vips[0]), 30, f"{sp}: 1000 VIPs on A")
            except AssertionError as e:
                out(f"  {sp}: 1000 VIPs never all on A: {e}; A log tail: {pa.log_text()[-600:]}")
                continue
            time.sleep(0.5)
            for r in range(runs):
                try:
                    t0 = time.monotonic()
                    pa.stop(timeout=10)
                    wait_for(lambda: len(addr_events(wb, "add", t0)) >= 1000, 30, "1000 on B")
                    addb = addr_events(wb, "add", t0)
                    dela = addr_events(wa, "del", t0)
                    t1 = time.monotonic()
                    pa = start(lab.a, cfg(lab.a, PRIO_A))
                    wait_for(lambda: len(addr_events(wa, "add", t1)) >= 1000 and
                             len(addr_events(wb, "del", t1)) >= 1000, 30, "1000 back on A")
                    adda = addr_events(wa, "add", t1)
                    delb = addr_events(wb, "del", t1)
                    rows.append({"speaker": sp,
                                 "b_first": (addb[0] - t0) * 1000, "b_last": (addb[999] - t0) * 1000,
                                 "b_span": (addb[999] - addb[0]) * 1000,
                                 "a_del_span": (dela[-1] - dela[0]) * 1000 if len(dela) > 1 else None,
                                 "a_back_span": (adda[999] - adda[0]) * 1000,
                                 "b_del_span": (delb[-1] - delb[0]) * 1000})
                    print(f"  {sp} run {r + 1}: {rows[-1]}", flush=True)
                    time.sleep(0.5)
                except AssertionError as e:
                    out(f"  {sp} 1000-VIP run {r + 1} failed: {e}")
                    break
    return rows


def report_scale_vips(rows):
    if not rows:
        return
    out("")
    out("## Scale (a): 1,000 /32 VIPs on one instance (100 ms adverts), netlink times (ms)")
    out("SIGTERM of A's speaker → B: first / last address added (from the SIGTERM) and the span")
    out("first→last add; A's removal span; A restarted → its add span and B's removal span.")
    out(f"{'speaker':<10} | {'B first':>16} {'B all':>16} {'B add span':>16} | {'A del span':>16} | "
        f"{'A re-add span':>16} {'B del span':>16}")
    for sp in SPEAKERS:
        rs = [r for r in rows if r["speaker"] == sp]
        if not rs:
            continue
        def f(k):
            return fmt3(stats3([r[k] for r in rs]))
        out(f"{sp:<10} | {f('b_first'):>16} {f('b_last'):>16} {f('b_span'):>16} | "
            f"{f('a_del_span'):>16} | {f('a_back_span'):>16} {f('b_del_span'):>16}")


def scale_instances(args, secs: float) -> list:
    """50 instances on one interface, 100 ms adverts: CPU of each speaker over ``secs``."""
    rows = []
    labs = [Lab(quiet=True) for _ in SPEAKERS]
    note(f"scale (b): 50 instances at 100 ms, {secs:g} s, both speakers in parallel labs")
    try:
        pairs = {}
        for lab, sp in zip(labs, SPEAKERS):
            lab.__enter__()
            cfgs = []
            for node, prio in ((lab.a, PRIO_A), (lab.b, PRIO_B)):
                if sp == "vipd":
                    parts = []
                    for i in range(1, 51):
                        t = vipd_config(node, prio, vrid=i, advert="100ms",
                                        vips=[f"198.18.1.{i}/32"], group_size=2,
                                        extra_agent=agent_lines())
                        if i > 1:
                            t = t[t.index("[[instance]]"):]
                        parts.append(t.replace('name = "web"', f'name = "web{i}"'))
                    cfgs.append("\n".join(parts))
                else:
                    parts = []
                    for i in range(1, 51):
                        t = keepalived_config(node, prio, vrid=i, advert=0.1,
                                              vips=[f"198.18.1.{i}/32"])
                        if i > 1:
                            t = t[t.index("vrrp_instance"):]
                        parts.append(t)
                    cfgs.append("\n".join(parts))
            pairs[sp] = Pair(lab, sp, *cfgs)
        for lab, sp in zip(labs, SPEAKERS):
            wait_for(lambda: all(lab.has_vip(lab.a, f"198.18.1.{i}") for i in (1, 25, 50)) and
                     not lab.has_vip(lab.b, "198.18.1.50"), 20, f"{sp}: 50 VIPs on A")
        time.sleep(1)
        t0 = time.monotonic()
        c0 = {(sp, w): cpu_ticks(pairs[sp].pids(w)) for sp in SPEAKERS for w in "ab"}
        time.sleep(secs)
        el = time.monotonic() - t0
        c1 = {(sp, w): cpu_ticks(pairs[sp].pids(w)) for sp in SPEAKERS for w in "ab"}
        for sp in SPEAKERS:
            rows.append({"speaker": sp, "secs": el,
                         **{f"cpu_{w}": (c1[(sp, w)] - c0[(sp, w)]) / CLK / el * 100 for w in "ab"},
                         **{f"rss_{w}": rss_kb(pairs[sp].pids(w)) for w in "ab"}})
    finally:
        for lab in labs:
            lab.close()
    return rows


def report_scale_instances(rows):
    if not rows:
        return
    out("")
    out("## Scale (b): 50 instances on one interface, 100 ms adverts: CPU % of one core (target < 5%)")
    for r in rows:
        verdict = ""
        if r["speaker"] == "vipd":
            verdict = "  target < 5%: " + ("PASS" if max(r["cpu_a"], r["cpu_b"]) < 5 else "MISS")
        out(f"{r['speaker']:<10} over {r['secs']:.0f}s: A (50 masters) {r['cpu_a']:.2f}%  "
            f"B (50 backups) {r['cpu_b']:.2f}%  RSS A {r['rss_a']} kB  B {r['rss_b']} kB{verdict}")


# --------------------------------------------------------------------------------------------

def conditions(args, intervals) -> list[str]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ka = subprocess.run(["keepalived", "--version"], capture_output=True, text=True)
    kav = (ka.stderr or ka.stdout).splitlines()[0] if (ka.stderr or ka.stdout) else "?"
    vv = subprocess.run([os.environ["VIPD_BIN"], "version"], stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT, text=True)
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True).stdout.strip()
    return [
        f"date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}   vipd commit {head}",
        f"kernel: {platform.release()}   CPU: {cpu} × {os.cpu_count()}   "
        f"load avg at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        f"vipd: {vv.stdout.strip()}   keepalived: {kav}",
        f"lab: netns + veth + bridge, nodes ip_forward=0, arp_accept=0; VRRPv3; A prio 150, B 100; "
        f"client polls every {POLL_INTERVAL * 1000:g} ms, timeout {POLL_TIMEOUT * 1000:g} ms, new TCP "
        f"connection per request",
        (f"second client: open-loop probe, a request every {FINE_INTERVAL * 1000:g} ms, timeout "
         f"{FINE_TIMEOUT * 1000:g} ms, on only around each action" if FINE_INTERVAL else
         "second client: none (--no-fine-probe)"),
        f"vipd: group_size = 2; cases 1, 2, 6 pid check (pidfd); cases 3–4 http check interval "
        f"{HTTP_INTERVAL_MS} ms, timeout {HTTP_TIMEOUT_MS} ms, fall {HTTP_FALL}, rise 1, weight -60",
        ka_track_text() + "; cases 3–4: 1 s vrrp_script curl -m 0.1, weight -60",
        "cases 3–4: each action at a random phase (uniform 0–1 s wait, seeded) of the periodic checks",
        f"runs per cell: {args.runs}; advert intervals: {', '.join(ilabel(i) for i in intervals)}",
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--intervals", default="1s,100ms,10ms")
    ap.add_argument("--cases", default="1,2,3,4,5,6,7")
    ap.add_argument("--quick", action="store_true", help="3 runs, 100ms and 10ms only, short idle")
    ap.add_argument("--no-idle", action="store_true")
    ap.add_argument("--no-scale", action="store_true")
    ap.add_argument("--no-failover", action="store_true")
    ap.add_argument("--speakers", default="vipd,keepalived",
                    help="failover matrix only: which speakers (default both)")
    ap.add_argument("--poll-ms", type=float, default=10,
                    help="client poll interval (default 10 ms; the served figure's resolution)")
    ap.add_argument("--fine-ms", type=float, default=1,
                    help="interval of the second, open-loop probe (default 1 ms)")
    ap.add_argument("--fine-timeout-ms", type=float, default=200,
                    help="request timeout of the open-loop probe (default 200 ms)")
    ap.add_argument("--no-fine-probe", action="store_true",
                    help="no second probe (to check that it does not disturb the measurement)")
    ap.add_argument("--ka-track", choices=("file", "script"), default="file",
                    help="keepalived in cases 1, 2, 6: track_file fed by a pidfd watcher "
                         "(default; emulates vrrp_track_process) or a 1 s vrrp_script")
    ap.add_argument("--idle-seconds", type=float, default=60)
    ap.add_argument("--vipd-realtime", type=int, default=None,
                    help="[agent] realtime_priority of every vipd (default: vipd's own, 10)")
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "latest.txt"))
    args = ap.parse_args()
    global VIPD_REALTIME
    VIPD_REALTIME = args.vipd_realtime
    if args.quick:
        args.runs = min(args.runs, 3)
        if args.intervals == "1s,100ms,10ms":
            args.intervals = "100ms,10ms"
        args.idle_seconds = min(args.idle_seconds, 15)
    require_root_or_skip(need=("nginx", "keepalived", "vipd", "tcpdump", "tshark", "curl") +
                         (() if args.no_fine_probe else ("cc",)))
    global POLL_INTERVAL, FINE_INTERVAL, FINE_TIMEOUT, KA_TRACK
    POLL_INTERVAL = args.poll_ms / 1000
    FINE_INTERVAL = None if args.no_fine_probe else args.fine_ms / 1000
    FINE_TIMEOUT = args.fine_timeout_ms / 1000
    KA_TRACK = args.ka_track
    args.speakers = [x for x in args.speakers.split(",") if x in SPEAKERS]
    intervals = [parse_interval(x) for x in args.intervals.split(",") if x.strip()]
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    for c in cases:
        if c not in CASES:
            ap.error(f"unknown case {c!r}: {', '.join(CASES)}")
    t_start = time.monotonic()
    threading.Thread(target=_sample_load, daemon=True).start()
    cond = conditions(args, intervals)
    for line in cond:
        print(line, flush=True)

    res = run_matrix(args, intervals, cases) if not args.no_failover else None
    idle_rows, sv, si = [], [], []
    if not args.no_idle:
        secs = args.idle_seconds
        idle_rows = idle_and_jitter(args, [(1.0, secs, False), (0.1, max(20, secs / 3), True),
                                           (0.01, secs, True)])
    if not args.no_scale:
        sv = scale_vips(args, 3)
        si = scale_instances(args, 30 if not args.quick else 15)

    global OUT_LINES
    OUT_LINES = []
    out("# vipd vs keepalived — failover benchmark (bench/failover.py)")
    out("")
    out("command: sudo python3 bench/failover.py " + " ".join(sys.argv[1:]))
    for line in cond:
        out(line)
    out("cases: " + "; ".join(f"{k} {v}" for k, v in CASES.items() if k in cases))
    if res:
        report_matrix(res, intervals, cases)
        report_steps(res, intervals, cases)
        report_crash(res, intervals)
        report_policy(res)
    report_idle(idle_rows)
    report_scale_vips(sv)
    report_scale_instances(si)
    out("")
    if LOAD:
        out(f"1-min load average during the run (sampled every 10 s): min {min(LOAD):.2f}, "
            f"median {statistics.median(LOAD):.2f}, max {max(LOAD):.2f} on {os.cpu_count()} CPUs")
    out(f"total run time: {(time.monotonic() - t_start) / 60:.1f} min")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(OUT_LINES) + "\n")
    raw = Path(args.out).with_suffix(".json")
    if res:
        raw.write_text(json.dumps({"conditions": cond,
                                   "runs": {f"{k[0]}|{k[1]}|{k[2]}": v
                                            for k, v in res["runs"].items()},
                                   "crash": {f"{k[0]}|{k[1]}": v for k, v in res["crash"].items()},
                                   "fine_probe": {f"{k[0]}|{k[1]}": v
                                                  for k, v in res["fine"].items()}},
                                  indent=1))
    print(f"\nwritten: {args.out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
