#!/usr/bin/env bash
# bench/gateway_e2e.sh — iperf3 TCP through the gateway: a PoP namespace (wireguard-go, the
# tunnel peer) forwards an internet host's traffic to a wgrouter gateway, which delivers it to
# (a) a veth port, (b) a TAP port, (c) its own TUN (the gateway host), and the reverse
# directions. Same tunnel, same run, so the port paths compare directly with tunnel → TUN.
# Documentation addresses only; every namespace and daemon is removed on exit (the helpers of
# tests/netns/lib.sh).
# Usage: bench/gateway_e2e.sh [WGROUTER_BIN] [SECONDS] [RUNS]
set -uo pipefail
BIN=${1:-$(cd "$(dirname "$0")/.." && pwd)/build/wgrouter}
SECS=${2:-5}
RUNS=${3:-3}
# shellcheck source=../tests/netns/lib.sh
source "$(dirname "$0")/../tests/netns/lib.sh"
WGROUTER_BIN=$BIN
require_root "network namespaces"
require_tools ip wg iperf3 jq ss "$WIREGUARD_GO"
P=$T_PREFIX

# setup: the namespaces, the PoP's wireguard-go and the gateway's wgrouter with its two ports,
# the TAP handed to vm; returns once inet reaches ct, vm and the gateway.
setup() {
	local t
	make_ns inet && make_ns pop && make_ns gw && make_ns ct && make_ns vm || return 1
	veth_pair pop "${P}a" gw "${P}b" && addr_add pop "${P}a" 203.0.113.1/24 && addr_add gw "${P}b" 203.0.113.2/24 &&
		veth_pair inet "${P}i" pop "${P}j" && addr_add inet "${P}i" 2001:db8:ff::10/64 &&
		nsx inet ip -6 route add default via 2001:db8:ff::1 && addr_add pop "${P}j" 2001:db8:ff::1/64 &&
		nsx pop sysctl -qw net.ipv6.conf.all.forwarding=1 || return 1
	ip link add "${P}ct" netns "$(ns_ref gw)" type veth peer name eth0 netns "$(ns_ref ct)" &&
		nsx ct ip link set eth0 mtu 1420 up && addr_add ct eth0 2001:db8:64:2001::2/128 &&
		nsx ct ip -6 route add default via fe80::1 dev eth0 || return 1

	gen_key pop && gen_key gw && start_wg wireguard-go pop "${P}wg" >/dev/null || return 1
	wgc pop set "${P}wg" listen-port 58140 private-key "$T_DIR/pop.key" peer "$(pub gw)" \
		allowed-ips 2001:db8:64:1000::2/128,2001:db8:64:2000::/56 &&
		addr_add pop "${P}wg" 2001:db8:64:1000::1/64 && nsx pop ip link set "${P}wg" mtu 1420 up &&
		nsx pop ip -6 route add 2001:db8:64:2000::/56 dev "${P}wg" || return 1
	(
		umask 077
		cat >"$T_DIR/${P}gw.conf" <<-EOF
			[Interface]
			PrivateKey = $(priv gw)
			Address = 2001:db8:64:1000::2/64
			MTU = 1420
			Unreachable = 2001:db8:64:2000::/56

			[Peer]
			PublicKey = $(pub pop)
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
		EOF
	)
	on_cleanup "rm -f $WG_SOCK_DIR/${P}gw.sock"
	up_start gw "$T_DIR/gw.log" "$T_DIR/${P}gw.conf"
	wait_for 5 nsx gw ip link show "${P}vm" || { echo "no TAP ${P}vm after 5 s"; cat "$T_DIR/gw.log"; return 1; }
	nsx gw ip link set "${P}vm" netns "$(ns_ref vm)" && nsx vm ip link set "${P}vm" name eth0 &&
		nsx vm ip link set eth0 mtu 1420 up && addr_add vm eth0 2001:db8:64:2002::2/128 &&
		nsx vm ip -6 route add default via fe80::1 dev eth0 || return 1
	for t in 2001:db8:64:2001::2 2001:db8:64:2002::2 2001:db8:64:1000::2; do
		ping_ok inet "$t" 1 10 >/dev/null || { echo "no path to $t"; cat "$T_DIR/gw.log"; return 1; }
	done
}

# measure SERVER_NODE ADDR DIR: median Mbit/s of RUNS runs, with min and max.
measure() {
	local n=$1 addr=$2 dir=$3 v=() out
	for _ in $(seq "$RUNS"); do
		out=$(IPERF_SECS=$SECS iperf_tcp inet "$n" "$addr" $dir) || { echo "failed: $out" | head -n 3; return 1; }
		v+=("$out")
	done
	printf '%s\n' "${v[@]}" | sort -n | awk '{ a[NR] = $1 } END { printf "%6.0f Mbit/s (min %.0f, max %.0f)", a[int((NR + 1) / 2)], a[1], a[NR] }'
}

setup || exit 1
echo "# iperf3 TCP 1 stream, ${SECS} s x ${RUNS}, median (min, max); tunnel MTU 1420, PoP = wireguard-go; $(nproc) CPUs"
for path in "tunnel -> veth port:ct:2001:db8:64:2001::2" "tunnel -> TAP port:vm:2001:db8:64:2002::2" \
	"tunnel -> TUN (gateway host):gw:2001:db8:64:1000::2"; do
	label=${path%%:*} rest=${path#*:}
	n=${rest%%:*} addr=${rest#*:}
	printf '%-32s %s\n' "$label" "$(measure "$n" "$addr" "")"
	printf '%-32s %s\n' "${label/tunnel ->/reverse:} -> tunnel" "$(measure "$n" "$addr" "-R")"
done
