#!/usr/bin/env python3
"""IPv6 beside IPv4: the table of docs/performance.md ("IPv6 beside IPv4") from two runs of
bench/failover.py, one with --family 4 and one with --family 6 (their .json files).

    python3 bench/family_compare.py bench/results/ipv4-vs-ipv6-v4.json bench/results/ipv4-vs-ipv6-v6.json

For cases 1, 2, 6, 7 (and 3, 4 when run): vipd's time to the first request served by the new node
on the 1 ms probe (the lab client's when the probe did not run), median [min–max], IPv4 and IPv6,
and the difference of the medians; cases 1–2 also from nginx's exit ("after exit"); hung requests
(lab client + probe) of vipd; cases 1–2 nginx's exit → the VIP on B (netlink: the agents'
own work, no client in it); the ratio keepalived / vipd of the medians per family. Case 5 (node
crash) the same way, from the bridge port going down (bounded by Master_Down_Interval). Targets (issue
15): every vipd IPv6 figure within 1 ms of IPv4; client served ≤ 5 ms after the proxy's death
(cases 1–2, IPv6); 0 hung; ratios to keepalived at least as large as IPv4.
Not a test: it prints, it never fails on a MISS.
"""

from __future__ import annotations

import json
import statistics
import sys


def load(path: str) -> dict:
    with open(path) as f:
        return json.load(f)


def runs(d: dict, speaker: str, advert: str, case: str) -> list[dict]:
    return [r for r in d["runs"].get(f"{speaker}|{advert}|{case}", []) if r]


def served(r: dict) -> float | None:
    return r.get("served_fine") if r.get("served_fine") is not None else r.get("served")


def after_exit(r: dict) -> float | None:
    s = r.get("served_fine")
    return s - r["nginx_exit"] if s is not None and r.get("nginx_exit") is not None else None


def exit_to_vip(r: dict) -> float | None:
    """nginx's exit → the VIP on B (netlink): the agents' own work, without the client."""
    return (r["vip_up"] - r["nginx_exit"] if r.get("vip_up") is not None and
            r.get("nginx_exit") is not None else None)


def stat(xs: list) -> tuple[float, float, float] | None:
    xs = [x for x in xs if x is not None]
    return (statistics.median(xs), min(xs), max(xs)) if xs else None


def fmt(st) -> str:
    if not st:
        return "—"
    f = (lambda x: f"{x:.1f}" if x < 100 else f"{x:.0f}")
    return f"{f(st[0])} [{f(st[1])}–{f(st[2])}]"


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    d4, d6 = load(sys.argv[1]), load(sys.argv[2])
    adverts = []
    for k in list(d4["runs"]) + list(d6["runs"]):
        a = k.split("|")[1]
        if a not in adverts:
            adverts.append(a)
    adverts.sort(key=float, reverse=True)
    cases = sorted({k.split("|")[2] for k in d6["runs"]})
    label = {a: (f"{float(a) * 1000:g}ms" if float(a) < 1 else f"{float(a):g}s") for a in adverts}
    print("| case | advert | vipd IPv4 (ms) | vipd IPv6 (ms) | Δ median | after exit v4 / v6 | "
          "exit → VIP on B v4 / v6 | "
          "vipd hung v4 / v6 | ka/vipd v4 | ka/vipd v6 | targets |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    misses = []
    for case in cases:
        for a in adverts:
            v4, v6 = runs(d4, "vipd", a, case), runs(d6, "vipd", a, case)
            if not v4 or not v6:
                continue
            s4, s6 = stat([served(r) for r in v4]), stat([served(r) for r in v6])
            k4 = stat([served(r) for r in runs(d4, "keepalived", a, case)])
            k6 = stat([served(r) for r in runs(d6, "keepalived", a, case)])
            e4, e6 = stat([after_exit(r) for r in v4]), stat([after_exit(r) for r in v6])
            x4, x6 = stat([exit_to_vip(r) for r in v4]), stat([exit_to_vip(r) for r in v6])
            h4 = sum(r.get("hung", 0) + r.get("fine_hung", 0) for r in v4)
            h6 = sum(r.get("hung", 0) + r.get("fine_hung", 0) for r in v6)
            delta = s6[0] - s4[0]
            r4 = k4[0] / s4[0] if k4 else None
            r6 = k6[0] / s6[0] if k6 else None
            t = [f"within 1 ms {'PASS' if abs(delta) <= 1 else 'MISS'}"]
            if abs(delta) > 1:
                misses.append(f"case {case} {label[a]}: Δ {delta:+.1f} ms")
            if case in ("1", "2") and e6:
                ok = e6[0] <= 5
                t.append(f"after exit ≤ 5 ms {'PASS' if ok else 'MISS'}")
                if not ok:
                    misses.append(f"case {case} {label[a]}: after exit {e6[0]:.1f} ms (IPv6)")
            if case != "5":  # a crashed node: every request in flight hangs, for any speaker
                t.append(f"0 hung {'PASS' if h6 == 0 else 'MISS'}")
                if h6:
                    misses.append(f"case {case} {label[a]}: {h6} hung (IPv6)")
            if r4 and r6 and case != "5":  # case 5: both bounded by the protocol (~1.0x)
                ok = r6 >= r4
                t.append(f"ratio ≥ IPv4 {'PASS' if ok else 'MISS'}")
                if not ok:
                    misses.append(f"case {case} {label[a]}: ratio {r6:.1f}x < {r4:.1f}x")
            ex = f"{fmt(e4)} / {fmt(e6)}" if case in ("1", "2") else "—"
            xv = f"{fmt(x4)} / {fmt(x6)}" if case in ("1", "2") else "—"
            print(f"| {case} | {label[a]} | {fmt(s4)} | {fmt(s6)} | {delta:+.1f} | {ex} | {xv} | "
                  f"{h4} / {h6} | {r4 and f'{r4:.1f}x' or '—'} | {r6 and f'{r6:.1f}x' or '—'} | "
                  f"{'; '.join(t)} |")
    for d, fam in ((d4, "IPv4"), (d6, "IPv6")):
        for line in d.get("conditions", []):
            if line.startswith("date:") or "load avg" in line:
                print(f"\n{fam}: {line}", end="")
    print()
    print("\nmisses: " + ("; ".join(misses) if misses else "none"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
