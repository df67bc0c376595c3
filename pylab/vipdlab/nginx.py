"""A real nginx in a lab node (``daemon off``, master under our Popen): its configuration and the
``Nginx`` process handle."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from vipdlab.processes import NGINX, Proc, _children

if TYPE_CHECKING:
    from vipdlab.netns import Node


def nginx_conf(prefix: Path, label: str) -> str:
    """nginx.conf for a node's nginx under ``prefix``: "/" answers "LABEL\\n", "/healthz" 200 "ok
    LABEL" unless the file ``prefix/unhealthy`` exists (then 503)."""
    return f"""\
daemon off;
master_process on;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
events {{ worker_connections 512; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    default_type text/plain;
    keepalive_timeout 5s;
    server {{
        listen 0.0.0.0:80;
        listen [::]:80 ipv6only=on;
        location = /healthz {{
            if (-f {prefix}/unhealthy) {{ return 503 "unhealthy {label}\\n"; }}
            return 200 "ok {label}\\n";
        }}
        location / {{ return 200 "{label}\\n"; }}
    }}
}}
"""


class Nginx(Proc):
    """A real nginx (``daemon off``, master under our Popen) serving "node-X\\n" on 0.0.0.0:80.

    ``/healthz`` answers 200 "ok" unless the file ``self.unhealthy_flag`` exists (then 503):
    ``set_healthy(False)`` flips it with no reload."""

    def __init__(self, lab, name, popen, log, node: "Node", prefix: Path, conf: Path):
        super().__init__(lab, name, popen, log)
        self.node, self.prefix, self.conf = node, prefix, conf
        self.pidfile = prefix / "nginx.pid"
        self.unhealthy_flag = prefix / "unhealthy"
        self.error_log = prefix / "error.log"

    def set_healthy(self, healthy: bool) -> None:
        if healthy:
            self.unhealthy_flag.unlink(missing_ok=True)
        else:
            self.unhealthy_flag.touch()

    def reload(self) -> None:
        """``nginx -s reload`` against this instance's pid file (master PID stays the same)."""
        r = subprocess.run([NGINX, "-p", str(self.prefix), "-c", str(self.conf), "-e",
                            str(self.error_log), "-s", "reload"], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"nginx reload on {self.node.label} failed: {r.stderr.strip()}")

    def worker_pids(self) -> list[int]:
        return _children(self.pid)
