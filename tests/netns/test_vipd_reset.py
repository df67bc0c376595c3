#!/usr/bin/env python3
"""[netns] A request in flight to a hung nginx ends with a RST when the VIP moves
(reset_connections, docs/operations.md "Connections on a failover").

A (198.18.0.11, priority 150) and B (198.18.0.12, priority 100) run real nginx and vipd: VRRPv3,
100 ms adverts, group_size = 2, an `http` check on http://127.0.0.1/healthz (interval 50 ms,
fall 2) tracked with weight -60 — the benchmark's case 4. A also runs a second instance "api"
(VRID 52, VIP 198.18.0.101) that nothing moves, and a small TCP echo server on port 9000.

  1. reset_connections on (the default). Long-lived connections from C to the echo server: one
     to A's own address, one to the other instance's VIP. nginx on A is SIGSTOPped (the kernel
     still accepts, nobody answers); just after, before the failover, a client sends GET / to the
     VIP. B takes over; the request must end with ECONNRESET promptly after the VIP moved (well
     before its own 5 s timeout), the next request is served by node-b, the two echo connections
     still echo, vipd_connections_reset_total{instance="web"} on A rose (and stayed 0 for "api"),
     /status shows counters.connections_reset, and A logged the count.
  2. nginx continued, A takes the VIP back. SIGHUP with reset_connections = false on A (applied
     in place: no transition). The same SIGSTOP + request now hangs until the client's own
     timeout (2 s): the RST in step 1 came from the reset, nothing else.
Figures: reset after the VIP moved (client's RST − VIP added on B), and after A's removal.
Exit 0 pass, 1 fail, 77 skipped."""

import os
import re
import signal
import subprocess
import sys
import time

from vipdlab import (VIP, Lab, Nginx, require_root_or_skip, require_vipd_or_skip, skip,
                     vipd_config, wait_for)
from vipdlab.vipd import (API, Figures, VipWatcher, inst, log_mark, metric, metrics, run_test,
                          step, wait_log_after, wait_state)

FIG = Figures("test_vipd_reset")
VIP2 = "198.18.0.101"
ECHO_PORT = 9000
REQUEST_TIMEOUT_ON = 5.0    # the client's own timeout with reset_connections on
REQUEST_TIMEOUT_OFF = 2.0   # ... and off (the request must hang this long)
RESET_BOUND = 1.0           # s after the VIP moved to B: "promptly", far below the timeout

ECHO_SRC = r"""
import socket, threading
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("0.0.0.0", %d)); l.listen(64)
def serve(c):
    try:
        while True:
            d = c.recv(100)
            if not d:
                return
            c.sendall(d)
    except OSError:
        pass
print("ready", flush=True)
while True:
    c, _ = l.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
""" % ECHO_PORT

# Long-lived connections from C, driven line by line on stdin:
#   open NAME HOST PORT -> "ok" | "error ..."     echo NAME -> "data" | "reset" | "timeout" | ...
CONNS_SRC = r"""
import socket, sys
conns = {}
for line in sys.stdin:
    cmd = line.split()
    try:
        if cmd[0] == "open":
            conns[cmd[1]] = socket.create_connection((cmd[2], int(cmd[3])), timeout=2)
            print("ok", flush=True)
        elif cmd[0] == "echo":
            s = conns[cmd[1]]
            s.settimeout(1)
            s.sendall(b"ping\n")
            print("data" if s.recv(100) == b"ping\n" else "eof", flush=True)
    except ConnectionResetError:
        print("reset", flush=True)
    except socket.timeout:
        print("timeout", flush=True)
    except OSError as e:
        print("error " + str(e).replace(" ", "_"), flush=True)
"""

# One request to the VIP, sent when "go" arrives on stdin: "sent T", then "done T OUTCOME".
REQUEST_SRC = r"""
import socket, sys, time
host, timeout = sys.argv[1], float(sys.argv[2])
print("ready", flush=True)
sys.stdin.readline()
s = socket.socket()
s.settimeout(timeout)
outcome = "?"
try:
    s.connect((host, 80))
    s.sendall(f"GET / HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
    print(f"sent {time.monotonic():.6f}", flush=True)
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    outcome = "answer:" + data.decode(errors="replace").split("\r\n\r\n", 1)[-1].strip()
except ConnectionResetError:
    outcome = "reset"
except socket.timeout:
    outcome = "timeout"
except OSError as e:
    outcome = "error:" + str(e).replace(" ", "_")
print(f"done {time.monotonic():.6f} {outcome}", flush=True)
"""

# Does this kernel destroy sockets (CONFIG_INET_DIAG_DESTROY)? `ss -K` on the client end of a
# loopback connection: destroyed, it fails with ECONNABORTED.
PROBE_SRC = r"""
import socket, subprocess
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(1)
port = l.getsockname()[1]
c = socket.create_connection(("127.0.0.1", port))
subprocess.run(["ss", "-K", "-tn", "dst", "127.0.0.1", "dport", "=", str(port)],
               capture_output=True)
c.settimeout(1)
try:
    c.recv(1)
    print("no-reset")
except ConnectionAbortedError:
    print("reset")
except OSError as e:
    print("no-reset", e)
"""


def config(node, nginx: Nginx, priority: int, reset: bool, second_instance: bool) -> str:
    extra_instance = ('track = [ { check = "nginx-http", weight = -60 } ]\n'
                      f'reset_connections = {str(reset).lower()}\n')
    extra = ""
    if second_instance:
        extra += (f'[[instance]]\nname = "api"\ninterface = "{node.iface}"\nvrid = 52\n'
                  f'priority = 150\nadvert_interval = "100ms"\nvips = ["{VIP2}/24"]\n\n')
    extra += ('[[check]]\nname = "nginx-http"\ntype = "http"\nurl = "http://127.0.0.1/healthz"\n'
              'interval = "50ms"\nfall = 2\nrise = 1\n')
    return vipd_config(node, priority, api_listen=API, group_size=2,
                       extra_instance=extra_instance, extra=extra)


class Lines:
    """A helper process in a node, talked to line by line."""

    def __init__(self, node, src: str, *args: str, name: str):
        self.proc = node.popen("python3", "-u", "-c", src, *args, name=name,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL)

    def send(self, line: str) -> None:
        self.proc.popen.stdin.write((line + "\n").encode())
        self.proc.popen.stdin.flush()

    def read(self) -> str:
        return self.proc.popen.stdout.readline().decode().strip()

    def ask(self, line: str) -> str:
        self.send(line)
        return self.read()


def nginx_pids(ng: Nginx) -> list[int]:
    return [ng.pid] + ng.worker_pids()


def resume(pids) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass


def hung_request(lab, ng: Nginx, timeout: float, b_watch: VipWatcher, a_watch: VipWatcher):
    """SIGSTOP nginx on A, send one request to the VIP at once, wait for B to take over and for
    the request to end. nginx stays stopped (the caller resumes it with resume(pids) once it has
    seen B serve: a recovered A preempts back at once). Returns (sent, done, outcome, vip_on_b,
    vip_off_a, pids)."""
    req = Lines(lab.c, REQUEST_SRC, VIP, str(timeout), name="request@node-c")
    assert req.read() == "ready"
    pids = nginx_pids(ng)
    t0 = time.monotonic()
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        req.send("go")
        sent_line = req.read()
        assert sent_line.startswith("sent "), f"the request was not sent: {sent_line!r}"
        sent = float(sent_line.split()[1])
        vip_on_b = b_watch.wait("add", t0, 5)
        assert sent < vip_on_b, (f"the request was sent {1000 * (sent - vip_on_b):.0f} ms after "
                                 "the VIP moved: it must reach the hung nginx on A")
        vip_off_a = a_watch.wait("del", t0, 5)
        done_line = req.read()  # ends with the RST or the client's own timeout
        parts = done_line.split(maxsplit=2)
        assert len(parts) == 3 and parts[0] == "done", f"request: {done_line!r}"
        return sent, float(parts[1]), parts[2], vip_on_b, vip_off_a, pids
    except BaseException:
        resume(pids)
        raise
    finally:
        req.proc.stop(timeout=2)


def body(lab: Lab) -> None:
    a, b, c = lab.a, lab.b, lab.c
    r = a.run("python3", "-c", PROBE_SRC, check=False)
    if r.stdout.split()[:1] != ["reset"]:
        skip("this kernel cannot destroy sockets (ss -K had no effect: CONFIG_INET_DIAG_DESTROY "
             f"unset?): {r.stdout.strip()} {r.stderr.strip()}")

    step("nginx on A and B; vipd on A (web + api, priority 150) and B (web, priority 100)")
    ng_a = lab.start_nginx(a)
    lab.start_nginx(b)
    va = lab.start_vipd(a, config(a, ng_a, 150, reset=True, second_instance=True))
    vb = lab.start_vipd(b, config(b, None, 100, reset=True, second_instance=False))
    wait_state(a, "MASTER", 10, va)
    wait_state(b, "BACKUP", 10, vb)
    wait_for(lambda: (inst(a, 1) or {}).get("state") == "MASTER", 10, "instance api MASTER on A")
    wait_for(lambda: lab.has_vip(a, VIP2), 5, "VIP2 on A")
    wait_for(lambda: c.http_get(f"http://{VIP}/") == (200, "node-a\n"), 5, "node-a serving the VIP")
    a_watch, b_watch = VipWatcher(lab, a), VipWatcher(lab, b)

    echo = a.popen("python3", "-u", "-c", ECHO_SRC, name="echo@node-a", stdout=subprocess.PIPE,
                   stderr=subprocess.DEVNULL)
    assert echo.popen.stdout.readline().decode().strip() == "ready"
    conns = Lines(c, CONNS_SRC, name="conns@node-c")
    assert conns.ask(f"open own {a.addr} {ECHO_PORT}") == "ok"
    assert conns.ask(f"open other_vip {VIP2} {ECHO_PORT}") == "ok"
    assert conns.ask("echo own") == "data" and conns.ask("echo other_vip") == "data"

    step("1. reset_connections on: SIGSTOP nginx on A, then a request to the VIP")
    mark = log_mark(va)
    sent, done, outcome, on_b, off_a, stopped = hung_request(lab, ng_a, REQUEST_TIMEOUT_ON,
                                                             b_watch, a_watch)
    print(f"  request sent {1000 * (sent - on_b):+.0f} ms from the takeover; ended "
          f"{1000 * (done - on_b):+.0f} ms from it with {outcome}")
    assert outcome == "reset", (f"the request in flight to the hung nginx ended with {outcome} "
                                f"after {done - sent:.2f} s, not with a RST")
    FIG.add("reset_after_vip_on_b", 1000 * (done - on_b))
    FIG.add("reset_after_vip_off_a", 1000 * (done - off_a), "negative: the RST precedes the "
            "removal, as it must")
    assert done - on_b < RESET_BOUND, (f"the RST came {done - on_b:.2f} s after the VIP moved "
                                       f"(bound {RESET_BOUND} s)")
    assert done - sent < REQUEST_TIMEOUT_ON - 1, "the request ran into its own timeout"
    try:
        wait_for(lambda: c.http_get(f"http://{VIP}/") == (200, "node-b\n"), 2,
                 "the next request to be served by node-b")
    finally:
        resume(stopped)
    assert conns.ask("echo own") == "data", "the connection to A's own address was touched"
    assert conns.ask("echo other_vip") == "data", "the connection to the other VIP was touched"
    m = wait_log_after(va, r"instance web: reset (\d+) TCP connection\(s\) on the released VIPs "
                           r"\(([\d.]+) ms\)", mark, 2)
    reset_n = int(m.group(1))
    FIG.add("reset_duration", float(m.group(2)), f"{reset_n} connection(s), dump + destroy")
    assert reset_n >= 1, f"A logged {m.group(0)!r}"
    text = metrics(a)
    web = metric(text, "vipd_connections_reset_total", instance="web")
    api = metric(text, "vipd_connections_reset_total", instance="api")
    assert web is not None and web >= 1, f"vipd_connections_reset_total{{web}} = {web}"
    assert api == 0, f"vipd_connections_reset_total{{api}} = {api}: api's VIP is still held"
    fails = metric(text, "vipd_connection_reset_failures_total", instance="web",
                   reason="unsupported")
    assert fails == 0, f"vipd_connection_reset_failures_total{{unsupported}} = {fails}"
    assert (inst(a) or {}).get("counters", {}).get("connections_reset") == web, \
        f"/status counters: {(inst(a) or {}).get('counters')}"
    FIG.text("connections_reset", str(int(web)))

    step("2. A takes the VIP back; SIGHUP with reset_connections = false (in place)")
    wait_state(a, "MASTER", 10, va)
    wait_for(lambda: c.http_get(f"http://{VIP}/") == (200, "node-a\n"), 5, "node-a serving again")
    before = sum(t["count"] for t in inst(a)["transitions"])
    va.config.write_text(config(a, ng_a, 150, reset=False, second_instance=True))
    mark = log_mark(va)
    va.signal(signal.SIGHUP)
    wait_log_after(va, r"reload done", mark, 5)
    after = sum(t["count"] for t in inst(a)["transitions"])
    assert after == before and inst(a)["state"] == "MASTER", \
        "the reload restarted the instance (reset_connections must apply in place)"
    mark = log_mark(va)
    sent, done, outcome, on_b, _, stopped = hung_request(lab, ng_a, REQUEST_TIMEOUT_OFF, b_watch,
                                                         a_watch)
    resume(stopped)
    print(f"  request ended {1000 * (done - on_b):+.0f} ms from the takeover with {outcome}")
    assert outcome == "timeout", (f"with reset_connections = false the request ended with "
                                  f"{outcome}, not by hanging until its own timeout")
    assert done - sent >= REQUEST_TIMEOUT_OFF - 0.05
    FIG.add("hung_without_reset", 1000 * (done - sent), "the client's own timeout")
    assert "TCP connection(s) on the released VIPs" not in va.log_text()[mark:]
    assert metric(metrics(a), "vipd_connections_reset_total", instance="web") == web
    conns.proc.stop(timeout=2)
    echo.stop(timeout=2)
    a_watch.stop()
    b_watch.stop()
    ng_a.stop()


def main() -> int:
    require_root_or_skip(need=("nginx", "vipd", "curl", "ss"))
    require_vipd_or_skip()
    return run_test(body, FIG, quiet=True)


if __name__ == "__main__":
    sys.exit(main())
