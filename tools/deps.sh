#!/usr/bin/env bash
# tools/deps.sh — installs the Debian 12 packages wgrouter builds and tests with, only those
# missing. Needs root (or sudo) the first time; a no-op once everything is there.
set -euo pipefail

packages=(
  # build (scdoc: the man pages)
  g++ cmake ninja-build pkg-config scdoc
  # libraries of the design
  libsodium-dev libb2-dev libssl-dev liburing-dev libmnl-dev libnftables-dev libfmt-dev libexpected-dev libipsec-mb-dev
  libcap-ng-dev
  libsystemd-dev  # sd_notify (tools/notify.hpp)
  # tests, benchmarks, fuzzing
  doctest-dev nlohmann-json3-dev libbenchmark-dev clang libclang-rt-14-dev
  libseccomp-dev  # tests/tools/no_io_uring: a seccomp filter that refuses io_uring
  # peers and tools the tests drive
  wireguard-tools wireguard-go iperf3 nftables tcpdump iproute2 iputils-ping procps psmisc python3 bc jq conntrack
  ethtool  # bench/flood: NAPI on the attacker's veth
  strace
  ndisc6 dhcpcd-base isc-dhcp-client  # gateway_test v: RAs and DHCPv6 seen by real clients
  man-db groff-base  # tests/docs: the man pages render without warnings
  systemd  # systemd-analyze verify of dist/systemd/wgrouter@.service (no running systemd needed)
  prometheus curl  # tests/netns/metrics_test.sh: promtool, a Prometheus server scraping MetricsListen
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}"
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
