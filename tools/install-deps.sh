#!/usr/bin/env bash
# Installs everything vipd needs to build and test on Debian 12 (run as root). Idempotent.
set -euo pipefail
PKGS=(
  # toolchain
  build-essential cmake pkg-config clang libclang-rt-14-dev clang-format git
  # libraries (DEPS.md §9)
  libcpp-httplib-dev libnl-3-dev libnl-route-3-dev libtomlplusplus-dev prometheus-cpp-dev
  catch2 nlohmann-json3-dev libspdlog-dev libcli11-dev
  # packaging and deployment tests (test_package, test_containers via tools/podman-setup.sh)
  debootstrap
  # lab: namespaces, real peers, capture
  iproute2 nginx-light keepalived haproxy tcpdump tshark curl libcap2-bin python3 procps iputils-ping
  # hostile-input tests: crafted malformed VRRP (tests/netns/test_hostile_packets.py)
  python3-scapy
  # auth_hmac (issue 12): OpenSSL libcrypto for HMAC-SHA256
  libssl-dev
  # real VRRP/BGP peers and engines in the lab (checksum interop, route mode): FRR (zebra, bgpd,
  # bfdd, vrrpd), BIRD 2, ExaBGP; nft for partitions and loss (their daemons are never started on
  # the host: see policy-rc.d below)
  frr bird2 exabgp nftables
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  # Package scripts must not start daemons (nginx, keepalived, frr, bird, exabgp) on the host: the tests start their
  # own inside namespaces.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
