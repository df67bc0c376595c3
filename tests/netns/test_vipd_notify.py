#!/usr/bin/env python3
"""[netns] Notify hooks: the configured program runs on every state change with the instance
name, the new state and the effective priority appended (argv, no shell); a hook that cannot
start is logged with its reason and counted, and the agent carries on.

A (198.18.0.11, priority 150) and B (198.18.0.12, priority 100), no checks, 100 ms adverts.
  1. both start: A's hook sees BACKUP then MASTER, B's sees BACKUP (priority appended)
  2. SIGTERM to A's vipd: B's hook sees MASTER, A's sees INIT (shutdown)
  3. A restarted with notify = ["/nonexistent/hook"]: log "could not run: execv ...: No such
     file or directory", vipd_vrrp_notices_total{kind="notify_failed"} >= 1, A still preempts
     to MASTER and answers /status
Exit 0 pass, 1 fail, 77 skipped."""

import os
import sys

from vipdlab import require_root_or_skip, require_vipd_or_skip, vipd_config, wait_for
from vipdlab.vipd import (API, Figures, metric, metrics, run_test, step,
                          wait_state)

FIG = Figures("test_vipd_notify")


def config(node, priority, hook_argv):
    argv = ", ".join(f'"{a}"' for a in hook_argv)
    return vipd_config(node, priority=priority, api_listen=API, extra_instance=f"notify = [{argv}]")


def lines(path):
    return path.read_text().splitlines() if path.exists() else []


def body(lab):
    a, b = lab.a, lab.b
    hook = lab.dir / "hook.sh"
    # The hook appends its arguments, one call per line; "$1" is the log file named in argv.
    hook.write_text('#!/bin/sh\nlog="$1"; shift; echo "$*" >> "$log"\n')
    os.chmod(hook, 0o755)
    log_a, log_b = lab.dir / "notify-a.log", lab.dir / "notify-b.log"

    step("1. start-up: A BACKUP → MASTER, B BACKUP")
    vd_a = lab.start_vipd(a, config(a, 150, [str(hook), str(log_a)]))
    wait_state(a, "MASTER", 10, vd_a)
    vd_b = lab.start_vipd(b, config(b, 100, [str(hook), str(log_b)]))
    wait_state(b, "BACKUP", 10, vd_b)
    wait_for(lambda: lines(log_a) == ["web BACKUP 150", "web MASTER 150"], 3,
             lambda: f"A's hook calls (have {lines(log_a)})")
    wait_for(lambda: lines(log_b) == ["web BACKUP 100"], 3,
             lambda: f"B's hook calls (have {lines(log_b)})")
    print(f"  A: {lines(log_a)}  B: {lines(log_b)}")

    step("2. SIGTERM to A's vipd: B MASTER, A INIT")
    vd_a.stop()
    wait_state(b, "MASTER", 5, vd_b)
    wait_for(lambda: lines(log_b)[-1:] == ["web MASTER 100"], 3,
             lambda: f"B's hook calls (have {lines(log_b)})")
    wait_for(lambda: lines(log_a)[-1:] == ["web INIT 150"], 3,
             lambda: f"A's hook calls (have {lines(log_a)})")
    print(f"  A: {lines(log_a)}  B: {lines(log_b)}")

    step("3. a hook that cannot start is logged, counted, and changes nothing else")
    vd_a = lab.start_vipd(a, config(a, 150, ["/nonexistent/hook"]))
    wait_state(a, "MASTER", 10, vd_a)
    m = vd_a.wait_log(r"notify hook for state \w+ could not run: execv /nonexistent/hook: "
                      r"No such file or directory", 3)
    print(f"  log: {m.group(0)}")
    failed = wait_for(lambda: metric(metrics(a), "vipd_vrrp_notices_total",
                                     kind="notify_failed"), 3,
                      "vipd_vrrp_notices_total{kind=notify_failed}")
    print(f"  vipd_vrrp_notices_total{{kind=\"notify_failed\"}} {failed:g}")
    assert failed >= 1, failed
    vd_a.expect_alive()
    FIG.text("hook_calls", f"A={len(lines(log_a))},B={len(lines(log_b))}")
    FIG.text("notify_failed", f"{failed:g}")


if __name__ == "__main__":
    require_root_or_skip(need=("vipd",))
    require_vipd_or_skip()
    sys.exit(run_test(body, FIG))
