#!/usr/bin/env bash
# tests/netns/selftest_topo_test.sh IMPL1 IMPL2 [WGROUTER_BIN]
#
# The topology of the kernel's WireGuard selftest, with any two implementations:
#
#   ns1                          ns0                             ns2
#   IF1 (moved here)             lo 127.0.0.1 / ::1              IF2 (moved here)
#   192.0.2.1/24                 daemon of IF1: UDP PORT1        192.0.2.2/24
#   2001:db8::1/64               daemon of IF2: UDP PORT2        2001:db8::2/64
#
# Both WireGuard interfaces are created in ns0 (the userspace daemons run there, so their UDP
# sockets live on ns0's loopback), then moved with `ip link set IF netns nsX` into ns1 and ns2,
# where they get their addresses and are brought up. The tunnel's outer packets therefore never
# leave ns0's loopback; the inner packets are routed in ns1 and ns2. `wg` finds a userspace
# interface through its UAPI socket in /var/run/wireguard from any namespace.
#
# IMPL1 / IMPL2: wgrouter | wireguard-go | kernel (kernel: skipped, exit 77, when
# `ip link add type wireguard` does not work). WGROUTER_BIN defaults to /work/main/build/wgrouter.
# Needs root. Exit: 0 all passed, 1 a check failed, 77 skipped.
#
# Environment:
#   ONLY="a b ..." / SKIP="..."   scenario selection (letters or names)
#   KEEP_LOGS=1                   keep $T_DIR (daemon logs, captures) even when all passed
#   MIN_MBITS                     iperf3 floor in Mbit/s (default 50)
#   IPERF_SECS                    iperf3 seconds per run (default 2)
#   T_WATCHDOG                    whole-run bound in seconds (default 150)
#   WGROUTER_OFFLOAD, WGROUTER_IO, WGROUTER_THREADS   passed through to wgrouter
#
# Scenarios (sc_<letter>_<name>; each starts from the base configuration, see reset_ends):
#   a ping           inner IPv4+IPv6 both ways over outer 127.0.0.1, then over outer ::1; MTU 1420
#   b iperf          iperf3 TCP each way over outer IPv4 (inner v4) and outer IPv6 (inner v6)
#   c mtu9000        both interfaces at MTU 9000: 8000-byte pings with DF (v4, v6) and iperf3
#   d roaming        each end changes listen port, then moves to ::1; the other end follows
#   e source_filter  a sender's inner source outside its AllowedIPs at the receiver never arrives
#   f key_change     new private key on each end in turn: immediate handshake, traffic flows
#   g move_back      each interface moved to ns0 and back (traffic resumes, wg show answers);
#                    then `ip link del` in its namespace ends the daemon and removes the socket
#   h link_down      a down interface sends nothing, not even a persistent keepalive of 1 s;
#                    `up` sends at once (wgrouter / kernel ends only)
#   i icmp           packets into the interface for no peer / a peer without endpoint get ICMP
#                    host unreachable (v4) / address unreachable (v6) within 1 s, locally and
#                    from a namespace routed and masqueraded through it (wgrouter / kernel ends)

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

SCENARIOS=(a:ping b:iperf c:mtu9000 d:roaming e:source_filter f:key_change g:move_back
	h:link_down i:icmp)

IPERF_SECS=${IPERF_SECS:-2}
MIN_MBITS=${MIN_MBITS:-50}
BASE_MTU=1420
# End K (1 or 2) lives in namespace node "nsK"; its daemon (if any) in ns0.
declare -A IMPL=() IFN=() PORT=([1]=10001 [2]=10002) IN4=([1]=192.0.2.1 [2]=192.0.2.2)
declare -A IN6=([1]=2001:db8::1 [2]=2001:db8::2)
other() { echo $((3 - $1)); }

# ---------------------------------------------------------------------------------------------
# The two ends

# write_conf K: base configuration of end K (its key, port, the other end as its only peer with
# an IPv4 loopback endpoint).
write_conf() {
	local k=$1 o
	o=$(other "$1")
	(
		umask 077
		cat >"$T_DIR/$k.conf" <<-EOF
			[Interface]
			PrivateKey = $(priv "e$k")
			ListenPort = ${PORT[$k]}

			[Peer]
			PublicKey = $(pub "e$o")
			Endpoint = 127.0.0.1:${PORT[$o]}
			AllowedIPs = ${IN4[$o]}/32, ${IN6[$o]}/128
		EOF
	)
}

# inner_up K [MTU]: addresses (again: a move or a down flushes them), MTU and link up in nsK.
inner_up() {
	local k=$1 n="ns$1" ifc=${IFN[$1]}
	nsx "$n" ip addr flush dev "$ifc" 2>/dev/null
	addr_add "$n" "$ifc" "${IN4[$k]}/24" "${IN6[$k]}/64" &&
		nsx "$n" ip link set "$ifc" mtu "${2:-$BASE_MTU}" up
}

# end_up K: create end K's interface in ns0 (daemon there), move it into nsK, configure it.
end_up() {
	local k=$1 n="ns$1" ifc=${IFN[$1]} out moved
	start_wg "${IMPL[$k]}" ns0 "$ifc" || return 1
	NODE_IF[$n]=$ifc NODE_IMPL[$n]=${IMPL[$k]} NODE_DPID[$n]=${NODE_DPID[ns0]} NODE_LOG[$n]=${NODE_LOG[ns0]}
	moved=$(moves_logged "$n")
	out=$(ip -n "${NODE_NS[ns0]}" link set "$ifc" netns "${NODE_NS[$n]}" 2>&1) ||
		{ fail "move $ifc from ns0 into $n" "$out"; return 1; }
	move_followed "$n" "$moved" || return 1
	if ! wait_for 5 wg_answers "$n"; then
		fail "$(node_desc "$n"): after the move into $n: link + wg show answer within 5 s" \
			"daemon: $(daemon_state "$n")" "$(nsx "$n" ip -br link 2>&1)" \
			"$(ls -l "$WG_SOCK_DIR/$ifc.sock" 2>&1)" "$(log_tail "$n")"
		return 1
	fi
	out=$(wg_conf "$n" setconf "$T_DIR/$k.conf" 2>&1) || { fail "wg setconf base config on $(node_desc "$n")" "$out"; return 1; }
	inner_up "$k" || { fail "addresses / MTU / link up on $(node_desc "$n")"; return 1; }
}

# moves_logged NODE: how many moves of its interface the daemon of NODE logged following.
moves_logged() { grep -c "interface moved to network namespace" "${NODE_LOG[$1]}" 2>/dev/null; }
# move_followed NODE BEFORE: after a move, wait until a wgrouter end has logged following it (more
# such lines than BEFORE; 5 s). The kernel has nothing to follow and wireguard-go says nothing:
# for those ends the checks after the move are the test.
move_followed() {
	[[ ${NODE_IMPL[$1]} == wgrouter ]] || return 0
	wait_for 5 eval "(( \$(moves_logged $1) > $2 ))" && return 0
	fail "$(node_desc "$1"): no 'interface moved to network namespace' in its log within 5 s of the move" \
		"daemon: $(daemon_state "$1")" "$(log_tail "$1" 5)"
}

daemon_state() {
	local p=${NODE_DPID[$1]:-}
	[[ -z $p ]] && { echo "none (kernel)"; return; }
	if pid_alive "$p"; then echo "pid $p running"; else echo "pid $p exited"; fi
}

# end_restart K: stop/delete whatever is left of end K, then end_up.
end_restart() {
	local k=$1 n="ns$1" ifc=${IFN[$1]}
	[[ -n ${NODE_DPID[$n]:-} ]] && stop_pid "${NODE_DPID[$n]}"
	nsx "$n" ip link del "$ifc" 2>/dev/null
	ip -n "${NODE_NS[ns0]}" link del "$ifc" 2>/dev/null
	rm -f "$WG_SOCK_DIR/$ifc.sock"
	end_up "$k"
}

# reset_ends: each scenario starts here: daemons alive (restarted, with a FAIL, if not), the base
# configuration applied with `wg setconf` (sessions dropped), addresses, MTU 1420, link up.
reset_ends() {
	local k n out rc=0
	for k in 1 2; do
		n=ns$k
		if ! daemon_ok "$n"; then
			fail "$(node_desc "$n") is not running/answering at the start of this scenario (restarting it)" \
				"daemon: $(daemon_state "$n")" "$(log_tail "$n" 25)"
			end_restart "$k" || rc=1
			continue
		fi
		if ! out=$(wg_conf "$n" setconf "$T_DIR/$k.conf" 2>&1); then
			fail "reset: wg setconf base config on $(node_desc "$n") (restarting it)" "$out"
			end_restart "$k" || rc=1
			continue
		fi
		inner_up "$k" || { fail "reset: addresses / link up on $(node_desc "$n")"; rc=1; }
	done
	return "$rc"
}

# set_outer v4|v6: both ends' peer endpoints on 127.0.0.1 or ::1.
set_outer() {
	local k o ep
	for k in 1 2; do
		o=$(other "$k")
		if [[ $1 == v4 ]]; then ep=127.0.0.1:${PORT[$o]}; else ep="[::1]:${PORT[$o]}"; fi
		check "end $k: wg set peer endpoint $ep" wgc "ns$k" set "${IFN[$k]}" peer "$(pub "e$o")" endpoint "$ep"
	done
}

# ping_fig K DST [ARGS...]: 2 pings from end K; prints "2/2 replies, rtt avg X ms" or the output.
ping_fig() {
	local k=$1 dst=$2 out; shift 2
	out=$(nsx "ns$k" ping -n -q -c 2 -w 10 -i 0.2 "$@" "$dst" 2>&1) || { echo "$out"; return 1; }
	awk -F'[/ ]+' '/packets transmitted/ { tx = $1; rx = $4 } /^rtt/ { avg = $8 }
		END { printf "%s/%s replies, rtt avg %s ms\n", rx, tx, avg }' <<<"$out"
}
# check_ping DESC K DST [ARGS...]
check_ping() {
	local desc=$1 out; shift
	if out=$(ping_fig "$@"); then pass "$desc: $out"; else fail "$desc" "$out"; fi
}

ping_all() { # LABEL [ARGS...]: inner v4 and v6, both directions
	local l=$1; shift
	check_ping "ping 1->2 ${IN4[2]} ($l)" 1 "${IN4[2]}" "$@"
	check_ping "ping 1->2 ${IN6[2]} ($l)" 1 "${IN6[2]}" "$@"
	check_ping "ping 2->1 ${IN4[1]} ($l)" 2 "${IN4[1]}" "$@"
	check_ping "ping 2->1 ${IN6[1]} ($l)" 2 "${IN6[1]}" "$@"
}

endpoint_is() { [[ $(peer_val "ns$1" endpoints "$(pub "e$2")") == "$3" ]]; }

# check_iperf DESC CLIENT_END SERVER_END ADDR [-R]: Mbit/s printed, > MIN_MBITS.
check_iperf() {
	local desc=$1 out
	shift
	if out=$(IPERF_SECS=$IPERF_SECS iperf_tcp "ns$1" "ns$2" "$3" "${4:-}"); then
		if awk -v m="$out" -v f="$MIN_MBITS" 'BEGIN { exit !(m > f) }'; then
			pass "$desc: iperf3 TCP ${IPERF_SECS} s $out Mbit/s (> $MIN_MBITS)"
		else
			fail "$desc: iperf3 TCP $out Mbit/s, not above $MIN_MBITS" "$(wgrouter_state)"
		fi
	else
		fail "$desc: iperf3 TCP" "$out" "$(wgrouter_state)"
	fi
}
# wgrouter_state: drop, io and router counters of the wgrouter ends (for failure details).
wgrouter_state() {
	local k
	for k in 1 2; do
		[[ ${IMPL[$k]} == wgrouter ]] || continue
		echo "wgrouter show ${IFN[$k]} (end $k):"
		nsx "ns$k" timeout 10 "$WGROUTER_BIN" show "${IFN[$k]}" 2>&1 | grep -E '^  (drops|io|router|offloads):'
	done
}

# ---------------------------------------------------------------------------------------------
# Packet capture on a node's interface

# cap_start NODE IFACE SECS OUTFILE FILTER...: tcpdump_start with one line a packet, -tt epoch
# timestamps, line-buffered.
cap_start() {
	local n=$1 ifc=$2 secs=$3 out=$4; shift 4
	tcpdump_start "$n" "$secs" "$out" -n -l -tt --immediate-mode -i "$ifc" "$@"
}

# ---------------------------------------------------------------------------------------------
# a. ping over outer IPv4 then IPv6, MTU 1420

sc_a_ping() {
	local k o
	for k in 1 2; do
		check_eq "end $k: MTU" "$BASE_MTU" "$(nsx "ns$k" cat "/sys/class/net/${IFN[$k]}/mtu")"
	done
	ping_all "outer 127.0.0.1"
	for k in 1 2; do
		o=$(other "$k")
		check_eq "end $k: endpoint of end $o after IPv4 traffic" "127.0.0.1:${PORT[$o]}" "$(peer_val "ns$k" endpoints "$(pub "e$o")")"
	done
	set_outer v6
	ping_all "outer ::1"
	for k in 1 2; do
		o=$(other "$k")
		check_eq "end $k: endpoint of end $o after IPv6 traffic" "[::1]:${PORT[$o]}" "$(peer_val "ns$k" endpoints "$(pub "e$o")")"
	done
}

# ---------------------------------------------------------------------------------------------
# b. iperf3 over outer IPv4 (inner v4) and outer IPv6 (inner v6), each way

sc_b_iperf() {
	ping_fig 1 "${IN4[2]}" >/dev/null # handshake first
	check_iperf "outer IPv4, inner v4, 1->2" 1 2 "${IN4[2]}"
	check_iperf "outer IPv4, inner v4, 2->1 (-R)" 1 2 "${IN4[2]}" -R
	set_outer v6
	ping_fig 1 "${IN6[2]}" >/dev/null
	check_iperf "outer IPv6, inner v6, 1->2" 1 2 "${IN6[2]}"
	check_iperf "outer IPv6, inner v6, 2->1 (-R)" 1 2 "${IN6[2]}" -R
}

# ---------------------------------------------------------------------------------------------
# c. MTU 9000 (ns0's lo has 65536): 8000-byte inner pings with DF, iperf3

sc_c_mtu9000() {
	local k
	for k in 1 2; do
		check "end $k: ip link set mtu 9000" nsx "ns$k" ip link set "${IFN[$k]}" mtu 9000
		check_eq "end $k: MTU" 9000 "$(nsx "ns$k" cat "/sys/class/net/${IFN[$k]}/mtu")"
	done
	ping_all "outer 127.0.0.1, 8000 bytes, DF" -s 8000 -M "do"
	check_iperf "MTU 9000, outer IPv4, inner v4, 1->2" 1 2 "${IN4[2]}"
	set_outer v6
	check_ping "ping 1->2 ${IN4[2]} (outer ::1, 8000 bytes, DF)" 1 "${IN4[2]}" -s 8000 -M "do"
	check_ping "ping 2->1 ${IN6[1]} (outer ::1, 8000 bytes, DF)" 2 "${IN6[1]}" -s 8000 -M "do"
	check_iperf "MTU 9000, outer IPv6, inner v6, 2->1 (-R)" 1 2 "${IN6[2]}" -R
}

# ---------------------------------------------------------------------------------------------
# d. roaming: each end in turn changes its listen port, then sends from ::1; the other follows

sc_d_roaming() {
	local k o np ep
	for k in 1 2; do
		o=$(other "$k")
		np=$((PORT[$k] + 100))
		check_ping "baseline ping $k->$o" "$k" "${IN4[$o]}"
		check "end $k: wg set listen-port $np" wgc "ns$k" set "${IFN[$k]}" listen-port "$np"
		check_eq "end $k: wg show listen-port" "$np" "$(wgc "ns$k" show "${IFN[$k]}" listen-port)"
		check_ping "end $k sends from its new port ($k->$o)" "$k" "${IN4[$o]}"
		ep=127.0.0.1:$np
		if wait_for 5 endpoint_is "$o" "$k" "$ep"; then pass "end $o: endpoint of end $k followed the port change to $ep"
		else fail "end $o: endpoint of end $k did not follow the port change" "expected $ep, got '$(peer_val "ns$o" endpoints "$(pub "e$k")")'"; fi
		check_ping "ping $o->$k after the port change" "$o" "${IN6[$k]}"

		check "end $k: wg set peer endpoint [::1]:${PORT[$o]}" wgc "ns$k" set "${IFN[$k]}" peer "$(pub "e$o")" endpoint "[::1]:${PORT[$o]}"
		check_ping "end $k sends over IPv6 ($k->$o)" "$k" "${IN6[$o]}"
		ep="[::1]:$np"
		if wait_for 5 endpoint_is "$o" "$k" "$ep"; then pass "end $o: endpoint of end $k followed to $ep"
		else fail "end $o: endpoint of end $k did not follow to IPv6" "expected $ep, got '$(peer_val "ns$o" endpoints "$(pub "e$k")")'"; fi
		check_ping "ping $o->$k after the move to ::1" "$o" "${IN4[$k]}"
		reset_ends
	done
}

# ---------------------------------------------------------------------------------------------
# e. crypto-routing source filter: end K sends from an inner address that end O does not allow
# for K. The packets go out (O's rx transfer grows: they reach O and decrypt) but never appear
# on O's interface.

wgrouter_drop() { # END REASON: the count `wgrouter show --json` lists for REASON (0 if none)
	nsx "ns$1" timeout 10 "$WGROUTER_BIN" show "${IFN[$1]}" --json 2>/dev/null |
		jq -r --arg r "$2" '.[0].drops[$r] // 0' 2>/dev/null || echo 0
}

sc_e_source_filter() {
	local k o s4 s6 rx0 rx1 cap d0 d1
	for k in 1 2; do
		o=$(other "$k")
		s4=192.0.2.$((100 + k)) s6=2001:db8::$((100 + k))
		check "end $k: add $s4/32 and $s6/128 to ${IFN[$k]} (outside end $o's AllowedIPs for it)" \
			addr_add "ns$k" "${IFN[$k]}" "$s4/32" "$s6/128"
		check_ping "control: ping $k->$o from the allowed source" "$k" "${IN4[$o]}"
		rx0=$(peer_val "ns$o" transfer "$(pub "e$k")" | cut -f1)
		[[ ${IMPL[$o]} == wgrouter ]] && d0=$(wgrouter_drop "$o" source_not_allowed)
		cap="$T_DIR/srcfilter-$k.txt"
		cap_start "ns$o" "${IFN[$o]}" 10 "$cap" "src host $s4 or src host $s6 or (icmp and src host ${IN4[$k]})" ||
			{ fail "tcpdump on end $o" "$(cat "$cap.err")"; continue; }
		check "ping -I $s4 ${IN4[$o]}: no reply" ping_none "ns$k" "${IN4[$o]}" -I "$s4"
		check "ping -I $s6 ${IN6[$o]}: no reply" ping_none "ns$k" "${IN6[$o]}" -I "$s6"
		# A marker from the allowed source: end O handles end K's packets in order, so once the
		# marker is in the capture so is any spoofed packet its interface let out.
		ping_ok "ns$k" "${IN4[$o]}" 1 5 >/dev/null
		wait_for 5 grep -q " IP ${IN4[$k]} > " "$cap" ||
			fail "the marker ping from ${IN4[$k]} did not show in end $o's capture within 5 s" "$(cat "$cap" "$cap.err")"
		stop_pid "$CAP_PID"
		rx1=$(peer_val "ns$o" transfer "$(pub "e$k")" | cut -f1)
		if ! grep -q -e " IP $s4 > " -e " IP6 $s6 > " "$cap"; then
			pass "end $o's interface saw no packet from $s4 / $s6 (tcpdump)"
		else
			fail "packets from a source outside AllowedIPs came out of end $o's interface" "$(grep -m5 -e " IP $s4 > " -e " IP6 $s6 > " "$cap")"
		fi
		# 6 echo requests of >= 84 bytes reached end O's socket and were decrypted there
		if [[ $rx0 =~ ^[0-9]+$ && $rx1 =~ ^[0-9]+$ ]] && ((rx1 - rx0 >= 6 * 84)); then
			pass "end $o: rx transfer from end $k grew by $((rx1 - rx0)) bytes (the spoofed packets did arrive encrypted; the receiver dropped them)"
		else
			fail "end $o: rx transfer from end $k did not grow by the spoofed packets" "before '$rx0' after '$rx1'"
		fi
		if [[ ${IMPL[$o]} == wgrouter ]]; then
			d1=$(wgrouter_drop "$o" source_not_allowed)
			if ((d1 - d0 >= 6)); then pass "end $o: wgrouter show source_not_allowed $d0 -> $d1"
			else fail "end $o: wgrouter show source_not_allowed did not count the 6 drops" "$d0 -> $d1" \
				"$(nsx "ns$o" timeout 10 "$WGROUTER_BIN" show "${IFN[$o]}" 2>&1 | head -n 40)"; fi
		fi
	done
}

# ---------------------------------------------------------------------------------------------
# f. private-key change: an immediate new handshake, traffic flows

sc_f_key_change() {
	local k o t0 out hs_o hs_k0 hs_k1 p_o ms
	for k in 1 2; do
		o=$(other "$k")
		p_o=$(pub "e$o")
		check_ping "baseline ping $k->$o" "$k" "${IN4[$o]}"
		hs_k0=$(peer_val "ns$k" latest-handshakes "$p_o")
		# latest-handshakes counts whole seconds: a new one shows only from the next second on
		[[ $hs_k0 =~ ^[0-9]+$ ]] && wait_for 3 eval "(( \$(date +%s) > $hs_k0 ))"
		gen_key "n$k"
		check "end $k: wg set private-key (new key)" wgc "ns$k" set "${IFN[$k]}" private-key "$T_DIR/n$k.key"
		check_eq "end $k: wg show public-key" "$(pub "n$k")" "$(wgc "ns$k" show "${IFN[$k]}" public-key)"
		check "end $o: swap peer to the new public key" wgc "ns$o" set "${IFN[$o]}" \
			peer "$(pub "e$k")" remove \
			peer "$(pub "n$k")" allowed-ips "${IN4[$k]}/32,${IN6[$k]}/128" endpoint "127.0.0.1:${PORT[$k]}"
		t0=$(now_us)
		out=$(nsx "ns$k" ping -n -c 1 -W 3 "${IN4[$o]}" 2>&1)
		ms=$((($(now_us) - t0) / 1000))
		if [[ $out == *" 0% packet loss"* ]]; then pass "first ping $k->$o after the key change answered in $ms ms"
		else fail "first ping $k->$o after the key change (ping -c1 -W3)" "$out" "$(log_tail "ns$k")"; fi
		# within 5 s of the change (the ping above took up to 3 s of them)
		if wait_for 2 eval "hs_o=\$(peer_val ns$o latest-handshakes $(pub "n$k")) && ((hs_o > 0))"; then
			pass "end $o: handshake with the new key at $(peer_val "ns$o" latest-handshakes "$(pub "n$k")") (within $(since_s "$t0") s)"
		else
			fail "end $o: no handshake with end $k's new key within $(since_s "$t0") s" "$(wgc "ns$o" show "${IFN[$o]}" dump 2>&1)"
		fi
		hs_k1=$(peer_val "ns$k" latest-handshakes "$p_o")
		if [[ $hs_k0 =~ ^[0-9]+$ && $hs_k1 =~ ^[0-9]+$ ]] && ((hs_k1 > hs_k0)); then
			pass "end $k: latest-handshake moved $hs_k0 -> $hs_k1"
		else
			fail "end $k: latest-handshake did not move after the key change" "before '$hs_k0' after '$hs_k1'"
		fi
		check_ping "ping $o->$k with the new key" "$o" "${IN6[$k]}"
		reset_ends
	done
}

# ---------------------------------------------------------------------------------------------
# g. moved back to ns0 and into nsK again; then deleted in nsK

# wg_show_any K: `wg show IF` answers, from nsK (userspace: the socket; kernel: where the link is)
wg_show_at() { nsx "$1" timeout "$T_WG_TIMEOUT" wg show "$2" >/dev/null 2>&1; }

sc_g_move_back() {
	local k o n ifc t0 p wgns moved
	for k in 1 2; do
		o=$(other "$k") n=ns$k ifc=${IFN[$k]}
		check_ping "baseline ping $k->$o" "$k" "${IN4[$o]}"
		moved=$(moves_logged "$n")
		check "move $ifc from $n back to ns0" ip -n "${NODE_NS[$n]}" link set "$ifc" netns "${NODE_NS[ns0]}"
		move_followed "$n" "$moved"
		wgns=$n; [[ ${IMPL[$k]} == kernel ]] && wgns=ns0
		check "$(node_desc "$n") in ns0: daemon alive ($(daemon_state "$n"))" eval "[[ -z \${NODE_DPID[$n]} ]] || pid_alive \${NODE_DPID[$n]}"
		check "in ns0: wg show $ifc answers (from $wgns)" wg_show_at "$wgns" "$ifc"
		moved=$(moves_logged "$n")
		check "move $ifc from ns0 into $n again" ip -n "${NODE_NS[ns0]}" link set "$ifc" netns "${NODE_NS[$n]}"
		move_followed "$n" "$moved"
		check "back in $n: addresses, MTU $BASE_MTU, up" inner_up "$k"
		check "back in $n: daemon alive ($(daemon_state "$n"))" eval "[[ -z \${NODE_DPID[$n]} ]] || pid_alive \${NODE_DPID[$n]}"
		check "back in $n: wg show $ifc answers" wg_show_at "$n" "$ifc"
		check_ping "traffic resumes: ping $k->$o" "$k" "${IN4[$o]}"
		check_ping "traffic resumes: ping $o->$k" "$o" "${IN6[$k]}"
	done
	for k in 1 2; do
		n=ns$k ifc=${IFN[$k]} p=${NODE_DPID[$n]:-}
		t0=$(now_us)
		check "ip -n $n link del $ifc" nsx "$n" ip link del "$ifc"
		if [[ -z $p ]]; then
			check "kernel $ifc gone" eval "! nsx $n ip link show $ifc"
			continue
		fi
		if wait_for 5 eval "! pid_alive $p"; then pass "$(node_desc "$n"): daemon exited $(since_s "$t0") s after the deletion"
		else fail "$(node_desc "$n"): daemon still running 5 s after its interface was deleted" "$(log_tail "$n")"; fi
		if wait_for 2 eval "[[ ! -e $WG_SOCK_DIR/$ifc.sock ]]"; then pass "no UAPI socket $WG_SOCK_DIR/$ifc.sock left"
		else fail "UAPI socket left behind" "$(ls -l "$WG_SOCK_DIR/$ifc.sock" 2>&1)"; fi
		[[ ${IMPL[$k]} == wgrouter ]] && info "last daemon log lines: $(tail -n 2 "${NODE_LOG[$n]}" | tr '\n' ' ')"
	done
	for k in 1 2; do end_restart "$k" || fail "end $k: could not bring it up again"; done
	check_ping "after re-creating both: ping 1->2" 1 "${IN4[2]}"
}

# ---------------------------------------------------------------------------------------------
# h. link down: nothing leaves an end's UDP port, not even a 1 s persistent keepalive; link up:
# the keepalive leaves at once (interval raised to 25 s while down, so a packet within 1 s of
# `up` can only be that immediate one). The ends that follow link state (wgrouter, kernel) are
# tested together: one capture on ns0's lo, packets told apart by source port.

# down_seen K: wait until end K has taken its link down. A wgrouter end counts the datagrams it
# gets while down (drop link_down): probe its port from ns0 until that counter moves (5 s). The
# kernel takes the link down with the command.
down_seen() {
	local k=$1 d0
	[[ ${IMPL[$k]} == wgrouter ]] || return 0
	d0=$(wgrouter_drop "$k" link_down)
	wait_for 5 eval "nsx ns0 bash -c 'echo probe >/dev/udp/127.0.0.1/${PORT[$k]}'; (( \$(wgrouter_drop $k link_down) > $d0 ))" && return 0
	fail "end $k: no link_down drop for probe datagrams within 5 s of 'down' (did wgrouter see the link go down?)" \
		"$(nsx "ns$k" timeout 10 "$WGROUTER_BIN" show "${IFN[$k]}" 2>&1 | grep -E '^  drops:')"
}

# first_from CAPFILE PORT T: epoch time of the first packet from PORT at or after epoch time T.
first_from() { awk -v p=".$2 >" -v t="$3" '$0 ~ /^[0-9]/ && index($0, p) && $1 >= t { print $1; exit }' "$1"; }
# count_before CAPFILE PORT T: packets from PORT before epoch time T.
count_before() { awk -v p=".$2 >" -v t="$3" '$0 ~ /^[0-9]/ && index($0, p) && $1 < t { c++ } END { print c + 0 }' "$1"; }
count_from() { awk -v p=".$2 >" '$0 ~ /^[0-9]/ && index($0, p) { c++ } END { print c + 0 }' "$1"; }

sc_h_link_down() {
	local k o n ifc cap filt="" c first dt
	local -a ends=()
	local -A t_up=()
	for k in 1 2; do
		if [[ ${IMPL[$k]} == wireguard-go ]]; then
			skip "end $k is wireguard-go: it does not follow the link state of a moved interface"
		else
			ends+=("$k") filt+="${filt:+ or }src port ${PORT[$k]}"
		fi
	done
	((${#ends[@]})) || return 0
	# Control, one end at a time (a received keepalive postpones the receiver's own, so two ends
	# with the same interval would hide each other): persistent keepalive 1 s sends.
	for k in "${ends[@]}"; do
		o=$(other "$k")
		check_ping "baseline ping $k->$o" "$k" "${IN4[$o]}"
		check "end $k: persistent-keepalive 1" wgc "ns$k" set "${IFN[$k]}" peer "$(pub "e$o")" persistent-keepalive 1
		cap="$T_DIR/linkdown-control-$k.txt"
		cap_start ns0 lo 2.2 "$cap" "udp and ($filt)" || { fail "tcpdump in ns0" "$(cat "$cap.err")"; return; }
		wait_for 4 eval "! pid_alive $CAP_PID"
		c=$(count_from "$cap" "${PORT[$k]}")
		if ((c >= 1)); then pass "end $k up: $c packets from port ${PORT[$k]} in 2.2 s (persistent keepalive 1 s; control)"
		else fail "end $k up: no packet from port ${PORT[$k]} in 2.2 s with persistent keepalive 1 s (control)" "$(cat "$cap")"; fi
		check "end $k: persistent-keepalive 0" wgc "ns$k" set "${IFN[$k]}" peer "$(pub "e$o")" persistent-keepalive 0
	done
	for k in "${ends[@]}"; do
		o=$(other "$k")
		check "end $k: persistent-keepalive 1" wgc "ns$k" set "${IFN[$k]}" peer "$(pub "e$o")" persistent-keepalive 1
	done

	for k in "${ends[@]}"; do
		check "ip -n ns$k link set ${IFN[$k]} down" nsx "ns$k" ip link set "${IFN[$k]}" down
	done
	for k in "${ends[@]}"; do down_seen "$k"; done
	cap="$T_DIR/linkdown-down.txt"
	cap_start ns0 lo 3 "$cap" "udp and ($filt)" || { fail "tcpdump in ns0" "$(cat "$cap.err")"; return; }
	wait_for 4 eval "! pid_alive $CAP_PID"
	for k in "${ends[@]}"; do
		c=$(count_from "$cap" "${PORT[$k]}")
		if ((c == 0)); then pass "end $k down: no packet from port ${PORT[$k]} in 3 s"
		else fail "end $k down: $c packets from port ${PORT[$k]} in 3 s" "$(grep -m5 "\.${PORT[$k]} >" "$cap")" "$(log_tail "ns$k" 5)"; fi
		check "end $k: daemon alive and answering while down ($(daemon_state "ns$k"))" daemon_ok "ns$k"
		o=$(other "$k")
		check "end $k: persistent-keepalive 25 while down" wgc "ns$k" set "${IFN[$k]}" peer "$(pub "e$o")" persistent-keepalive 25
	done

	cap="$T_DIR/linkdown-up.txt"
	cap_start ns0 lo 6 "$cap" "udp and ($filt)" || { fail "tcpdump in ns0" "$(cat "$cap.err")"; return; }
	for k in "${ends[@]}"; do
		t_up[$k]=$EPOCHREALTIME
		check "ip -n ns$k link set ${IFN[$k]} up" nsx "ns$k" ip link set "${IFN[$k]}" up
		# one end's first packet in the capture before the next end goes up (judged below)
		wait_for 2 eval '[[ -n $(first_from "$cap" "${PORT[$k]}" "${t_up[$k]}") ]]'
	done
	stop_pid "$CAP_PID"
	for k in "${ends[@]}"; do
		c=$(count_before "$cap" "${PORT[$k]}" "${t_up[$k]}")
		if ((c == 0)); then pass "end $k: nothing from port ${PORT[$k]} while down after setting persistent-keepalive 25"
		else fail "end $k: $c packets from port ${PORT[$k]} while still down" "$(cat "$cap")"; fi
		first=$(first_from "$cap" "${PORT[$k]}" "${t_up[$k]}")
		if [[ -z $first ]]; then
			fail "end $k up again: no packet from port ${PORT[$k]} after 'up' (persistent keepalive 25)" "$(cat "$cap")" "$(log_tail "ns$k" 5)"
			continue
		fi
		dt=$(awk -v a="${t_up[$k]}" -v b="$first" 'BEGIN { printf "%.3f", b - a }')
		if awk -v d="$dt" 'BEGIN { exit !(d >= 0 && d <= 1.0) }'; then
			pass "end $k up again: first packet from port ${PORT[$k]} ${dt} s after 'up' (at once)"
		else
			fail "end $k up again: first packet from port ${PORT[$k]} ${dt} s after 'up' (want 0..1 s)" "$(cat "$cap")"
		fi
	done
	for k in "${ends[@]}"; do inner_up "$k"; done # the IPv6 addresses went with the down
	for k in "${ends[@]}"; do
		o=$(other "$k")
		check_ping "after up: ping $k->$o" "$k" "${IN6[$o]}"
	done
}

# ---------------------------------------------------------------------------------------------
# i. ICMP errors for packets the interface cannot send: no peer, or a peer without endpoint

# unreach_ping NODE DST WANT: ping -c1 -W3; PASS if WANT appears in its output within 1 s.
unreach_ping() {
	local n=$1 dst=$2 want=$3 desc=$4 out t0 s
	t0=$(now_us)
	out=$(nsx "$n" ping -n -c 1 -W 3 "$dst" 2>&1)
	s=$(since_s "$t0")
	if [[ $out == *"$want"* ]] && awk -v s="$s" 'BEGIN { exit !(s <= 1.0) }'; then
		pass "$desc: '$want' in $s s: $(grep -m1 -- "$want" <<<"$out")"
	else
		fail "$desc: want '$want' within 1 s (took $s s)" "$out"
	fi
}

icmp_from() { # NODE LABEL END
	local n=$1 l=$2 k=$3
	unreach_ping "$n" 192.0.2.50 "Destination Host Unreachable" "$l: 192.0.2.50 (no peer)"
	unreach_ping "$n" 192.0.2.200 "Destination Host Unreachable" "$l: 192.0.2.200 (peer without endpoint)"
	unreach_ping "$n" 2001:db8::50 "Address unreachable" "$l: 2001:db8::50 (no peer)"
	unreach_ping "$n" 2001:db8::200 "Address unreachable" "$l: 2001:db8::200 (peer without endpoint)"
}

sc_i_icmp() {
	local k o n r ifc v out
	for k in 1 2; do
		o=$(other "$k") n=ns$k ifc=${IFN[$k]} r=r$k
		if [[ ${IMPL[$k]} == wireguard-go ]]; then
			skip "end $k is wireguard-go: it sends no ICMP errors for unroutable packets"
			continue
		fi
		gen_key "x$k"
		check "end $k: add a peer without endpoint for 192.0.2.200/32, 2001:db8::200/128" \
			wgc "$n" set "$ifc" peer "$(pub "x$k")" allowed-ips 192.0.2.200/32,2001:db8::200/128
		check_ping "control: ping $k->$o" "$k" "${IN4[$o]}"
		icmp_from "$n" "from $n itself" "$k"

		# a fourth namespace routed through nsK, masqueraded onto the WireGuard interface
		if [[ -z ${NODE_NS[$r]:-} ]]; then
			make_ns "$r" || continue
			veth_pair "$r" "${T_PREFIX}r$k" "$n" "${T_PREFIX}v$k" || continue
			addr_add "$r" "${T_PREFIX}r$k" 203.0.113.2/24 2001:db8:ff::2/64 &&
				addr_add "$n" "${T_PREFIX}v$k" 203.0.113.1/24 2001:db8:ff::1/64 &&
				nsx "$r" ip route add 192.0.2.0/24 via 203.0.113.1 &&
				nsx "$r" ip -6 route add 2001:db8::/64 via 2001:db8:ff::1 ||
				{ fail "routed namespace $r: addresses/routes"; continue; }
			nsx "$n" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
			out=$(nsx "$n" nft -f - 2>&1 <<-EOF
				table inet ${T_PREFIX}nat {
					chain post { type nat hook postrouting priority srcnat; oifname "$ifc" masquerade; }
				}
			EOF
			) || { fail "nft masquerade in $n" "$out"; continue; }
		fi
		check "control: ping $r -> ${IN4[$o]} through $n (masqueraded onto $ifc)" ping_ok "$r" "${IN4[$o]}" 3 10
		icmp_from "$r" "from $r via $n (NAT)" "$k"
		if [[ ${IMPL[$k]} == wgrouter ]]; then
			v=$(nsx "$n" timeout 10 "$WGROUTER_BIN" show "$ifc" 2>&1 | grep -E '^  (drops|router):' | sed 's/^ *//' | tr '\n' ';')
			info "end $k: wgrouter show: ${v:-no drop/router lines}"
		fi
	done
}

# ---------------------------------------------------------------------------------------------

usage() {
	echo "usage: $0 IMPL1 IMPL2 [WGROUTER_BIN]   (IMPL: wgrouter | wireguard-go | kernel)" >&2
	exit 2
}

main() {
	(($# >= 2)) || usage
	local i
	IMPL[1]=$1 IMPL[2]=$2
	[[ -n ${3:-} ]] && WGROUTER_BIN=$3
	for i in "$1" "$2"; do
		case $i in wgrouter | wireguard-go | kernel) ;; *) usage ;; esac
	done
	echo "== selftest-topo: end 1=$1 end 2=$2   prefix $T_PREFIX   logs $T_DIR${WGROUTER_OFFLOAD:+   WGROUTER_OFFLOAD=$WGROUTER_OFFLOAD}"
	require_root "network namespaces"
	require_tools ip wg ping iperf3 nft tcpdump jq ss timeout
	if [[ $1 == kernel || $2 == kernel ]]; then
		if have_kernel_wg; then echo "kernel WireGuard: available"
		else echo "kernel WireGuard: not available (ip link add type wireguard fails)"; echo "SKIP: $1 <-> $2 needs it"; exit "$SKIP_RC"; fi
	fi
	if [[ $1 == wgrouter || $2 == wgrouter ]]; then
		[[ -x $WGROUTER_BIN ]] || { echo "SKIP: wgrouter binary not found: $WGROUTER_BIN"; exit "$SKIP_RC"; }
		echo "wgrouter: $WGROUTER_BIN ($("$WGROUTER_BIN" --version 2>&1 | head -n1))"
	fi
	if [[ $1 == wireguard-go || $2 == wireguard-go ]]; then
		command -v "$WIREGUARD_GO" >/dev/null || { echo "SKIP: $WIREGUARD_GO not found"; exit "$SKIP_RC"; }
	fi
	start_watchdog "${T_WATCHDOG:-150}"

	T_TAG=setup
	IFN[1]=${T_PREFIX}1 IFN[2]=${T_PREFIX}2
	make_ns ns0 && make_ns ns1 && make_ns ns2 || { summary "selftest-topo $1 <-> $2"; exit 1; }
	gen_key e1 && gen_key e2 || { fail "wg genkey"; summary "selftest-topo"; exit 1; }
	write_conf 1 && write_conf 2
	end_up 1 && end_up 2 || { summary "selftest-topo $1 <-> $2"; exit 1; }
	run_scenarios reset_ends "${SCENARIOS[@]}"
	summary "selftest-topo end1=$1 end2=$2"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then main "$@"; exit $?; fi
