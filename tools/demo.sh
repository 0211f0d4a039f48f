#!/usr/bin/env bash
# tools/demo.sh — wgrouter's main job on a built-in default: the ROUTE64 gateway of
# seeds/000 in network namespaces on documentation addresses. Installs what is missing, builds,
# runs `wgrouter selftest`, then builds the topology of tests/netns/gateway_topo.sh:
#
#   inet --- pop (WireGuard PoP, routes 2001:db8:64:2000::/56 into the tunnel)
#             |  203.0.113.0/24
#            cgnat (masquerade)  192.0.2.0/24
#             |
#            gw: one `wgrouter up gw0.conf`, unprivileged (user namespace), no kernel module
#             |-- pub-ct0 (veth) -- ct  2001:db8:64:2001::2/128   AllowInbound tcp/22, tcp/80
#             `-- pub-vm0 (TAP)  -- vm  2001:db8:64:2002::2/128, configured by itself: its
#                                       address by DHCPv6, its route from Router Advertisements
#
# and shows, step by step, what each step proves. Everything is torn down at the end (also on
# failure or Ctrl-C); the last line is "demo: OK" when every check passed. Needs root.
cd "$(dirname "$0")/.." || exit 1

bash tools/deps.sh || exit 1
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 1
ninja -C build wgrouter >/dev/null || exit 1
export WGROUTER_BIN=$PWD/build/wgrouter
"$WGROUTER_BIN" selftest | sed 's/^/selftest: /'
((PIPESTATUS[0] == 0)) || { echo "demo: selftest failed"; exit 1; }

# shellcheck source=../tests/netns/gateway_topo.sh
source tests/netns/gateway_topo.sh
# The VM-like instance configures itself (no cloud-init, no static address): pub-vm0 sends
# Router Advertisements and answers DHCPv6 (gateway_topo.sh vm_attach).
GW_VM_AUTOCONF=1

N=0
step() { N=$((N + 1)); T_TAG=""; printf '\n== %d. %s\n' "$N" "$1"; shift; local l; for l; do printf '   %s\n' "$l"; done; }
die() { fail "$@"; echo "demo: FAILED (logs in $T_DIR)"; KEEP_LOGS=1; exit 1; }
show_lines() { sed 's/^/   | /'; }

if why=$(topo_cannot_run); then echo "demo: cannot run here: $why"; exit 1; fi
start_watchdog 110

step "Topology: inet, a WireGuard PoP, a CGNAT, the gateway, two instances (prefix $T_PREFIX)" \
	"Only documentation addresses; nothing touches the real network."
topo_build || die "build the topology"
tcp_serve inet 8080 || die "TCP server in inet"

step "The gateway's configuration: the seed's wg0.conf, networkd unit and nftables inventory in one file" \
	"(examples/route64-gw.conf is the same gateway with the seed's own values and comments)"
gw_write_conf
sed 's/^PrivateKey = .*/PrivateKey = (hidden)/' "$GW_CONF" | show_lines
"$WGROUTER_BIN" check "$GW_CONF" 2>&1 | grep -v 'world accessible' | show_lines

step "wgrouter up, inside an unprivileged user namespace (no capability on the host, no kernel module)"
info "inside the gateway: uid $(nsx gw id -u -n), $(nsx gw grep CapEff /proc/self/status | tr -s '\t' ' '), but mknod refused: $(nsx gw mknod "$T_DIR/probe" c 1 3 2>&1 | sed 's/.*: //')"
gw_start || die "wgrouter up"
vm_attach || die "attach the TAP to the vm"
info "wgrouter created TAP pub-vm0; moved into vm as eth0 like a hypervisor would; pub-ct0 is an existing veth"
tcp_serve ct 22,80,23 && tcp_serve vm 23 || die "TCP servers in ct and vm"

step "The VM configures itself: dhcpcd in vm, nothing set by hand" \
	"pub-vm0 has RouterAdvertisements (default route, MTU, DNS) and DHCPv6 (its /128, DNS)"
check_match "vm's address, by DHCPv6" "inet6 ${VM6}/128" "$(nsx vm ip -6 addr show dev eth0 scope global | grep -m1 inet6)"
check_match "vm's default route, from the RAs" "default via fe80::1 dev eth0" "$(nsx vm ip -6 route show default | head -n 1)"
check_match "vm's resolv.conf, from the DNS line" "nameserver 2001:db8:53::53" "$(cat "$T_DIR/vm-resolv.conf")"
nsx vm ip -6 addr show dev eth0 | show_lines
nsx vm ip -6 route show | show_lines
gw_json | jq -c '.[0].ports[]? | select(.name == "pub-vm0") | {name, rs_received, ra_sent, dhcpv6_received, dhcpv6_sent}' | show_lines

step "Handshake over CGNAT: the gateway initiates, the PoP learns the CGNAT's address and port"
pop_handshake_wait 10 || die "no handshake at the PoP within 10 s" "$(tail -n 5 "$GW_LOG")"
check_match "PoP's wg show: endpoint of the gateway" "^${CGNAT_POP4//./\\.}:[0-9]+$" "$(peer_val pop endpoints "$(pub gw)")"
wgc pop show "$POP_WG" | show_lines

step "Instance egress: inet sees each instance's own public /128 (no NAT, no shared address)"
for n in ct vm; do
	out=$(tcp_connect "$n" "$INET6" 8080 64)
	if [[ $n == ct ]]; then a=$CT6; else a=$VM6; fi
	if [[ $out == *"peer=$a "*"echo=ok"* ]]; then pass "$n -> inet tcp/8080, inet's server says: $out"
	else fail "$n -> inet tcp/8080 should come from $a" "$out"; fi
done

step "Inbound allow-list: ct allows tcp/22 and tcp/80 from the Internet; tcp/23 is dropped" \
	"(a server listens on all three); vm has no AllowInbound"
for p in 22 80; do
	out=$(tcp_connect inet "$CT6" "$p" 64)
	if [[ $out == *echo=ok* ]]; then pass "inet -> ct tcp/$p: $out"; else fail "inet -> ct tcp/$p" "$out"; fi
done
b=$(gw_drop inbound_denied)
out=$(tcp_connect inet "$CT6" 23 64 3)
if [[ $out == *"timed out"* ]]; then pass "inet -> ct tcp/23: $out (inbound_denied $b -> $(gw_drop inbound_denied))"
else fail "inet -> ct tcp/23 should be dropped" "$out"; fi
out=$(tcp_connect ct "$INET6" 8080 65536)
if [[ $out == *echo=ok* ]]; then pass "ct -> inet tcp/8080 (a flow ct opened): replies come back, $out"
else fail "ct -> inet tcp/8080 replies" "$out"; fi
out=$(tcp_connect inet "$VM6" 23 64)
if [[ $out == *echo=ok* ]]; then pass "inet -> vm tcp/23: $out"; else fail "inet -> vm tcp/23" "$out"; fi

step "Anti-spoofing: ct adds someone else's address (vm's) and sends from it: dropped at the port"
addr_add ct eth0 "$VM6/128"
b=$(gw_drop spoofed_source)
check "ct -> inet from $VM6: no answer" ping_none ct "$INET6" -I "$VM6"
info "spoofed_source $b -> $(gw_drop spoofed_source)"
nsx ct ip -6 addr del "$VM6/128" dev eth0

step "No east-west: instances cannot reach each other, nor the gateway itself"
b=$(gw_drop east_west)
check "ct -> vm $VM6: no answer" ping_none ct "$VM6"
info "east_west $b -> $(gw_drop east_west)"
b=$(gw_drop host_denied)
check "ct -> the gateway's tunnel address $TUN6_GW: no answer" ping_none ct "$TUN6_GW"
info "host_denied $b -> $(gw_drop host_denied)"

step "The gateway is a router: Unreachable for unused parts of the /56, Packet Too Big, Time Exceeded"
out=$(nsx inet ping -n -c 1 -w 3 "$UNREACH6" 2>&1)
check_match "inet -> $UNREACH6 (in $ROUTED6, no instance)" "From $TUN6_GW .*Destination unreachable" "$(grep -m1 From <<<"$out")"
out=$(nsx inet ping -n -c 1 -w 3 -M do -s 1300 "$VM6" 2>&1)
check_match "inet -> vm 1348 bytes, don't fragment (vm's port MTU is 1280)" "From $TUN6_GW .*Packet too big.*mtu=1280" "$(grep -m1 From <<<"$out")"
out=$(nsx inet ping -n -c 1 -w 3 -t 2 "$CT6" 2>&1)
check_match "inet -> ct with hop limit 2 (PoP takes one, the gateway the other)" "From $TUN6_GW .*Time exceeded" "$(grep -m1 From <<<"$out")"

step "iperf3 through the gateway (TCP, 3 s each way; flows opened by ct)"
if out=$(iperf_tcp ct inet "$INET6"); then pass "ct -> inet: $out Mbit/s"; else fail "iperf3 ct -> inet" "$out"; fi
if out=$(iperf_tcp ct inet "$INET6" -R); then pass "inet -> ct: $out Mbit/s"; else fail "iperf3 inet -> ct" "$out"; fi

step "wgrouter show: the tunnel, the ports, and every dropped packet by reason"
nsx gw "$WGROUTER_BIN" show "$GW_IF" 2>&1 | show_lines
echo "   wgrouter show --json (ports):"
gw_json | jq -c '.[0].ports[]? | {name, mode, routes, neighbours, rx_packets, tx_packets, drops: (.drops | with_entries(select(.value > 0)))}' 2>&1 | show_lines

step "Teardown"
gw_stop
check_eq "SIGTERM: wgrouter exit status" 0 "$GW_RC"
check "its TAP is gone with it" eval "! nsx vm ip link show eth0"
run_cleanup
left=$(ip netns list | grep -c "^$T_PREFIX-")
check_eq "namespaces left behind" 0 "$left"

echo
if ((T_FAIL)); then
	printf 'failed: %s\n' "${T_FAILED[@]}"
	echo "demo: FAILED"
	exit 1
fi
echo "demo: OK"
