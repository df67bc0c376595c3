#!/usr/bin/env python3
"""[netns] vipd speaks systemd's readiness protocol (the unit is Type=notify).

vipd runs in the lab with $NOTIFY_SOCKET pointing at a datagram socket this test owns (what
systemd does). Asserts: READY=1 arrives only once the API answers and the instance has started;
SIGHUP → RELOADING=1 (with MONOTONIC_USEC) then READY=1; SIGTERM → STOPPING=1, then exit 0.
Without $NOTIFY_SOCKET nothing is sent (the other tests run that way). Exit 0/1/77."""

import os
import signal
import socket
import sys
import tempfile
import time

from vipdlab import run_main, VIP, Lab, require_root_or_skip, require_vipd_or_skip, vipd_config, wait_for


def main() -> int:
    require_root_or_skip(need=("nginx", "vipd", "curl"))
    binary = require_vipd_or_skip()
    tmp = tempfile.mkdtemp(prefix="vipd-notify-")
    path = os.path.join(tmp, "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(0.2)

    def messages(timeout: float, until: str) -> list[str]:
        got, deadline = [], time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                got.append(sock.recv(4096).decode())
            except socket.timeout:
                continue
            if until in got[-1]:
                return got
        raise AssertionError(f"no {until} within {timeout}s (received {got})")

    try:
        with Lab() as lab:
            a = lab.a
            lab.start_nginx(a)
            cfg = lab.dir / "vipd-notify.toml"
            cfg.write_text(vipd_config(a, priority=150, api_listen="127.0.0.1:9555"))
            vipd = a.popen(binary, "run", "-c", str(cfg), name="vipd@node-a", log=lab.dir / "vipd-notify.log",
                           env=dict(os.environ, NOTIFY_SOCKET=path))
            try:
                got = messages(10, "READY=1")
                # READY=1 means the API listens: it must answer at once.
                assert a.http_json("http://127.0.0.1:9555/status") is not None, \
                    "READY=1 was sent before the API answered"
                print(f"start: {got}")
                wait_for(lambda: lab.has_vip(a, VIP), 10, "vipd to become master")

                vipd.signal(signal.SIGHUP)
                got = messages(10, "READY=1")
                reloading = [m for m in got if "RELOADING=1" in m]
                assert reloading, f"SIGHUP: no RELOADING=1 before READY=1: {got}"
                assert "MONOTONIC_USEC=" in reloading[0], f"RELOADING=1 without MONOTONIC_USEC: {got}"
                print(f"reload: {got}")

                vipd.signal(signal.SIGTERM)
                got = messages(10, "STOPPING=1")
                rc = vipd.wait_exit(timeout=10)
                assert rc == 0, f"vipd exited {rc} after SIGTERM"
                print(f"stop: {got}; exit {rc}")
            except AssertionError:
                print(f"---- vipd log ----\n{vipd.log_text()[-3000:]}")
                raise
    finally:
        sock.close()
        os.unlink(path)
        os.rmdir(tmp)
    print("sd_notify: READY / RELOADING+READY / STOPPING as systemd expects")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
