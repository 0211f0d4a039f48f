#!/usr/bin/env bash
# tools/demo.sh — wgrouter's main job on a built-in default: installs what is missing, builds,
# then brings up a real tunnel between two network namespaces on documentation addresses:
# wgrouter in native mode (`wgrouter up FILE`) on one side, wireguard-go configured by the
# stock `wg` tool on the other; pings both inner families, runs a short iperf3 each way, shows
# `wgrouter show` and `wg show`, and tears everything down (also on failure).
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build wgrouter >/dev/null
BIN=$PWD/build/wgrouter
"$BIN" selftest | sed 's/^/selftest: /'

P=wgdemo$$
GW=$P-gw PEER=$P-peer
DIR=$(mktemp -d)
cleanup() {
  for ns in $GW $PEER; do ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true; done
  sleep 0.5
  for ns in $GW $PEER; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$DIR" "/var/run/wireguard/${P}0.sock" "/var/run/wireguard/${P}1.sock"
}
trap cleanup EXIT INT TERM
step() { printf '\n== %s\n' "$*"; }

step "two namespaces joined by a veth: $GW 192.0.2.1 / 2001:db8:1::1, $PEER 192.0.2.2 / 2001:db8:1::2"
ip netns add $GW
ip netns add $PEER
ip link add ${P}g netns $GW type veth peer name ${P}p netns $PEER
ip -n $GW addr add 192.0.2.1/24 dev ${P}g
ip -n $PEER addr add 192.0.2.2/24 dev ${P}p
ip -n $GW addr add 2001:db8:1::1/64 dev ${P}g nodad
ip -n $PEER addr add 2001:db8:1::2/64 dev ${P}p nodad
for ns in $GW $PEER; do ip -n $ns link set lo up; done
ip -n $GW link set ${P}g up
ip -n $PEER link set ${P}p up

KG=$("$BIN" genkey); KP=$("$BIN" genkey)
PG=$("$BIN" pubkey <<<"$KG"); PP=$("$BIN" pubkey <<<"$KP")
cat >"$DIR/${P}0.conf" <<CONF
[Interface]
PrivateKey = $KG
ListenPort = 51820
Address = 198.51.100.1/24, 2001:db8:100::1/64
MTU = 1420

[Peer]
PublicKey = $PP
AllowedIPs = 198.51.100.2/32, 2001:db8:100::2/128
Endpoint = [2001:db8:1::2]:51821
CONF
chmod 600 "$DIR/${P}0.conf"

step "wgrouter check + wgrouter up (native mode, io_uring) in $GW"
"$BIN" check "$DIR/${P}0.conf"
ip netns exec $GW "$BIN" up "$DIR/${P}0.conf" --foreground 2>&1 | sed 's/^/  log: /' &

step "wireguard-go in $PEER, configured with the stock wg tool"
ip netns exec $PEER env WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 wireguard-go ${P}1 >/dev/null 2>&1
ip netns exec $PEER wg set ${P}1 private-key <(echo "$KP") listen-port 51821 \
  peer "$PG" allowed-ips 198.51.100.1/32,2001:db8:100::1/128 endpoint 192.0.2.1:51820
ip -n $PEER addr add 198.51.100.2/24 dev ${P}1
ip -n $PEER addr add 2001:db8:100::2/64 dev ${P}1 nodad
ip -n $PEER link set ${P}1 mtu 1420 up
for _ in $(seq 50); do [ -S /var/run/wireguard/${P}0.sock ] && break; sleep 0.1; done

step "ping through the tunnel (outer IPv6 from the gateway, outer IPv4 back)"
ip netns exec $GW ping -c 3 -i 0.2 -W 3 198.51.100.2
ip netns exec $PEER ping -c 3 -i 0.2 -W 3 2001:db8:100::1

step "iperf3 TCP, 3 s each way"
for dir in "" "-R"; do
  ip netns exec $PEER iperf3 -s -1 -D -B 198.51.100.2
  sleep 0.3
  ip netns exec $GW timeout 20 iperf3 -c 198.51.100.2 -t 3 $dir | grep -E "sender|receiver"
done

step "wgrouter show (its own view, with drop counters) and stock wg show against wgrouter"
ip netns exec $GW "$BIN" show ${P}0
echo
ip netns exec $GW wg show ${P}0

step "teardown"
ip netns exec $GW ip link del ${P}0
for _ in $(seq 50); do [ -S /var/run/wireguard/${P}0.sock ] || break; sleep 0.1; done
[ ! -S /var/run/wireguard/${P}0.sock ] && echo "wgrouter exited after its interface was deleted; socket removed"
echo "demo: OK"
