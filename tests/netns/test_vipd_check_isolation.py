#!/usr/bin/env python3
"""[netns] A hung health check never delays an advert (DESIGN.md §6: checks run off the loop).

vipd alone on A (priority 150, VRRPv3, 100 ms adverts) → MASTER. Two runs, each capturing A's
adverts on the LAN bridge for CAPTURE_S seconds:
  baseline  no check at all
  hung      an http check (interval 50 ms, timeout 1 s, tracked with weight -60) against a server
            inside A that accepts connections and never answers
The inter-advert spacing (min / median / p99 / max, jitter = |spacing - 100 ms|) of both runs is
printed side by side; the hung run must have no gap above interval + 20 ms.
Exit 0 pass, 1 fail, 77 skipped."""

import statistics
import subprocess
import sys
import time

from vipdlab import run_main, Lab, require_root_or_skip, require_vipd_or_skip, vipd_config, wait_for

API = "127.0.0.1:9555"
STATUS = f"http://{API}/status"
ADVERT_MS = 100.0
MAX_GAP_MS = ADVERT_MS + 20.0
CAPTURE_S = 5.0
HUNG_PORT = 8081

# Accepts every connection and never reads or answers; keeps the sockets open.
HUNG_SERVER = r"""
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(1024)
print("listening", flush=True)
held = []
while True:
    c, _ = s.accept()
    held.append(c)
    if len(held) > 500:
        held.pop(0).close()
"""


def percentile(xs, p):
    xs = sorted(xs)
    k = (len(xs) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def spacing_stats(times):
    gaps = [(b - a) * 1000 for a, b in zip(times, times[1:])]
    jit = [abs(g - ADVERT_MS) for g in gaps]
    return {
        "adverts": len(times),
        "min": min(gaps), "median": statistics.median(gaps), "p99": percentile(gaps, 99),
        "max": max(gaps), "mean": statistics.fmean(gaps),
        "jitter_mean": statistics.fmean(jit), "jitter_p99": percentile(jit, 99),
        "jitter_max": max(jit), "over_limit": sum(1 for g in gaps if g > MAX_GAP_MS),
        "over_2ms": sum(1 for j in jit if j > 2.0), "gaps": gaps,
    }


def capture_adverts(lab, node):
    cap = lab.capture(None, "ip proto 112")
    time.sleep(CAPTURE_S)  # the measurement window itself, not a wait for a condition
    cap.stop()
    r = subprocess.run(["tshark", "-n", "-r", str(cap.file), "-Y", f"vrrp && ip.src == {node.addr}",
                        "-T", "fields", "-e", "frame.time_epoch"],
                       capture_output=True, text=True, timeout=60)
    times = [float(x) for x in r.stdout.split()]
    assert len(times) >= CAPTURE_S * 1000 / ADVERT_MS * 0.8, \
        f"only {len(times)} adverts from {node.addr} in {CAPTURE_S}s: {r.stderr[:500]}"
    return times


def wait_master(node, timeout=10, extra=None):
    def ok():
        st = node.http_json(STATUS)
        if st and st["instances"][0]["state"] == "MASTER" and (extra is None or extra(st)):
            return st
        return None
    return wait_for(ok, timeout, f"{node.label} to be MASTER", interval=0.05)


def main() -> int:
    require_root_or_skip(need=("vipd", "tcpdump", "tshark", "curl"))
    require_vipd_or_skip()
    results = {}
    with Lab(quiet=True) as lab:
        a = lab.a
        # Baseline: no check.
        vd = lab.start_vipd(a, vipd_config(a, priority=150, api_listen=API))
        wait_master(a)
        results["baseline"] = spacing_stats(capture_adverts(lab, a))
        vd.stop()

        # Hung http check.
        hung = a.popen("python3", "-u", "-c", HUNG_SERVER, str(HUNG_PORT), name="hung-http@node-a",
                       log=lab.dir / "hung.log")
        hung.wait_log("listening", 5)
        extra_instance = 'track = [ { check = "hung-http", weight = -60 } ]'
        extra = (f'[[check]]\nname = "hung-http"\ntype = "http"\n'
                 f'url = "http://127.0.0.1:{HUNG_PORT}/healthz"\ninterval = "50ms"\n'
                 f'timeout = "1s"\nrise = 2\nfall = 2\n')
        vd = lab.start_vipd(a, vipd_config(a, priority=150, api_listen=API,
                                           extra_instance=extra_instance, extra=extra))
        # The check has hung at least once (read timeout after 1 s) before we measure.
        st = wait_master(a, 10, lambda st: st["checks"][0]["ran"] and
                         "timeout" in (st["checks"][0]["last_error"] or ""))
        chk = st["checks"][0]
        t_status = time.monotonic()
        a.http_json(STATUS)
        status_ms = (time.monotonic() - t_status) * 1000
        results["hung"] = spacing_stats(capture_adverts(lab, a))
        st = a.http_json(STATUS)
        chk = st["checks"][0]
        i = st["instances"][0]
        late = vd.log_text().count("timer fired")
        vd.expect_alive()
        vd.stop()

    cols = ("adverts", "min", "median", "p99", "max", "mean", "jitter_mean", "jitter_p99",
            "jitter_max", "over_2ms", "over_limit")
    print(f"advert spacing over {CAPTURE_S:g}s on the bridge (ms; jitter = |spacing - "
          f"{ADVERT_MS:g}|; limit {MAX_GAP_MS:g}):")
    print(f"  {'':12}{'baseline':>12}{'hung check':>12}")
    for c in cols:
        b, h = results["baseline"][c], results["hung"][c]
        fmt = (lambda v: f"{v:12d}") if isinstance(b, int) else (lambda v: f"{v:12.1f}")
        print(f"  {c:12}{fmt(b)}{fmt(h)}")
    print(f"hung check during the run: up={chk['up']} last_error={chk['last_error']!r} "
          f"last_duration_ms={chk['last_duration_ms']:.0f}; A {i['state']} effective "
          f"{i['priority']['effective']}; /status answered in {status_ms:.0f} ms; "
          f"'advert timer fired late' notices in the log: {late}")
    for name in ("baseline", "hung"):
        print(f"  {name} gaps: " + " ".join(f"{g:.1f}" for g in results[name]["gaps"]))
    h = results["hung"]
    assert chk["up"] is False and "timeout" in (chk["last_error"] or ""), chk
    assert h["max"] <= MAX_GAP_MS, \
        f"an advert gap of {h['max']:.1f} ms > {MAX_GAP_MS:g} ms while the http check hung"
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
