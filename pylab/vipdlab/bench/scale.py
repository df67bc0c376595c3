"""Scale: 1,000 VIPs on one instance, 50 instances on one interface."""

from __future__ import annotations

import time

from vipdlab import Lab, keepalived_config, vipd_config, wait_for
from vipdlab.bench.common import PRIO_A, PRIO_B, SPEAKERS, agent_lines, note, out
from vipdlab.bench.hoststats import CLK, Pair, cpu_ticks, rss_kb
from vipdlab.vipd import VipWatcher


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
