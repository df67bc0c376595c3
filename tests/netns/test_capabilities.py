#!/usr/bin/env python3
"""[netns] vipd runs as a non-root user with only CAP_NET_ADMIN + CAP_NET_RAW (DESIGN.md §8).

Node A: vipd as uid/gid 65534 (nobody) through setpriv with exactly the two capabilities
ambient (and nothing else in the bounding set) — what systemd's AmbientCapabilities= and the
container's file capabilities give it. Node B: vipd as root. A (priority 150) must become MASTER
and install the VIP, and on SIGTERM release it and exit 0. Then, with only CAP_NET_RAW, vipd must
refuse to start, exit non-zero and name CAP_NET_ADMIN and the fix; with only CAP_NET_ADMIN, name
CAP_NET_RAW.
[agent] realtime_priority (default 10) without permission (no CAP_SYS_NICE, RLIMIT_RTPRIO 0):
node A logs exactly one warning naming the fix (LimitRTPRIO=, ulimits rtprio, SYS_NICE), also
after a SIGHUP, /status agent.realtime says SCHED_OTHER with the reason, no thread is real-time,
and everything above still works. With CAP_SYS_NICE added, the same user gets its loop thread
SCHED_RR 10. Exit 0 pass, 1 fail, 77 skipped."""

import os
import shutil
import signal
import sys
import tempfile
import time

from vipdlab import run_main, VIP, Lab, require_root_or_skip, require_vipd_or_skip, vipd_config, wait_for

NOBODY = 65534
CAP_NET_ADMIN, CAP_NET_RAW = 12, 13
RT_WARNING = "realtime_priority = 10: not permitted: no CAP_SYS_NICE"


def setpriv(caps: list[str]) -> list[str]:
    """setpriv argv: uid/gid nobody, no groups, exactly `caps` inheritable+ambient+bounding."""
    plus = ",".join("+" + c for c in caps)
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
            f"--inh-caps=-all,{plus}", f"--ambient-caps={plus}", f"--bounding-set=-all,{plus}"]


def proc_status(pid: int) -> dict[str, str]:
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def thread_policies(pid: int) -> dict[int, int]:
    """tid -> scheduling policy (stat field 41; 0 SCHED_OTHER, 2 SCHED_RR) of every thread."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            text = open(f"/proc/{pid}/task/{tid}/stat").read()
        except OSError:
            continue
        out[int(tid)] = int(text[text.rindex(")") + 2:].split()[41 - 3])
    return out


def find_vipd(pgid: int) -> int | None:
    """The vipd process in the process group started by the lab (setpriv execs it)."""
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            if os.getpgid(int(d)) != pgid:
                continue
            with open(f"/proc/{d}/comm") as f:
                if f.read().strip() == "vipd":
                    return int(d)
        except OSError:
            continue
    return None


def main() -> int:
    require_root_or_skip(need=("nginx", "vipd", "curl"))
    if not shutil.which("setpriv"):
        print("skipped: setpriv (util-linux) is not installed")
        return 77
    binary = os.path.abspath(require_vipd_or_skip())
    # The unprivileged user must be able to reach the binary and read its config.
    r = os.system(f"setpriv --reuid={NOBODY} --regid={NOBODY} --clear-groups test -x {binary}")
    if r != 0:
        print(f"skipped: uid {NOBODY} cannot execute {binary} (a parent directory is not "
              "world-searchable)")
        return 77
    t_start = time.monotonic()
    cfgdir = tempfile.mkdtemp(prefix="vipd-caps-")
    os.chmod(cfgdir, 0o755)
    try:
        with Lab() as lab:
            a, b = lab.a, lab.b
            lab.start_nginx(a)
            lab.start_nginx(b)
            cfg_a = os.path.join(cfgdir, "a.toml")
            with open(cfg_a, "w") as f:
                f.write(vipd_config(a, priority=150, api_listen="127.0.0.1:9555", group_size=2))
            os.chmod(cfg_a, 0o644)

            vipd_b = lab.start_vipd(b, vipd_config(b, priority=100, group_size=2))
            vipd_a = a.popen(*setpriv(["net_admin", "net_raw"]), binary, "run", "-c", cfg_a,
                             name="vipd@node-a(nobody)", log=lab.dir / "vipd-a-nobody.log")
            a.procs.append(vipd_a)
            try:
                wait_for(lambda: lab.has_vip(a, VIP), 10, "unprivileged vipd on node-a to install the VIP")
                pid = wait_for(lambda: find_vipd(vipd_a.pid), 5, "the vipd process on node-a")
                st = proc_status(pid)
                uid = st["Uid"].split()[0]
                cap_eff = int(st["CapEff"], 16)
                cap_bnd = int(st["CapBnd"], 16)
                want = (1 << CAP_NET_ADMIN) | (1 << CAP_NET_RAW)
                print(f"node-a vipd pid {pid}: Uid {uid}, CapEff {st['CapEff']}, CapBnd {st['CapBnd']}, "
                      f"CapAmb {st.get('CapAmb')}")
                assert uid == str(NOBODY), f"vipd on node-a runs as uid {uid}, want {NOBODY}"
                assert cap_eff == want, f"CapEff {cap_eff:#x}, want exactly {want:#x}"
                assert cap_bnd == want, f"CapBnd {cap_bnd:#x}, want exactly {want:#x}"
                status = wait_for(lambda: (s := a.http_json("http://127.0.0.1:9555/status")) and
                                  s["instances"][0]["state"] == "MASTER" and s, 5,
                                  "node-a /status to say MASTER")
                print(f"node-a: {status['instances'][0]['state']} ({status['instances'][0]['reason']})")
                wait_for(lambda: "BACKUP" in vipd_b.log_text(), 5, "node-b (root) to be BACKUP")

                # realtime_priority = 10 (default) is not permitted: one warning, SCHED_OTHER, runs.
                rt = status["agent"]["realtime"]
                print(f"node-a /status agent.realtime: {rt}")
                assert rt["requested_priority"] == 10 and rt["policy"] == "SCHED_OTHER" and \
                    rt["priority"] == 0 and "not permitted" in (rt["error"] or ""), rt
                policies = thread_policies(pid)
                assert policies and all(p == 0 for p in policies.values()), \
                    f"a thread of the unprivileged vipd is real-time: {policies}"
                log = vipd_a.log_text()
                warning = next((l for l in log.splitlines() if RT_WARNING in l), "")
                print(f"node-a warning: {warning.strip()}")
                assert log.count(RT_WARNING) == 1, f"want one realtime warning:\n{log[-2000:]}"
                for fix in ("LimitRTPRIO=10", "rtprio: 10", "SYS_NICE", "realtime_priority = 0"):
                    assert fix in warning, f"the warning does not name {fix!r}: {warning}"
                mark = len(log)
                vipd_a.signal(signal.SIGHUP)
                wait_for(lambda: "reload done" in vipd_a.log_text()[mark:], 10, "node-a reload")
                assert vipd_a.log_text().count(RT_WARNING) == 1, \
                    f"the warning was repeated on SIGHUP:\n{vipd_a.log_text()[-2000:]}"
                assert lab.vip_holders() == ["node-a"], f"VIP on {lab.vip_holders()}, want node-a"
                poller = lab.poller()
                poller.wait_served_by("node-a", 5, consecutive=10)

                # Graceful stop as nobody: priority 0, VIP removed (needs CAP_NET_ADMIN), exit 0.
                t0 = time.monotonic()
                rc = vipd_a.stop(timeout=10)
                assert rc == 0, f"unprivileged vipd exited {rc} on SIGTERM, want 0"
                assert not lab.has_vip(a, VIP), "unprivileged vipd left the VIP behind on SIGTERM"
                poller.wait_served_by("node-b", 3, since=t0)
                print(f"node-a stopped (rc 0, VIP released); node-b serves after "
                      f"{(time.monotonic() - t0) * 1000:.0f} ms")
                poller.stop()
            except AssertionError:
                for p in (vipd_a, vipd_b):
                    print(f"---- {p.name} log ----\n{p.log_text()[-3000:]}")
                raise

            # With CAP_SYS_NICE as well, the same user's loop thread is SCHED_RR 10, nothing else.
            vipd_a = a.popen(*setpriv(["net_admin", "net_raw", "sys_nice"]), binary, "run", "-c",
                             cfg_a, name="vipd@node-a(nobody+nice)", log=lab.dir / "vipd-a-nice.log")
            a.procs.append(vipd_a)
            try:
                pid = wait_for(lambda: find_vipd(vipd_a.pid), 5, "the vipd process on node-a")
                rt = wait_for(lambda: (s := a.http_json("http://127.0.0.1:9555/status")) and
                              s["agent"]["realtime"], 5, "node-a /status")
                policies = thread_policies(pid)
                print(f"nobody + CAP_SYS_NICE: agent.realtime {rt}; thread policies {policies}")
                assert rt == {"requested_priority": 10, "policy": "SCHED_RR", "priority": 10,
                              "error": None}, rt
                assert policies[pid] == 2 and all(p == 0 for t, p in policies.items() if t != pid), \
                    f"want only the loop thread (tid {pid}) SCHED_RR: {policies}"
                assert RT_WARNING not in vipd_a.log_text(), vipd_a.log_text()[-2000:]
                assert vipd_a.stop(timeout=10) == 0
            except AssertionError:
                print(f"---- {vipd_a.name} log ----\n{vipd_a.log_text()[-3000:]}")
                raise

            # Missing one capability: refuse to start, name it and the fix.
            for have, missing in ((["net_raw"], "CAP_NET_ADMIN"), (["net_admin"], "CAP_NET_RAW")):
                r = a.run(*setpriv(have), binary, "run", "-c", cfg_a, check=False, timeout=20)
                out = r.stdout + r.stderr
                print(f"only {have[0].upper()}: exit {r.returncode}; "
                      f"{next((l for l in out.splitlines() if missing in l), '(no line)')}")
                assert r.returncode != 0, f"vipd with only {have} exited 0"
                assert f"missing capability {missing}" in out, \
                    f"no 'missing capability {missing}' in the output:\n{out[-2000:]}"
                assert "AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW" in out and "cap_add" in out, \
                    f"the error does not name the fix:\n{out[-2000:]}"
                other = "CAP_NET_RAW" if missing == "CAP_NET_ADMIN" else "CAP_NET_ADMIN"
                assert f"missing capability {other}" not in out, \
                    f"vipd also blames {other}, which it has:\n{out[-2000:]}"
                assert not lab.has_vip(a, VIP), "a refused start touched the VIP"
    finally:
        shutil.rmtree(cfgdir, ignore_errors=True)
    print(f"test_capabilities: passed in {time.monotonic() - t_start:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
