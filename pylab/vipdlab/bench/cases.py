"""The failover cases: the speakers' configurations, one lab per (speaker, interval) with its
nginx, watchers, poller and 1 ms probe (``Bench``), each case's action and measurement, and the
matrix of runs."""

from __future__ import annotations

import os
import signal
import time

from vipdlab import Lab, keepalived_config, vipd_config, wait_for
from vipdlab.netns import IPV6_NO_DAD
from vipdlab.bench import common as C
from vipdlab.bench.common import (API, HTTP_FALL, HTTP_INTERVAL_MS, HTTP_TIMEOUT_MS, PHASE_RNG,
                                  POLL_TIMEOUT, PRIO_A, PRIO_B, agent_lines, ilabel, ms, note,
                                  out)
from vipdlab.bench.hoststats import proc_tree, sched_policies
from vipdlab.bench.probe import ExitWatcher, FineProbe, account
from vipdlab.bench.wire import (CAPTURE_FILTER, attach_wire_times, crash_takeovers, vrrp_packets,
                                wire_events)
from vipdlab.vipd import VipWatcher, master_down_ms, skew_ms


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
                       vips=(C.VIP_CIDR,),
                       extra_instance=extra_i + "\n" + C.VIPD_INSTANCE_EXTRA, extra=extra,
                       extra_agent=f'state_dir = "{state_dir}"\napi_token_file = "{token}"\n' +
                       agent_lines())


def keepalived_cfg(lab: Lab, node, prio: int, case: str, advert: float) -> str:
    scripts, extra_i = "", ""
    if case in ("1", "2", "6") and C.KA_TRACK == "file":
        # keepalived's best, vrrp_track_process, cannot run in a network namespace: the kernel's
        # process-events connector (NETLINK_CONNECTOR / cn_proc) exists only in the initial one
        # ("Failed to set/clear process event listen - errno 111", then FAULT for ever). Emulated
        # with its event-driven track_file (inotify): a watcher blocked on nginx master's pidfd
        # writes "1" the moment nginx exits (weight 0: FAULT, priority-0 advert; weight -60:
        # priority 150 - 60), "0" when nginx is back (vipdlab.bench.probe, ExitWatcher).
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
    return keepalived_config(node, prio, advert=advert, scripts=scripts, extra_instance=extra_i,
                             vips=(C.VIP_CIDR,))


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
        track = speaker == "keepalived" and C.KA_TRACK == "file"
        self.watch = {n.name: ExitWatcher(lab, n, track_file=track) for n in (lab.a, lab.b)}
        if C.FAMILY == 6:
            lab.add_ipv6_all()
        # the adverts' sources on the wire: the nodes' IPv4 addresses or IPv6 link-locals
        self.src = {n.name: (lab.link_local(n) if C.FAMILY == 6 else n.addr)
                    for n in (lab.a, lab.b)}
        for n in (lab.a, lab.b):
            self.start_nginx(n)
        self.wa = VipWatcher(lab, lab.a, C.VIP)
        self.wb = VipWatcher(lab, lab.b, C.VIP)
        self.poller = lab.poller(C.VIP, interval=C.POLL_INTERVAL, timeout=POLL_TIMEOUT)
        self.fine = (FineProbe(lab, lab.c, C.VIP, interval=C.FINE_INTERVAL, timeout=C.FINE_TIMEOUT)
                     if C.FINE_INTERVAL else None)
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
        wait_for(lambda: lab.has_vip(lab.a, C.VIP) and not lab.has_vip(lab.b, C.VIP), timeout,
                 lambda: f"VIP on A only (holders {lab.vip_holders(C.VIP)})")
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
            time.sleep(max(0.0, funtil + C.FINE_TIMEOUT + 0.02 - time.monotonic()))
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
        if case == "5":
            # A vipd master that yielded to A (the previous run's recovery) repeats its own
            # advert for a Master_Down_Interval (at least 2 s): let that end, so that B's first
            # advert after the crash is its takeover and runs do not overlap.
            time.sleep(max(2.0, self.mdi_b / 1000) + 0.1)
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
            with Lab(quiet=True, sysctls=IPV6_NO_DAD if C.FAMILY == 6 else None) as lab:
                b = Bench(lab, speaker, advert)
                for case in run_cases:
                    try:
                        b.setup_case(case)
                    except Exception as e:
                        out(f"  case {case}: set-up failed: {e}")
                        continue
                    cap = (lab.capture(None, CAPTURE_FILTER[C.FAMILY])
                           if case in ("1", "2", "3", "4", "5") else None)
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
                            crash[(speaker, advert)] = crash_takeovers(
                                vrrp_packets(cap), b.src["a"], b.src["b"], min_gap_ms=b.mdi_b / 2)
                        else:
                            attach_wire_times(results.get((speaker, advert, case), []),
                                              wire_events(cap), b.src["a"], b.src["b"])
                        cap.file.unlink(missing_ok=True)
                b.stop_speakers()
                if b.fine:
                    fine[(speaker, advert)] = {"seconds": b.fine.on_seconds,
                                               "cpu_ticks": b.fine.cpu_ticks,
                                               "requests": b.fine.requests(),
                                               "spacing": b.fine.spacing()}
    return {"runs": results, "crash": crash, "policy": policy, "fine": fine}
