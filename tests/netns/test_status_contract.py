#!/usr/bin/env python3
"""[netns] /status against its documented contract, /healthz from the loop's heartbeat, and
`vipd status`.

A (priority 150) and B (100) run nginx and vipd with the recommended checks.

  1. /status of the MASTER and of the BACKUP: every field of the contract — the example in
     DESIGN.md §7, copied in docs/api.md (parsed from there), plus the fields docs/api.md
     documents — exists with its JSON type; enums and formats (state, since, reason_code)
  2. /healthz answers 200. Then only the VRRP loop (the main thread) is stopped: the test
     ptrace-seizes that one thread and PTRACE_INTERRUPTs it (a group-stop such as SIGSTOP would
     stop the API threads too). /healthz, polled every 10 ms from inside the node, must answer
     503 within 1 s of the stall (vipd: heartbeat older than 750 ms); /status answers 503 (the loop does not answer) and /metrics
     still answers 200 with the last values. After PTRACE_DETACH /healthz is 200 again.
  3. `vipd status` prints the table (state, priorities and each check's contribution, master,
     VIPs, checks); `--json` prints the raw document; an unreachable agent -> a clear message
     and exit 2.
Exit 0 pass, 1 fail, 77 skipped."""

import ctypes
import json
import os
import re
import sys
import time

from vipdlab import Poller, require_root_or_skip, vipd_bin, wait_for
from vipdlab.obs import API_PORT, REPO, Pair
from vipdlab.vipd import Figures, run_test, status, step, wait_state
FIG = Figures("test_status_contract")
URL = f"http://127.0.0.1:{API_PORT}"
STALL_BOUND = 1.0  # s: "a stalled loop gives 503 within one second" (threshold 750 ms)

NUM, INT, STR, BOOL, NULL = (int, float), int, str, bool, type(None)
# Fields docs/api.md documents beyond the DESIGN.md §7 example (types; a tuple = one of).
EXTRA_TOP = {"dropped": dict, "checksum_mode_mismatch": INT, "config": dict, "agent": dict}
EXTRA_CONFIG = {"last_reload_success": BOOL, "last_reload_unix": NUM}
EXTRA_AGENT = {"realtime": dict}
EXTRA_REALTIME = {"requested_priority": INT, "policy": STR, "priority": INT, "error": (STR, NULL)}
POLICIES = {"SCHED_RR", "SCHED_OTHER"}
EXTRA_INSTANCE = {"since_seconds": NUM, "reason_code": STR, "fault": (STR, NULL),
                  "drained": BOOL, "holding_vips": BOOL, "two_node_fast_takeover": BOOL,
                  "peers_seen": list, "warnings": list, "counters": dict, "transitions": list}
EXTRA_COUNTERS = {"adverts_sent": INT, "adverts_received": INT, "garp_sent": INT,
                  "vip_readded": INT, "connections_reset": INT, "failovers": INT,
                  "last_failover_seconds": (NUM, NULL)}
EXTRA_TRANSITION = {"from": STR, "to": STR, "reason": STR, "count": INT}
EXTRA_CHECK = {"value": INT, "ran": BOOL}
# Values the example shows as null (or 0.0) but that are typed otherwise when set.
NULLABLE = {"instances[].master.address", "instances[].master.last_seen_seconds",
            "checks[].last_error"}
STATES = {"INIT", "BACKUP", "MASTER", "FAULT"}
REASONS = {"startup", "master_down", "priority_zero", "higher_priority", "preempt", "fault",
           "link_down", "fault_cleared", "shutdown", "drain"}


def contract_example() -> dict:
    """The /status example of docs/api.md (the DESIGN.md §7 contract, verbatim)."""
    text = (REPO / "docs" / "api.md").read_text()
    m = re.search(r"<!-- status-contract -->\s*```json\n(.*?)```", text, re.S)
    assert m, "docs/api.md has no ```json block after <!-- status-contract -->"
    return json.loads(m.group(1))


def jtype(v):
    if isinstance(v, bool):
        return BOOL
    if isinstance(v, (int, float)):
        return NUM
    return type(v)


def check_like(example, live, path, problems):
    """Every key of ``example`` exists in ``live`` with the same JSON type (numbers are numbers;
    nullable fields may be null or typed)."""
    if isinstance(example, dict):
        if not isinstance(live, dict):
            problems.append(f"{path}: want an object, got {live!r}")
            return
        for k, v in example.items():
            p = f"{path}.{k}" if path else k
            if k not in live:
                problems.append(f"{p}: missing")
                continue
            if p in NULLABLE and live[k] is None:
                continue
            if v is None:
                if p not in NULLABLE:
                    problems.append(f"{p}: the example is null but the field is not nullable?")
                continue
            check_like(v, live[k], p, problems)
    elif isinstance(example, list):
        if not isinstance(live, list):
            problems.append(f"{path}: want a list, got {live!r}")
            return
        if example and not live:
            problems.append(f"{path}: empty (the example has items)")
        for item in live:
            check_like(example[0], item, path + "[]", problems) if example else None
    else:
        want = jtype(example)
        if want is NUM and isinstance(live, bool) or not isinstance(live, want if want is not NUM else NUM):
            problems.append(f"{path}: want {want}, got {live!r}")


def check_types(obj, spec, path, problems):
    for k, t in spec.items():
        if k not in obj:
            problems.append(f"{path}.{k}: missing")
        elif not isinstance(obj[k], t) or (t in (INT, NUM) and isinstance(obj[k], bool)):
            problems.append(f"{path}.{k}: want {t}, got {obj[k]!r}")


def check_status(doc, who):
    problems = []
    check_like(contract_example(), doc, "", problems)
    check_types(doc, EXTRA_TOP, "", problems)
    check_types(doc.get("config", {}), EXTRA_CONFIG, "config", problems)
    check_types(doc.get("agent", {}), EXTRA_AGENT, "agent", problems)
    rt = doc.get("agent", {}).get("realtime", {})
    check_types(rt, EXTRA_REALTIME, "agent.realtime", problems)
    if rt.get("policy") not in POLICIES:
        problems.append(f"agent.realtime.policy {rt.get('policy')!r} not in {sorted(POLICIES)}")
    for i in doc.get("instances", []):
        check_types(i, EXTRA_INSTANCE, "instances[]", problems)
        check_types(i.get("counters", {}), EXTRA_COUNTERS, "instances[].counters", problems)
        for t in i.get("transitions", []):
            check_types(t, EXTRA_TRANSITION, "instances[].transitions[]", problems)
            if t["reason"] not in REASONS:
                problems.append(f"transition reason {t['reason']!r} not in {sorted(REASONS)}")
        if i.get("state") not in STATES:
            problems.append(f"instances[].state {i.get('state')!r} not in {sorted(STATES)}")
        if i.get("reason_code") not in REASONS:
            problems.append(f"instances[].reason_code {i.get('reason_code')!r}")
        if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", str(i.get("since"))):
            problems.append(f"instances[].since {i.get('since')!r} is not RFC 3339 UTC")
        for c in i.get("priority", {}).get("contributions", []):
            check_types(c, {"check": STR, "weight": INT, "up": BOOL, "applied": INT},
                        "instances[].priority.contributions[]", problems)
    for c in doc.get("checks", []):
        check_types(c, EXTRA_CHECK, "checks[]", problems)
    assert not problems, f"{who} /status breaks the contract:\n  " + "\n  ".join(problems) + \
        f"\n{json.dumps(doc, indent=1)[:3000]}"
    print(f"  {who}: contract OK ({len(doc['instances'])} instance, {len(doc['checks'])} checks)")


# -- stopping one thread: ptrace(PTRACE_SEIZE) + PTRACE_INTERRUPT --------------------------------
PTRACE_DETACH, PTRACE_SEIZE, PTRACE_INTERRUPT = 17, 0x4206, 0x4207
WALL = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)
_libc.ptrace.restype = ctypes.c_long
_libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]


def _ptrace(req, tid):
    if _libc.ptrace(req, tid, None, None) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"ptrace({req:#x}, {tid}): {os.strerror(e)}")


class ThreadStall:
    """Stops one thread (not its process) in a ptrace-stop until release()."""

    def __init__(self, tid: int):
        self.tid = tid
        _ptrace(PTRACE_SEIZE, tid)
        _ptrace(PTRACE_INTERRUPT, tid)
        _, st = os.waitpid(tid, WALL)
        assert os.WIFSTOPPED(st), f"thread {tid} not stopped: status {st:#x}"

    def release(self):
        _ptrace(PTRACE_DETACH, self.tid)


def thread_states(pid: int) -> dict[int, str]:
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        stat = open(f"/proc/{pid}/task/{tid}/stat").read()
        out[int(tid)] = stat.rsplit(")", 1)[1].split()[0]
    return out


def body(lab):
    a, b = lab.a, lab.b
    pair = Pair(lab, api_listen=lambda node: f"0.0.0.0:{API_PORT}")
    va = pair.vd["a"]
    wait_state(a, "MASTER", 5, va, extra=lambda i: i["master"]["last_seen_seconds"] == 0)
    wait_for(lambda: all(c["ran"] and c["up"] for c in status(a)["checks"]), 5, "A's checks up")
    wait_for(lambda: all(c["ran"] and c["up"] for c in status(b)["checks"]), 5, "B's checks up")

    step("1. /status of MASTER and BACKUP against the documented contract")
    sa, sb = status(a), status(b)
    check_status(sa, "A (MASTER)")
    check_status(sb, "B (BACKUP)")
    ia, ib = sa["instances"][0], sb["instances"][0]
    assert ia["state"] == "MASTER" and ib["state"] == "BACKUP", (ia["state"], ib["state"])
    assert ib["master"]["address"] == a.addr and ib["master"]["priority"] == 150, ib["master"]
    assert isinstance(ib["master"]["last_seen_seconds"], (int, float)), ib["master"]
    assert ia["vips"] == [{"address": "198.18.0.100/24", "present": True}], ia["vips"]
    assert {c["check"] for c in ia["priority"]["contributions"]} == {"nginx-pid", "nginx-http"}
    assert sa["node"] == "node-a" and sa["uptime_seconds"] > 0, sa

    step("2. /healthz 200; stop only the loop thread (ptrace): 503 within 1 s; release: 200")
    code, text = a.http_get(f"{URL}/healthz")
    assert code == 200, f"/healthz {code}: {text}"
    hz = Poller(lab, a, host=a.addr, port=API_PORT, path="/healthz", interval=0.01, timeout=0.5)
    wait_for(lambda: len([s for s in hz.samples() if s.outcome == "ok"]) >= 10, 5,
             lambda: f"/healthz polled 200 (ok) from inside A: {hz.tail()}")
    not_ok = [s for s in hz.samples() if s.outcome != "ok"]
    assert not not_ok, f"/healthz not 200 while the loop runs: {not_ok[:5]}"
    states_before = thread_states(va.pid)
    assert va.pid in states_before, f"the main thread (TID = PID {va.pid}) not found"
    t_stop = time.monotonic()
    stall = ThreadStall(va.pid)  # the main thread runs the VRRP event loop
    try:
        states = thread_states(va.pid)
        stopped = [t for t, s in states.items() if s == "t"]
        assert stopped == [va.pid], f"want only the main thread stopped, threads: {states}"
        first = wait_for(lambda: next((s for s in hz.samples(since=t_stop)
                                       if s.outcome == "http-503" and s.start >= t_stop), None),
                         3, lambda: f"/healthz to answer 503; last: {hz.tail()}")
        delay = FIG.add("healthz_503_after_stall", (first.end - t_stop) * 1000,
                        f"bound {STALL_BOUND * 1000:.0f} ms; 503 when the heartbeat is 750 ms old")
        early = [s for s in hz.samples(t_stop, first.start) if s.outcome not in ("ok", "http-503")]
        assert not early, f"/healthz did not answer during the stall: {early[:5]}"
        code, text = a.http_get(f"{URL}/status", timeout=3)
        print(f"  /status during the stall: {code} {text.strip()}")
        assert code == 503, f"/status during the stall answered {code}"
        t_m = time.monotonic()
        code, text = a.http_get(f"{URL}/metrics", timeout=3)
        FIG.add("metrics_during_stall", (time.monotonic() - t_m) * 1000)
        assert code == 200 and "vipd_vrrp_state" in text, f"/metrics during the stall: {code}"
        assert delay <= STALL_BOUND * 1000, \
            f"/healthz answered 503 {delay:.0f} ms after the loop stalled; bound {STALL_BOUND} s"
    finally:
        t_rel = time.monotonic()
        stall.release()
    back = wait_for(lambda: next((s for s in hz.samples(since=t_rel)
                                  if s.outcome == "ok" and s.start >= t_rel), None),
                    2, lambda: f"/healthz 200 again; last: {hz.tail()}")
    FIG.add("healthz_200_after_release", (back.end - t_rel) * 1000)
    hz.stop()
    wait_state(a, "MASTER", 3, va)

    step("3. vipd status: the table, --json, an unreachable agent")
    r = a.run(vipd_bin(), "status", "--url", URL, check=False)
    print("  " + r.stdout.replace("\n", "\n  "))
    assert r.returncode == 0, f"vipd status rc {r.returncode}: {r.stderr}"
    table = r.stdout
    for want in (r"instance web\s+VRID 51 on vethA", r"state\s+MASTER",
                 r"priority\s+150 effective, 150 base", r"nginx-pid\s+up\s+weight\s+0",
                 r"nginx-http\s+up\s+weight\s+-60", r"master\s+198\.18\.0\.11 priority 150",
                 r"vip\s+198\.18\.0\.100/24\s+present", r"^checks$", r"nginx-pid\s+pid\s+up",
                 r"nginx-http\s+http\s+up"):
        assert re.search(want, table, re.M), f"vipd status lacks /{want}/:\n{table}"
    r = b.run(vipd_bin(), "status", "--url", URL, check=False)
    assert r.returncode == 0 and re.search(r"state\s+BACKUP", r.stdout) and \
        re.search(r"master\s+198\.18\.0\.11 priority 150, last advert \S+ ago", r.stdout), r.stdout
    r = a.run(vipd_bin(), "status", "--url", URL, "--json", check=False)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    check_status(doc, "vipd status --json")
    assert doc["instances"][0]["state"] == "MASTER"
    r = lab.c.run(vipd_bin(), "status", "--url", "http://127.0.0.1:9", check=False)
    print(f"  unreachable: rc {r.returncode}: {r.stderr.strip()}")
    assert r.returncode == 2, f"vipd status against nothing: rc {r.returncode}"
    assert "cannot reach the agent at http://127.0.0.1:9" in r.stderr and not r.stdout, r.stderr


def main() -> int:
    require_root_or_skip(need=("nginx", "curl", "vipd"))
    return run_test(body, FIG)


if __name__ == "__main__":
    sys.exit(main())
