#!/usr/bin/env python3
"""[netns] [agent] realtime_priority: only the VRRP loop thread runs SCHED_RR.

A runs nginx and vipd (as root) with realtime_priority = 15, the API on, an HTTP check (its own
thread) and a notify script that records its own scheduling policy. Asserts, from
/proc/PID/task/*/stat (field 40 rt_priority, field 41 policy):
  1. exactly one thread is SCHED_RR, at priority 15, and it is the loop thread (tid == pid);
     every other thread (HTTP server, check) is SCHED_OTHER; the notify script, forked by the
     loop thread, ran as SCHED_OTHER (SCHED_RESET_ON_FORK); /status agent.realtime and
     /metrics vipd_realtime_priority say the same
  2. SIGHUP with realtime_priority = 0 -> no SCHED_RR thread left; SIGHUP with 20 -> RR 20
  3. B with realtime_priority = 0 -> no SCHED_RR thread at all
The run without permission (non-root, no CAP_SYS_NICE) is in test_capabilities.py.
Exit 0 pass, 1 fail, 77 skipped."""

import os
import re
import signal
import sys

from vipdlab import VIP_CIDR, require_root_or_skip, vipd_config, wait_for
from vipdlab.vipd import (API, Figures, log_mark, metric, metrics, run_test, status, step,
                          wait_log_after, wait_state)

FIG = Figures("test_realtime")
SCHED_OTHER, SCHED_RR = 0, 2


def threads(pid: int) -> dict[int, tuple[str, int, int]]:
    """tid -> (comm, rt_priority, policy) of every thread of ``pid`` (stat fields 2, 40, 41)."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            text = open(f"/proc/{pid}/task/{tid}/stat").read()
        except OSError:
            continue  # the thread ended meanwhile
        comm = text[text.index("(") + 1:text.rindex(")")]
        f = text[text.rindex(")") + 2:].split()  # f[0] is field 3 (state)
        out[int(tid)] = (comm, int(f[40 - 3]), int(f[41 - 3]))
    return out


def rt_threads(pid: int) -> dict[int, tuple[str, int, int]]:
    return {t: v for t, v in threads(pid).items() if v[2] != SCHED_OTHER}


def config(node, priority: int, rt: int, notify: str = "", check: bool = False) -> str:
    extra_instance = f'notify = ["{notify}"]\n' if notify else ""
    extra = ""
    if check:
        extra_instance += 'track = [ { check = "nginx-http", weight = -60 } ]\n'
        extra = ('[[check]]\nname = "nginx-http"\ntype = "http"\n'
                 'url = "http://127.0.0.1/"\ninterval = "200ms"\n')
    return vipd_config(node, priority, vips=(VIP_CIDR,), api_listen=API,
                       extra_instance=extra_instance, extra=extra,
                       extra_agent=f"realtime_priority = {rt}\n")


def realtime_status(node) -> dict:
    s = status(node)
    assert s is not None, "no /status"
    return s["agent"]["realtime"]


def body(lab):
    a, b = lab.a, lab.b
    lab.start_nginx(a)
    out = lab.dir / "notify-policy.txt"
    script = lab.dir / "notify.sh"
    # Fields 40 (rt_priority) and 41 (policy) of the script's own stat ("sh" has no space).
    script.write_text(f"#!/bin/sh\ncut -d' ' -f40,41 /proc/$$/stat >> {out}\n")
    script.chmod(0o755)

    step("1. realtime_priority = 15: the loop thread is SCHED_RR 15, nothing else is")
    vd = lab.start_vipd(a, config(a, 150, 15, notify=str(script), check=True))
    wait_state(a, "MASTER", 10, vd)
    wait_for(lambda: out.exists() and out.read_text().strip(), 5, "the notify script to run")
    all_threads = threads(vd.pid)
    rt = rt_threads(vd.pid)
    print(f"  threads: {all_threads}")
    assert len(all_threads) >= 3, f"expected the loop, API and check threads: {all_threads}"
    assert list(rt) == [vd.pid] and rt[vd.pid][1:] == (15, SCHED_RR), \
        f"want exactly the loop thread (tid {vd.pid}) SCHED_RR 15, got RT threads {rt}"
    policies = out.read_text().split()
    print(f"  notify script: rt_priority {policies[0]}, policy {policies[1]}")
    assert policies[1] == str(SCHED_OTHER) and policies[0] == "0", \
        f"the notify script inherited the real-time policy: {policies}"
    st = realtime_status(a)
    print(f"  /status agent.realtime: {st}")
    assert st == {"requested_priority": 15, "policy": "SCHED_RR", "priority": 15,
                  "error": None}, st
    text = metrics(a)
    assert metric(text, "vipd_realtime_priority", kind="requested") == 15, text[-800:]
    assert metric(text, "vipd_realtime_priority", kind="effective") == 15, text[-800:]
    assert re.search(r"VRRP loop thread: SCHED_RR priority 15", vd.log_text()), vd.log_text()[-1500:]
    FIG.text("rt_threads", f"1/{len(all_threads)}")

    step("2. SIGHUP to realtime_priority = 0, then to 20")
    vd.config.write_text(config(a, 150, 0, notify=str(script), check=True))
    mark = log_mark(vd)
    vd.signal(signal.SIGHUP)
    wait_log_after(vd, r"reload done", mark, 10)
    wait_for(lambda: not rt_threads(vd.pid), 5, "no SCHED_RR thread after the reload to 0")
    st = realtime_status(a)
    assert st["requested_priority"] == 0 and st["policy"] == "SCHED_OTHER", st
    vd.config.write_text(config(a, 150, 20, notify=str(script), check=True))
    mark = log_mark(vd)
    vd.signal(signal.SIGHUP)
    wait_log_after(vd, r"reload done", mark, 10)
    rt = rt_threads(vd.pid)
    assert list(rt) == [vd.pid] and rt[vd.pid][1:] == (20, SCHED_RR), f"after reload to 20: {rt}"
    assert realtime_status(a)["priority"] == 20

    step("3. B with realtime_priority = 0: no real-time thread at all")
    vb = lab.start_vipd(b, config(b, 100, 0))
    wait_state(b, "BACKUP", 10, vb)
    rt = rt_threads(vb.pid)
    assert not rt, f"realtime_priority = 0 but RT threads: {rt}"
    st = realtime_status(b)
    assert st == {"requested_priority": 0, "policy": "SCHED_OTHER", "priority": 0,
                  "error": None}, st
    assert "realtime_priority" not in vb.log_text(), vb.log_text()[-1500:]
    print("  B: all threads SCHED_OTHER; no warning")


def main() -> int:
    require_root_or_skip(need=("nginx", "vipd", "curl"))
    return run_test(body, FIG)


if __name__ == "__main__":
    sys.exit(main())
