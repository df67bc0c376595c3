"""Host statistics of the speakers: process trees, CPU ticks, RSS, scheduling policies, and the
idle-cost / timer-jitter measurement."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from vipdlab import Lab, keepalived_config, vipd_config, wait_for
from vipdlab.bench.common import PRIO_A, PRIO_B, SPEAKERS, agent_lines, ilabel, note
from vipdlab.bench.wire import spacing_stats, vrrp_packets

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
