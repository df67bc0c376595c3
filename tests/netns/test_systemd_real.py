#!/usr/bin/env python3
"""[netns] The shipped unit under Debian's real systemd: a killed vipd leaves no VIP behind.

packaging/vipd.service runs in a podman container whose PID 1 is systemd
(tests/netns/systemd/Containerfile, on top of the docker/Dockerfile image), on a podman bridge
network of its own (198.18.9.0/24). vipd is alone on the segment, so it becomes MASTER and holds
the VIP 198.18.9.100. Then, RUNS times: vipd is SIGKILLed from the host (by its PID), and the VIP
on the container's eth0 is polled every ~2 ms. Asserts, each run:
  1. the VIP is gone within GONE_BOUND of the SIGKILL — systemd ran ExecStopPost=vipd cleanup
     (the journal says "vipd cleanup: 1 VIP(s) removed") — before any new vipd added it back;
  2. systemd restarted vipd (a new PID, Restart=on-failure, RestartSec=0) and it holds the VIP
     again within BACK_BOUND (it starts BACKUP and waits Master_Down_Interval: it is alone);
  3. the unit's sandboxing works under a real systemd: ExecStartPre (vipd check) passed, the
     service is active, vipd runs as user vipd.
Figures: VIP gone / back after the SIGKILL (ms). Everything it creates (the container, the
network) is removed, also on failure. Exit 0 pass, 1 fail, 77 skipped."""

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

SRC = os.environ.get("VIPD_SOURCE") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
TAG = f"vsd{os.getpid()}"
NET = f"{TAG}-net"
SUBNET = "198.18.9.0/24"
NODE_IP = "198.18.9.11"
VIP = "198.18.9.100"
IMAGE_VIPD = "localhost/vipd:dev"
IMAGE = "localhost/vipd-systemd:dev"
RUNS = 3
GONE_BOUND = 2.0   # s: SIGKILL -> VIP removed by ExecStopPost (process start-up, loaded CI box)
BACK_BOUND = 10.0  # s: SIGKILL -> restarted vipd is MASTER again
CONFIG = f"""[agent]
node_name = "systemd-lab"
realtime_priority = 0

[[instance]]
name = "web"
interface = "eth0"
vrid = 61
priority = 150
advert_interval = "100ms"
vips = ["{VIP}/24"]
"""


def skip(reason: str) -> None:
    print(f"skipped: {reason}")
    sys.exit(77)


def run(*argv, check=True, timeout=120) -> subprocess.CompletedProcess:
    r = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {r.returncode}: {r.stderr.strip()[-1500:]}")
    return r


def wait_for(pred, timeout: float, what: str, interval: float = 0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Container:
    def __init__(self, name: str):
        self.name = name
        self.init = int(run("podman", "inspect", "-f", "{{.State.Pid}}", name).stdout.strip())

    def has_vip(self) -> bool:
        out = run("nsenter", "-t", str(self.init), "-n", "ip", "-4", "-o", "addr", "show", "dev",
                  "eth0", check=False).stdout
        return f" {VIP}/" in out

    def vipd_pid(self):
        """Host PID of the vipd that systemd (the container's PID 1) started, or None."""
        for p in os.listdir("/proc"):
            if not p.isdigit():
                continue
            try:
                with open(f"/proc/{p}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                with open(f"/proc/{p}/comm") as f:
                    comm = f.read().strip()
            except (OSError, ValueError, IndexError):
                continue
            if ppid == self.init and comm == "vipd":
                return int(p)
        return None

    def exec(self, *argv) -> str:
        return run("podman", "exec", self.name, *argv, check=False).stdout

    def journal(self) -> str:
        return self.exec("journalctl", "-u", "vipd", "--no-pager", "-o", "cat")


def scenario(ctr: Container) -> None:
    wait_for(lambda: "active" == ctr.exec("systemctl", "is-active", "vipd").strip(), 30,
             "vipd.service active")
    wait_for(ctr.has_vip, 10, f"the VIP {VIP} on the container's eth0")
    pid = ctr.vipd_pid()
    assert pid, "no vipd process under the container's systemd"
    user = run("ps", "-o", "user=", "-p", str(pid), check=False).stdout.strip()
    uid = os.stat(f"/proc/{pid}").st_uid
    assert uid != 0, f"vipd runs as root (uid 0, ps says {user!r}): User=vipd did not apply"
    journal = ctr.journal()
    assert "the configuration is valid" in journal, f"ExecStartPre (vipd check): {journal[-800:]}"
    gone_ms, back_ms = [], []
    for i in range(RUNS):
        wait_for(ctr.has_vip, BACK_BOUND, "the VIP before the kill")
        pid = wait_for(ctr.vipd_pid, 5, "vipd's PID")
        cleanups_before = ctr.journal().count("vipd cleanup: 1 VIP(s) removed")
        t0 = time.monotonic()
        os.kill(pid, signal.SIGKILL)  # a process this test started (through its container)
        gone = back = None
        while time.monotonic() - t0 < BACK_BOUND:
            v = ctr.has_vip()
            now = time.monotonic() - t0
            if gone is None and not v:
                gone = now
            elif gone is not None and v:
                back = now
                break
            time.sleep(0.002)
        assert gone is not None, f"run {i + 1}: the VIP never left after SIGKILL"
        assert gone < GONE_BOUND, f"run {i + 1}: the VIP left {gone:.2f}s after SIGKILL"
        assert back is not None, f"run {i + 1}: the restarted vipd did not take the VIP back"
        new_pid = ctr.vipd_pid()
        assert new_pid and new_pid != pid, f"run {i + 1}: no new vipd (old {pid}, now {new_pid})"
        journal = ctr.journal()
        assert journal.count("vipd cleanup: 1 VIP(s) removed") == cleanups_before + 1, \
            f"run {i + 1}: ExecStopPost did not remove the VIP: {journal[-1200:]}"
        print(f"  run {i + 1}: VIP gone {1000 * gone:.1f} ms, back {1000 * back:.1f} ms after "
              f"SIGKILL (vipd {pid} -> {new_pid})", flush=True)
        gone_ms.append(1000 * gone)
        back_ms.append(1000 * back)
        time.sleep(2.2)  # stay clear of systemd's start limit (5 starts in 10 s)
    fig = {"vip_gone_ms": [round(x, 1) for x in gone_ms], "vip_back_ms": [round(x, 1) for x in back_ms]}
    print(f"FIGURES test_systemd_real: vip_gone_median={statistics.median(gone_ms):.1f}ms "
          f"vip_back_median={statistics.median(back_ms):.1f}ms {json.dumps(fig)}")


def main() -> int:
    if os.geteuid() != 0:
        skip("needs root (podman, network namespaces)")
    for tool in ("nsenter",):
        if not shutil.which(tool):
            skip(f"{tool} is not installed")
    r = subprocess.run([os.path.join(SRC, "tools", "podman-setup.sh")], capture_output=True,
                       text=True, timeout=600)
    if r.returncode != 0 or not shutil.which("podman"):
        skip(f"podman cannot be set up here (tools/podman-setup.sh exited {r.returncode}): "
             f"{(r.stderr or r.stdout).strip()[-500:]}")
    for n in run("podman", "network", "ls", "--format", "{{.Name}}").stdout.split():
        if SUBNET in run("podman", "network", "inspect", n, check=False).stdout:
            skip(f"podman network {n} already uses {SUBNET} (a lab left running?)")
    t = time.monotonic()
    # The same build as tests/netns/test_containers.py: podman's layer cache makes it quick when
    # that test ran first.
    run("podman", "build", "--format", "docker", "-t", IMAGE_VIPD, "-f",
        os.path.join(SRC, "docker", "Dockerfile"), SRC, timeout=900)
    run("podman", "build", "--format", "docker", "-t", IMAGE, "-f",
        os.path.join(SRC, "tests", "netns", "systemd", "Containerfile"), SRC, timeout=600)
    print(f"images built ({time.monotonic() - t:.1f}s)", flush=True)
    tmp = tempfile.mkdtemp(prefix=f"{TAG}-")
    conf = os.path.join(tmp, "vipd.toml")
    with open(conf, "w") as f:
        f.write(CONFIG)
    os.chmod(tmp, 0o755)
    os.chmod(conf, 0o644)
    name = f"{TAG}-node"
    try:
        run("podman", "network", "create", "--subnet", SUBNET, "--gateway", "198.18.9.1", NET)
        run("podman", "run", "-d", "--name", name, "--network", NET, "--ip", NODE_IP,
            "--cap-add", "NET_ADMIN,NET_RAW", "--systemd=always",
            "-v", f"{conf}:/etc/vipd/vipd.toml:ro", IMAGE)
        ctr = Container(name)
        try:
            scenario(ctr)
        except AssertionError:
            print(f"---- journal ----\n{ctr.journal()[-3000:]}")
            raise
    finally:
        run("podman", "rm", "-f", "-t", "2", name, check=False)
        run("podman", "network", "rm", "-f", NET, check=False)
        shutil.rmtree(tmp, ignore_errors=True)
    print("test_systemd_real: PASS")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except AssertionError as e:
        print(f"FAIL: {e}")
        sys.exit(1)
