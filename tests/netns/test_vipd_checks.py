#!/usr/bin/env python3
"""[netns] Health checks weighting VRRP priority, on real nginx (docs/checks.md).

A (198.18.0.11, priority 150) and B (198.18.0.12, priority 100), VIP 198.18.0.100/24, real nginx
on both, a client polling the VIP every 10 ms; VRRPv3, 100 ms adverts, group_size = 2. Each vipd
runs the recommended nginx pair: a `pid` check on nginx's pidfile tracked with weight 0 (nginx
gone → FAULT) and an `http` check on http://127.0.0.1/healthz (interval 50 ms, timeout 100 ms,
rise 2, fall 2) tracked with weight -60 (150 - 60 = 90 < 100 → B preempts).

Cases (run all, or name some on the command line: `test_vipd_checks.py stop flap`):
  stop       nginx -s stop / SIGTERM on the master → B serves, A FAULT; nginx back → A preempts
  kill       SIGKILL of nginx's whole process group → same
  quit       `nginx -s quit` (graceful) → same
  kill-master SIGKILL of nginx's master only (its worker keeps serving) → same (clean handover)
  unhealthy  /healthz 503 → failover after `fall` (A effective 90, B MASTER by preempt);
             healthy again → A preempts back
  reload     `nginx -s reload` × 5 on the master → no transition, the client never sees node-b
  flap       /healthz alternates 503/200 every 300 ms for 3 s: VIP moves ≤ phases; A ends MASTER
  flap-rise  the same with a rise long enough to outlast a healthy phase: exactly one move
  flap-rise8 rise 8: the edge interval (interval/4 while pending) still brings the check up
             within a phase, so the moves are NOT suppressed (documented behaviour)
  nopreempt  preempt = false: nginx killed then back on A → B keeps the VIP
  cold       cold start with nginx down (and with /healthz 503) on A: A never claims the VIP
  recover-1s preempt back at 1 s adverts acts on the master's last advert (not its next one)
Exit 0 pass, 1 fail, 77 skipped."""

import math
import os
import signal
import subprocess
import sys
import time
import traceback

from vipdlab import (NGINX, VIP, Lab, require_root_or_skip, require_vipd_or_skip, vipd_config,
                     wait_for)

API = "127.0.0.1:9555"
STATUS = f"http://{API}/status"
ADVERT = 0.100                 # advert_interval "100ms"
HTTP_INTERVAL = 0.050          # nginx-http interval "50ms"
HTTP_TIMEOUT = 0.100
RISE, FALL = 2, 2
# RFC 9568 Master_Down_Interval for the backup B (priority 100): 3 × 100 ms + skew ≈ 361 ms.
MASTER_DOWN_B = 3 * ADVERT + (256 - 100) / 256 * ADVERT
# Deadlines are generous (a busy 2-core CI machine); the measured figures are printed.
FAULT_TAKEOVER_DEADLINE = 1.5  # pid check is immediate: FAULT → priority 0 → B at once
# /healthz 503 → B: detection (interval + (fall-1) × edge interval + probe time), A's next
# advert with 90, B's preempt (skew ≈ 61 ms), plus a margin.
UNHEALTHY_DEADLINE = HTTP_INTERVAL * FALL + ADVERT + MASTER_DOWN_B + 0.400
RECOVER_DEADLINE = 5.0         # nginx restart (its own start-up) + rise + preempt
PHASE = 0.300                  # flapping phase length
FLAP_TIME = 3.0

RESULTS: list[str] = []


def result(line: str) -> None:
    RESULTS.append(line)
    print(f"RESULT {line}", flush=True)


# --------------------------------------------------------------------------------------------
# Config and /status helpers
# --------------------------------------------------------------------------------------------

def checks_config(node, nginx, priority, preempt=True, rise=RISE, fall=FALL,
                  interval="50ms", timeout="100ms", group_size=2, advert="100ms") -> str:
    extra_instance = ('track = [ { check = "nginx-pid", weight = 0 }, '
                      '{ check = "nginx-http", weight = -60 } ]')
    extra = (f'[[check]]\nname = "nginx-pid"\ntype = "pid"\npidfile = "{nginx_pidfile(nginx, node)}"\n\n'
             f'[[check]]\nname = "nginx-http"\ntype = "http"\nurl = "http://127.0.0.1/healthz"\n'
             f'interval = "{interval}"\ntimeout = "{timeout}"\nrise = {rise}\nfall = {fall}\n')
    return vipd_config(node, priority=priority, preempt=preempt, api_listen=API, advert=advert,
                       group_size=group_size, extra_instance=extra_instance, extra=extra)


def nginx_pidfile(nginx, node):
    # Lab.start_nginx puts nginx's prefix (and pidfile) in <lab dir>/nginx-<name>/.
    return nginx.pidfile if nginx is not None else node.lab.dir / f"nginx-{node.name}" / "nginx.pid"


def status(node) -> dict | None:
    return node.http_json(STATUS, timeout=1.0)


def inst(node) -> dict | None:
    st = status(node)
    return st["instances"][0] if st and st.get("instances") else None


def check_of(st: dict, name: str) -> dict:
    return next(c for c in st["checks"] if c["name"] == name)


def contribution(i: dict, name: str) -> dict:
    return next(c for c in i["priority"]["contributions"] if c["check"] == name)


def state(node) -> str | None:
    i = inst(node)
    return i["state"] if i else None


def wait_state(node, want: str, timeout: float, extra=None) -> dict:
    """Wait for /status of ``node`` to report ``want`` (and ``extra(status)`` truthy)."""
    last = {}

    def ok():
        st = status(node)
        last["st"] = st
        if not st:
            return None
        i = st["instances"][0]
        if i["state"] == want and (extra is None or extra(st)):
            return st
        return None

    def what():
        st = last.get("st")
        brief = None
        if st:
            i = st["instances"][0]
            brief = (i["state"], i["priority"]["effective"], i["reason"],
                     [(c["name"], c["up"], c["last_error"]) for c in st["checks"]])
        return f"{node.label} to be {want}; last /status: {brief}"
    return wait_for(ok, timeout, what, interval=0.02)


def transitions_total(i: dict) -> int:
    return sum(t["count"] for t in i["transitions"])


def to_master(i: dict) -> int:
    return sum(t["count"] for t in i["transitions"] if t["to"] == "MASTER")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def client_moves(poller, since, until=None) -> tuple[int, list]:
    """Changes of the node serving the client (node-a ↔ node-b), errors ignored."""
    served = [s.outcome for s in poller.samples(since, until) if s.ok]
    moves, prev = 0, None
    for o in served:
        if prev is not None and o != prev:
            moves += 1
        prev = o
    runs = [(o, n) for (_, _, o, n) in poller.timeline(since, until)]
    return moves, runs


class Pair:
    """The two-node set-up: nginx + vipd on A and B, a client polling the VIP."""

    def __init__(self, lab, preempt=True, rise_a=RISE, nginx_a=True, healthy_a=True,
                 wait_master=True, advert="100ms"):
        self.lab = lab
        a, b = lab.a, lab.b
        self.ng_b = lab.start_nginx(b)
        self.ng_a = lab.start_nginx(a) if nginx_a else None
        if not nginx_a:  # like /run: the pidfile's directory exists, the pidfile does not
            (lab.dir / f"nginx-{a.name}").mkdir(exist_ok=True)
        if self.ng_a and not healthy_a:
            self.ng_a.set_healthy(False)
        self.preempt = preempt
        self.vd_a = lab.start_vipd(a, checks_config(a, self.ng_a, 150, preempt=preempt,
                                                    rise=rise_a, advert=advert))
        if not preempt and wait_master:
            # Without preempt the first master keeps the VIP: A must win the start-up election,
            # so B starts once A is MASTER (else B wins whenever A's checks come up a few ms
            # late on a loaded machine, and A never takes over).
            wait_state(a, "MASTER", 10)
        self.vd_b = lab.start_vipd(b, checks_config(b, self.ng_b, 100, preempt=preempt,
                                                    advert=advert))
        self.poller = None
        if wait_master:
            self.wait_a_master()

    def wait_a_master(self, timeout=10):
        wait_state(self.lab.a, "MASTER", timeout,
                   lambda st: all(c["up"] for c in st["checks"]))
        wait_state(self.lab.b, "BACKUP", timeout,
                   lambda st: all(c["up"] for c in st["checks"]))
        wait_for(lambda: self.lab.vip_holders() == ["node-a"], 5, "the VIP on node-a only")
        if self.poller is None:
            self.poller = self.lab.poller()
        self.poller.wait_served_by("node-a", 5, consecutive=20)

    def logs(self) -> str:
        out = []
        for p in (self.vd_a, self.vd_b):
            out.append(f"---- {p.name} log ({p.log}) ----\n{p.log_text()[-3000:]}")
        for n in (self.lab.a, self.lab.b):
            st = status(n)
            if st:
                i = st["instances"][0]
                out.append(f"---- {n.label} /status: state {i['state']} reason {i['reason']!r} "
                           f"priority {i['priority']} transitions {i['transitions']} "
                           f"checks {st['checks']}")
        if self.poller:
            out.append(f"---- client tail: {self.poller.tail(30)}")
        return "\n".join(out)


# --------------------------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------------------------

def nginx_down_then_back(pair: Pair, how: str) -> None:
    """Cases 1/2 (+6): nginx on the master stopped (SIGTERM) or killed (SIGKILL group)."""
    lab, a, b, poller = pair.lab, pair.lab.a, pair.lab.b, pair.poller
    before_a = inst(a)
    t0 = time.monotonic()
    workers = pair.ng_a.worker_pids()
    if how == "stop":
        pair.ng_a.terminate()          # SIGTERM to nginx's master == nginx -s stop (fast shutdown)
    elif how == "quit":
        nginx_cli(pair.ng_a, "quit")   # `nginx -s quit`: graceful shutdown via the pidfile
    elif how == "kill-master":
        pair.ng_a.signal(signal.SIGKILL)  # only the master: its worker keeps serving
    else:
        pair.ng_a.kill()               # SIGKILL of the whole process group (master + workers)
    first_b = poller.wait_served_by("node-b", FAULT_TAKEOVER_DEADLINE, since=t0)
    takeover = first_b.end - t0
    poller.wait_served_by("node-b", 5, since=first_b.end, consecutive=20)
    if how in ("stop", "quit"):
        pair.ng_a.wait_exit(5)
    st_a = wait_state(a, "FAULT", 2)
    st_b = wait_state(b, "MASTER", 2)
    ia, ib = st_a["instances"][0], st_b["instances"][0]
    pid = check_of(st_a, "nginx-pid")
    s = poller.summary(t0, first_b.end)
    what = {"stop": "SIGTERM to the master (= nginx -s stop)", "quit": "nginx -s quit",
            "kill": "SIGKILL of the process group",
            "kill-master": f"SIGKILL of the master only (workers {workers} left serving)"}[how]
    result(f"{how}: {what} on A → client served by B after {ms(takeover)} (deadline "
           f"{ms(FAULT_TAKEOVER_DEADLINE)}); requests in between {s['counts']}; A {ia['state']} "
           f"({ia['reason']!r}); pid check error {pid['last_error']!r}; B {ib['state']} "
           f"({ib['reason_code']})")
    assert pid["up"] is False, f"A's pid check still up: {pid}"
    assert contribution(ia, "nginx-pid")["up"] is False, ia["priority"]
    assert ia["fault"], f"A has no fault reason: {ia}"
    assert lab.vip_holders() == ["node-b"], f"VIP on {lab.vip_holders()}, want node-b only"
    assert to_master(ia) == to_master(before_a), "A went MASTER again while nginx was down"


def nginx_cli(ng, sig: str) -> None:
    r = subprocess.run([NGINX, "-p", str(ng.prefix), "-c", str(ng.conf), "-e", str(ng.error_log),
                        "-s", sig], capture_output=True, text=True, timeout=10)
    if r.returncode != 0:
        raise RuntimeError(f"nginx -s {sig} failed: {r.stderr.strip()}")


def nginx_recovers(pair: Pair, label: str) -> None:
    """Case 6: nginx back on A → A preempts (preempt = true) or B keeps it (preempt = false)."""
    lab, a, b, poller = pair.lab, pair.lab.a, pair.lab.b, pair.poller
    before_b = inst(b)
    t1 = time.monotonic()
    pair.ng_a = lab.start_nginx(a)
    t_nginx = time.monotonic() - t1
    if pair.preempt:
        first_a = poller.wait_served_by("node-a", RECOVER_DEADLINE, since=t1)
        poller.wait_served_by("node-a", 5, since=first_a.end, consecutive=20)
        st_a = wait_state(a, "MASTER", 2)
        ia = st_a["instances"][0]
        wait_state(b, "BACKUP", 2)
        wait_for(lambda: lab.vip_holders() == ["node-a"], 3, "the VIP on node-a only")
        result(f"{label}: nginx restarted on A (start-up {ms(t_nginx)}) → client served by A "
               f"after {ms(first_a.end - t1)}; A {ia['state']} ({ia['reason_code']}), "
               f"priority {ia['priority']['effective']}")
        assert ia["reason_code"] == "preempt", f"A became MASTER by {ia['reason_code']}"
        assert ia["priority"]["effective"] == 150, ia["priority"]
    else:
        # A recovers fully (both checks up, effective 150, BACKUP) yet must not take over.
        st_a = wait_state(a, "BACKUP", RECOVER_DEADLINE,
                          lambda st: all(c["up"] for c in st["checks"]) and
                          st["instances"][0]["priority"]["effective"] == 150)
        t_ready = time.monotonic()
        # Hold: several Master_Down_Intervals and A's checks cycles; B must keep the VIP.
        hold_until = t_ready + 4 * MASTER_DOWN_B + 0.5
        while time.monotonic() < hold_until:
            assert lab.vip_holders() == ["node-b"], f"VIP on {lab.vip_holders()} with preempt=false"
            time.sleep(0.05)
        ib = inst(b)
        s = poller.summary(t1)
        result(f"{label}: nginx restarted on A, A ready (BACKUP, effective 150) after "
               f"{ms(t_ready - t1)}; held {ms(time.monotonic() - t_ready)}: B still "
               f"{ib['state']}, client answers since restart {s['counts']}")
        assert ib["state"] == "MASTER", ib
        assert transitions_total(ib) == transitions_total(before_b), \
            f"B changed state: {before_b['transitions']} → {ib['transitions']}"
        assert "node-a" not in s["counts"], f"client served by node-a with preempt=false: {s}"


def case_nginx_down(how: str):
    """nginx goes down on the master (`how`: stop, kill or quit), then recovers (preempt=true)."""
    def case(lab):
        pair = Pair(lab)
        try:
            nginx_down_then_back(pair, how)
            nginx_recovers(pair, f"{how}-recover (preempt=true)")
        except AssertionError:
            print(pair.logs())
            raise
    return case


def case_kill_master(lab):
    """docs/checks.md: killing only the master leaves the workers serving; the pid check (weight
    0) must still hand over cleanly."""
    pair = Pair(lab)
    workers = pair.ng_a.worker_pids()
    try:
        nginx_down_then_back(pair, "kill-master")
        alive = [w for w in workers if os.path.exists(f"/proc/{w}")]
        status_w, body = lab.a.http_get("http://127.0.0.1/")
        result(f"kill-master: orphaned workers still alive {alive}, answering {status_w} "
               f"{body.strip()!r} on A's 127.0.0.1 — yet A is FAULT and B serves the VIP")
    except AssertionError:
        print(pair.logs())
        raise
    finally:
        for w in workers:  # our own nginx's orphaned workers, by PID
            try:
                os.kill(w, signal.SIGKILL)
            except ProcessLookupError:
                pass


def case_nopreempt(lab):
    pair = Pair(lab, preempt=False)
    try:
        nginx_down_then_back(pair, "kill")
        nginx_recovers(pair, "kill-recover (preempt=false)")
    except AssertionError:
        print(pair.logs())
        raise


def case_unhealthy(lab):
    pair = Pair(lab)
    a, b, poller = lab.a, lab.b, pair.poller
    try:
        t0 = time.monotonic()
        pair.ng_a.set_healthy(False)
        first_b = poller.wait_served_by("node-b", UNHEALTHY_DEADLINE + 2, since=t0)
        takeover = first_b.end - t0
        poller.wait_served_by("node-b", 5, since=first_b.end, consecutive=20)
        st_a = wait_state(a, "BACKUP", 2)
        st_b = wait_state(b, "MASTER", 2)
        ia, ib = st_a["instances"][0], st_b["instances"][0]
        http = check_of(st_a, "nginx-http")
        c = contribution(ia, "nginx-http")
        result(f"unhealthy: /healthz 503 on A → client served by B after {ms(takeover)} "
               f"(deadline interval×fall + advert + master-down + 400 ms = "
               f"{ms(UNHEALTHY_DEADLINE)}); A effective {ia['priority']['effective']} "
               f"(contribution {c}), http check error {http['last_error']!r}; B {ib['state']} "
               f"({ib['reason_code']}: {ib['reason']!r})")
        assert takeover <= UNHEALTHY_DEADLINE, \
            f"failover took {ms(takeover)} > {ms(UNHEALTHY_DEADLINE)}"
        assert ia["priority"]["effective"] == 90, ia["priority"]
        assert c["up"] is False and c["applied"] == -60, c
        assert http["up"] is False and "503" in (http["last_error"] or ""), http
        assert check_of(st_a, "nginx-pid")["up"] is True, "pid check went down on a 503"
        assert ib["reason_code"] == "preempt", f"B became MASTER by {ib['reason_code']}"
        assert lab.vip_holders() == ["node-b"], lab.vip_holders()

        t1 = time.monotonic()
        pair.ng_a.set_healthy(True)
        first_a = poller.wait_served_by("node-a", UNHEALTHY_DEADLINE + 2, since=t1)
        back = first_a.end - t1
        poller.wait_served_by("node-a", 5, since=first_a.end, consecutive=20)
        st_a = wait_state(a, "MASTER", 2)
        ia = st_a["instances"][0]
        wait_state(b, "BACKUP", 2)
        result(f"unhealthy-recover: /healthz 200 again → client served by A after {ms(back)}; "
               f"A {ia['state']} ({ia['reason_code']}), effective {ia['priority']['effective']}, "
               f"contribution {contribution(ia, 'nginx-http')}")
        assert ia["reason_code"] == "preempt", ia["reason_code"]
        assert ia["priority"]["effective"] == 150, ia["priority"]
        assert contribution(ia, "nginx-http")["applied"] == 0, ia["priority"]
        assert back <= UNHEALTHY_DEADLINE, f"failback took {ms(back)} > {ms(UNHEALTHY_DEADLINE)}"
        wait_for(lambda: lab.vip_holders() == ["node-a"], 3, "the VIP on node-a only")
    except AssertionError:
        print(pair.logs())
        raise


def case_reload(lab, reloads=5):
    pair = Pair(lab)
    a, b, poller = lab.a, lab.b, pair.poller
    try:
        before_a, before_b = inst(a), inst(b)
        master_pid = int(pair.ng_a.pidfile.read_text())
        t0 = time.monotonic()
        samples = []
        for k in range(reloads):
            old_workers = set(pair.ng_a.worker_pids())
            pair.ng_a.reload()
            # The reload is done when the old worker is gone and a new one serves.
            wait_for(lambda: (w := set(pair.ng_a.worker_pids())) and not (w & old_workers), 5,
                     f"nginx reload #{k + 1} on node-a to replace its workers")
            i = inst(a)
            samples.append((i["state"], i["priority"]["effective"]))
        t_done = time.monotonic()
        # Watch a while longer: a check that saw the reload as a failure would need fall runs.
        until = t_done + HTTP_INTERVAL * (FALL + 2) + 3 * ADVERT + 0.3
        while time.monotonic() < until:
            i = inst(a)
            samples.append((i["state"], i["priority"]["effective"]))
        after_a, after_b = inst(a), inst(b)
        st_a = status(a)
        s = poller.summary(t0)
        result(f"reload: {reloads} × nginx -s reload on A in {ms(t_done - t0)}, watched "
               f"{ms(time.monotonic() - t0)}: A transitions {transitions_total(before_a)}→"
               f"{transitions_total(after_a)}, B {transitions_total(before_b)}→"
               f"{transitions_total(after_b)}; A state/priority samples "
               f"{sorted(set(samples))}; client {s['counts']}; master pid {master_pid} → "
               f"{pair.ng_a.pidfile.read_text().strip()}")
        assert int(pair.ng_a.pidfile.read_text()) == master_pid, "reload changed the master PID"
        assert transitions_total(after_a) == transitions_total(before_a), \
            f"A changed state: {before_a['transitions']} → {after_a['transitions']}"
        assert transitions_total(after_b) == transitions_total(before_b), \
            f"B changed state: {before_b['transitions']} → {after_b['transitions']}"
        assert set(samples) == {("MASTER", 150)}, f"A left MASTER/150 during reloads: {samples}"
        assert "node-b" not in s["counts"], f"client saw node-b during reloads: {s}"
        assert all(c["up"] for c in st_a["checks"]), st_a["checks"]
    except AssertionError:
        print(pair.logs())
        raise


def flap(lab, pair, label, rise, expect_exact=None):
    """/healthz alternates 503/200 every PHASE for FLAP_TIME (starting with 503, ending with
    200); then stays healthy. Returns (moves during flapping, moves in total)."""
    a, b, poller = lab.a, lab.b, pair.poller
    phases = round(FLAP_TIME / PHASE)
    if phases % 2:
        phases += 1  # end on a healthy phase
    before_a, before_b = inst(a), inst(b)
    t0 = time.monotonic()
    for k in range(phases):
        pair.ng_a.set_healthy(k % 2 == 1)
        # Drive the schedule (this is the stimulus's clock, not a wait for a condition).
        nxt = t0 + (k + 1) * PHASE
        while (now := time.monotonic()) < nxt:
            time.sleep(min(0.01, nxt - now))
    t_end = time.monotonic()
    pair.ng_a.set_healthy(True)
    mid_a, mid_b = inst(a), inst(b)  # at the end of the flapping
    flap_moves = (to_master(mid_a) - to_master(before_a)) + (to_master(mid_b) - to_master(before_b))
    # After flapping: A must end MASTER, the only VIP holder.
    settle = (rise - 1) * max(0.010, HTTP_INTERVAL / 4) + HTTP_INTERVAL + MASTER_DOWN_B + 3.0
    st_a = wait_state(a, "MASTER", settle)
    wait_state(b, "BACKUP", 3)
    wait_for(lambda: lab.vip_holders() == ["node-a"], 3,
             lambda: f"the VIP on node-a only (holders {lab.vip_holders()})")
    first_a = poller.wait_served_by("node-a", 5, since=time.monotonic() - 0.05, consecutive=20)
    after_a, after_b = inst(a), inst(b)
    total_moves = (to_master(after_a) - to_master(before_a)) + \
        (to_master(after_b) - to_master(before_b))
    cmoves, runs = client_moves(poller, t0, first_a.end)
    cflap, _ = client_moves(poller, t0, t_end)
    result(f"{label}: {phases} phases of {ms(PHASE)} (503 first), http rise {rise} fall {FALL} "
           f"at {ms(HTTP_INTERVAL)} (edge interval {ms(max(0.010, HTTP_INTERVAL / 4))}): VIP moves "
           f"during flapping {flap_moves} (client saw {cflap}), in total until A settled "
           f"{total_moves} (client saw {cmoves}); A ended {st_a['instances'][0]['state']}; "
           f"client runs {[(o, n) for o, n in runs]}")
    assert total_moves <= phases, f"{total_moves} VIP moves for {phases} phases"
    assert cmoves <= phases, f"client saw {cmoves} moves for {phases} phases"
    assert lab.vip_holders() == ["node-a"], lab.vip_holders()
    if expect_exact is not None:
        assert flap_moves == expect_exact, \
            f"{flap_moves} VIP moves during flapping, want exactly {expect_exact} (hysteresis)"
        assert cflap == expect_exact, f"client saw {cflap} moves during flapping, want {expect_exact}"
    return flap_moves, total_moves, phases


def case_flap(lab):
    pair = Pair(lab)
    try:
        moves, total, phases = flap(lab, pair, "flap", RISE)
        # Each 300 ms phase outlasts detection (≈ 50 + 12.5 ms) plus the handover (≈ 100 + 61 ms),
        # so the VIP does follow the check: it must have moved at all.
        assert moves >= 2, f"only {moves} VIP moves while /healthz flapped: checks not acting?"
    except AssertionError:
        print(pair.logs())
        raise


def case_flap_rise(lab):
    # While a change is pending the check runs every edge interval = interval/4 (≥ 10 ms)
    # (docs/checks.md), so coming up takes at least (rise - 1) × 12.5 ms after the first success
    # — not rise × interval. Choose rise so that this outlasts a healthy phase by half again:
    # the check then never comes back up during the flapping and the VIP moves exactly once.
    edge = max(0.010, HTTP_INTERVAL / 4)
    rise = 1 + math.ceil(1.5 * PHASE / edge)
    print(f"flap-rise: rise {rise}: at least (rise-1) × edge = {ms((rise - 1) * edge)} to come up "
          f"> {ms(PHASE)} phase", flush=True)
    pair = Pair(lab, rise_a=rise)
    try:
        flap(lab, pair, f"flap-rise (rise {rise})", rise, expect_exact=1)
    except AssertionError:
        print(pair.logs())
        raise


def case_flap_rise8(lab):
    """rise 8 at 50 ms looks like 400 ms > a 300 ms phase, but the edge interval (12.5 ms while a
    change is pending) brings the check up after ≤ 50 + 7 × 12.5 ≈ 138 ms: per docs/checks.md
    this does NOT suppress the moves. Asserts the documented behaviour (the VIP still follows
    every phase, within the hysteresis bound)."""
    rise = 8
    edge = max(0.010, HTTP_INTERVAL / 4)
    worst_up = HTTP_INTERVAL + (rise - 1) * edge
    pair = Pair(lab, rise_a=rise)
    try:
        moves, total, phases = flap(lab, pair, f"flap-rise8 (rise {rise}, up after ≤ "
                                    f"{ms(worst_up)} < {ms(PHASE)})", rise)
        assert moves > 1, (f"rise {rise}: only {moves} move(s); with the edge interval the check "
                           f"should come up within {ms(worst_up)} of each healthy phase")
    except AssertionError:
        print(pair.logs())
        raise


def case_cold(lab):
    a, b = lab.a, lab.b
    cap = lab.capture(None, "vrrp or arp")
    # (a) nginx not running on A at all.
    pair = Pair(lab, nginx_a=False, wait_master=False)
    try:
        t0 = time.monotonic()
        holders_seen = set()
        st_b = None
        deadline = t0 + 10
        while time.monotonic() < deadline:
            holders_seen.update(lab.vip_holders())
            st = status(b)
            if st and st["instances"][0]["state"] == "MASTER":
                st_b = st
                break
        assert st_b, f"B never became MASTER; {pair.logs()}"
        t_b = time.monotonic() - t0
        # Keep watching for a while: A must stay out (FAULT) the whole time.
        hold_until = time.monotonic() + 4 * MASTER_DOWN_B + 0.5
        while time.monotonic() < hold_until:
            holders_seen.update(lab.vip_holders())
        st_a = wait_state(a, "FAULT", 2)
        ia = st_a["instances"][0]
        cap.stop()
        from_a = cap.decode(f"vrrp && ip.src == {a.addr}")
        garp_a = cap.decode(f"arp && arp.src.proto_ipv4 == {VIP} && eth.src == "
                            f"{mac_of(a)}")
        result(f"cold (nginx down on A): B MASTER after {ms(t_b)}; A {ia['state']} "
               f"({ia['reason']!r}), VIP holders seen {sorted(holders_seen)}, adverts from A on the "
               f"wire: {len(from_a.splitlines())}, GARPs for the VIP from A: "
               f"{len(garp_a.splitlines())}; A transitions {ia['transitions']}")
        assert "node-a" not in holders_seen, f"A claimed the VIP: {holders_seen}"
        assert to_master(ia) == 0, ia["transitions"]
        assert not from_a.strip(), f"A sent adverts while nginx was down:\n{from_a[:1000]}"
        assert not garp_a.strip(), f"A sent GARPs for the VIP:\n{garp_a[:1000]}"
        assert check_of(st_a, "nginx-pid")["up"] is False
        assert check_of(st_a, "nginx-http")["up"] is False
        # nginx arrives on A → A takes over (preempt).
        pair.poller = lab.poller()
        pair.poller.wait_served_by("node-b", 5, consecutive=10)
        nginx_recovers(pair, "cold-recover")
        pair.vd_a.stop()
        pair.vd_b.stop()
    except AssertionError:
        print(pair.logs())
        raise
    # (b) nginx up on A but /healthz 503 from the start, B already MASTER: A's http check starts
    # down and never rises, so A comes up at 90 < 100 and must never preempt.
    pair.ng_a.set_healthy(False)
    vd_b = lab.start_vipd(b, checks_config(b, pair.ng_b, 100))
    vd_a = None
    try:
        wait_state(b, "MASTER", 10)
        wait_for(lambda: lab.vip_holders() == ["node-b"], 5, "the VIP on node-b")
        t0 = time.monotonic()
        vd_a = lab.start_vipd(a, checks_config(a, pair.ng_a, 150))
        holders_seen = set()
        wait_state(a, "BACKUP", 5)
        hold_until = time.monotonic() + 4 * MASTER_DOWN_B + 0.5
        while time.monotonic() < hold_until:
            holders_seen.update(lab.vip_holders())
        st_a = wait_state(a, "BACKUP", 2)
        ia, ib = st_a["instances"][0], inst(b)
        result(f"cold (/healthz 503 on A, B already MASTER): watched {ms(time.monotonic() - t0)}; "
               f"A {ia['state']} effective {ia['priority']['effective']}, B {ib['state']}, VIP "
               f"holders seen {sorted(holders_seen)}, A transitions {ia['transitions']}")
        assert holders_seen == {"node-b"}, f"VIP holders {holders_seen}, want node-b only"
        assert to_master(ia) == 0, ia["transitions"]
        assert ia["priority"]["effective"] == 90, ia["priority"]
        assert ib["state"] == "MASTER", ib
        vd_a.stop()
        vd_b.stop()
    except AssertionError:
        for p in (vd_a, vd_b):
            if p:
                print(f"---- {p.name} log ----\n{p.log_text()[-3000:]}")
        raise
    # (c) Both agents cold at once, /healthz 503 on A. Informational: B's own http check also
    # starts down (B at 100 - 60 = 40 until it rises ~15 ms later) and a Backup's
    # Master_Down_Interval is computed from the priority when the timer is armed (state_machine:
    # "the next time it arms the timer"), so A (90, skew 65 ms) can win the first election
    # against B (armed at 40, skew 84 ms) and be preempted by B at once. Reported, not asserted.
    vd_b = lab.start_vipd(b, checks_config(b, pair.ng_b, 100))
    vd_a = lab.start_vipd(a, checks_config(a, pair.ng_a, 150))
    st_b = wait_state(b, "MASTER", 10)
    st_a = wait_state(a, "BACKUP", 5)
    ia = st_a["instances"][0]
    result(f"cold (both agents at once, /healthz 503 on A) [informational]: A ended {ia['state']} "
           f"effective {ia['priority']['effective']}, B {st_b['instances'][0]['state']}; A "
           f"became MASTER transiently {to_master(ia)} time(s) (election race while B's own "
           f"check is still rising); A transitions {ia['transitions']}")
    assert ia["priority"]["effective"] == 90, ia["priority"]
    wait_for(lambda: lab.vip_holders() == ["node-b"], 3, "the VIP on node-b only")


def case_recover_1s(lab):
    """Preempt back at 1 s adverts: the recovered node acts on B's last advert (remembered while
    it was in FAULT) instead of waiting up to a whole second for B's next one."""
    pair = Pair(lab, advert="1s", wait_master=False)
    try:
        pair.wait_a_master(timeout=15)
        a, b, poller = lab.a, lab.b, pair.poller
        pair.ng_a.kill()
        poller.wait_served_by("node-b", FAULT_TAKEOVER_DEADLINE, since=time.monotonic() - 0.1)
        wait_state(a, "FAULT", 2)
        time.sleep(1.5)  # B's adverts (1 s apart) reach A while it is in FAULT
        t1 = time.monotonic()
        pair.ng_a = lab.start_nginx(a)
        t_up = time.monotonic()
        first_a = poller.wait_served_by("node-a", RECOVER_DEADLINE, since=t1)
        ia = wait_state(a, "MASTER", 2)["instances"][0]
        wait_for(lambda: lab.vip_holders() == ["node-a"], 3, "the VIP on node-a only")
        took = first_a.end - t_up
        result(f"recover-1s: nginx back on A (start-up {ms(t_up - t1)}) → client served by A "
               f"{ms(took)} later at 1 s adverts; A: {ia['reason']!r}")
        assert ia["reason_code"] == "preempt", ia
        assert "from its advert" in ia["reason"], \
            f"A did not act on B's remembered advert: {ia['reason']!r}"
        # rise 2 of a 50 ms http check, then at once (two-node): far below the 1 s advert wait.
        assert took < 0.6, f"preempt back took {ms(took)} at 1 s adverts"
    except AssertionError:
        print(pair.logs())
        raise


def mac_of(node) -> str:
    return node.run("cat", f"/sys/class/net/{node.iface}/address").stdout.strip()


CASES = {
    "stop": case_nginx_down("stop"),
    "kill": case_nginx_down("kill"),
    "quit": case_nginx_down("quit"),
    "kill-master": case_kill_master,
    "unhealthy": case_unhealthy,
    "reload": case_reload,
    "flap": case_flap,
    "flap-rise": case_flap_rise,
    "flap-rise8": case_flap_rise8,
    "nopreempt": case_nopreempt,
    "cold": case_cold,
    "recover-1s": case_recover_1s,
}


def main(argv) -> int:
    require_root_or_skip(need=("nginx", "vipd", "tcpdump", "tshark", "curl"))
    require_vipd_or_skip()
    names = argv or list(CASES)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        print(f"unknown case(s) {unknown}; known: {list(CASES)}")
        return 2
    failed = []
    for name in names:
        print(f"==== case {name}", flush=True)
        try:
            with Lab(quiet=True) as lab:
                CASES[name](lab)
            print(f"==== case {name}: PASS", flush=True)
        except AssertionError as e:
            print(f"==== case {name}: FAIL: {e}", flush=True)
            failed.append(name)
        except Exception:
            traceback.print_exc()
            print(f"==== case {name}: ERROR", flush=True)
            failed.append(name)
    print("\n".join(["", "Summary:"] + RESULTS))
    if failed:
        print(f"FAIL: {failed}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
