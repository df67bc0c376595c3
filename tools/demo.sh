#!/usr/bin/env bash
# The live failover demo (README's first command). Run on Debian 12, in a root shell or as a user
# with sudo (it re-runs itself with sudo):
#   tools/demo.sh [demo.py options: --ipv6, --keep, --speaker keepalived, --failover ..., --teardown]
# Installs what is missing, builds vipd (Release, build-demo/), then runs tools/demo.py: two nginx
# and two vipd in network namespaces, a client polling the VIP, a failover and a failback.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/pylab${PYTHONPATH:+:$PYTHONPATH}"  # the lab package (vipdlab)
if [ "$(id -u)" != 0 ]; then
  # Root is needed (network namespaces, raw sockets). A root-only Debian has no sudo: only a
  # non-root user is sent through it, and only when it exists.
  if command -v sudo >/dev/null 2>&1; then exec sudo -- "$0" "$@"; fi
  echo "demo.sh: needs root (network namespaces, raw sockets) and sudo is not installed: run it in a root shell" >&2
  exit 1
fi
case " $* " in
  *" --teardown"*) exec python3 tools/demo.py "$@" ;;  # nothing to install or build
esac
tools/install-deps.sh
need_vipd=1
case " $* " in *" --speaker keepalived "*|*" --speaker=keepalived "*) need_vipd=0 ;; esac
if [ "$need_vipd" = 1 ]; then
  if ! { cmake -S . -B build-demo -DCMAKE_BUILD_TYPE=Release &&
         cmake --build build-demo -j"$(nproc)" --target vipd; }; then
    echo "demo.sh: building vipd failed (above); '$0 --speaker keepalived' runs the demo with keepalived" >&2
    exit 1
  fi
  export VIPD_BIN="$PWD/build-demo/vipd"
fi
exec python3 tools/demo.py "$@"
