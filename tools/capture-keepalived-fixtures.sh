#!/usr/bin/env bash
# Captures real keepalived VRRP adverts as codec test fixtures (tests/fixtures/keepalived/*.hex).
#
# Two network namespaces joined by a veth pair: keepalived runs in one, tcpdump listens in the
# other. Addresses come only from 198.18.0.0/15 (LAB.md). Everything created here carries the
# prefix vfx-<pid> and is removed by the trap, also on failure; only PIDs started here are ended.
#
# Usage: sudo tools/capture-keepalived-fixtures.sh [OUTDIR]   (default tests/fixtures/keepalived)
# Exits 77 when it cannot run (not root, a tool missing).
set -euo pipefail

cd "$(dirname "$0")/.."
OUT=${1:-tests/fixtures/keepalived}

if [ "$(id -u)" != 0 ]; then
  echo "skip: needs root (network namespaces)" >&2
  exit 77
fi
for tool in ip keepalived tcpdump python3 timeout; do
  command -v "$tool" >/dev/null || { echo "skip: $tool not installed" >&2; exit 77; }
done

PFX=vfx-$$
NS_K=$PFX-k         # keepalived's namespace
NS_C=$PFX-c         # the capturing namespace
IF_K=${PFX}a        # veth end in NS_K (interface names are at most 15 characters)
IF_C=${PFX}b        # veth end in NS_C
ADDR_K=198.18.3.1
ADDR_C=198.18.3.2
TMP=$(mktemp -d /tmp/$PFX.XXXXXX)
STARTED=()          # PIDs this script started (keepalived parents, tcpdump)

cleanup() {
  local rc=$?
  for pid in "${STARTED[@]}"; do kill "$pid" 2>/dev/null || true; done
  # keepalived's VRRP child: its PID comes from the pid file we told it to write.
  for f in "$TMP"/*.vrrp.pid; do
    [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
  done
  for pid in "${STARTED[@]}"; do wait "$pid" 2>/dev/null || true; done
  ip netns del "$NS_K" 2>/dev/null || true
  ip netns del "$NS_C" 2>/dev/null || true
  rm -rf "$TMP"
  exit $rc
}
trap cleanup EXIT INT TERM

ip netns add "$NS_K"
ip netns add "$NS_C"
ip link add "$IF_K" netns "$NS_K" type veth peer name "$IF_C" netns "$NS_C"
ip -n "$NS_K" addr add $ADDR_K/24 dev "$IF_K"
ip -n "$NS_C" addr add $ADDR_C/24 dev "$IF_C"
for ns in "$NS_K" "$NS_C"; do ip -n "$ns" link set lo up; done
ip -n "$NS_K" link set "$IF_K" up
ip -n "$NS_C" link set "$IF_C" up

KA_VERSION=$(keepalived --version 2>&1 | sed -n 1p)  # sed reads all: no SIGPIPE under pipefail
TODAY=$(date -u +%Y-%m-%d)

# capture NAME DESCRIPTION CONFIG-BODY: runs keepalived with the config, keeps the first advert.
capture() {
  local name=$1 description=$2 body=$3
  local conf=$TMP/$name.conf pcap=$TMP/$name.pcap
  printf '%s\n' "$body" >"$conf"

  ip netns exec "$NS_C" tcpdump -i "$IF_C" -n -U -c 1 -w "$pcap" 'ip proto 112' \
    >"$TMP/$name.tcpdump.log" 2>&1 &
  local tcpdump_pid=$!
  STARTED+=("$tcpdump_pid")
  sleep 0.5  # tcpdump must be listening before the first advert; bounded, not a wait-for-state

  ip netns exec "$NS_K" keepalived -n -l -D -G -P -f "$conf" \
    -p "$TMP/$name.pid" -r "$TMP/$name.vrrp.pid" >"$TMP/$name.keepalived.log" 2>&1 &
  local ka_pid=$!
  STARTED+=("$ka_pid")

  # Deadline: a v2/v3 backup becomes master within 3 × 1 s + skew; allow 15 s.
  local deadline=$((SECONDS + 15))
  while kill -0 "$tcpdump_pid" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
      echo "error: no advert from keepalived within 15 s ($name)" >&2
      cat "$TMP/$name.keepalived.log" >&2
      return 1
    fi
    sleep 0.1
  done
  wait "$tcpdump_pid" || true

  kill "$ka_pid" 2>/dev/null || true
  wait "$ka_pid" 2>/dev/null || true
  if [ -f "$TMP/$name.vrrp.pid" ]; then kill "$(cat "$TMP/$name.vrrp.pid")" 2>/dev/null || true; fi
  rm -f "$TMP/$name.vrrp.pid"

  {
    echo "# keepalived VRRP advert captured by tools/capture-keepalived-fixtures.sh"
    echo "# $description"
    echo "# $KA_VERSION, captured $TODAY with tcpdump on a veth between two network namespaces."
    echo "#"
    echo "# Format: '#' lines are comments. 'src ADDR' and 'dst ADDR' are the IP source and"
    echo "# destination; 'ttl N' the IP TTL; 'vrrp HEX...' the VRRP message (the IP payload, up to the"
    echo "# IP total length, without the IP header), as space-separated hex octets on one or more lines."
    echo "#"
    echo "# keepalived.conf used (interface name is the run's veth):"
    sed 's/^/#   /' "$conf"
    python3 - "$pcap" <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
magic = struct.unpack("<I", data[:4])[0]
endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
linktype = struct.unpack(endian + "I", data[20:24])[0]
assert linktype == 1, f"expected Ethernet captures, got link type {linktype}"
incl = struct.unpack(endian + "I", data[32:36])[0]
frame = data[40:40 + incl]
eth_type = struct.unpack("!H", frame[12:14])[0]
assert eth_type == 0x0800, hex(eth_type)
ip = frame[14:]
ihl = (ip[0] & 0x0F) * 4
total = struct.unpack("!H", ip[2:4])[0]
assert ip[9] == 112, ip[9]
src = ".".join(str(b) for b in ip[12:16])
dst = ".".join(str(b) for b in ip[16:20])
vrrp = ip[ihl:total]
print(f"src {src}")
print(f"dst {dst}")
print(f"ttl {ip[8]}")
for i in range(0, len(vrrp), 16):
    print("vrrp " + " ".join(f"{b:02x}" for b in vrrp[i:i + 16]))
PY
  } >"$OUT/$name.hex"
  echo "captured $OUT/$name.hex"
}

mkdir -p "$OUT"

capture v3-default "VRRPv3 with keepalived's default checksum (IPv4 pseudo-header included)." "$(cat <<CONF
global_defs {
  router_id vfx
  vrrp_version 3
}
vrrp_instance VFX_V3 {
  state MASTER
  interface $IF_K
  virtual_router_id 51
  priority 150
  advert_int 1
  virtual_ipaddress {
    198.18.3.100/24
  }
}
CONF
)"

capture v3-multi "VRRPv3, three VIPs, advert_int 0.5 s (50 cs), default checksum." "$(cat <<CONF
global_defs {
  router_id vfx
  vrrp_version 3
}
vrrp_instance VFX_V3_MULTI {
  state MASTER
  interface $IF_K
  virtual_router_id 52
  priority 200
  advert_int 0.5
  virtual_ipaddress {
    198.18.3.101/24
    198.18.3.102/24
    198.18.3.103/24
  }
}
CONF
)"

capture v2-pass "VRRPv2 with PASS authentication; auth_pass secret123 is truncated by keepalived to 8 octets." "$(cat <<CONF
global_defs {
  router_id vfx
  vrrp_version 2
}
vrrp_instance VFX_V2 {
  state MASTER
  interface $IF_K
  virtual_router_id 53
  priority 100
  advert_int 1
  authentication {
    auth_type PASS
    auth_pass secret123
  }
  virtual_ipaddress {
    198.18.3.100/24
  }
}
CONF
)"

# keepalived 2.2.7 has no option for an RFC 9568-style (message-only) VRRPv3/IPv4 checksum:
# `v3_checksum_as_v2` is not in its keepalived.conf(5) (only old_unicast_checksum, which changes
# the unicast pseudo-header destination). So there is no such fixture.
if man keepalived.conf 2>/dev/null | grep v3_checksum_as_v2 >/dev/null; then
  echo "note: this keepalived documents v3_checksum_as_v2; add a fixture for it" >&2
fi
