"""Wire analysis of the bench's captures (tshark): VRRP adverts, gratuitous ARPs (IPv4) or
unsolicited neighbour advertisements (IPv6), the times they add to each run, takeovers after a
crash and advert spacing. Both families: a packet's source is ip.src or ipv6.src (an IPv6 advert
comes from the node's link-local address)."""

from __future__ import annotations

import statistics
import subprocess

from vipdlab.bench import common as C
from vipdlab.bench.common import PRIO_A

# capture filters (tcpdump) for the adverts and the address announcements, per family
CAPTURE_FILTER = {4: "ip proto 112 or arp", 6: "ip6 proto 112 or icmp6"}


def vrrp_packets(cap) -> list[tuple[float, str, int]]:
    """(time, source, priority) of every VRRP packet in a capture."""
    r = subprocess.run(["tshark", "-n", "-r", str(cap.file), "-Y", "vrrp", "-T", "fields",
                        "-e", "frame.time_epoch", "-e", "ip.src", "-e", "ipv6.src",
                        "-e", "vrrp.prio"],
                       capture_output=True, text=True, timeout=120)
    pkts = []
    for line in r.stdout.splitlines():
        f = (line.split("\t") + [""] * 4)[:4]
        if f[0] and f[3]:
            pkts.append((float(f[0]), f[1] or f[2], int(f[3].split(",")[0])))
    return pkts


def wire_events(cap) -> list[tuple[float, str, int | None, bool]]:
    """(wall time, IP source, VRRP priority or None, address announcement for the VIP?) of every
    VRRP packet, ARP and ICMPv6 packet of a capture. The announcement is a gratuitous ARP for
    the VIP (IPv4) or an unsolicited neighbour advertisement (type 136 to ff02::1) whose target
    is the VIP (IPv6)."""
    r = subprocess.run(["tshark", "-n", "-r", str(cap.file), "-T", "fields",
                        "-e", "frame.time_epoch", "-e", "ip.src", "-e", "ipv6.src",
                        "-e", "vrrp.prio", "-e", "arp.src.proto_ipv4", "-e", "arp.dst.proto_ipv4",
                        "-e", "icmpv6.type", "-e", "ipv6.dst", "-e", "icmpv6.nd.na.target_address"],
                       capture_output=True, text=True, timeout=300)
    evs = []
    for line in r.stdout.splitlines():
        f = (line.split("\t") + [""] * 9)[:9]
        if not f[0]:
            continue
        prio = int(f[3].split(",")[0]) if f[3] else None
        garp = f[4] == C.VIP and f[5] == C.VIP
        na = f[6] == "136" and f[7] == "ff02::1" and f[8] == C.VIP
        evs.append((float(f[0]), f[1] or f[2], prio, garp or na))
    return evs


def attach_wire_times(runs: list, evs, a_src: str = "198.18.0.11",
                      b_src: str = "198.18.0.12") -> None:
    """Adds to each run (ms after its t0): a_adv = A's first advert with another priority than
    its own (0 or lowered), b_adv = B's first advert, garp = the first gratuitous ARP (IPv4) or
    unsolicited NA (IPv6) for the VIP (B's), from a capture on the LAN bridge (wall-clock times
    mapped with the run's offset). ``a_src``/``b_src``: the adverts' sources (IPv6: the
    link-local addresses)."""
    for r in runs:
        if not r or r.get("off") is None:
            continue
        t0w = r["t0"] + r["off"]
        end = t0w + (r["served"] + 300) / 1000
        for t, src, prio, garp in evs:
            if t < t0w or t > end:
                continue
            rel = (t - t0w) * 1000
            if src == a_src and prio is not None and prio != PRIO_A and "a_adv" not in r:
                r["a_adv"] = rel
                r["a_adv_prio"] = prio
            elif src == b_src and prio is not None and "b_adv" not in r:
                r["b_adv"] = rel
            elif garp and "garp" not in r:
                r["garp"] = rel


def crash_takeovers(pkts, a_ip="198.18.0.11", b_ip="198.18.0.12",
                    min_gap_ms: float = 0.0) -> list[float]:
    """For each handover A → B in the capture: B's first advert − A's last advert (ms).

    A gap under ``min_gap_ms`` is not a takeover: when A comes back and B yields, B repeats its
    own advert for a while (the uneven-heal rule, docs/operations.md), right after A's; pass about
    half of B's Master_Down_Interval to leave those out."""
    res = []
    last_a = None
    b_master = False
    for t, src, prio in pkts:
        if src == a_ip:
            last_a = t
            b_master = False
        elif src == b_ip and not b_master:
            if last_a is not None and (t - last_a) * 1000 >= min_gap_ms:
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
