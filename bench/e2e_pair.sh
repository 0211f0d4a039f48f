#!/usr/bin/env bash
# bench/e2e_pair.sh — first end-to-end figures: iperf3 TCP through a tunnel between two network
# namespaces over a veth, for a wgrouter pair and a wireguard-go pair in the same run (and the
# kernel module when `ip link add type wireguard` works). Documentation addresses only; every
# namespace and daemon is removed on exit. The namespaces, the veth and the daemons are those of
# tests/netns/lib.sh (its two-node pair).
# Usage: bench/e2e_pair.sh [WGROUTER_BIN] [SECONDS]
set -uo pipefail
BIN=${1:-$(cd "$(dirname "$0")/.." && pwd)/build/wgrouter}
SECS=${2:-5}
# shellcheck source=../tests/netns/lib.sh
source "$(dirname "$0")/../tests/netns/lib.sh"
WGROUTER_BIN=$BIN
require_root "network namespaces"
require_tools ip wg iperf3 jq ss

# run_pair IMPL: the pair with IMPL on both sides, one tunnel, iperf3 each way; everything is
# removed again before the next implementation.
run_pair() {
	local impl=$1 dir out
	make_ns A && make_ns B && pair_link && gen_key A && gen_key B &&
		start_wg "$impl" A "${T_PREFIX}a" >/dev/null && start_wg "$impl" B "${T_PREFIX}b" >/dev/null &&
		wgc A set "${T_PREFIX}a" private-key "$T_DIR/A.key" listen-port 51820 \
			peer "$(pub B)" allowed-ips 198.51.100.2/32 endpoint "$OUT4_B:51821" &&
		wgc B set "${T_PREFIX}b" private-key "$T_DIR/B.key" listen-port 51821 \
			peer "$(pub A)" allowed-ips 198.51.100.1/32 endpoint "$OUT4_A:51820" &&
		addr_add A "${T_PREFIX}a" 198.51.100.1/24 && addr_add B "${T_PREFIX}b" 198.51.100.2/24 &&
		nsx A ip link set "${T_PREFIX}a" mtu 1420 up && nsx B ip link set "${T_PREFIX}b" mtu 1420 up &&
		ping_ok A 198.51.100.2 1 5 >/dev/null ||
		{ echo "$impl: setup failed"; run_cleanup; return 1; }
	for dir in "" "-R"; do
		if out=$(IPERF_SECS=$SECS iperf_tcp A B 198.51.100.2 $dir); then
			printf '%-14s %-8s %8.0f Mbit/s\n' "$impl" "${dir:-A->B}" "$out"
		else
			printf '%-14s %-8s failed: %s\n' "$impl" "${dir:-A->B}" "$out"
		fi
	done
	run_cleanup
}

echo "# iperf3 TCP, 1 stream, ${SECS} s, MTU 1420, veth between two namespaces; $(nproc) CPUs"
run_pair wgrouter
run_pair wireguard-go
if have_kernel_wg; then run_pair kernel; else echo "kernel WireGuard: not available (ip link add type wireguard failed)"; fi
