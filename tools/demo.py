#!/usr/bin/env python3
"""Live failover demo: two nginx + two VRRP speakers (vipd by default) in network namespaces.

    tools/demo.py                       # vipd ($VIPD_BIN, else build-demo/vipd, else build/vipd)
    tools/demo.py --speaker keepalived  # the same story with keepalived, for comparison
    tools/demo.py --ipv6                # the same over IPv6: VIP 2001:db8::100, VRRPv3 on ff02::12
    tools/demo.py --keep                # leave the lab running to explore
    tools/demo.py --teardown            # remove a lab left by --keep (or by a crashed run)

It prints a live timeline — which node answers http://198.18.0.100/ (with --ipv6
http://[2001:db8::100]/) from the client namespace,
and the speakers' state-change log lines — then fails the master, shows the takeover, restores it,
shows the failback and prints a summary. Runs as root (network namespaces). Exit 0 on success."""

from __future__ import annotations

import argparse
import os
import re
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

import vipdlab as labmod
from vipdlab import (VIP, VIP6, VIP6_CIDR, VIP_CIDR, Lab, keepalived_config, url_host,
                     vipd_config, wait_for)
from vipdlab.netns import IPV6_NO_DAD
API = "127.0.0.1:9555"  # vipd's /status, /metrics inside each node's namespace
STEADY = 50             # answers in a row from one node = "settled" (0.5 s at 10 ms)
TAKEOVER_DEADLINE = 10  # s; generous: the demo is about showing the number, not judging it
LOG_INTERESTING = re.compile(r"state|MASTER|BACKUP|FAULT", re.IGNORECASE)
# How the master fails by default. Today: SIGKILL its speaker. Once vipd's pid check lands this
# becomes "stop-nginx" (kill nginx on the master; vipd's check sends priority 0 and B takes over).
DEFAULT_FAILOVER = "stop-nginx"
KEEPALIVED_DATE = re.compile(r"^\w{3} \w{3} +\d+ [\d:]+ \d{4}: ")


class Narrator:
    """Prints the live timeline: client answer changes, speaker state lines, demo steps."""

    def __init__(self, t_start: float):
        self.t_start = t_start
        self.lock = threading.Lock()
        self.poller = None
        self.logs: dict[str, tuple[Path, int]] = {}  # label -> (path, offset)
        self._seen = 0
        self._current = None
        self._run = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def ms(self, t: float) -> str:
        return f"{(t - self.t_start) * 1000:8.0f} ms"

    def say(self, msg: str, t: float | None = None) -> None:
        with self.lock:
            print(f"{self.ms(t if t is not None else time.monotonic())}  {msg}", flush=True)

    def step(self, msg: str) -> None:
        self.flush()
        with self.lock:
            print(f"{self.ms(time.monotonic())}  ==> {msg}", flush=True)

    def follow(self, label: str, path: Path) -> None:
        with self.lock:
            self.logs[label] = (path, 0)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.flush()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.flush()
            self._stop.wait(0.02)

    def flush(self) -> None:
        out = []
        with self.lock:
            if self.poller:
                samples = self.poller.samples()
                for s in samples[self._seen:]:
                    if s.outcome != self._current:
                        note = f" (after {self._run}× {self._current})" if self._current else ""
                        out.append((s.end, f"client  → {s.outcome}{note}"))
                        self._current, self._run = s.outcome, 0
                    self._run += 1
                self._seen = len(samples)
            for label, (path, off) in list(self.logs.items()):
                try:
                    with open(path, "rb") as f:
                        f.seek(off)
                        data = f.read()
                except OSError:
                    continue
                cut = data.rfind(b"\n") + 1  # only whole lines
                self.logs[label] = (path, off + cut)
                now = time.monotonic()
                for line in data[:cut].decode(errors="replace").splitlines():
                    if LOG_INTERESTING.search(line):
                        out.append((now, f"{label:<22}| {KEEPALIVED_DATE.sub('', line).strip()}"))
            for t, msg in sorted(out, key=lambda x: x[0]):
                print(f"{self.ms(t)}  {msg}", flush=True)


class Demo:
    def __init__(self, args):
        self.args = args
        self.speaker = args.speaker
        # --ipv6: the nodes also get 2001:db8::11, ::12, ::50 /64 and the VIP is IPv6 (LAB.md)
        self.vip, self.vip_cidr = (VIP6, VIP6_CIDR) if args.ipv6 else (VIP, VIP_CIDR)
        self.results: list[tuple[str, str, float | None, dict]] = []

    # -- speakers --------------------------------------------------------------------------
    def config(self, node, priority: int) -> str:
        if self.speaker == "keepalived":
            advert_s = parse_duration(self.args.advert)
            if self.args.failover == "stop-nginx":
                # keepalived has no pidfd check: a script polls the nginx master every second.
                pidfile = self.nginx[node.name].pidfile
                script = (f'vrrp_script nginx_alive {{\n    script "/bin/sh -c \'kill -0 '
                          f'$(cat {pidfile})\'"\n    interval 1\n    fall 1\n    rise 1\n}}\n')
                return keepalived_config(node, priority, advert=advert_s, scripts=script,
                                         vips=(self.vip_cidr,),
                                         extra_instance="    track_script {\n        nginx_alive\n    }\n")
            return keepalived_config(node, priority, advert=advert_s, vips=(self.vip_cidr,))
        extra_i = extra = ""
        if self.args.failover == "stop-nginx":
            extra_i = 'track = [ { check = "nginx-pid", weight = 0 } ]'
            extra = (f'[[check]]\nname = "nginx-pid"\ntype = "pid"\n'
                     f'pidfile = "{self.nginx[node.name].pidfile}"\n')
        return vipd_config(node, priority, advert=self.args.advert, group_size=self.args.group_size,
                           checksum=self.args.checksum, api_listen=API, extra_instance=extra_i,
                           extra=extra, vips=(self.vip_cidr,))

    def start_speaker(self, node, priority: int):
        if self.speaker == "keepalived":
            p = self.lab.start_keepalived(node, self.config(node, priority))
        else:
            p = self.lab.start_vipd(node, self.config(node, priority))
        self.speakers[node.name] = p
        self.narrator.follow(f"{node.label} {self.speaker}", p.log)
        return p

    # -- failover steps: each announces itself (self.begin), does the damage, and returns
    # (what the restore step is called, the restore function).
    def begin(self, what: str) -> None:
        self.narrator.step(what)
        self.event, self.t0 = what, time.monotonic()

    def kill_speaker_on_master(self, node):
        self.begin(f"SIGKILL {self.speaker} on {node.label} (the master)")
        self.speakers[node.name].kill()
        return f"restart {self.speaker} on {node.label}", lambda: self.start_speaker(node, 150)

    def stop_speaker_on_master(self, node):
        self.begin(f"SIGTERM {self.speaker} on {node.label} (graceful stop)")
        self.speakers[node.name].stop()
        return f"restart {self.speaker} on {node.label}", lambda: self.start_speaker(node, 150)

    def stop_nginx_on_master(self, node):
        self.begin(f"kill nginx on {node.label} (the master)")
        self.nginx[node.name].kill()
        return (f"restart nginx on {node.label}",
                lambda: self.nginx.__setitem__(node.name, self.lab.start_nginx(node)))

    FAILOVERS = {"kill-speaker": kill_speaker_on_master,
                 "stop-speaker": stop_speaker_on_master,
                 "stop-nginx": stop_nginx_on_master}

    # -- the story -------------------------------------------------------------------------
    def run(self) -> int:
        args = self.args
        with Lab(keep=args.keep, quiet=True, sysctls=IPV6_NO_DAD if args.ipv6 else None) as lab:
            self.lab = lab
            if args.ipv6:
                lab.add_ipv6_all()
            self.nginx, self.speakers = {}, {}
            self.narrator = n = Narrator(time.monotonic())
            n.start()
            print(f"lab {lab.prefix}: namespaces {', '.join(lab.namespaces)}; files in {lab.dir}")
            print(f"  {lab.a.label} {lab.a.addr}   {lab.b.label} {lab.b.addr}   "
                  f"client {lab.c.addr}   VIP {self.vip}\n")
            try:
                self.story()
            except AssertionError as e:
                n.stop()
                print(f"\nFAIL: {e}")
                for p in self.speakers.values():
                    print(f"---- {p.name}: {p.log} (last lines) ----\n{p.log_text()[-1500:]}")
                return 1
            finally:
                n.stop()
                if self.poller:
                    self.poller.stop()
            self.summary()
            if args.keep:
                self.explain_keep()
        return 0

    def story(self) -> None:
        lab, n, args = self.lab, self.narrator, self.args
        a, b = lab.a, lab.b
        n.step("starting nginx on node-a and node-b")
        self.nginx["a"] = lab.start_nginx(a)
        self.nginx["b"] = lab.start_nginx(b)
        n.step(f"starting {self.speaker} on node-a (priority 150) and node-b (priority 100), "
               f"advert {args.advert}, VIP {self.vip_cidr}")
        self.start_speaker(a, 150)
        self.start_speaker(b, 100)
        self.poller = n.poller = lab.poller(self.vip)
        wait_for(lambda: lab.has_vip(a, self.vip), TAKEOVER_DEADLINE, "node-a to hold the VIP")
        self.poller.wait_served_by("node-a", TAKEOVER_DEADLINE, consecutive=STEADY)
        n.say(f"settled: VIP on {', '.join(lab.vip_holders(self.vip))}; client served by node-a")

        failover = self.FAILOVERS[args.failover]
        for _ in range(args.rounds):
            restore_what, restore = failover(self, a)
            self.measure(self.event, self.t0, "node-b")
            n.say(f"VIP now on: {', '.join(lab.vip_holders(self.vip)) or 'nobody'}")

            self.begin(restore_what)
            restore()
            self.measure(self.event, self.t0, "node-a")
            n.say(f"VIP now on: {', '.join(lab.vip_holders(self.vip)) or 'nobody'}")

    def measure(self, event: str, t0: float, target: str) -> None:
        first = self.poller.wait_served_by(target, TAKEOVER_DEADLINE, since=t0)
        self.poller.wait_served_by(target, TAKEOVER_DEADLINE, since=first.end, consecutive=STEADY)
        took = first.end - t0
        stats = self.poller.summary(t0, first.end)
        self.narrator.flush()
        self.narrator.say(f"client served by {target} {took * 1000:.0f} ms after: {event}")
        self.results.append((event, target, took, stats))

    def summary(self) -> None:
        print("\nsummary" + (f" ({self.speaker}, advert {self.args.advert}, "
                             f"{'IPv6' if self.args.ipv6 else 'IPv4'})"))
        w = max([len(e) for e, *_ in self.results] + [5])
        print(f"  {'event':<{w}}  {'served by':<9}  {'after':>8}  {'failed fast':>11}  {'hung':>4}")
        for event, target, took, st in self.results:
            print(f"  {event:<{w}}  {target:<9}  {took * 1000:6.0f} ms  {st['failed_fast']:>11}  "
                  f"{st['hung']:>4}")
        print("  (after = from the action to the first answer from the other node; failed fast /"
              " hung = client requests in between that were refused or timed out)")

    def explain_keep(self) -> None:
        lab = self.lab
        me = os.path.relpath(__file__)
        api = ""
        if self.speaker == "vipd":
            api = (f"\n  ip netns exec {lab.a.ns} {os.environ['VIPD_BIN']} status --url http://{API}"
                   f"\n  ip netns exec {lab.b.ns} curl -s http://{API}/metrics | grep vipd_vrrp_state")
        print(f"""
The lab is still running ({lab.prefix}). Explore:
  ip netns exec {lab.c.ns} curl -g http://{url_host(self.vip)}/
  ip -n {lab.a.ns} -br addr; ip -n {lab.b.ns} -br addr
  ip netns exec {lab.lan} tcpdump -ni br0 {'ip6 proto 112' if self.args.ipv6 else 'vrrp'}
  tail -f {' '.join(str(p.log) for p in self.speakers.values())}{api}
Tear it down:
  {me} --teardown {lab.prefix}""")


def parse_duration(s: str) -> float:
    m = re.fullmatch(r"([\d.]+)(ms|s)", s)
    if not m:
        raise SystemExit(f"bad duration {s!r} (use e.g. 100ms or 1s)")
    return float(m.group(1)) / (1000 if m.group(2) == "ms" else 1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--speaker", choices=("vipd", "keepalived"), default="vipd")
    ap.add_argument("--failover", choices=tuple(Demo.FAILOVERS), default=DEFAULT_FAILOVER,
                    help=f"how the master fails (default: {DEFAULT_FAILOVER})")
    ap.add_argument("--advert", default="100ms", help="advert interval (default 100ms)")
    ap.add_argument("--group-size", type=int, default=2,
                    help="vipd group_size (2 enables two-node fast takeover; 0 = unknown)")
    ap.add_argument("--checksum", default="rfc9568", choices=("rfc9568", "pseudo-header"))
    ap.add_argument("--ipv6", action="store_true",
                    help="over IPv6: VIP 2001:db8::100/64, adverts from the link-locals to "
                         "ff02::12, unsolicited NAs")
    ap.add_argument("--rounds", type=int, default=1, help="failover/failback rounds")
    ap.add_argument("--keep", action="store_true", help="leave the lab running at the end")
    ap.add_argument("--teardown", nargs="?", const="", metavar="PREFIX",
                    help="remove a lab left by --keep (all kept labs without PREFIX) and exit")
    args = ap.parse_args()

    if args.teardown is not None:
        labmod.teardown(args.teardown or None)
        return 0
    need = ("nginx", "curl") + (("keepalived",) if args.speaker == "keepalived" else ())
    labmod.require_root_or_skip(need)
    if args.speaker == "vipd" and not labmod.vipd_bin():
        for cand in (REPO / "build-demo" / "vipd", REPO / "build" / "vipd"):
            if cand.is_file() and os.access(cand, os.X_OK):
                os.environ["VIPD_BIN"] = str(cand)
                break
        else:
            print("demo: no vipd binary (set VIPD_BIN or build it: tools/demo.sh does); "
                  "`--speaker keepalived` runs the demo with keepalived")
            return 1
    return Demo(args).run()


if __name__ == "__main__":
    sys.exit(main())
