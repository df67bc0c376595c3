#!/usr/bin/env python3
"""[netns] End to end in containers: the docker/ deployment on podman (CONTAINERS.md).

tools/podman-setup.sh prepares podman; the vipd and nginx images are built from docker/; two
lab nodes (docker/lab/compose.node.yml as projects A and B: nginx + vipd in nginx's network
namespace) and a client share one podman bridge network 198.18.0.0/24; VIP 198.18.0.100.
Asserts:
  1. the client reaches nginx A through the VIP; the VIP is on A only; the health checks pass;
  2. A's nginx container stopped -> the client is served by B within TAKEOVER_BOUND;
  3. A's nginx started again (and A's vipd restarted into the new namespace) -> back to A;
  4. A's vipd SIGKILLed -> its VIP is left in A's namespace and B takes over; A's vipd started
     -> "removed leftover VIP", A preempts, the VIP is on A only;
  5. `podman-compose down` of A -> A's VIP gone with it, B serves;
  6. the container logs are readable and show the transitions.
Everything it creates (containers, the network, <project>_default) is removed, also on failure.
Exit 0 pass, 1 fail, 77 skipped (not root, podman cannot be set up)."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import traceback

SRC = os.environ.get("VIPD_SOURCE") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
COMPOSE_NODE = os.path.join(SRC, "docker", "lab", "compose.node.yml")
COMPOSE_CLIENT = os.path.join(SRC, "docker", "lab", "compose.client.yml")
VIP = "198.18.0.100"
SUBNET = "198.18.0.0/24"
TAG = f"vt{os.getpid()}"
NET = f"{TAG}-lab"
PROJECTS = {"a": f"{TAG}a", "b": f"{TAG}b", "client": f"{TAG}c"}
NODE_IP = {"a": "198.18.0.11", "b": "198.18.0.12"}
# Failover bounds. Adverts every 100 ms: Master_Down_Interval ≈ 0.36 s; a graceful stop cuts it
# to Skew_Time. Generous for a loaded CI machine (podman exec and curl timeouts included).
TAKEOVER_BOUND = 5.0
FAILBACK_BOUND = 10.0
IMAGE_VIPD = "localhost/vipd:dev"
IMAGE_NGINX = "localhost/vipd-nginx:dev"

T_START = time.monotonic()


def log(msg: str) -> None:
    print(f"[{time.monotonic() - T_START:6.1f}s] {msg}", flush=True)


def skip(reason: str) -> None:
    print(f"skipped: {reason}")
    sys.exit(77)


def run(*argv, check=True, timeout=120, env=None, quiet=False) -> subprocess.CompletedProcess:
    r = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                       env=dict(os.environ, **(env or {})))
    if check and r.returncode != 0:
        err = "\n".join(l for l in (r.stderr or "").splitlines() if "syslog" not in l)
        raise AssertionError(f"{' '.join(argv)} exited {r.returncode}:\n{r.stdout[-2000:]}\n{err[-2000:]}")
    return r


def compose(project_key: str, *args, check=True, timeout=180) -> subprocess.CompletedProcess:
    project = PROJECTS[project_key]
    env = {"LAB_NET": NET}
    if project_key == "client":
        f = COMPOSE_CLIENT
    else:
        f = COMPOSE_NODE
        env.update(NODE=project_key, NODE_IP=NODE_IP[project_key])
    return run("podman-compose", "-p", project, "-f", f, *args, check=check, timeout=timeout,
               env=env)


def ctr(project_key: str, service: str) -> str:
    return f"{PROJECTS[project_key]}_{service}_1"


def project_states(project_key: str) -> dict[str, str]:
    r = run("podman", "ps", "-a", "--filter", f"label=io.podman.compose.project={PROJECTS[project_key]}",
            "--format", "json")
    return {c["Names"][0]: c["State"] for c in json.loads(r.stdout or "[]")}


def up(project_key: str, want: tuple[str, ...]) -> None:
    compose(project_key, "up", "-d")
    # podman-compose exits 0 even when a container failed to start: check each one.
    deadline = time.monotonic() + 20
    while True:
        states = project_states(project_key)
        names = [ctr(project_key, s) for s in want]
        if all(states.get(n) == "running" for n in names):
            return
        if time.monotonic() > deadline:
            logs = "".join(f"\n---- {n} ----\n{container_logs(n)[-1500:]}" for n in names)
            raise AssertionError(f"project {PROJECTS[project_key]}: containers {states}, want "
                                 f"{names} running{logs}")
        time.sleep(0.2)


def container_logs(name: str) -> str:
    r = run("podman", "logs", name, check=False)
    return r.stdout + "".join(l + "\n" for l in r.stderr.splitlines() if "syslog" not in l)


def has_vip(node: str) -> bool:
    r = run("podman", "exec", ctr(node, "nginx"), "ip", "-4", "-o", "addr", "show", "dev", "eth0",
            check=False)
    return f" {VIP}/" in r.stdout


def vip_holders() -> list[str]:
    return [n for n in ("a", "b") if project_states(n).get(ctr(n, "nginx")) == "running" and has_vip(n)]


def status(node: str) -> dict | None:
    r = run("podman", "exec", ctr(node, "nginx"), "curl", "-s", "-m", "1",
            "http://127.0.0.1:9555/status", check=False)
    try:
        return json.loads(r.stdout) if r.returncode == 0 else None
    except ValueError:
        return None


def wait_for(pred, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


class Poller:
    """A shell loop inside the client container: one GET of the VIP every ~50 ms, each line
    '<unix time> <answer>' in /tmp/poll.log (the container shares the host's clock)."""

    def __init__(self):
        self.name = ctr("client", "client")
        script = ("while :; do r=$(curl -s -m 0.3 http://%s/ 2>/dev/null || true); "
                  "echo \"$(date +%%s.%%N) ${r:-fail}\"; sleep 0.05; done > /tmp/poll.log" % VIP)
        run("podman", "exec", "-d", self.name, "sh", "-c", script)

    def samples(self, since: float) -> list[tuple[float, str]]:
        r = run("podman", "exec", self.name, "tail", "-n", "400", "/tmp/poll.log", check=False)
        out = []
        for line in r.stdout.splitlines():
            ts, _, who = line.partition(" ")
            try:
                t = float(ts)
            except ValueError:
                continue
            if t >= since:
                out.append((t, who.strip()))
        return out

    def wait_served_by(self, node: str, timeout: float, since: float, consecutive: int = 5) -> float:
        """Seconds from `since` (time.time()) to the first of `consecutive` answers from node."""
        deadline = time.monotonic() + timeout
        while True:
            s = self.samples(since)
            run_start, n = None, 0
            for t, who in s:
                if who == f"node-{node}":
                    run_start = run_start if n else t
                    n += 1
                    if n >= consecutive:
                        return run_start - since
                else:
                    n = 0
            if time.monotonic() > deadline:
                tail = " ".join(w for _, w in s[-20:])
                raise AssertionError(f"client not served by node-{node} within {timeout}s "
                                     f"(last answers: {tail or 'none'})")
            time.sleep(0.2)


def cleanup() -> None:
    for key in ("client", "a", "b"):
        compose(key, "down", "-t", "5", check=False, timeout=120)
        # Whatever compose missed (a failed `up`): containers with the project label.
        r = run("podman", "ps", "-aq", "--filter", f"label=io.podman.compose.project={PROJECTS[key]}",
                check=False)
        ids = r.stdout.split()
        if ids:
            run("podman", "rm", "-f", "-t", "2", *ids, check=False)
        run("podman", "network", "rm", "-f", f"{PROJECTS[key]}_default", check=False)
    run("podman", "network", "rm", "-f", NET, check=False)


def main() -> int:
    if os.geteuid() != 0:
        skip("needs root (podman, network namespaces)")
    if not os.path.exists(COMPOSE_NODE):
        skip(f"{COMPOSE_NODE} is missing")
    setup = os.path.join(SRC, "tools", "podman-setup.sh")
    t = time.monotonic()
    r = subprocess.run([setup], capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        skip(f"podman cannot be set up here (tools/podman-setup.sh exited {r.returncode}): "
             f"{(r.stderr or r.stdout).strip()[-500:]}")
    log(f"podman ready ({time.monotonic() - t:.1f}s): {r.stdout.strip().splitlines()[-1]}")
    for tool in ("podman", "podman-compose"):
        if not shutil.which(tool):
            skip(f"{tool} is not installed after tools/podman-setup.sh")
    nets = run("podman", "network", "ls", "--format", "{{.Name}}").stdout.split()
    for n in nets:
        info = run("podman", "network", "inspect", n, check=False).stdout
        if SUBNET in info:
            skip(f"podman network {n} already uses {SUBNET} (a lab left running? "
                 f"`podman network rm -f {n}` after stopping its containers)")

    t = time.monotonic()
    run("podman", "build", "--format", "docker", "-t", IMAGE_VIPD, "-f",
        os.path.join(SRC, "docker", "Dockerfile"), SRC, timeout=900)
    log(f"image {IMAGE_VIPD} built ({time.monotonic() - t:.1f}s)")
    t = time.monotonic()
    run("podman", "build", "--format", "docker", "-t", IMAGE_NGINX, "-f",
        os.path.join(SRC, "docker", "nginx.Dockerfile"), os.path.join(SRC, "docker"), timeout=600)
    log(f"image {IMAGE_NGINX} built ({time.monotonic() - t:.1f}s)")

    try:
        run("podman", "network", "create", "--subnet", SUBNET, "--gateway", "198.18.0.1",
            "--ip-range", "198.18.0.16/28", NET)
        scenario()
    except AssertionError:
        for key in ("a", "b"):
            for svc in ("vipd", "nginx"):
                print(f"---- {ctr(key, svc)} log ----\n{container_logs(ctr(key, svc))[-2500:]}")
        raise
    finally:
        t = time.monotonic()
        cleanup()
        log(f"cleaned up ({time.monotonic() - t:.1f}s)")
        left = run("podman", "ps", "-a", "--filter", f"name={TAG}", "--format", "{{.Names}}",
                   check=False).stdout.split()
        nets = [n for n in run("podman", "network", "ls", "--format", "{{.Name}}", check=False)
                .stdout.split() if n.startswith(TAG)]
        if left or nets:
            print(f"WARNING: left behind: containers {left}, networks {nets}")
    log(f"test_containers: passed in {time.monotonic() - T_START:.1f}s")
    return 0


def scenario() -> None:
    t = time.monotonic()
    up("a", ("nginx", "vipd"))
    up("b", ("nginx", "vipd"))
    up("client", ("client",))
    log(f"nodes A, B and the client up ({time.monotonic() - t:.1f}s)")
    va, vb = ctr("a", "vipd"), ctr("b", "vipd")

    # 1. A is master; the client reaches nginx A through the VIP.
    wait_for(lambda: vip_holders() == ["a"], 15, "the VIP on node A only")
    st = wait_for(lambda: (s := status("a")) and s["instances"][0]["state"] == "MASTER" and s, 10,
                  "A's /status to say MASTER")
    wait_for(lambda: (s := status("b")) and s["instances"][0]["state"] == "BACKUP", 10,
             "B's /status to say BACKUP")
    poller = Poller()
    poller.wait_served_by("a", 10, since=time.time() - 1)
    log(f"1. client served by node-a through {VIP}; A MASTER ({st['instances'][0]['reason']})")
    for c in (va, vb, ctr("a", "nginx")):
        r = run("podman", "healthcheck", "run", c, check=False)
        assert r.returncode == 0, f"health check of {c} failed: {r.stdout} {r.stderr[-500:]}"
    log("   health checks (vipd /healthz, nginx /healthz) pass")

    # 2. A's nginx container stops -> B serves.
    t0 = time.time()
    run("podman", "stop", "-t", "10", ctr("a", "nginx"))
    took = poller.wait_served_by("b", TAKEOVER_BOUND, since=t0)
    wait_for(lambda: vip_holders() == ["b"], 5, "the VIP on node B only")
    log(f"2. A's nginx stopped -> client served by node-b after {took * 1000:.0f} ms "
        f"(bound {TAKEOVER_BOUND:.0f} s)")

    # 3. A's nginx starts again. vipd lives in nginx's network namespace, and the restarted nginx
    # has a new one: the sidecar is restarted with it (docs/compose.md). A preempts.
    t0 = time.time()
    run("podman", "start", ctr("a", "nginx"))
    run("podman", "restart", "-t", "10", va)
    took = poller.wait_served_by("a", FAILBACK_BOUND, since=t0)
    wait_for(lambda: vip_holders() == ["a"], 5, "the VIP on node A only after failback")
    log(f"3. A's nginx started, A's vipd restarted -> client served by node-a after "
        f"{took * 1000:.0f} ms (preempt)")

    # 4. SIGKILL A's vipd: the VIP stays in A's namespace; B takes over; A's vipd starts and
    # removes the leftover before the election, then preempts.
    t0 = time.time()
    run("podman", "kill", "-s", "KILL", va)
    wait_for(lambda: project_states("a").get(va) != "running", 10, "A's vipd container to die")
    assert has_vip("a"), "SIGKILL should leave the VIP in A's namespace (nobody removed it)"
    wait_for(lambda: has_vip("b"), TAKEOVER_BOUND, "B to take the VIP after A's vipd was killed")
    log(f"4. A's vipd SIGKILLed -> VIP left over in A's namespace, B took it after "
        f"{(time.time() - t0) * 1000:.0f} ms")
    t0 = time.time()
    run("podman", "start", va)
    wait_for(lambda: "removed leftover VIP" in container_logs(va), 10,
             "A's vipd to log 'removed leftover VIP'")
    wait_for(lambda: vip_holders() == ["a"], FAILBACK_BOUND, "the VIP on node A only after restart")
    wait_for(lambda: (s := status("b")) and s["instances"][0]["state"] == "BACKUP", 10,
             "B back to BACKUP")
    took = poller.wait_served_by("a", FAILBACK_BOUND, since=t0)
    line = next(l for l in container_logs(va).splitlines() if "removed leftover VIP" in l)
    log(f"   A's vipd started: '{line.split(' ', 3)[-1]}'; client on node-a after {took * 1000:.0f} ms")

    # 6 (before A's containers go). The logs are readable and show the transitions.
    la, lb = container_logs(va), container_logs(vb)
    for what, text, needle in (("A", la, "-> MASTER"), ("A", la, "MASTER -> FAULT"),
                               ("B", lb, "BACKUP -> MASTER"), ("B", lb, "MASTER -> BACKUP")):
        assert needle in text, f"{what}'s vipd log lacks '{needle}':\n{text[-2000:]}"
    log(f"6. logs: A {len(la.splitlines())} lines, B {len(lb.splitlines())} lines, transitions present")

    # 5. `down` of node A: vipd stops gracefully (priority 0), A's namespace goes, B serves.
    before = len(container_logs(vb).splitlines())
    t0 = time.time()
    compose("a", "down", "-t", "10")
    took = poller.wait_served_by("b", TAKEOVER_BOUND, since=t0)
    states = project_states("a")
    assert not states, f"project A still has containers after down: {states}"
    assert vip_holders() == ["b"], f"VIP on {vip_holders()}, want B only"
    lb = "\n".join(container_logs(vb).splitlines()[before:])
    assert "BACKUP -> MASTER (reason priority_zero)" in lb, \
        f"B's log does not show the takeover on A's priority-0 advert:\n{lb[-1500:]}"
    log(f"5. down of A -> A's VIP gone, client served by node-b after {took * 1000:.0f} ms")


def _on_signal(signum, _frame):
    raise SystemExit(f"interrupted by signal {signum}")  # runs the finally: clean-up


if __name__ == "__main__":
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, _on_signal)
    try:
        sys.exit(main())
    except AssertionError as e:
        print(f"FAIL: {e}")
        print(f"test_containers: failed after {time.monotonic() - T_START:.1f}s")
        sys.exit(1)
    except SystemExit:
        raise
    except BaseException:
        traceback.print_exc()
        sys.exit(1)
