#!/usr/bin/env python3
"""The API under hostile local clients (issue 13): /healthz and /metrics latency while
--trickle connections send a request a byte a second and --idle keep-alive connections sit idle;
vipd's memory before, during and after.

A runs vipd (MASTER, API on 127.0.0.1:9555 in A's namespace). A load generator in A's namespace
keeps the connections open (reconnecting whenever the server closes one); a second process probes
GET /healthz on a fresh connection every 100 ms and GET /metrics every second, each with a 2 s
timeout (a timeout counts as a failure and as 2 s in the percentiles).

  sudo PYTHONPATH=pylab python3 bench/api_load.py [--vipd BIN] [--trickle 200] [--idle 500] [--seconds 30] [--json F]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from vipdlab import Lab, require_root_or_skip, vipd_config
from vipdlab.vipd import wait_state

LOAD = r'''
import asyncio, json, sys, time
port, trickle, idle, seconds = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
role = sys.argv[5]  # "load": hold the connections; "probe": measure (its own process and loop)
stats = {"trickle_connects": 0, "idle_connects": 0, "connect_errors": 0, "refused_503": 0}
stop = False

async def trickler():
    while not stop:
        try:
            r, w = await asyncio.open_connection("127.0.0.1", port)
            stats["trickle_connects"] += 1
            w.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            await w.drain()
            while not stop:
                try:
                    data = await asyncio.wait_for(r.read(4096), 1.0)
                    if not data:
                        break
                    if b" 503 " in data[:16]:
                        stats["refused_503"] += 1
                except asyncio.TimeoutError:
                    w.write(b"a")
                    await w.drain()
            w.close()
        except OSError:
            stats["connect_errors"] += 1
            await asyncio.sleep(0.1)

async def idler():
    while not stop:
        try:
            r, w = await asyncio.open_connection("127.0.0.1", port)
            stats["idle_connects"] += 1
            w.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            await w.drain()
            while not stop:
                data = await r.read(4096)
                if not data:
                    break
                if b" 503 " in data[:16]:
                    stats["refused_503"] += 1
            w.close()
        except OSError:
            stats["connect_errors"] += 1
            await asyncio.sleep(0.1)

async def probe(path):
    t0 = time.monotonic()
    try:
        async def once():
            r, w = await asyncio.open_connection("127.0.0.1", port)
            w.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            await w.drain()
            data = await r.read()
            w.close()
            return data
        data = await asyncio.wait_for(once(), 2.0)
        ok = data.startswith(b"HTTP/1.1 200")
    except (OSError, asyncio.TimeoutError):
        ok = False
    return ok, (time.monotonic() - t0) * 1000 if ok else 2000.0

async def prober(path, every, out):
    while not stop:
        t = time.monotonic()
        out.append(await probe(path))
        await asyncio.sleep(max(0, every - (time.monotonic() - t)))

def pct(xs, p):
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(len(xs) * p))], 2) if xs else None

async def main():
    global stop
    if role == "load":
        tasks = [asyncio.create_task(trickler()) for _ in range(trickle)]
        tasks += [asyncio.create_task(idler()) for _ in range(idle)]
        await asyncio.sleep(seconds + 3)
        stop = True
        for t in tasks:
            t.cancel()
        print(json.dumps(stats), flush=True)
        return
    await asyncio.sleep(3)  # let the load build up before probing
    hz, mt = [], []
    probes = [asyncio.create_task(prober("/healthz", 0.1, hz)), asyncio.create_task(prober("/metrics", 1.0, mt))]
    await asyncio.sleep(seconds)
    stop = True
    await asyncio.gather(*probes)
    res = {}
    for name, xs in (("healthz", hz), ("metrics", mt)):
        lat = [l for _, l in xs]
        res[name] = {"probes": len(xs), "failed": sum(1 for ok, _ in xs if not ok),
                     "p50_ms": pct(lat, 0.5), "p99_ms": pct(lat, 0.99), "max_ms": pct(lat, 1.0)}
    print(json.dumps(res), flush=True)

asyncio.run(main())
'''


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--vipd", help="vipd binary (default $VIPD_BIN)")
    ap.add_argument("--trickle", type=int, default=200)
    ap.add_argument("--idle", type=int, default=500)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    if args.vipd:
        os.environ["VIPD_BIN"] = args.vipd
    require_root_or_skip(need=("vipd", "curl"))
    with Lab(prefix=f"hstapi{os.getpid()}") as lab:
        a = lab.a
        vd = lab.start_vipd(a, vipd_config(a, priority=150, api_listen="127.0.0.1:9555"))
        wait_state(a, "MASTER", 10, vd)
        time.sleep(1)
        before = rss_kb(vd.pid)
        argv = [LOAD, "9555", str(args.trickle), str(args.idle), str(args.seconds)]
        load = a.popen("python3", "-c", *argv, "load", name="api-load", log=lab.dir / "load.log")
        probe = a.popen("python3", "-c", *argv, "probe", name="api-probe",
                        log=lab.dir / "probe.log")
        peak = before
        deadline = time.monotonic() + args.seconds + 60
        while (load.alive() or probe.alive()) and time.monotonic() < deadline:
            peak = max(peak, rss_kb(vd.pid))
            time.sleep(0.5)
        load.wait_exit(5)
        probe.wait_exit(5)
        res = json.loads(probe.log_text().strip().splitlines()[-1])
        res["load"] = json.loads(load.log_text().strip().splitlines()[-1])
        time.sleep(10)  # idle/request deadlines close what the load left open
        res.update({"trickle": args.trickle, "idle": args.idle, "seconds": args.seconds,
                    "vipd": os.environ.get("VIPD_BIN"), "rss_kb_before": before,
                    "rss_kb_peak": peak, "rss_kb_after": rss_kb(vd.pid)})
        vd.expect_alive()
    print(json.dumps(res, indent=2))
    if args.json:
        args.json.write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
