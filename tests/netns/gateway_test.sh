#!/usr/bin/env bash
# tests/netns/gateway_test.sh [WGROUTER_BIN]
#
# The ROUTE64 tunnel-broker gateway of seeds/000 end to end, on documentation addresses:
# a PoP (wireguard-go, or kernel WireGuard when available) routes 2001:db8:64:2000::/56 into a
# WireGuard tunnel to a gateway behind CGNAT; the gateway is one `wgrouter up gw0.conf` in an
# unprivileged user+net namespace, handing one public /128 each to a container-like namespace
# (veth port pub-ct0) and a VM-like namespace (TAP port pub-vm0, moved there after start).
# Topology: tests/netns/gateway_topo.sh. Needs root (to build the namespaces); wgrouter itself
# runs without any capability in the initial user namespace.
#
# Scenarios (each prints PASS/FAIL lines; drop counters are read with `wgrouter show --json`):
#   a handshake    over CGNAT; the PoP sees the CGNAT address as the gateway's endpoint
#   b egress       ct and vm reach inet; inet sees each instance's own /128
#   c inbound      ct's AllowInbound tcp/22,tcp/80: 22 and 80 open, 23 dropped (inbound_denied);
#                  vm has no AllowInbound: its tcp/23 is reachable
#   d replies      ct opens tcp/8080 to inet (not in its allow list): data both ways
#   e spoof        ct sends from a second /128 and from vm's address: nothing arrives at inet
#                  (nftables counters there), spoofed_source grows
#   f east_west    ct -> vm and vm -> ct dropped (east_west); ct -> gateway host (host_denied)
#   g unreachable  inet -> an unrouted address of the /56: Destination unreachable from the gateway
#   h pmtu         inet -> vm (port MTU 1280): Packet too big mtu=1280 from the gateway; then
#                  a 2 MB TCP transfer inet -> vm completes; vm -> inet over the tunnel's MTU:
#                  Packet too big mtu=1420
#   i ttl          hop limit expiring at the gateway: Time exceeded from its tunnel address
#   l iperf        iperf3 TCP 3 s ct -> inet and inet -> ct (Mbit/s as INFO)
#   m show         `wgrouter show` and `show --json` list both ports with counters
#   n reload       SIGHUP re-reads gw0.conf: ct's AllowInbound gains tcp/23 without a new
#                  handshake; a broken file changes nothing; the old file again closes it
#   o ipv4         (by reload) ct gets 198.51.100.2 on an IPv4 route of its port and AllowHost:
#                  the gateway's host pings it through its TUN (ARP resolved by wgrouter, the
#                  replies allowed to the host); without AllowHost ct's packets are host_denied
#   x reattach     ct's veth pair deleted and created again (same name, new ifindex): frames
#                  to ct meanwhile dropped (port_write_failed); wgrouter attaches the new one
#                  by itself, pings through the gateway work again, show says reattached 1
#   y remove       SIGHUP with pub-ct0 gone from the file: its route is gone (inet -> ct gets
#                  Destination unreachable from the gateway), show no longer lists it and
#                  counts ports_removed; SIGHUP with it back: traffic again
#   z interface    SIGHUP changing [Interface] Address (a second one added, then removed:
#                  `ip addr` in the gateway and the router's host addresses follow) and MTU
#                  (`ip link` shows it; a DF ping of the old size from ct earns Packet Too Big
#                  with the new MTU; a port without its own MTU follows the interface's)
#   v autoconf     (by reload) pub-vm0 gets RouterAdvertisements and DHCPv6 and the interface a
#                  DNS line; vm forgets its static address and route: rdisc6 sees fe80::1's RA
#                  (MTU 1280, M/O, RDNSS, DNSSL), then dhcpcd and ISC dhclient -6 (each in turn,
#                  in a private mount namespace so /etc stays untouched) get the /128, a default
#                  route via fe80::1 and the DNS server, and vm reaches inet; an RA sent by vm
#                  is not taken (not_for_us); vm is configured statically again afterwards
#   w tapgone      vm's eth0 (the TAP wgrouter made) deleted: logged once, frames to vm dropped
#                  (port_write_failed), wgrouter keeps running; SIGHUP without pub-vm0 and with
#                  it again makes a new TAP, handed to vm: traffic again
#   j rebind       the CGNAT changes its mapping (new port range, conntrack flushed): traffic
#                  recovers and the PoP follows the new port
#   k restart      SIGTERM: exit 0, TAP gone; start again, re-attach the vm: traffic again
# (run in this order: m before the restart, so it shows the counters of the whole run)
#
# Environment: WGROUTER_BIN (or $1), ONLY="b c ..." / SKIP="j ..." (letters or names), KEEP_LOGS=1,
# T_WATCHDOG (whole-run bound, default 170 s), GW_PORTS=0 (no [Port] sections: topology,
# CGNAT and handshake only; the port scenarios are skipped).
# Exit: 0 passed, 1 failed, 77 cannot run here (not root, no /dev/net/tun, no user namespaces).

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=gateway_topo.sh
source "$HERE/gateway_topo.sh"

ORDER=(a:handshake b:egress c:inbound d:replies e:spoof f:east_west g:unreachable h:pmtu
	i:ttl l:iperf m:show n:reload o:ipv4 x:reattach y:remove z:interface v:autoconf w:tapgone j:rebind k:restart)
NEEDS_PORTS="b c d e f g h i l m n o x y z v w"

# drop_of NAME [PORT]: the interface's (or PORT's) drop counter NAME.
drop_of() { if [[ -n ${2:-} ]]; then gw_port_drop "$2" "$1"; else gw_drop "$1"; fi; }
# grew DESC NAME BEFORE [PORT]: PASS when counter NAME went above BEFORE (waits up to 3 s).
grew() {
	local desc=$1 k=$2 before=$3 port=${4:-} now=""
	wait_for 3 eval "now=\$(drop_of $k $port) && [[ \$now =~ ^[0-9]+\$ ]] && ((now > $before))"
	now=$(drop_of "$k" "$port")
	if [[ $now =~ ^[0-9]+$ ]] && ((now > before)); then
		pass "$desc: ${port:+$port }$k $before -> $now"
	else
		fail "$desc: ${port:+$port }drop counter $k did not grow (before $before, now '$now')" \
			"interface drops: $(gw_json | jq -c '.[0].drops' 2>&1)" \
			"ports: $(gw_json | jq -c '[.[0].ports[]? | {name, drops}]' 2>&1)"
	fi
}
# ping_text NODE ARGS...: ping's output (bounded by the caller's -w / -c).
ping_text() { local n=$1; shift; nsx "$n" timeout 15 ping -n "$@" 2>&1; }
# nft_count NODE FAMILY TABLE COUNTER: packets of a named nftables counter.
nft_count() {
	nsx "$1" nft list counter "$2" "$3" "$4" 2>/dev/null | awk '$1 == "packets" { print $2; f = 1 } END { if (!f) print -1 }'
}
gw_diag() {
	echo "wgrouter stderr (last lines):"; tail -n 12 "$GW_LOG"
	echo "gw links:"; nsx gw ip -br link 2>&1
}

# ---------------------------------------------------------------------------------------------

sc_a_handshake() {
	local ep t0
	t0=$(now_us)
	if pop_handshake_wait 10; then
		pass "handshake: the PoP has a handshake with the gateway ($(since_s "$t0") s after start; the gateway initiated through the CGNAT)"
	else
		fail "no handshake at the PoP within 10 s" "$(wgc pop show "$POP_WG" 2>&1)" "$(gw_diag)"
		return
	fi
	ep=$(peer_val pop endpoints "$(pub gw)")
	check_match "PoP: gateway's endpoint is the CGNAT's public address" "^${CGNAT_POP4//./\\.}:[0-9]+$" "$ep"
	check_eq "gateway (stock wg show against wgrouter's UAPI): PoP endpoint" "$POP4:$POP_PORT" \
		"$(wgc gw show "$GW_IF" endpoints | cut -f2)"
	check_eq "gateway: Table = auto installed AllowedIPs routes on $GW_IF" "8000::/1 ::/1" \
		"$(nsx gw ip -6 route show dev "$GW_IF" | awk '$1 ~ /\/1$/ { print $1 }' | words_sorted)"
	check "gateway's own traffic: ping inet $INET6 from $TUN6_GW" ping_ok gw "$INET6" 2 10
}

sc_b_egress() {
	local n a out
	for n in ct vm; do
		if [[ $n == ct ]]; then a=$CT6; else a=$VM6; fi
		check "$n -> inet: ping $INET6" ping_ok "$n" "$INET6" 3 10
		out=$(tcp_connect "$n" "$INET6" 8080 64)
		if [[ $out == *"peer=$a "* && $out == *"echo=ok"* ]]; then
			pass "$n -> inet tcp/8080: inet sees the instance's own /128 ($out)"
		else
			fail "$n -> inet tcp/8080: inet must see $a" "client: $out" "$(tail -n 3 "$T_DIR/tcp-serve-inet.log")" "$(gw_diag)"
		fi
	done
}

sc_c_inbound() {
	local p out rc before
	check "inet -> ct: ping $CT6 (echo passes whatever AllowInbound says)" ping_ok inet "$CT6" 3 10
	for p in 22 80; do
		out=$(tcp_connect inet "$CT6" "$p" 64)
		if [[ $out == *"peer=$INET6 port=$p "*"echo=ok"* ]]; then pass "inet -> ct tcp/$p (allowed): $out"
		else fail "inet -> ct tcp/$p (in AllowInbound) must connect" "$out" "$(gw_diag)"; fi
	done
	before=$(gw_drop inbound_denied)
	out=$(tcp_connect inet "$CT6" 23 64 3); rc=$?
	if ((rc == 3)); then pass "inet -> ct tcp/23 (not allowed, server listening): dropped, $out"
	else fail "inet -> ct tcp/23 must time out (dropped by the gateway)" "exit $rc: $out"; fi
	grew "inbound tcp/23 to ct" inbound_denied "$before"
	out=$(tcp_connect inet "$VM6" 23 64)
	if [[ $out == *"peer=$INET6 port=23 "*"echo=ok"* ]]; then pass "inet -> vm tcp/23 (vm has no AllowInbound): $out"
	else fail "inet -> vm tcp/23 must connect (no AllowInbound on pub-vm0)" "$out" "$(gw_diag)"; fi
}

sc_d_replies() {
	local out before
	before=$(gw_drop inbound_denied)
	out=$(tcp_connect ct "$INET6" 8080 262144)
	if [[ $out == *"peer=$CT6 port=8080 bytes=262144 echo=ok"* ]]; then
		pass "ct -> inet tcp/8080 (not in ct's AllowInbound): 256 KiB out and 256 KiB of replies back ($out)"
	else
		fail "ct -> inet tcp/8080: replies to a flow ct opened must come back" "$out" "$(gw_diag)"
	fi
	check_eq "inbound_denied unchanged by the replies" "$before" "$(gw_drop inbound_denied)"
}

sc_e_spoof() {
	local before s ok99 okvm okct out rc
	local t=${T_PREFIX}spy s99=2001:db8:64:2001::99
	out=$(nsx inet nft -f - 2>&1 <<-EOF
		table ip6 $t {
		  counter from_ct {}
		  counter from_ct99 {}
		  counter from_vm {}
		  chain pre {
		    type filter hook prerouting priority -300; policy accept;
		    ip6 saddr $CT6 counter name "from_ct"
		    ip6 saddr $s99 counter name "from_ct99"
		    ip6 saddr $VM6 counter name "from_vm"
		  }
		}
	EOF
	) || { fail "inet: nftables counters" "$out"; return; }
	addr_add ct eth0 "$s99/128" "$VM6/128" || { fail "ct: add spoofed addresses"; return; }
	before=$(gw_drop spoofed_source)
	s=$(gw_port_drop pub-ct0 spoofed_source)
	ok99=$(nft_count inet ip6 "$t" from_ct99) okvm=$(nft_count inet ip6 "$t" from_vm)
	check "ct -> inet from $s99 (not ct's): no reply" ping_none ct "$INET6" -I "$s99"
	check "ct -> inet from vm's address $VM6: no reply" ping_none ct "$INET6" -I "$VM6"
	out=$(nsx ct timeout 5 "$PY" -c '
import socket, sys
for src in sys.argv[2:]:
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.bind((src, 0))
    for _ in range(3):
        s.sendto(b"spoof", (sys.argv[1], 9))
' "$INET6" "$s99" "$VM6" 2>&1); rc=$?
	((rc == 0)) || fail "ct: python UDP from the spoofed sources" "$out"
	okct=$(nft_count inet ip6 "$t" from_ct)
	check "control: ct -> inet from its own $CT6 still works" ping_ok ct "$INET6" 2 10 -I "$CT6"
	check "control: inet's counter for $CT6 counts ($okct -> $(nft_count inet ip6 "$t" from_ct))" \
		eval "(( \$(nft_count inet ip6 $t from_ct) > $okct ))"
	check_eq "inet: packets from $s99 that arrived (ping + UDP)" "$ok99" "$(nft_count inet ip6 "$t" from_ct99)"
	check_eq "inet: packets from vm's $VM6 sent by ct that arrived" "$okvm" "$(nft_count inet ip6 "$t" from_vm)"
	grew "spoofed sources from ct" spoofed_source "$before"
	grew "spoofed sources from ct (per port)" spoofed_source "$s" pub-ct0
	nsx ct ip -6 addr del "$s99/128" dev eth0
	nsx ct ip -6 addr del "$VM6/128" dev eth0
	nsx inet nft delete table ip6 "$t"
}

sc_f_east_west() {
	local before
	before=$(gw_drop east_west)
	check "ct -> vm $VM6: no east-west path" ping_none ct "$VM6"
	grew "ct -> vm" east_west "$before"
	before=$(gw_drop east_west)
	check "vm -> ct $CT6: no east-west path" ping_none vm "$CT6"
	grew "vm -> ct" east_west "$before"
	before=$(gw_drop host_denied)
	check "ct -> the gateway's own tunnel address $TUN6_GW: refused" ping_none ct "$TUN6_GW"
	grew "ct -> gateway host" host_denied "$before"
	check "ct -> its router fe80::1 on the port answers" ping_ok ct fe80::1%eth0 2 10
	check "ct -> the PoP's tunnel address $TUN6_POP (beyond the gateway)" ping_ok ct "$TUN6_POP" 2 10
}

sc_g_unreachable() {
	local before out
	before=$(gw_drop unreachable)
	out=$(ping_text inet -c 1 -w 3 "$UNREACH6")
	if [[ $out == *"From $TUN6_GW "*"Destination unreachable"* ]]; then
		pass "inet -> $UNREACH6 (in Unreachable $ROUTED6, no port): $(grep -m1 'From' <<<"$out")"
	else
		fail "inet -> $UNREACH6: expected Destination unreachable from $TUN6_GW" "$out" "$(gw_diag)"
	fi
	grew "unreachable answered" unreachable "$before"
}

sc_h_pmtu() {
	local before out rt
	before=$(gw_drop too_big)
	# 1348-byte packets: fit the PoP's tunnel (1420), not the vm's port (1280)
	out=$(ping_text inet -c 1 -w 3 -M do -s 1300 "$VM6")
	if [[ $out == *"From $TUN6_GW "*"Packet too big"*"mtu=1280"* ]]; then
		pass "inet -> vm, 1348 bytes, DF: $(grep -m1 'From' <<<"$out")"
	else
		fail "inet -> vm 1348 bytes: expected Packet too big mtu=1280 from $TUN6_GW" "$out" "$(gw_diag)"
	fi
	grew "oversized for pub-vm0" too_big "$before"
	rt=$(nsx inet ip -6 route get "$VM6" 2>&1)
	info "inet's route to vm after the PTB: $rt"
	# forget the learned PMTU so the TCP transfer has to discover it again
	nsx inet ip -6 route flush cache >/dev/null 2>&1
	info "after ip -6 route flush cache: $(nsx inet ip -6 route get "$VM6" 2>&1)"
	before=$(gw_drop too_big)
	out=$(tcp_connect inet "$VM6" 23 2097152)
	if [[ $out == *"bytes=2097152 echo=ok"* ]]; then
		pass "inet -> vm: 2 MiB over TCP (MSS from vm's 1420 MTU, port MTU 1280) and echoed back: $out"
	else
		fail "inet -> vm 2 MiB TCP transfer (PMTU discovery through the gateway)" "$out" "$(gw_diag)"
	fi
	info "too_big $before -> $(gw_drop too_big) during the transfer; inet's route: $(nsx inet ip -6 route get "$VM6" 2>&1)"
	# an instance sending more than the tunnel's MTU (vm's eth0 raised to 1500 for this): the
	# gateway answers Packet Too Big with the tunnel's 1420
	if nsx vm ip link set eth0 mtu 1500; then
		before=$(gw_drop too_big)
		out=$(ping_text vm -c 1 -w 3 -M do -s 1452 "$INET6")
		nsx vm ip link set eth0 mtu 1420
		if [[ $out == *"From $TUN6_GW "*"Packet too big"*"mtu=1420"* ]]; then
			pass "vm (eth0 MTU 1500) -> inet, 1500 bytes, DF: $(grep -m1 'From' <<<"$out")"
		else
			fail "vm -> inet 1500 bytes: expected Packet too big mtu=1420 (the tunnel) from $TUN6_GW" "$out" "$(gw_diag)"
		fi
		grew "oversized for the tunnel" too_big "$before"
	else
		fail "vm: raise eth0's MTU to 1500"
	fi
}

sc_i_ttl() {
	local before out
	before=$(gw_drop ttl_exceeded)
	# hop limit 2: the PoP forwards it with 1, the gateway would forward it with 0
	out=$(ping_text inet -c 1 -w 3 -t 2 "$CT6")
	if [[ $out == *"From $TUN6_GW "*"Time exceeded"* ]]; then
		pass "inet -> ct with hop limit 2: $(grep -m1 'From' <<<"$out")"
	else
		fail "inet -> ct hop limit 2: expected Time exceeded from $TUN6_GW" "$out" "$(gw_diag)"
	fi
	grew "hop limit expired at the gateway" ttl_exceeded "$before"
	check "inet -> ct with hop limit 3 arrives (the gateway takes exactly one hop)" ping_ok inet "$CT6" 1 5 -t 3
}

sc_l_iperf() {
	local out
	if out=$(iperf_tcp ct inet "$INET6"); then
		info "iperf3 TCP 3 s ct -> inet through the gateway: $out Mbit/s"
		pass "iperf3 ct -> inet"
	else
		fail "iperf3 TCP ct -> inet" "$out" "$(gw_diag)"
	fi
	if out=$(iperf_tcp ct inet "$INET6" -R); then
		info "iperf3 TCP 3 s inet -> ct through the gateway: $out Mbit/s"
		pass "iperf3 inet -> ct (-R, flows opened by ct)"
	else
		fail "iperf3 TCP inet -> ct (-R)" "$out" "$(gw_diag)"
	fi
	# Byte for byte through both port kinds, both ways (split, joined and checksummed on the
	# way when offloads are on); inet -> ct on a connection ct opens (AllowInbound).
	local dig spec from to addr mode
	for spec in "ct inet $INET6 push" "inet ct $INET6 pull" "vm inet $INET6 push" "inet vm $VM6 push"; do
		read -r from to addr mode <<<"$spec"
		if dig=$(tcp_integrity "$from" "$to" "$addr" 8 "" "$mode"); then pass "8 MiB $from -> $to arrived intact (sha256 ${dig:0:16}…)"
		else fail "8 MiB $from -> $to intact" "$dig" "$(gw_diag)"; fi
	done
}

sc_m_show() {
	local text json l
	# some traffic through both ports first, so that this scenario also stands on its own
	ping_ok ct "$INET6" 1 5 >/dev/null 2>&1
	ping_ok vm "$INET6" 1 5 >/dev/null 2>&1
	text=$(nsx gw timeout 10 "$WGROUTER_BIN" show "$GW_IF" 2>&1) || { fail "wgrouter show $GW_IF" "$text"; return; }
	info "wgrouter show $GW_IF:"
	sed 's/^/      | /' <<<"$text"
	json=$(gw_json 2>&1) || { fail "wgrouter show $GW_IF --json" "$json"; return; }
	info "wgrouter show --json, interface drops (non-zero): $(jq -c '.[0].drops | with_entries(select(.value > 0))' <<<"$json")"
	while IFS= read -r l; do info "port: $l"; done < <(jq -c '.[0].ports[]?' <<<"$json")
	for l in pub-ct0 pub-vm0; do
		if grep -q "$l" <<<"$text"; then pass "show (text) lists port $l"; else fail "show (text) does not list port $l"; fi
	done
	if jq -e --arg ct "$CT6" --arg vm "$VM6" 2>/dev/null '
		.[0].ports as $p
		| ($p | map(select(.name == "pub-ct0" and .mode == "veth" and (.routes | index($ct + "/128")))) | length) == 1
		and ($p | map(select(.name == "pub-vm0" and .mode == "tap" and (.routes | index($vm + "/128")))) | length) == 1
		and all($p[]; .rx_packets > 0 and .tx_packets > 0 and .rx_bytes > 0 and .tx_bytes > 0
		             and (.neighbours | length) > 0 and (.drops | type) == "object")' <<<"$json" >/dev/null; then
		pass "show --json: pub-ct0 veth and pub-vm0 tap with their routes, neighbours, rx/tx packets and bytes, per-port drops"
	else
		fail "show --json: ports incomplete" "$(jq -c '.[0].ports' <<<"$json" 2>&1)"
	fi
}

sc_j_rebind() {
	local ep0 ep out t0 probe=ct
	[[ ${GW_PORTS:-1} == 0 ]] && probe=gw  # the gateway's own traffic then
	if ! command -v conntrack >/dev/null; then skip "conntrack (package conntrack) not installed"; return; fi
	ep0=$(peer_val pop endpoints "$(pub gw)")
	out=$(cgnat_rules "$NAT_RANGE" 2>&1) || { fail "cgnat: masquerade to :$NAT_RANGE" "$out"; return; }
	out=$(nsx cgnat conntrack -F 2>&1) || { fail "cgnat: conntrack -F" "$out"; return; }
	info "CGNAT: UDP now masqueraded to ports $NAT_RANGE, conntrack flushed (PoP had $ep0)"
	t0=$(now_us)
	if wait_for 20 ping_ok "$probe" "$INET6" 1 2; then
		pass "$probe -> inet recovered $(since_s "$t0") s after the CGNAT rebinding"
	else
		fail "$probe -> inet did not recover within 20 s after the CGNAT rebinding" "$(wgc pop show "$POP_WG" 2>&1)" "$(gw_diag)"
	fi
	ep=$(peer_val pop endpoints "$(pub gw)")
	if [[ $ep =~ ^${CGNAT_POP4//./\\.}:(4[0-9]{4})$ ]] && ((BASH_REMATCH[1] >= 40000 && BASH_REMATCH[1] <= 40100)); then
		pass "PoP follows the new mapping: endpoint $ep0 -> $ep"
	else
		fail "PoP's endpoint for the gateway must be $CGNAT_POP4:40000-40100" "now: $ep (before $ep0)"
	fi
	[[ $probe == ct ]] && check "vm -> inet after the rebinding" ping_ok vm "$INET6" 2 10
}

# reload_gw MARK: SIGHUP to wgrouter, then wait until its log says MARK (bounded).
reload_gw() {
	local before
	before=$(grep -c "$1" "$GW_LOG")
	kill -HUP "$GW_DPID" 2>/dev/null
	wait_for 5 eval "(( \$(grep -c '$1' '$GW_LOG') > $before ))"
}

sc_n_reload() {
	local hs0 hs1 orig=$T_DIR/gw0.conf.orig out
	hs0=$(peer_val pop latest-handshakes "$(pub gw)")
	cp "$GW_CONF" "$orig"
	sed -i 's|^AllowInbound = tcp/22, tcp/80$|AllowInbound = tcp/22, tcp/80, tcp/23|' "$GW_CONF"
	check "SIGHUP: wgrouter reloads gw0.conf" reload_gw "reloaded"
	out=$(tcp_connect inet "$CT6" 23 64 3)
	if grep -q echo=ok <<<"$out"; then pass "after the reload inet -> ct tcp/23 is allowed: $out"; else fail "tcp/23 still closed after the reload" "$out"; fi
	check "wgrouter still running after the reload" pid_alive "$GW_DPID"
	hs1=$(peer_val pop latest-handshakes "$(pub gw)")
	check_eq "the tunnel session survived the reload (PoP's latest handshake unchanged)" "$hs0" "$hs1"
	echo "Garbage = here" >>"$GW_CONF"
	check "a broken file: reload refused, nothing changed" reload_gw "nothing changed"
	check "ct -> inet still works" ping_ok ct "$INET6" 1 5
	out=$(tcp_connect inet "$CT6" 23 64 3)
	if grep -q echo=ok <<<"$out"; then pass "tcp/23 still allowed (the broken file was not applied)"; else fail "tcp/23 closed by a broken file" "$out"; fi
	cp "$orig" "$GW_CONF"
	check "the original file again" reload_gw "reloaded"
	out=$(tcp_connect inet "$CT6" 23 64 3)
	if grep -q echo=ok <<<"$out"; then fail "tcp/23 still open after restoring the file" "$out"; else pass "tcp/23 denied again"; fi
}

# vm_static: vm's eth0 as vm_attach leaves it (its /128, default via fe80::1), nothing learned.
vm_static() {
	nsx vm ip -6 addr flush dev eth0 scope global 2>/dev/null
	nsx vm ip -6 route flush dev eth0 proto ra 2>/dev/null
	while nsx vm ip -6 route del default dev eth0 2>/dev/null; do :; done
	[[ ${1:-} == bare ]] && return 0
	addr_add vm eth0 "$VM6/128" && nsx vm ip -6 route add default via fe80::1 dev eth0
}
# vm_ll_ready: vm's eth0 has a usable (not tentative) link-local address again (after the link
# went down, or a DHCPv6 client took it away on exit).
vm_ll_ready() {
	wait_for 10 eval "nsx vm ip -6 addr show dev eth0 scope link | grep -q 'inet6 fe80::' &&
		! nsx vm ip -6 addr show dev eth0 scope link | grep -q tentative"
}
# vm_client_ok NAME: after a DHCPv6 client ran in vm: the /128, the default route, DNS, inet.
vm_client_ok() {
	local name=$1 resolv=$2
	if wait_for 20 eval "nsx vm ip -6 addr show dev eth0 scope global | grep -q '$VM6/128'"; then
		pass "$name: vm got $VM6/128 by DHCPv6"
	else
		fail "$name: vm has no $VM6/128" "$(nsx vm ip -6 addr show dev eth0 2>&1)" "$(tail -n 20 "$T_DIR/$name.log" 2>&1)"
	fi
	if wait_for 20 eval "nsx vm ip -6 route show default | grep -q 'via fe80::1 dev eth0'"; then
		pass "$name: default route via fe80::1 ($(nsx vm ip -6 route show default | head -n 1))"
	else
		fail "$name: no default route via fe80::1" "$(nsx vm ip -6 route 2>&1)"
	fi
	if wait_for 10 grep -q "nameserver 2001:db8:53::53" "$resolv"; then
		pass "$name: resolv.conf has the DNS server ($(tr '\n' ' ' <"$resolv"))"
	else
		fail "$name: no nameserver 2001:db8:53::53 in its resolv.conf" "$(cat "$resolv" 2>&1)" "$(tail -n 20 "$T_DIR/$name.log" 2>&1)"
	fi
	check "$name: vm reaches inet from its DHCPv6 address" ping_ok vm "$INET6" 2 10
}

sc_v_autoconf() {
	local orig=$T_DIR/gw0.conf.noauto out bad_before resolv pid rs_n ra_n dr_n ds_n
	cp "$GW_CONF" "$orig"
	sed -i '0,/^MTU = 1420$/s||MTU = 1420\nDNS = 2001:db8:53::53, example.net|' "$GW_CONF"  # [Interface] only
	sed -i 's|^MTU = 1280$|MTU = 1280\nRouterAdvertisements = true\nDHCPv6 = true|' "$GW_CONF"
	check "SIGHUP: RouterAdvertisements and DHCPv6 on pub-vm0" reload_gw "reloaded"
	vm_static bare
	out=$(nsx vm timeout 10 rdisc6 -1 -w 3000 eth0 2>&1)
	if grep -q "from fe80::1" <<<"$out" && grep -Eq "MTU +: +1280" <<<"$out" &&
		grep -Eq "Stateful address conf\. +: +Yes" <<<"$out" && grep -Eq "Router lifetime +: +1800" <<<"$out" &&
		grep -Eq "Recursive DNS server +: +2001:db8:53::53" <<<"$out" && grep -Eq "DNS search list +: +example\.net" <<<"$out"; then
		pass "rdisc6: fe80::1 advertises itself (lifetime 1800 s), MTU 1280, M flag, RDNSS and DNSSL"
	else
		fail "rdisc6: the RA from fe80::1 lacks something" "$out"
	fi

	# dhcpcd: addresses and routes for real, its state and resolv.conf on tmpfs / a file of ours
	# (gateway_topo.sh); stopped before the next client (port 546 free, link-local back).
	resolv=$T_DIR/dhcpcd-resolv.conf
	vm_dhcpcd_start "$resolv"
	vm_client_ok dhcpcd "$resolv"
	vm_dhcpcd_stop
	vm_static bare

	# ISC dhclient -6 with Debian's dhclient-script; the default route comes from the kernel
	# taking the RA (accept_ra on for this), which answers its Router Solicitation.
	resolv=$T_DIR/dhclient-resolv.conf
	: >"$resolv"
	nsx vm sysctl -qw net.ipv6.conf.eth0.accept_ra=1
	nsx vm ip link set eth0 down && nsx vm ip link set eth0 up
	check "vm's link-local address is back for dhclient" vm_ll_ready
	nsx vm unshare -m --propagation private sh -c '
		mount --bind "$1" /etc/resolv.conf && exec timeout 60 dhclient -6 -d -v -lf "$2/dhclient6.leases" -pf "$2/dhclient6.pid" eth0' \
		sh "$resolv" "$T_DIR" >"$T_DIR/dhclient.log" 2>&1 &
	pid=$!
	vm_client_ok dhclient "$resolv"
	kill "$pid" 2>/dev/null
	pkill -TERM -f "dhclient6.pid" 2>/dev/null
	wait_for 10 eval "! pgrep -f dhclient6.pid >/dev/null" || pkill -KILL -f dhclient6.pid
	nsx vm sysctl -qw net.ipv6.conf.eth0.accept_ra=0
	nsx vm ip link set eth0 down && nsx vm ip link set eth0 up
	check "vm's link-local address is back" vm_ll_ready

	out=$(gw_json | jq -r '.[0].ports[] | select(.name == "pub-vm0") | "\(.rs_received) \(.ra_sent) \(.dhcpv6_received) \(.dhcpv6_sent)"')
	read -r rs_n ra_n dr_n ds_n <<<"$out"
	if ((rs_n >= 1 && ra_n >= 2 && dr_n >= 4 && ds_n >= 4)); then
		pass "show --json counts them on pub-vm0: $rs_n RS received, $ra_n RA sent, DHCPv6 $dr_n received / $ds_n sent"
	else
		fail "show --json autoconf counters on pub-vm0 (want RS >= 1, RA >= 2, DHCPv6 >= 4 each way)" "$out"
	fi
	# A rogue RA from the instance: refused and counted, the gateway's own RAs unchanged.
	bad_before=$(drop_of not_for_us pub-vm0)
	nsx vm python3 - <<-'PY' 2>&1 || true
		import socket
		s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
		s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
		ra = bytes([134, 0, 0, 0, 64, 0, 0x07, 0x08]) + bytes(8)
		s.sendto(ra, ("ff02::1", 0, 0, socket.if_nametoindex("eth0")))
	PY
	grew "an RA from vm is not taken" not_for_us "$bad_before" pub-vm0

	cp "$orig" "$GW_CONF"
	check "the file without autoconfiguration again" reload_gw "reloaded"
	vm_static
	check "vm statically configured again reaches inet" ping_ok vm "$INET6" 2 10
}

sc_o_ipv4() {
	local orig=$T_DIR/gw0.conf.v6 before
	cp "$GW_CONF" "$orig"
	# ct's port gains an IPv4 address and route, and may talk to the gateway's host.
	sed -i 's|^Route = '"$CT6"'/128$|Route = '"$CT6"'/128, 198.51.100.2/32\nAddress = 198.51.100.1/24\nAllowHost = true|' "$GW_CONF"
	check "SIGHUP: IPv4 route and AllowHost on pub-ct0" reload_gw "reloaded"
	nsx ct ip addr add 198.51.100.2/24 dev eth0 2>/dev/null
	nsx ct ip route replace default via 198.51.100.1 dev eth0
	nsx gw ip route replace 198.51.100.2/32 dev "$GW_IF"
	check "gateway host -> ct over IPv4 (ARP by wgrouter, reply to the host allowed)" ping_ok gw 198.51.100.2 2 5
	check "ct -> its router 198.51.100.1 (wgrouter answers ARP and ping)" ping_ok ct 198.51.100.1 1 5
	if jq -e '.[0].ports[] | select(.name == "pub-ct0") | .neighbours | map(.address) | index("198.51.100.2")' \
		<<<"$(gw_json)" >/dev/null 2>&1; then
		pass "show: ct's IPv4 address resolved as a neighbour"
	else
		fail "show: no IPv4 neighbour on pub-ct0" "$(gw_json | jq -c '.[0].ports[0].neighbours' 2>&1)"
	fi
	# Without AllowHost ct's replies to the host (192.0.2.2, its uplink) have no route.
	sed -i '/^AllowHost = true$/d' "$GW_CONF"
	check "SIGHUP: AllowHost removed" reload_gw "reloaded"
	before=$(gw_drop no_route)
	check "without AllowHost the host gets no reply from ct" ping_none gw 198.51.100.2
	grew "ct's replies to the host" no_route "$before"
	cp "$orig" "$GW_CONF"
	check "SIGHUP: back to the IPv6-only file" reload_gw "reloaded"
	nsx gw ip route del 198.51.100.2/32 dev "$GW_IF" 2>/dev/null
	nsx ct ip route del default via 198.51.100.1 dev eth0 2>/dev/null
	nsx ct ip addr del 198.51.100.2/24 dev eth0 2>/dev/null
}

# has DESC REGEX TEXT: PASS with the first matching line of TEXT.
has() {
	local l
	if l=$(grep -m1 -E -- "$2" <<<"$3"); then pass "$1: '${l#"${l%%[![:space:]]*}"}'"; return 0; fi
	fail "$1" "expected a line matching /$2/ in:" "$3"
}

# port_json NAME: the port's object in `show --json` (empty when it is not listed).
port_json() { gw_json | jq -c --arg p "$1" '(.[0].ports // [])[] | select(.name == $p)'; }

# ct_link: ct's side of a fresh pub-ct0 pair, as topo_build sets it up.
ct_link() {
	nsx ct ip link set eth0 mtu 1420 up && addr_add ct eth0 "$CT6/128" &&
		nsx ct ip -6 route add default via fe80::1 dev eth0
}

sc_x_reattach() {
	local idx0 idx1 before t0 j out
	idx0=$(nsx gw cat /sys/class/net/pub-ct0/ifindex)
	check "before: ct -> inet" ping_ok ct "$INET6" 1 5
	# deleting ct's end takes the pair with it, as when a container goes away
	nsx ct ip link del eth0 || { fail "ct: ip link del eth0"; return; }
	check "pub-ct0 gone from the gateway" wait_for 3 eval "! nsx gw ip link show pub-ct0 >/dev/null 2>&1"
	check "wgrouter noticed (log)" wait_for 3 eval "grep -q 'port pub-ct0: interface deleted' '$GW_LOG'"
	check_eq "show --json: pub-ct0 attached while its interface is gone" false "$(port_json pub-ct0 | jq -r .attached)"
	before=$(gw_port_drop pub-ct0 port_write_failed)
	check "inet -> ct while the veth is gone: no reply" ping_none inet "$CT6"
	grew "frames to the gone veth" port_write_failed "$before" pub-ct0
	# the same pair again: a new ifindex under the old name, ct configured as before
	t0=$(now_us)
	out=$(ip link add pub-ct0 netns "$(ns_ref gw)" type veth peer name eth0 netns "$(ns_ref ct)" 2>&1) &&
		out=$(ct_link 2>&1) || { fail "veth pub-ct0 <-> eth0 again" "$out"; return; }
	idx1=$(nsx gw cat /sys/class/net/pub-ct0/ifindex)
	info "pub-ct0 ifindex $idx0 -> $idx1"
	if check "ct -> inet again through the re-attached port" wait_for 10 ping_ok ct "$INET6" 1 1; then
		info "ct -> inet $(since_s "$t0") s after the pair was created again"
	else
		gw_diag
	fi
	check "inet -> ct again" ping_ok inet "$CT6" 2 5
	check "inet -> ct tcp/22" eval "tcp_connect inet $CT6 22 64 | grep -q echo=ok"
	j=$(port_json pub-ct0)
	check_eq "show --json: pub-ct0 reattached" 1 "$(jq -r .reattached <<<"$j")"
	check_eq "show --json: pub-ct0 attached" true "$(jq -r .attached <<<"$j")"
	has "show (text)" "link: attached, reattached 1$" "$(nsx gw timeout 10 "$WGROUTER_BIN" show "$GW_IF" 2>&1)"
	check "the new pub-ct0 is up" link_is_up gw pub-ct0
	check_eq "the new pub-ct0 has the port's MTU" 1420 "$(nsx gw cat /sys/class/net/pub-ct0/mtu)"
	check_eq "the new pub-ct0 has IPv6 off (only wgrouter answers there)" 1 \
		"$(nsx gw cat /proc/sys/net/ipv6/conf/pub-ct0/disable_ipv6 2>&1)"
}

# conf_without_port NAME: gw0.conf without that [Port] section (sections end at a blank line).
conf_without_port() {
	awk -v name="$1" 'BEGIN { RS = ""; ORS = "\n\n" } !($0 ~ "\nName = " name "(\n|$)")' "$GW_CONF"
}

sc_y_remove() {
	local orig=$T_DIR/gw0.conf.ports out text removed0
	cp "$GW_CONF" "$orig"
	removed0=$(gw_json | jq -r '.[0].counters.ports_removed // 0')
	conf_without_port pub-ct0 >"$GW_CONF.new" && mv "$GW_CONF.new" "$GW_CONF"
	check "SIGHUP without pub-ct0" reload_gw "port pub-ct0 removed"
	check_eq "show --json: pub-ct0 not listed" "" "$(port_json pub-ct0)"
	check_eq "show --json: pub-vm0 still listed" pub-vm0 "$(port_json pub-vm0 | jq -r .name)"
	check_eq "show --json: ports_removed" $((removed0 + 1)) "$(gw_json | jq -r '.[0].counters.ports_removed')"
	text=$(nsx gw timeout 10 "$WGROUTER_BIN" show "$GW_IF" 2>&1)
	check "show (text): no pub-ct0" eval "! grep -q pub-ct0 <<<\"\$text\""
	has "show (text): ports_removed counted" "ports_removed $((removed0 + 1))" "$text"
	out=$(ping_text inet -c 1 -w 3 "$CT6")
	if [[ $out == *"From $TUN6_GW "*"Destination unreachable"* ]]; then
		pass "inet -> ct after the removal: its route is gone, $(grep -m1 'From' <<<"$out")"
	else
		fail "inet -> ct after the removal: expected Destination unreachable from $TUN6_GW" "$out" "$(gw_diag)"
	fi
	check "ct -> inet: nothing reads its frames" ping_none ct "$INET6"
	check "the veth pub-ct0 stays (not wgrouter's to delete)" nsx gw ip link show pub-ct0
	cp "$orig" "$GW_CONF"
	check "SIGHUP with pub-ct0 back" reload_gw "port pub-ct0 added"
	check "ct -> inet again" wait_for 10 ping_ok ct "$INET6" 1 1
	check "inet -> ct again" ping_ok inet "$CT6" 2 5
	check_eq "show --json: pub-ct0 listed again" veth "$(port_json pub-ct0 | jq -r .mode)"
}

sc_z_interface() {
	local orig=$T_DIR/gw0.conf.iface extra=2001:db8:64:1000::3 out before
	cp "$GW_CONF" "$orig"
	check "before: ct -> inet with 1420-byte DF packets" ping_ok ct "$INET6" 1 5 -M do -s 1372
	# a second address; the tunnel MTU 1420 -> 1380; pub-vm0 without its own MTU
	sed -i -e "s|^Address = $TUN6_GW/64\$|Address = $TUN6_GW/64, $extra/64|" -e 's|^MTU = 1420$|MTU = 1380|' \
		-e '/^MTU = 1280$/d' "$GW_CONF"
	# (the port's own "MTU = 1420" under pub-ct0 became 1380 as well: put it back)
	awk 'BEGIN { RS = ""; ORS = "\n\n" } /\nName = pub-ct0\n/ { sub(/\nMTU = 1380/, "\nMTU = 1420") } 1' "$GW_CONF" >"$GW_CONF.new" &&
		mv "$GW_CONF.new" "$GW_CONF"
	check "SIGHUP: Address and MTU" reload_gw "MTU 1420 -> 1380"
	check "no restart message for Address/MTU" eval "! grep -q 'Address, MTU' '$GW_LOG'"
	has "ip addr in the gateway: the second address" "inet6 $extra/64" "$(nsx gw ip -6 addr show dev "$GW_IF")"
	has "ip link in the gateway: MTU 1380" "mtu 1380 " "$(nsx gw ip link show "$GW_IF")"
	check_eq "show --json: pub-vm0 follows the interface's MTU" 1380 "$(port_json pub-vm0 | jq -r .mtu)"
	check_eq "show --json: pub-ct0 keeps its own MTU" 1420 "$(port_json pub-ct0 | jq -r .mtu)"
	before=$(gw_drop host_denied)
	check "ct -> the new host address $extra: the router knows it as the host's (refused)" ping_none ct "$extra"
	grew "ct -> the new host address" host_denied "$before"
	before=$(gw_drop too_big)
	out=$(ping_text ct -c 1 -w 3 -M do -s 1372 "$INET6")
	if [[ $out == *"Packet too big"*"mtu=1380"* ]]; then
		pass "ct -> inet, 1420 bytes DF over the 1380 tunnel: $(grep -m1 -i 'too big' <<<"$out")"
	else
		fail "ct -> inet 1420 bytes DF: expected Packet too big mtu=1380" "$out" "$(gw_diag)"
	fi
	grew "1420 bytes for the 1380 tunnel" too_big "$before"
	check "ct -> inet with 1380-byte DF packets passes" ping_ok ct "$INET6" 1 5 -M do -s 1332
	# back: the second address removed, MTU 1420
	cp "$orig" "$GW_CONF"
	check "SIGHUP: the original file" reload_gw "MTU 1380 -> 1420"
	out=$(nsx gw ip -6 addr show dev "$GW_IF")
	if [[ $out != *"$extra/64"* && $out == *"$TUN6_GW/64"* ]]; then pass "ip addr in the gateway: $extra removed, $TUN6_GW kept"
	else fail "ip addr in the gateway after removing $extra" "$out"; fi
	has "ip link in the gateway: MTU 1420" "mtu 1420 " "$(nsx gw ip link show "$GW_IF")"
	check_eq "show --json: pub-vm0 back to 1280" 1280 "$(port_json pub-vm0 | jq -r .mtu)"
	nsx ct ip -6 route flush cache >/dev/null 2>&1
	check "ct -> inet with 1420-byte DF packets again" ping_ok ct "$INET6" 1 5 -M do -s 1372
}

sc_w_tapgone() {
	local before orig=$T_DIR/gw0.conf.tap gone="port pub-vm0: its device is gone"
	nsx vm ip link del eth0 || { fail "vm: ip link del eth0 (the TAP)"; return; }
	check "wgrouter logs the TAP gone" wait_for 3 eval "grep -q '$gone' '$GW_LOG'"
	check_eq "show --json: pub-vm0 attached" false "$(port_json pub-vm0 | jq -r .attached)"
	before=$(gw_port_drop pub-vm0 port_write_failed)
	check "inet -> vm: no reply" ping_none inet "$VM6"
	grew "frames to the gone TAP" port_write_failed "$before" pub-vm0
	check_eq "the TAP's end logged once" 1 "$(grep -c "$gone" "$GW_LOG")"
	check "wgrouter still running" pid_alive "$GW_DPID"
	check "ct -> inet unaffected" ping_ok ct "$INET6" 1 5
	# removed and added again by two reloads: a new TAP, handed to vm again
	cp "$GW_CONF" "$orig"
	conf_without_port pub-vm0 >"$GW_CONF.new" && mv "$GW_CONF.new" "$GW_CONF"
	check "SIGHUP without pub-vm0" reload_gw "port pub-vm0 removed"
	cp "$orig" "$GW_CONF"
	check "SIGHUP with pub-vm0 back" reload_gw "port pub-vm0 added"
	vm_attach || return
	check "vm -> inet through the new TAP" wait_for 10 ping_ok vm "$INET6" 1 1
	check "inet -> vm tcp/23" eval "tcp_connect inet $VM6 23 64 | grep -q echo=ok"
}

sc_k_restart() {
	local t0 ports=1
	[[ ${GW_PORTS:-1} == 0 ]] && ports=0
	gw_stop
	check_eq "SIGTERM: wgrouter exit status" 0 "$GW_RC"
	check "$GW_IF removed from the gateway" eval "! nsx gw ip link show $GW_IF"
	check "UAPI socket removed" eval "! nsx gw test -e /var/run/wireguard/$GW_IF.sock"
	if ((ports)); then
		check "the TAP went with it (vm's eth0, formerly pub-vm0, is gone)" eval "! nsx vm ip link show eth0"
		check "the veth port pub-ct0 (not wgrouter's) is still there" nsx gw ip link show pub-ct0
	fi
	info "wgrouter's last lines: $(tail -n 3 "$GW_LOG" | tr '\n' '|')"
	t0=$(now_us)
	gw_start || return
	check "restart: gateway -> inet" wait_for 15 ping_ok gw "$INET6" 1 1
	info "gateway -> inet $(since_s "$t0") s after the restart"
	if ((ports)); then
		vm_attach || return
		check "restart: ct -> inet" wait_for 15 ping_ok ct "$INET6" 1 1
		info "ct -> inet $(since_s "$t0") s after the restart"
		check "restart: vm -> inet" wait_for 10 ping_ok vm "$INET6" 1 1
		info "vm -> inet $(since_s "$t0") s after the restart"
		check "restart: inet -> ct tcp/22" eval "tcp_connect inet $CT6 22 64 | grep -q echo=ok"
	fi
}

# ---------------------------------------------------------------------------------------------

main() {
	[[ -n ${1:-} ]] && WGROUTER_BIN=$1
	local why s l t0
	echo "== gateway: ROUTE64 gateway behind CGNAT, wgrouter in a user namespace   prefix $T_PREFIX   logs $T_DIR"
	if why=$(topo_cannot_run); then echo "SKIP: $why"; exit "$SKIP_RC"; fi
	echo "wgrouter: $WGROUTER_BIN ($("$WGROUTER_BIN" --version 2>&1 | head -n1))"
	start_watchdog "${T_WATCHDOG:-170}"

	T_TAG=setup
	t0=$(now_us)
	topo_build || { summary gateway; exit 1; }
	info "topology built in $(since_s "$t0") s"
	gw_write_conf
	gw_start || { summary gateway; exit 1; }
	info "wgrouter up $(since_s "$t0") s"
	if [[ ${GW_PORTS:-1} != 0 ]]; then
		vm_attach || { summary gateway; exit 1; }
		info "vm attached $(since_s "$t0") s"
		info "pub-ct0 in the gateway: $(nsx gw ip -br link show pub-ct0 | tr -s ' '), mtu $(nsx gw cat /sys/class/net/pub-ct0/mtu 2>&1)"
		tcp_serve inet 8080 && tcp_serve ct 22,80,23 && tcp_serve vm 23 || { summary gateway; exit 1; }
	fi
	info "setup took $(since_s "$t0") s"

	for s in "${ORDER[@]}"; do
		l=${s%%:*}
		selected "$l" "${s#*:}" || continue
		T_TAG="$l.${s#*:}"
		echo "-- $T_TAG"
		if [[ ${GW_PORTS:-1} == 0 && " $NEEDS_PORTS " == *" $l "* ]]; then skip "GW_PORTS=0"; continue; fi
		t0=$(now_us)
		"sc_${l}_${s#*:}"
		info "took $(since_s "$t0") s"
	done
	summary gateway
}

main "$@"; exit $?
