#!/usr/bin/env bash
# bench/gateway_e2e.sh — iperf3 TCP through the gateway: a PoP namespace (wireguard-go, the
# tunnel peer) forwards an internet host's traffic to a wgrouter gateway, which delivers it to
# (a) a veth port, (b) a TAP port, (c) its own TUN (the gateway host), and the reverse
# directions. Same tunnel, same run, so the port paths compare directly with tunnel → TUN.
# Documentation addresses only; every namespace and daemon is removed on exit.
# Usage: bench/gateway_e2e.sh [WGROUTER_BIN] [SECONDS] [RUNS]
set -euo pipefail
BIN=${1:-$(cd "$(dirname "$0")/.." && pwd)/build/wgrouter}
SECS=${2:-5}
RUNS=${3:-3}
P=wgg$$
NS=(inet pop gw ct vm)
DIR=$(mktemp -d /tmp/$P.XXXXXX)
cleanup() {
  for n in "${NS[@]}"; do ip netns pids $P$n 2>/dev/null | xargs -r kill 2>/dev/null || true; done
  sleep 0.5
  for n in "${NS[@]}"; do ip netns del $P$n 2>/dev/null || true; done
  rm -rf "$DIR" /var/run/wireguard/${P}wg.sock /var/run/wireguard/${P}gw.sock
}
trap cleanup EXIT INT TERM
nsx() { local n=$1; shift; ip netns exec $P$n "$@"; }

for n in "${NS[@]}"; do ip netns add $P$n; ip -n $P$n link set lo up; done
ip link add ${P}a netns ${P}pop type veth peer name ${P}b netns ${P}gw
ip -n ${P}pop addr add 203.0.113.1/24 dev ${P}a && ip -n ${P}pop link set ${P}a up
ip -n ${P}gw addr add 203.0.113.2/24 dev ${P}b && ip -n ${P}gw link set ${P}b up
ip link add ${P}i netns ${P}inet type veth peer name ${P}j netns ${P}pop
ip -n ${P}inet addr add 2001:db8:ff::10/64 dev ${P}i nodad && ip -n ${P}inet link set ${P}i up
ip -n ${P}inet -6 route add default via 2001:db8:ff::1
ip -n ${P}pop addr add 2001:db8:ff::1/64 dev ${P}j nodad && ip -n ${P}pop link set ${P}j up
nsx pop sysctl -qw net.ipv6.conf.all.forwarding=1
ip link add ${P}ct netns ${P}gw type veth peer name eth0 netns ${P}ct
ip -n ${P}ct link set eth0 mtu 1420 up
ip -n ${P}ct addr add 2001:db8:64:2001::2/128 dev eth0 nodad && ip -n ${P}ct -6 route add default via fe80::1 dev eth0

kp=$(wg genkey); kg=$(wg genkey); pp=$(wg pubkey <<<"$kp"); pg=$(wg pubkey <<<"$kg")
nsx pop env WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 wireguard-go ${P}wg >/dev/null 2>&1
echo "$kp" >"$DIR/pop.key"
nsx pop wg set ${P}wg listen-port 58140 private-key "$DIR/pop.key" peer "$pg" \
  allowed-ips 2001:db8:64:1000::2/128,2001:db8:64:2000::/56
ip -n ${P}pop addr add 2001:db8:64:1000::1/64 dev ${P}wg && ip -n ${P}pop link set ${P}wg mtu 1420 up
ip -n ${P}pop -6 route add 2001:db8:64:2000::/56 dev ${P}wg
umask 077
cat >"$DIR/${P}gw.conf" <<C
[Interface]
PrivateKey = $kg
Address = 2001:db8:64:1000::2/64
MTU = 1420
Unreachable = 2001:db8:64:2000::/56

[Peer]
PublicKey = $pp
Endpoint = 203.0.113.1:58140
AllowedIPs = ::/1, 8000::/1
PersistentKeepalive = 15

[Port]
Name = ${P}ct
Mode = veth
Address = fe80::1/64
Route = 2001:db8:64:2001::2/128

[Port]
Name = ${P}vm
Mode = tap
Address = fe80::1/64
Route = 2001:db8:64:2002::2/128
C
nsx gw "$BIN" up "$DIR/${P}gw.conf" --foreground >"$DIR/gw.log" 2>&1 &
for _ in $(seq 50); do ip -n ${P}gw link show ${P}vm >/dev/null 2>&1 && break; sleep 0.1; done
ip -n ${P}gw link set ${P}vm netns ${P}vm
ip -n ${P}vm link set ${P}vm name eth0 && ip -n ${P}vm link set eth0 mtu 1420 up
ip -n ${P}vm addr add 2001:db8:64:2002::2/128 dev eth0 nodad && ip -n ${P}vm -6 route add default via fe80::1 dev eth0
for t in 2001:db8:64:2001::2 2001:db8:64:2002::2 2001:db8:64:1000::2; do
  nsx inet ping -c 1 -w 10 $t >/dev/null || { echo "no path to $t"; cat "$DIR/gw.log"; exit 1; }
done

# measure SERVER_NS ADDR DIR: median Mbit/s of RUNS runs, with min and max.
measure() {
  local ns=$1 addr=$2 dir=$3 v=()
  for _ in $(seq "$RUNS"); do
    nsx "$ns" iperf3 -s -1 -D -p 5201
    sleep 0.3
    v+=("$(nsx inet timeout $((SECS + 15)) iperf3 -c "$addr" -p 5201 -t "$SECS" $dir -J |
      python3 -c 'import json,sys; print(round(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e6))')")
  done
  printf '%s\n' "${v[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%6d Mbit/s (min %d, max %d)", a[int((NR+1)/2)], a[1], a[NR]}'
}

echo "# iperf3 TCP 1 stream, ${SECS} s x ${RUNS}, median (min, max); tunnel MTU 1420, PoP = wireguard-go; $(nproc) CPUs"
for path in "tunnel -> veth port:ct:2001:db8:64:2001::2" "tunnel -> TAP port:vm:2001:db8:64:2002::2" \
            "tunnel -> TUN (gateway host):gw:2001:db8:64:1000::2"; do
  label=${path%%:*}; rest=${path#*:}; ns=${rest%%:*}; addr=${rest#*:}
  printf '%-32s %s\n' "$label" "$(measure "$ns" "$addr" "")"
  printf '%-32s %s\n' "${label/tunnel ->/reverse:} -> tunnel" "$(measure "$ns" "$addr" "-R")"
done
