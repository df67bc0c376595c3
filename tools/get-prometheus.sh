#!/bin/sh
# Fetch Debian's prometheus package and unpack it (no install: its postinst starts a daemon).
# Prints the directory holding promtool and prometheus. Idempotent: a second run only prints.
# Usage: tools/get-prometheus.sh [CACHE_DIR]   (default /var/cache/vipd-test/prometheus)
set -eu
dir=${1:-${VIPD_PROMETHEUS_CACHE:-/var/cache/vipd-test/prometheus}}
bin="$dir/root/usr/bin"
if [ -x "$bin/promtool" ] && [ -x "$bin/prometheus" ]; then
    echo "$bin"
    exit 0
fi
mkdir -p "$dir"
tmp=$(mktemp -d "$dir/dl.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# apt-get download writes into the current directory; needs the package lists (apt-get update).
(cd "$tmp" && apt-get download prometheus >&2) || {
    echo "get-prometheus: 'apt-get download prometheus' failed (run apt-get update?)" >&2
    exit 1
}
rm -rf "$dir/root.new"
dpkg-deb -x "$tmp"/prometheus_*.deb "$dir/root.new"
rm -rf "$dir/root"
mv "$dir/root.new" "$dir/root"
"$bin/promtool" --version >&2
echo "$bin"
