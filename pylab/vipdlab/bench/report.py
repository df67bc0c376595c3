"""The benchmark's report: the tables of the failover matrix, the 1 ms probe, where the time
goes, node crash, idle cost and timer precision, and scale."""

from __future__ import annotations

import statistics

from vipdlab.bench import common as C
from vipdlab.bench.common import (HTTP_FALL, HTTP_INTERVAL_MS, POLL_TIMEOUT, PRIO_B, SPEAKERS,
                                  ilabel, ms, out)
from vipdlab.bench.hoststats import CLK
from vipdlab.vipd import master_down_ms


def stats3(vals):
    vals = [v for v in vals if v is not None]
    if not vals:
        return None
    return (min(vals), statistics.median(vals), max(vals))


def fmt3(s) -> str:
    return "—" if s is None else f"{ms(s[1])} [{ms(s[0])}–{ms(s[2])}]"


def ka_track_text() -> str:
    if C.KA_TRACK == "file":
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
    out(f"every {C.POLL_INTERVAL * 1000:g} ms, sequential, {POLL_TIMEOUT * 1000:g} ms timeout "
        f"({C.POLL_INTERVAL * 1000:g} ms resolution; a hung request holds the next one back).")
    if fine:
        out(f"1ms = the same from the open-loop probe: a new request every "
            f"{C.FINE_INTERVAL * 1000:g} ms whatever the others do, {C.FINE_TIMEOUT * 1000:g} ms timeout "
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
    if C.KA_TRACK == "script" and "1" in cases and any(("keepalived", a, "7") in runs
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
    out(f"open-loop: a new TCP connection every {C.FINE_INTERVAL * 1000:g} ms from the client "
        f"namespace whatever the earlier ones do, {C.FINE_TIMEOUT * 1000:g} ms timeout each; it "
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
