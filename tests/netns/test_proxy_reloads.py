#!/usr/bin/env python3
"""[netns] Proxy reloads are not deaths (issue 14): real HAProxy and real nginx on node A, each
watched by a vipd `pid` check with weight 0 (a down check puts A in FAULT and B takes the VIP).

Node A runs, side by side, each behind its own pid check:
  - HAProxy classic daemon:   haproxy -D -f CFG -p classic.pid [-sf $(cat classic.pid)]
  - HAProxy master-worker:    haproxy -W -D -f CFG -p mw.pid; reload = SIGUSR2 to the master;
                              plus an http check on its `monitor-uri` (the docs/haproxy.md setup)
  - nginx (the lab's, daemon off): `nginx -s reload`
  - nginx daemon (:8082):     the binary upgrade (USR2, WINCH, QUIT old)
B runs vipd with priority 100 and no checks; 100 ms adverts, group_size = 2.

  1. N reloads of each kind (VIPD_RELOADS, default 20; 50 for the figures in docs/haproxy.md),
     spaced VIPD_RELOAD_GAP seconds (default 0.1): 0 false failovers — no VIP add on B, A's
     transitions unchanged, not one failed run of any of A's checks.
  2. SIGKILL of each proxy's (master) process: B holds the VIP within a deadline; the time from
     the kill to the netlink add on B is printed (figure kill_<kind>_ms). Each proxy is started
     again before the next kill and A takes the VIP back (preempt).
Exit 0 pass, 1 fail, 77 skipped."""

import os
import shutil
import signal
import sys
import time
from pathlib import Path

from vipdlab import NGINX, require_root_or_skip, vipd_config, wait_for
from vipdlab.vipd import (API, Figures, VipWatcher, hold, metric, metrics, run_test, status, step,
                          wait_state)

FIG = Figures("test_proxy_reloads")
RELOADS = int(os.environ.get("VIPD_RELOADS", "20"))
GAP = float(os.environ.get("VIPD_RELOAD_GAP", "0.1"))
GRACE = os.environ.get("VIPD_PID_GRACE", "1s")  # the pid checks' `timeout` (the reload grace)
KILL_DEADLINE = 1.0  # a pid check is immediate: FAULT -> priority 0 -> B at once

HAPROXY_CFG = """\
global
    maxconn 256
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 0.0.0.0:{port}
    monitor-uri /haproxy-health
    monitor fail if {{ nbsrv(web) lt 1 }}
    default_backend web
backend web
    server nginx 127.0.0.1:80 check inter 200ms
"""


def pid_of(pidfile: Path) -> int:
    return int(pidfile.read_text().split()[0])


def alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper that is not us does not count)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Proxies:
    """The HAProxy daemons this test starts (double-forked, so not lab.Proc children): every PID
    any of them wrote is remembered and killed at the end."""

    def __init__(self, lab, node):
        self.lab, self.node, self.dir = lab, node, lab.dir
        self.pids: set[int] = set()
        self.haproxy = shutil.which("haproxy")

    def conf(self, kind: str, port: int) -> Path:
        p = self.dir / f"haproxy-{kind}.cfg"
        p.write_text(HAPROXY_CFG.format(port=port))
        return p

    def remember(self, pidfile: Path) -> int:
        pid = wait_for(lambda: pidfile.exists() and pidfile.read_text().strip() and pid_of(pidfile),
                       5, f"{pidfile.name} to name a PID")
        self.pids.add(pid)
        return pid

    def start_classic(self) -> int:
        pf = self.dir / "classic.pid"
        pf.unlink(missing_ok=True)
        self.node.run(self.haproxy, "-D", "-f", self.conf("classic", 8080), "-p", pf)
        return self.remember(pf)

    def reload_classic(self) -> int:
        pf = self.dir / "classic.pid"
        old = pid_of(pf)
        # Exactly the reload that flapped (issue 14): the new process truncates the pidfile,
        # signals OLD (-sf: finish and exit) and writes its own PID a few ms later.
        self.node.run(self.haproxy, "-D", "-f", self.dir / "haproxy-classic.cfg", "-p", pf,
                      "-sf", str(old))
        new = self.remember(pf)
        assert new != old, f"classic reload kept PID {old}"
        wait_for(lambda: not alive(old), 5, f"old haproxy {old} to exit")
        return new

    def start_mw(self) -> int:
        pf = self.dir / "mw.pid"
        pf.unlink(missing_ok=True)
        self.node.run(self.haproxy, "-W", "-D", "-f", self.conf("mw", 8081), "-p", pf)
        return self.remember(pf)

    def workers(self, master: int) -> set[int]:
        try:
            return set(map(int, Path(f"/proc/{master}/task/{master}/children").read_text().split()))
        except OSError:
            return set()

    def reload_mw(self) -> None:
        master = pid_of(self.dir / "mw.pid")
        old = wait_for(lambda: self.workers(master), 5, "haproxy master-worker's worker")
        os.kill(master, signal.SIGUSR2)
        # The master re-executes itself (same PID) and starts a new worker; the old one finishes.
        wait_for(lambda: (w := self.workers(master)) and not (w & old), 5,
                 "a new haproxy worker after USR2")
        assert pid_of(self.dir / "mw.pid") == master

    def close(self) -> None:
        for pid in sorted(self.pids):
            kids = self.workers(pid)
            for p in [pid, *kids]:
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass


NGINX_DAEMON_CFG = """\
daemon on;
master_process on;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen 0.0.0.0:8082;
        location / {{ return 200 "upgraded\\n"; }}
    }}
}}
"""


def start_nginx_daemon(lab, node, proxies: Proxies) -> Path:
    """A second nginx on ``node`` (:8082) in daemon mode: nginx ignores the binary-upgrade signal
    while its parent is the one it started with, so `daemon off` (the lab's nginx) cannot
    upgrade. Returns its pidfile."""
    prefix = lab.dir / "nginx-upgrade"
    prefix.mkdir(exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(NGINX_DAEMON_CFG.format(prefix=prefix))
    node.run(NGINX, "-p", prefix, "-c", conf, "-e", prefix / "error.log")
    proxies.remember(prefix / "nginx.pid")
    return prefix / "nginx.pid"


def nginx_binary_upgrade(pf: Path, proxies: Proxies) -> None:
    """nginx's binary upgrade: USR2 (new master, nginx.pid -> nginx.pid.oldbin), WINCH (old
    workers stop), QUIT (old master exits). The new master keeps serving."""
    old = pid_of(pf)
    os.kill(old, signal.SIGUSR2)
    new = wait_for(lambda: pf.exists() and pf.read_text().strip() and pid_of(pf) != old and
                   pid_of(pf), 5, "nginx's new master to write nginx.pid")
    proxies.pids.add(new)
    os.kill(old, signal.SIGWINCH)
    os.kill(old, signal.SIGQUIT)
    wait_for(lambda: not alive(old), 5, f"old nginx master {old} to exit")


CHECKS = ("haproxy-classic-pid", "haproxy-mw-pid", "nginx-pid", "nginx-upgrade-pid",
          "haproxy-mw-http")


def vipd_a_config(a, ng, upgrade_pidfile) -> str:
    checks = [("haproxy-classic-pid", "pid", f'pidfile = "{a.lab.dir / "classic.pid"}"'),
              ("haproxy-mw-pid", "pid", f'pidfile = "{a.lab.dir / "mw.pid"}"'),
              ("nginx-pid", "pid", f'pidfile = "{ng.pidfile}"'),
              ("nginx-upgrade-pid", "pid", f'pidfile = "{upgrade_pidfile}"')]
    extra = ""
    for name, typ, key in checks:
        extra += (f'[[check]]\nname = "{name}"\ntype = "{typ}"\n{key}\ninterval = "1s"\n'
                  f'timeout = "{GRACE}"\n\n')
    extra += ('[[check]]\nname = "haproxy-mw-http"\ntype = "http"\n'
              'url = "http://127.0.0.1:8081/haproxy-health"\ninterval = "200ms"\n'
              'timeout = "100ms"\nrise = 2\nfall = 2\n')
    track = ", ".join(f'{{ check = "{n}", weight = 0 }}' for n, _, _ in checks)
    track += ', { check = "haproxy-mw-http", weight = -60 }'
    return vipd_config(a, priority=150, api_listen=API, group_size=2,
                       extra_instance=f"track = [ {track} ]", extra=extra)


def check_fail_runs(node) -> float:
    text = metrics(node)
    return sum(metric(text, "vipd_check_runs_total", check=c, result="fail") or 0
               for c in CHECKS)


def transitions_total(node) -> float:
    text = metrics(node)
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("vipd_vrrp_transitions_total{"))


def body(lab):
    a, b = lab.a, lab.b
    proxies = Proxies(lab, a)
    try:
        run(lab, a, b, proxies)
    finally:
        proxies.close()


def all_up(node) -> bool:
    s = status(node)
    return bool(s) and all(c["up"] for c in s["checks"]) and s["instances"][0]["state"] == "MASTER"


def run(lab, a, b, proxies):
    step("setup: nginx on A and B; on A also HAProxy classic (:8080), master-worker (:8081) and a "
         "daemon nginx (:8082)")
    ng = lab.start_nginx(a)
    lab.start_nginx(b)
    proxies.start_classic()
    proxies.start_mw()
    upgrade_pf = start_nginx_daemon(lab, a, proxies)
    wait_for(lambda: a.http_get("http://127.0.0.1:8081/haproxy-health")[0] == 200, 5,
             "HAProxy's monitor-uri to answer 200")
    vd_a = lab.start_vipd(a, vipd_a_config(a, ng, upgrade_pf))
    wait_state(a, "MASTER", 10, vd_a)
    vd_b = lab.start_vipd(b, vipd_config(b, priority=100, api_listen=API, group_size=2))
    wait_state(b, "BACKUP", 10, vd_b)
    wait_for(lambda: all_up(a), 10, "every check on A up and A MASTER")
    watch_b = VipWatcher(lab, b)

    kinds = [("haproxy_classic", proxies.reload_classic),
             ("haproxy_master_worker", proxies.reload_mw),
             ("nginx_reload", ng.reload),
             ("nginx_binary_upgrade", lambda: nginx_binary_upgrade(upgrade_pf, proxies))]
    for kind, reload in kinds:
        step(f"1. {RELOADS} reloads: {kind} (gap {GAP}s, pid grace {GRACE})")
        t0 = time.monotonic()
        fails0, trans0 = check_fail_runs(a), transitions_total(a)
        for _ in range(RELOADS):
            reload()
            time.sleep(GAP)
        # Let a late effect (a grace running out, an http fall) show before counting.
        hold(lambda: all_up(a), 1.5, f"A MASTER with every check up after {kind} reloads")
        adds = len([e for e in watch_b.events(t0) if e.op == "add"])
        fails = check_fail_runs(a) - fails0
        trans = transitions_total(a) - trans0
        FIG.text(f"false_failovers_{kind}", f"{adds}/{RELOADS}")
        print(f"  {kind}: VIP adds on B {adds}, A transitions {trans:g}, failed check runs "
              f"{fails:g}, {(time.monotonic() - t0):.1f}s")
        assert adds == 0, f"{kind}: the VIP moved to B {adds} time(s) in {RELOADS} reloads"
        assert trans == 0, f"{kind}: A changed state {trans:g} time(s)"
        assert fails == 0, f"{kind}: A's checks failed {fails:g} run(s)"

    step("2. SIGKILL of each proxy: B takes the VIP at once")
    victims = [("haproxy_classic", lambda: pid_of(lab.dir / "classic.pid"), proxies.start_classic),
               ("haproxy_master_worker", lambda: pid_of(lab.dir / "mw.pid"), proxies.start_mw),
               ("nginx", lambda: pid_of(ng.pidfile), None)]
    for kind, victim, restart in victims:
        pid = victim()
        proxies.pids.update(proxies.workers(pid))  # orphaned workers are killed at the end
        t_kill = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        t_add = watch_b.wait("add", t_kill, KILL_DEADLINE)
        FIG.add(f"kill_{kind}_ms", (t_add - t_kill) * 1000, f"SIGKILL {pid} -> VIP on B")
        wait_state(b, "MASTER", 2, vd_b)
        if restart is None:
            break
        restart()
        wait_for(lambda: all_up(a), 10, f"A MASTER again after {kind} restarted")
        wait_state(b, "BACKUP", 5, vd_b)
    watch_b.stop()
    vd_a.expect_alive()
    vd_b.expect_alive()


if __name__ == "__main__":
    require_root_or_skip(need=("nginx", "haproxy", "vipd"))
    sys.exit(run_test(body, FIG))
