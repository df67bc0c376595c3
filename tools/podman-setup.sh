#!/usr/bin/env bash
# Prepares podman on a Debian 12 machine exactly as /work/shared/docs/CONTAINERS.md describes:
#   1. podman + runc + debootstrap from bookworm, podman-compose 1.0.6 from bookworm-backports
#      (bookworm's 1.0.3 breaks every network_mode and still exits 0);
#   2. /etc/containers/containers.conf: runtime runc (crun 1.8.1 refuses hybrid cgroups) and
#      explicit ulimits taken from the current hard limits (podman's 1048576 default fails);
#   3. a local base image (debootstrap --variant=minbase) tagged docker.io/library/debian:bookworm-slim
#      and :bookworm, so `FROM debian:bookworm-slim` resolves without a registry.
# Idempotent: a second run checks everything, changes nothing and takes a second or two.
# The minbase rootfs tarball is kept in $VIPD_ROOTFS_CACHE (tests/netns/test_package.py reuses it).
# Run as root. Exit 0 = ready; non-zero with a message otherwise.
set -euo pipefail

CACHE=${VIPD_ROOTFS_CACHE:-/var/cache/vipd-podman}
TARBALL=$CACHE/debian-bookworm-minbase.tar
BASE_LOCAL=localhost/debian:bookworm
BASE_TAGS=(docker.io/library/debian:bookworm-slim docker.io/library/debian:bookworm)
BACKPORTS_FILE=/etc/apt/sources.list.d/vipd-bookworm-backports.sources
CONF=/etc/containers/containers.conf

log() { echo "podman-setup: $*"; }
die() { echo "podman-setup: error: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root"
grep -q 'VERSION_CODENAME=bookworm' /etc/os-release || die "this recipe is for Debian 12 (bookworm)"

export DEBIAN_FRONTEND=noninteractive
changed=0

# --- The mirror: the URI that apt's own sources file names for the bookworm suite.
mirror=""
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  mirror=$(awk '
    /^$/ { if (suites ~ /(^| )bookworm( |$)/ && uri != "") { print uri; exit } uri=""; suites="" }
    /^URIs:/ { uri=$2 }
    /^Suites:/ { suites=""; for (i = 2; i <= NF; i++) suites = suites " " $i; suites = suites " " }
    END { if (suites ~ /(^| )bookworm( |$)/ && uri != "") print uri }
  ' /etc/apt/sources.list.d/debian.sources | head -n1)
fi
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
  mirror=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list)
fi
[ -n "$mirror" ] || die "cannot find the bookworm mirror URI in /etc/apt/sources.list.d/debian.sources"

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

# --- 1. Packages.
want_backports=$(cat <<SRC
Types: deb
URIs: $mirror
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
)
updated=0
if [ ! -f "$BACKPORTS_FILE" ] || [ "$(cat "$BACKPORTS_FILE")" != "$want_backports" ]; then
  log "writing $BACKPORTS_FILE (suite bookworm-backports on $mirror)"
  printf '%s\n' "$want_backports" > "$BACKPORTS_FILE"
  changed=1
  apt-get update -q; updated=1
fi
missing=()
for p in podman runc debootstrap; do installed "$p" || missing+=("$p"); done
if ((${#missing[@]})); then
  log "installing ${missing[*]} from bookworm"
  ((updated)) || { apt-get update -q; updated=1; }
  apt-get install -y -q "${missing[@]}"
  changed=1
fi
compose_version=$(dpkg-query -W -f='${Version}' podman-compose 2>/dev/null || true)
if ! installed podman-compose || [[ "$compose_version" != 1.0.6* ]]; then
  log "installing podman-compose 1.0.6 from bookworm-backports (have: ${compose_version:-none})"
  ((updated)) || { apt-get update -q; updated=1; }
  apt-get install -y -q -t bookworm-backports podman-compose
  changed=1
  compose_version=$(dpkg-query -W -f='${Version}' podman-compose)
  [[ "$compose_version" == 1.0.6* ]] || die "podman-compose is $compose_version, want 1.0.6 from bookworm-backports"
fi

# --- 2. containers.conf: runc + ulimits from the hard limits.
nofile=$(ulimit -Hn)
nproc=$(ulimit -Hu)
pid_max=$(cat /proc/sys/kernel/pid_max)
[ "$nofile" = unlimited ] && nofile=1048576
if [ "$nproc" = unlimited ] || [ "$nproc" -gt "$pid_max" ]; then nproc=$pid_max; fi
want_conf=$(cat <<CONF
# Written by vipd tools/podman-setup.sh (see CONTAINERS.md): crun 1.8.1 refuses this machine's
# cgroup layout, and podman's default ulimits (1048576) exceed the hard limits here.
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]

[engine]
runtime = "runc"
CONF
)
if [ ! -f "$CONF" ] || [ "$(cat "$CONF")" != "$want_conf" ]; then
  if [ -f "$CONF" ] && ! grep -q 'vipd tools/podman-setup.sh' "$CONF"; then
    cp -a "$CONF" "$CONF.before-vipd"
    log "saved the previous $CONF as $CONF.before-vipd"
  fi
  mkdir -p "$(dirname "$CONF")"
  printf '%s\n' "$want_conf" > "$CONF"
  log "wrote $CONF (runtime runc, nofile $nofile, nproc $nproc)"
  changed=1
fi

# --- 3. The base image.
if [ ! -s "$TARBALL" ]; then
  log "debootstrap --variant=minbase bookworm from $mirror (about a minute)"
  mkdir -p "$CACHE"
  rootfs=$(mktemp -d "$CACHE/rootfs.XXXXXX")
  trap 'rm -rf "$rootfs" "$TARBALL.tmp"' EXIT
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$CACHE/debootstrap.log" 2>&1 ||
    { tail -20 "$CACHE/debootstrap.log" >&2; die "debootstrap failed (log: $CACHE/debootstrap.log)"; }
  rm -f "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/etc/resolv.conf "$rootfs"/etc/apt/sources.list
  rm -rf "$rootfs"/var/lib/apt/lists/*
  mkdir -p "$rootfs/etc/apt/sources.list.d"
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    cp /etc/apt/sources.list.d/debian.sources "$rootfs/etc/apt/sources.list.d/"
  else
    printf 'Types: deb\nURIs: %s\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$mirror" > "$rootfs/etc/apt/sources.list.d/debian.sources"
  fi
  chmod 0755 "$rootfs"   # mktemp made it 0700; it becomes the image's / (non-root users traverse it)
  tar -C "$rootfs" -cf "$TARBALL.tmp" .
  mv "$TARBALL.tmp" "$TARBALL"
  rm -rf "$rootfs"
  trap - EXIT
  changed=1
fi
if ! podman image exists "$BASE_LOCAL" 2>/dev/null; then
  log "importing $TARBALL as $BASE_LOCAL"
  podman import --change 'CMD ["bash"]' "$TARBALL" "$BASE_LOCAL" >/dev/null 2>&1 ||
    die "podman import failed"
  changed=1
fi
for tag in "${BASE_TAGS[@]}"; do
  if ! podman image exists "$tag" 2>/dev/null; then
    podman tag "$BASE_LOCAL" "$tag" 2>/dev/null
    log "tagged $tag"
    changed=1
  fi
done

# --- Smoke test (only after a change: the warm path stays fast).
if ((changed)); then
  out=$(podman run --rm docker.io/library/debian:bookworm-slim sh -c 'echo ok' 2>&1) ||
    die "podman run failed: $out"
  [[ "$out" == *ok* ]] || die "podman run printed: $out"
  log "ready (podman $(podman --version 2>/dev/null | awk '{print $3}'), podman-compose $compose_version, runtime runc)"
else
  log "already set up; nothing changed"
fi
