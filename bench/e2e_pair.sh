#!/usr/bin/env bash
# bench/e2e_pair.sh — first end-to-end figures: iperf3 TCP through a tunnel between two network
# namespaces over a veth, for a wgrouter pair and a wireguard-go pair in the same run (and the
# kernel module when `ip link add type wireguard` works). Documentation addresses only; every
# namespace and daemon is removed on exit.
# Usage: bench/e2e_pair.sh [WGROUTER_BIN] [SECONDS]
set -euo pipefail
BIN=${1:-$(cd "$(dirname "$0")/.." && pwd)/build/wgrouter}
SECS=${2:-5}
P=wgb$$
A=$P-a B=$P-b
cleanup() {
  for ns in $A $B; do ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true; done
  sleep 0.5
  for ns in $A $B; do ip netns del "$ns" 2>/dev/null || true; done
  rm -f /var/run/wireguard/${P}a.sock /var/run/wireguard/${P}b.sock
}
trap cleanup EXIT INT TERM

kernel_wg() { ip link add ${P}k type wireguard 2>/dev/null && ip link del ${P}k && return 0; return 1; }

# start IMPL NS IFACE
start() {
  case $1 in
    wgrouter) ip netns exec "$2" "$BIN" "$3" ;;
    wireguard-go) ip netns exec "$2" env WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 wireguard-go "$3" >/dev/null 2>&1 ;;
    kernel) ip -n "$2" link add "$3" type wireguard ;;
  esac
}

run_pair() {
  local impl=$1
  ip netns add $A; ip netns add $B
  ip link add ${P}va netns $A type veth peer name ${P}vb netns $B
  ip -n $A addr add 192.0.2.1/24 dev ${P}va; ip -n $B addr add 192.0.2.2/24 dev ${P}vb
  for ns in $A $B; do ip -n $ns link set lo up; done
  ip -n $A link set ${P}va up; ip -n $B link set ${P}vb up
  local ka kb pa pb
  ka=$(wg genkey); kb=$(wg genkey); pa=$(wg pubkey <<<"$ka"); pb=$(wg pubkey <<<"$kb")
  start "$impl" $A ${P}a; start "$impl" $B ${P}b
  ip netns exec $A wg set ${P}a private-key <(echo "$ka") listen-port 51820 peer "$pb" allowed-ips 198.51.100.2/32 endpoint 192.0.2.2:51821
  ip netns exec $B wg set ${P}b private-key <(echo "$kb") listen-port 51821 peer "$pa" allowed-ips 198.51.100.1/32 endpoint 192.0.2.1:51820
  ip -n $A addr add 198.51.100.1/24 dev ${P}a; ip -n $B addr add 198.51.100.2/24 dev ${P}b
  ip -n $A link set ${P}a mtu 1420 up; ip -n $B link set ${P}b mtu 1420 up
  ip netns exec $A ping -c 1 -W 5 198.51.100.2 >/dev/null
  for dir in "" "-R"; do
    ip netns exec $B iperf3 -s -1 -D -B 198.51.100.2
    sleep 0.3
    local bps
    bps=$(ip netns exec $A timeout $((SECS + 15)) iperf3 -c 198.51.100.2 -t "$SECS" $dir -J |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"])')
    printf '%-14s %-8s %8.0f Mbit/s\n' "$impl" "${dir:-A->B}" "$(echo "$bps / 1000000" | bc -l)"
  done
  cleanup
}

echo "# iperf3 TCP, 1 stream, ${SECS} s, MTU 1420, veth between two namespaces; $(nproc) CPUs"
run_pair wgrouter
run_pair wireguard-go
if kernel_wg; then run_pair kernel; else echo "kernel WireGuard: not available (ip link add type wireguard failed)"; fi
