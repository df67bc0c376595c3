"""Processes of the lab: the tracked ``Proc`` (own session, SIGTERM then SIGKILL), the packet
``Capture``, and the small helpers every test script uses (``skip``, ``wait_for``, ``run_main``,
``require_root_or_skip``)."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

if TYPE_CHECKING:
    from vipdlab.netns import Lab

SKIP = 77

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
KEEPALIVED = shutil.which("keepalived") or "/usr/sbin/keepalived"


def log(msg: str) -> None:
    print(f"[lab] {msg}", flush=True)


def skip(reason: str) -> None:
    """Exit 77 (ctest: skipped) with a clear reason."""
    print(f"skipped: {reason}", flush=True)
    sys.exit(SKIP)


def require_root_or_skip(need: Iterable[str] = ("nginx", "keepalived")) -> None:
    """Skip (exit 77) unless root, `ip netns` works, and the named tools are installed.

    ``need`` may contain "nginx", "keepalived", "tcpdump", "tshark", "curl", "vipd"."""
    if os.geteuid() != 0:
        skip("needs root (network namespaces, raw sockets); run as root")
    if not shutil.which("ip"):
        skip("iproute2 (`ip`) is not installed")
    probe = f"vlprobe{os.getpid()}-{secrets.token_hex(2)}"
    r = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if r.returncode != 0:
        skip(f"`ip netns add` does not work here: {r.stderr.strip()}")
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    tools = {"nginx": NGINX, "keepalived": KEEPALIVED, "tcpdump": "tcpdump", "tshark": "tshark",
             "curl": "curl"}
    for name in need:
        if name == "vipd":
            require_vipd_or_skip()
            continue
        path = tools.get(name, name)
        if not (shutil.which(path) or (os.path.isfile(path) and os.access(path, os.X_OK))):
            skip(f"{name} is not installed (tools/install-deps.sh installs it)")


def vipd_bin() -> str | None:
    """$VIPD_BIN if it names an executable file, else None."""
    path = os.environ.get("VIPD_BIN", "")
    return path if path and os.path.isfile(path) and os.access(path, os.X_OK) else None


def require_vipd_or_skip() -> str:
    path = vipd_bin()
    if not path:
        skip(f"vipd binary not found (VIPD_BIN={os.environ.get('VIPD_BIN', '')!r}); build it first")
    return path


def run_main(main: Callable[[], int]) -> int:
    """The exit code of a test script's ``main()``: its own value; 1 with a ``FAIL:`` line on an
    assertion or an unexpected error (traceback printed); SystemExit (77 skips) passes through."""
    try:
        return main()
    except AssertionError as e:
        print(f"FAIL: {e}")
        return 1
    except SystemExit:
        raise
    except BaseException:
        traceback.print_exc()
        print("FAIL: unexpected error (see traceback)")
        return 1


def wait_for(predicate: Callable[[], object], timeout: float, what: str | Callable[[], str],
             interval: float = 0.01) -> object:
    """Poll ``predicate`` until it returns a truthy value (returned) or raise AssertionError.

    ``what`` says what was awaited; a callable is evaluated at the deadline (for live details)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for "
                                 f"{what() if callable(what) else what}")
        time.sleep(interval)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


class Proc:
    """A process the lab started, in its own session (pgid == pid), tracked by PID.

    ``stop()`` sends SIGTERM to the leader (graceful stop) and waits, ``kill()`` sends SIGKILL to
    the whole process group (a crash, nothing left behind). The group is only signalled while the
    leader is not yet reaped, so its PID cannot have been reused."""

    def __init__(self, lab: "Lab", name: str, popen: subprocess.Popen, log: Path | None):
        self.lab, self.name, self.popen, self.log = lab, name, popen, log
        self.pid = popen.pid

    def __repr__(self) -> str:
        return f"<Proc {self.name} pid={self.pid} rc={self.popen.returncode}>"

    @property
    def returncode(self) -> int | None:
        return self.popen.returncode

    def alive(self) -> bool:
        return self.popen.poll() is None

    def _exited_unreaped(self) -> bool:
        if self.popen.returncode is not None:
            return True
        try:
            info = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return True
        return info is not None

    def _signal_group(self, sig: int) -> None:
        if self.popen.returncode is not None:
            return  # reaped: the pgid may belong to someone else now
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the leader only (e.g. SIGHUP to reload)."""
        if self.popen.returncode is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def _finish(self, timeout: float) -> int | None:
        """Wait for the leader to exit; SIGKILL the group on deadline; reap. Returns the rc."""
        deadline = time.monotonic() + timeout
        while not self._exited_unreaped() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not self._exited_unreaped():
            log(f"{self.name} (pid {self.pid}) did not exit within {timeout:g}s: SIGKILL")
        self._signal_group(signal.SIGKILL)  # the leader's children (nginx workers, VRRP child)
        try:
            return self.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            log(f"{self.name} (pid {self.pid}) still not reaped after SIGKILL")
            return None

    def terminate(self) -> None:
        """SIGTERM the leader without waiting (then ``wait_exit``)."""
        self.signal(signal.SIGTERM)

    def wait_exit(self, timeout: float = 10.0) -> int | None:
        """Wait for the leader to exit, SIGKILL the group on deadline, reap; returns rc."""
        return self._finish(timeout)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM the leader (graceful stop), wait up to ``timeout``, then SIGKILL. Returns rc."""
        self.signal(signal.SIGTERM)
        return self._finish(timeout)

    def kill(self) -> int | None:
        """SIGKILL the whole process group (a crash) and reap. Returns rc (-9)."""
        self._signal_group(signal.SIGKILL)
        return self._finish(5)

    def wait(self, timeout: float) -> int:
        return self.popen.wait(timeout=timeout)

    def expect_alive(self) -> None:
        """Raise AssertionError (with the log's tail) if the process has exited."""
        if not self.alive():
            raise AssertionError(f"{self.name} (pid {self.pid}) exited with rc {self.returncode}:"
                                 f"\n{self.log_text()[-2000:]}")

    def log_text(self) -> str:
        if not self.log or not self.log.exists():
            return ""
        return self.log.read_text(errors="replace")

    def wait_log(self, pattern: str, timeout: float, what: str | None = None) -> re.Match:
        """Wait until the log matches the regex ``pattern``; returns the match."""
        rx = re.compile(pattern)
        return wait_for(lambda: rx.search(self.log_text()), timeout,
                        what or f"{self.name} log to match /{pattern}/")


def _children(pid: int) -> list[int]:
    try:
        out = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in out.split()]


class Capture(Proc):
    """A tcpdump writing a pcap; ``stop()`` flushes it; ``decode()`` runs tshark on it."""
    file: Path

    def stop(self, timeout: float = 5.0) -> int | None:
        self.signal(signal.SIGINT)  # tcpdump flushes and exits on SIGINT
        return self._finish(timeout)

    def decode(self, display_filter: str = "", *extra: str) -> str:
        argv = ["tshark", "-n", "-r", str(self.file)]
        if display_filter:
            argv += ["-Y", display_filter]
        r = subprocess.run(argv + list(extra), capture_output=True, text=True, timeout=60)
        return r.stdout

    def fields(self, display_filter: str, names: list[str]) -> list[dict]:
        """tshark's ``-T fields`` for ``names``: one dict (field → text) per matching packet."""
        extra = ["-T", "fields", "-E", "separator=|"]
        for n in names:
            extra += ["-e", n]
        out = self.decode(display_filter, *extra)
        return [dict(zip(names, line.split("|"))) for line in out.splitlines() if line.strip()]
