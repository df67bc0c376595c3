"""auth_hmac in the lab (issue 12): keepalived 2.4.3 built from ../shared/peers, and the auth
configuration snippets for keepalived and vipd — shared by the netns tests (tests/netns/authlab.py)
and the bench (bench/auth.py).

    keepalived_243() -> path of keepalived 2.4.3 built from ../shared/peers (cached under the
                        build tree: <build>/peers), or skip (exit 77) with the reason
    ka_auth_block(keys, ...) / vipd_auth(keys, ...)   config snippets, one key each or more
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from vipdlab.processes import skip

KEY1 = bytes(range(32)).hex()                   # the vectors' key (id 1)
KEY2 = bytes(range(100, 148)).hex()             # 48 bytes (id 2, rotation)
WRONG = bytes(range(200, 232)).hex()            # another key under id 1


def keepalived_243() -> str:
    """keepalived 2.4.3 with auth_hmac, built once per build tree (about a minute on 2 cores)."""
    build = Path(os.environ.get("VIPD_BIN", "build/vipd")).resolve().parent
    peers = Path(os.environ.get("VIPD_PEERS") or
                 Path(os.environ.get("VIPD_SOURCE", ".")).resolve().parent / "shared" / "peers")
    script = peers / "build-keepalived.sh"
    cached = build / "peers" / "keepalived-2.4.3" / "keepalived" / "keepalived"
    if cached.exists() and os.access(cached, os.X_OK):
        return str(cached)
    if not script.exists():
        skip(f"keepalived 2.4.3 sources not found ({script}); set VIPD_PEERS")
    (build / "peers").mkdir(parents=True, exist_ok=True)
    r = subprocess.run([str(script), str(build / "peers")], capture_output=True, text=True,
                       timeout=900)
    if r.returncode != 0 or not cached.exists():
        skip(f"cannot build keepalived 2.4.3: {r.stderr.strip()[-500:]}")
    return str(cached)


def ka_auth_block(keys: dict[int, str], active: int = 1, mode: str = "enforce",
                  anti_replay: str = "time", window: int = 5) -> str:
    """keepalived's auth_hmac { } block (goes inside vrrp_instance)."""
    lines = "".join(f"        key {i} hex:{k}\n" for i, k in keys.items())
    return (f"    auth_hmac {{\n{lines}        active_key {active}\n"
            f"        anti_replay {anti_replay}\n"
            f"        {'time_window ' + str(window) if anti_replay == 'time' else ''}\n"
            f"        mode {mode}\n    }}\n")


def vipd_auth(keys: dict[int, str], active: int = 1, mode: str = "enforce",
              anti_replay: str = "time", window: str = "5s") -> str:
    """vipd's [[instance]] auth = { ... } line."""
    ks = ", ".join(f'{{ id = {i}, hex = "{k}" }}' for i, k in keys.items())
    return (f'auth = {{ type = "hmac-sha256", active_key = {active}, anti_replay = '
            f'"{anti_replay}", window = "{window}", mode = "{mode}", keys = [ {ks} ] }}')
