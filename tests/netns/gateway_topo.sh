# shellcheck shell=bash
# tests/netns/gateway_topo.sh: the ROUTE64 gateway topology (seeds/000, on documentation
# addresses), shared by tests/netns/gateway_test.sh and tools/demo.sh. Source it; don't run it.
# It sources lib.sh: node model, results, cleanup registry, watchdog, T_PREFIX naming.
#
#   inet ----------- pop ==================(WireGuard, UDP 58140)=================== gw
#   2001:db8:ff::10  2001:db8:ff::1 (v6 fwd)                                  wgrouter up gw0.conf
#                    wg: 2001:db8:64:1000::1/64                      gw0: 2001:db8:64:1000::2/64
#                    2001:db8:64:2000::/56 -> wg                     Unreachable 2001:db8:64:2000::/56
#                    203.0.113.1 --- cgnat --- 192.0.2.1  ...  192.0.2.2 (gw uplink)
#                          203.0.113.2 (masquerade 192.0.2.0/24, new flows only from home)
#
#   gw (unshare --user --map-root-user --net --mount holder; wgrouter runs inside):
#     pub-ct0  veth, Mode = veth  <-> ct: eth0 2001:db8:64:2001::2/128, default via fe80::1
#     pub-vm0  TAP made by wgrouter, Mode = tap, moved into vm and renamed eth0:
#                                      vm: eth0 2001:db8:64:2002::2/128, default via fe80::1
#
# The PoP has no endpoint for the gateway: it learns the CGNAT's address from the gateway's
# handshake (PersistentKeepalive 15 keeps the mapping open), exactly like ROUTE64.

_TOPO_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$_TOPO_HERE/lib.sh"

# shellcheck disable=SC2034  # constants used by the scripts that source this file
{
	INET6=2001:db8:ff::10 POP_INET6=2001:db8:ff::1
	POP4=203.0.113.1 CGNAT_POP4=203.0.113.2 CGNAT_HOME4=192.0.2.1 GW4=192.0.2.2
	POP_PORT=58140
	TUN6_POP=2001:db8:64:1000::1 TUN6_GW=2001:db8:64:1000::2
	ROUTED6=2001:db8:64:2000::/56
	CT6=2001:db8:64:2001::2 VM6=2001:db8:64:2002::2
	UNREACH6=2001:db8:64:2003::5
	GW_IF=gw0
	NAT_RANGE=40000-40100
}
# links (each lives in a namespace this file creates)
L_INET=${T_PREFIX}in   # inet -> pop
L_POP_I=${T_PREFIX}pi  # pop -> inet
L_POP_C=${T_PREFIX}pc  # pop -> cgnat
L_CG_P=${T_PREFIX}cp   # cgnat -> pop
L_CG_H=${T_PREFIX}ch   # cgnat -> home (gw)
L_GW_UP=${T_PREFIX}gu  # gw uplink
POP_WG=${T_PREFIX}wg   # the PoP's WireGuard interface
GW_CONF=$T_DIR/$GW_IF.conf
GW_LOG=$T_DIR/wgrouter-gw.log
GW_DPID=""

TOPO_TOOLS=(ip wg nft ping iperf3 jq ss timeout unshare nsenter python3 awk)

# topo_cannot_run: prints why this machine cannot build the topology (status 0), or nothing
# (status 1) when it can.
topo_cannot_run() {
	local t
	((EUID == 0)) || { echo "needs root"; return 0; }
	for t in "${TOPO_TOOLS[@]}"; do
		command -v "$t" >/dev/null || { echo "$t not installed"; return 0; }
	done
	[[ -x $WGROUTER_BIN ]] || { echo "wgrouter binary not found: $WGROUTER_BIN"; return 0; }
	[[ -c /dev/net/tun ]] || { echo "no /dev/net/tun"; return 0; }
	if ! have_kernel_wg && ! command -v "$WIREGUARD_GO" >/dev/null; then
		echo "neither kernel WireGuard nor wireguard-go for the PoP"; return 0
	fi
	if ! timeout 5 unshare --user --map-root-user --net true 2>/dev/null; then
		echo "user namespaces unavailable (max_user_namespaces=$(cat /proc/sys/user/max_user_namespaces 2>/dev/null))"
		return 0
	fi
	if ! timeout 5 unshare --user --map-root-user --net sh -c 'exec 3<>/dev/net/tun' 2>/dev/null; then
		echo "/dev/net/tun does not open inside a user namespace"; return 0
	fi
	return 1
}

# ---------------------------------------------------------------------------------------------
# Small TCP tools (python3): a server that reports the peer address it sees and echoes what it
# received, and a client with separate connect and I/O timeouts.

topo_write_tcpx() {
	# the interpreter itself, not a wrapper (a pyenv shim costs a second per start)
	PY=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null) && [[ -x $PY ]] || PY=python3
	cat >"$T_DIR/tcpx.py" <<-'PY'
		import os, selectors, socket, sys, time

		def serve(ports, limit):
		    sel = selectors.DefaultSelector()
		    for p in ports:
		        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
		        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
		        s.bind(("::", p))
		        s.listen(16)
		        sel.register(s, selectors.EVENT_READ)
		    end = time.monotonic() + limit
		    while time.monotonic() < end:
		        for key, _ in sel.select(timeout=1):
		            c, peer = key.fileobj.accept()
		            port = key.fileobj.getsockname()[1]
		            c.settimeout(30)
		            try:
		                data = bytearray()
		                while True:
		                    b = c.recv(262144)
		                    if not b:
		                        break
		                    data += b
		                head = "peer=%s port=%d bytes=%d" % (peer[0], port, len(data))
		                c.sendall(head.encode() + b"\n" + bytes(data))
		                print(head, flush=True)
		            except OSError as e:
		                print("port=%d error: %s" % (port, e), flush=True)
		            finally:
		                c.close()

		def connect(addr, port, nbytes, ctimeout, src):
		    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
		    if src:
		        s.bind((src, 0))
		    s.settimeout(ctimeout)
		    t0 = time.monotonic()
		    try:
		        s.connect((addr, port))
		    except socket.timeout:
		        print("connect: timed out after %.0f s" % ctimeout)
		        return 3
		    except OSError as e:
		        print("connect: %s" % e.strerror)
		        return 4
		    s.settimeout(30)
		    data = os.urandom(nbytes)
		    try:
		        s.sendall(data)
		        s.shutdown(socket.SHUT_WR)
		        reply = bytearray()
		        while True:
		            b = s.recv(262144)
		            if not b:
		                break
		            reply += b
		    except OSError as e:
		        print("transfer: %s" % (e.strerror or e))
		        return 5
		    head, _, body = bytes(reply).partition(b"\n")
		    secs = time.monotonic() - t0
		    ok = body == data
		    print("%s echo=%s secs=%.2f" % (head.decode(errors="replace"), "ok" if ok else "bad(%d bytes)" % len(body), secs))
		    return 0 if ok else 6

		if sys.argv[1] == "serve":
		    serve([int(p) for p in sys.argv[2].split(",")], float(sys.argv[3]))
		else:
		    sys.exit(connect(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]),
		                     sys.argv[6] if len(sys.argv) > 6 else None))
	PY
}

# tcp_serve NODE PORT[,PORT...]: a background server in NODE (bounded), listening when it returns.
tcp_serve() {
	local n=$1 ports=$2 pid p
	local -a pre
	ns_prefix "$n" pre
	"${pre[@]}" timeout 600 "$PY" -u "$T_DIR/tcpx.py" serve "$ports" 590 \
		</dev/null >>"$T_DIR/tcp-serve-$n.log" 2>&1 &
	pid=$!
	on_cleanup "stop_pid $pid"
	for p in ${ports//,/ }; do
		wait_for 5 port_listening "$n" "$p" || { fail "TCP server in $n on port $p" "$(cat "$T_DIR/tcp-serve-$n.log")"; return 1; }
	done
}
# tcp_connect NODE ADDR PORT [NBYTES [CONNECT_TIMEOUT [SRC]]]: prints the server's view
# ("peer=ADDR port=P bytes=N echo=ok secs=S"); status 0 when the echo came back intact,
# 3 on connect timeout, 4 on refusal/unreachable, 5/6 on a broken transfer.
tcp_connect() {
	nsx "$1" timeout 60 "$PY" "$T_DIR/tcpx.py" connect "$2" "$3" "${4:-64}" "${5:-4}" ${6:+"$6"}
}

# ---------------------------------------------------------------------------------------------
# Building blocks

# cgnat_rules [RANGE]: (re)load the CGNAT ruleset: masquerade the home network towards the PoP
# (UDP into RANGE when given), let new flows out and only replies back in.
cgnat_rules() {
	local udp=""
	[[ -n ${1:-} ]] && udp="oifname \"$L_CG_P\" ip saddr 192.0.2.0/24 meta l4proto udp masquerade to :$1"
	cat >"$T_DIR/cgnat.nft" <<-EOF
		table ip ${T_PREFIX}cgnat {}
		delete table ip ${T_PREFIX}cgnat
		table ip ${T_PREFIX}cgnat {
		  chain postrouting {
		    type nat hook postrouting priority srcnat; policy accept;
		    $udp
		    oifname "$L_CG_P" ip saddr 192.0.2.0/24 masquerade
		  }
		  chain forward {
		    type filter hook forward priority filter; policy drop;
		    ct state established,related accept
		    iifname "$L_CG_H" oifname "$L_CG_P" accept
		  }
		}
	EOF
	nsx cgnat nft -f "$T_DIR/cgnat.nft"
}

# topo_build: every namespace, link, address and route; the PoP's WireGuard interface up and
# configured; keys for pop and gw. The gateway's wgrouter is started by gw_start.
topo_build() {
	local impl out
	make_ns inet && make_ns pop && make_ns cgnat && make_ns ct && make_ns vm || return 1
	make_userns_node gw || return 1
	topo_write_tcpx

	# inet <-> pop, pop <-> cgnat, cgnat <-> gw
	veth_pair inet "$L_INET" pop "$L_POP_I" && veth_pair pop "$L_POP_C" cgnat "$L_CG_P" &&
		veth_pair cgnat "$L_CG_H" gw "$L_GW_UP" || return 1
	addr_add inet "$L_INET" "$INET6/64" && nsx inet ip -6 route add default via "$POP_INET6" &&
		addr_add pop "$L_POP_I" "$POP_INET6/64" && addr_add pop "$L_POP_C" "$POP4/24" &&
		nsx pop sysctl -qw net.ipv6.conf.all.forwarding=1 &&
		addr_add cgnat "$L_CG_P" "$CGNAT_POP4/24" && addr_add cgnat "$L_CG_H" "$CGNAT_HOME4/24" &&
		nsx cgnat sysctl -qw net.ipv4.ip_forward=1 &&
		addr_add gw "$L_GW_UP" "$GW4/24" && nsx gw ip route add default via "$CGNAT_HOME4" ||
		{ fail "addresses, routes and forwarding of inet/pop/cgnat/gw"; return 1; }
	out=$(cgnat_rules 2>&1) || { fail "CGNAT nftables ruleset" "$out"; return 1; }

	# ct: a veth whose gateway end pub-ct0 is left down for wgrouter to take over
	ip link add pub-ct0 netns "$(ns_ref gw)" type veth peer name eth0 netns "$(ns_ref ct)" ||
		{ fail "veth pub-ct0 (gw) <-> eth0 (ct)"; return 1; }
	nsx ct ip link set eth0 mtu 1420 up && addr_add ct eth0 "$CT6/128" &&
		nsx ct ip -6 route add default via fe80::1 dev eth0 || { fail "ct: eth0 address and route"; return 1; }

	# the gateway's /var/run/wireguard: private to its mount namespace, like a container's
	out=$(nsx gw sh -c '
		d=$(readlink -f /var/run)/wireguard
		if [ -d "$d" ] && mount -t tmpfs -o mode=0755,size=1m wgtrun "$d" 2>/dev/null; then echo "$d"
		elif mount -t tmpfs -o mode=0755,size=4m wgtrun "$(dirname "$d")" && mkdir -m 0755 "$d"; then echo "$(dirname "$d") (tmpfs), $d"
		else exit 1; fi' 2>&1) || { fail "gw: private /var/run/wireguard" "$out"; return 1; }

	gen_key pop && gen_key gw || { fail "wg genkey"; return 1; }
	if have_kernel_wg; then impl=kernel; else impl=wireguard-go; fi
	start_wg "$impl" pop "$POP_WG" || return 1
	out=$(wgc pop set "$POP_WG" private-key "$T_DIR/pop.key" listen-port "$POP_PORT" \
		peer "$(pub gw)" allowed-ips "$TUN6_GW/128,$ROUTED6" 2>&1) &&
		out=$(addr_add pop "$POP_WG" "$TUN6_POP/64" 2>&1) &&
		out=$(nsx pop ip link set "$POP_WG" mtu 1420 up 2>&1) &&
		out=$(nsx pop ip -6 route add "$ROUTED6" dev "$POP_WG" 2>&1) ||
		{ fail "pop: WireGuard configuration" "$out"; return 1; }
	info "PoP: $impl $POP_WG on $POP4:$POP_PORT, peer gw without endpoint, $ROUTED6 routed into the tunnel"
}

# gw_write_conf: the gateway's configuration, one file (GW_PORTS=0: without the [Port] sections;
# GW_VM_AUTOCONF=1: pub-vm0 with RouterAdvertisements and DHCPv6, and a DNS line to announce).
gw_write_conf() {
	(
		umask 077
		cat >"$GW_CONF" <<-EOF
			[Interface]
			PrivateKey = $(priv gw)
			Address = $TUN6_GW/64
			MTU = 1420
			Unreachable = $ROUTED6
			$([[ ${GW_VM_AUTOCONF:-0} == 1 ]] && echo "DNS = 2001:db8:53::53, example.net")

			[Peer]
			PublicKey = $(pub pop)
			Endpoint = $POP4:$POP_PORT
			AllowedIPs = ::/1, 8000::/1
			PersistentKeepalive = 15
		EOF
		[[ ${GW_PORTS:-1} == 0 ]] && exit 0
		cat >>"$GW_CONF" <<-EOF

			[Port]
			Name = pub-ct0
			Mode = veth
			Address = fe80::1/64
			Route = $CT6/128
			AllowInbound = tcp/22, tcp/80
			MTU = 1420

			[Port]
			Name = pub-vm0
			Mode = tap
			Address = fe80::1/64
			Route = $VM6/128
			MTU = 1280
		EOF
		[[ ${GW_VM_AUTOCONF:-0} == 1 ]] && printf 'RouterAdvertisements = true\nDHCPv6 = true\n' >>"$GW_CONF"
	)
}

# gw_start: `wgrouter up gw0.conf --foreground` inside the gateway's namespaces, stderr to
# $GW_LOG; returns when gw0 is up and the UAPI answers.
gw_start() {
	echo "=== $(date '+%F %T') wgrouter up $GW_CONF --foreground" >>"$GW_LOG"
	up_start gw "$GW_LOG" "$GW_CONF"
	GW_DPID=$UP_PID
	NODE_IF[gw]=$GW_IF NODE_IMPL[gw]=wgrouter NODE_DPID[gw]=$GW_DPID NODE_LOG[gw]=$GW_LOG
	if ! wait_for 10 eval "link_is_up gw $GW_IF && wgc gw show $GW_IF"; then
		fail "wgrouter up in the gateway: $GW_IF up and answering within 10 s" \
			"wgrouter $(pid_alive "$GW_DPID" && echo running || echo exited)" \
			"$(nsx gw ip -br link 2>&1)" "$(tail -n 15 "$GW_LOG")"
		return 1
	fi
	info "wgrouter up $GW_IF in the gateway (pid $GW_DPID, user+net namespace of pid ${NODE_PID[gw]})"
}

# gw_stop: SIGTERM wgrouter and reap it; GW_RC is its exit status (bounded: SIGKILL after 5 s,
# GW_RC=137). Not in a subshell: the shell that started it must do the wait.
gw_stop() {
	GW_RC=none
	[[ -n $GW_DPID ]] || return 1
	kill -TERM "$GW_DPID" 2>/dev/null
	if wait_for 5 eval "! pid_alive $GW_DPID"; then
		wait "$GW_DPID"; GW_RC=$?
	else
		kill -KILL "$GW_DPID" 2>/dev/null; wait "$GW_DPID" 2>/dev/null; GW_RC=137
	fi
	GW_DPID=""
}

# vm_dhcpcd_start RESOLV: dhcpcd (IPv6 only) on vm's eth0, in a private mount namespace so
# its state and resolv.conf (bind-mounted from RESOLV) never touch the host's; VM_DHCPCD_PID.
# Stopped by vm_dhcpcd_stop (registered for cleanup too).
vm_dhcpcd_start() {
	printf 'ipv6only\nipv6rs\nia_na\nnohook hostname\n' >"$T_DIR/dhcpcd.conf"
	: >"$1"
	nsx vm unshare -m --propagation private sh -c '
		mount -t tmpfs wgt /var/lib/dhcpcd && mkdir -p /run/dhcpcd && mount -t tmpfs wgt /run/dhcpcd &&
		mount --bind "$1" /etc/resolv.conf && exec timeout 600 dhcpcd -B -f "$2" eth0' sh "$1" "$T_DIR/dhcpcd.conf" \
		>>"$T_DIR/dhcpcd.log" 2>&1 &
	VM_DHCPCD_PID=$!
	on_cleanup vm_dhcpcd_stop
}
# vm_dhcpcd_stop: dhcpcd runs as several processes: all gone (port 546 free) when this returns.
# It made the link-local address itself and takes it away: the kernel makes it again.
vm_dhcpcd_stop() {
	[[ -n ${VM_DHCPCD_PID:-} ]] && kill "$VM_DHCPCD_PID" 2>/dev/null
	pkill -TERM -f "dhcpcd -B -f $T_DIR/dhcpcd.conf" 2>/dev/null
	wait_for 15 eval "! pgrep -f 'dhcpcd -B -f $T_DIR/dhcpcd.conf' >/dev/null" ||
		pkill -KILL -f "dhcpcd -B -f $T_DIR/dhcpcd.conf"
	VM_DHCPCD_PID=""
	nsx vm sysctl -qw net.ipv6.conf.eth0.addr_gen_mode=0 2>/dev/null
	return 0
}
# vm_autoconf_wait: vm has its /128 and a default route via fe80::1, both learned (bounded).
vm_autoconf_wait() {
	wait_for "${1:-20}" eval "nsx vm ip -6 addr show dev eth0 scope global | grep -q '$VM6/128' &&
		nsx vm ip -6 route show default | grep -q 'via fe80::1 dev eth0'"
}

# vm_attach: wgrouter made the TAP pub-vm0 in the gateway; hand it to the vm (as a hypervisor
# would), rename it eth0, address and default route there (GW_VM_AUTOCONF=1: the vm configures
# itself with dhcpcd: its /128 by DHCPv6, the default route from the port's RAs).
vm_attach() {
	local out
	wait_for 5 nsx gw ip link show pub-vm0 ||
		{ fail "TAP pub-vm0 exists in the gateway after wgrouter up" "$(nsx gw ip -br link 2>&1)" "$(tail -n 10 "$GW_LOG")"; return 1; }
	# as root outside: enter only the gateway's netns; the target is the vm's named netns
	out=$(nsenter -t "$(ns_ref gw)" -n ip link set pub-vm0 netns "$(ns_ref vm)" 2>&1) &&
		out=$(nsx vm ip link set pub-vm0 name eth0 2>&1) &&
		out=$(nsx vm ip link set eth0 mtu 1420 up 2>&1) ||
		{ fail "move TAP pub-vm0 into vm as eth0" "$out"; return 1; }
	if [[ ${GW_VM_AUTOCONF:-0} == 1 ]]; then
		vm_dhcpcd_start "$T_DIR/vm-resolv.conf"
		vm_autoconf_wait 30 ||
			{ fail "vm configures itself (DHCPv6 address, default route from RAs)" "$(nsx vm ip -6 addr 2>&1)" \
				"$(nsx vm ip -6 route 2>&1)" "$(tail -n 15 "$T_DIR/dhcpcd.log" 2>&1)"; return 1; }
		return 0
	fi
	out=$(addr_add vm eth0 "$VM6/128" 2>&1) &&
		out=$(nsx vm ip -6 route add default via fe80::1 dev eth0 2>&1) ||
		{ fail "move TAP pub-vm0 into vm as eth0, address, default route" "$out"; return 1; }
}

# pop_handshake_wait [SECONDS]: the PoP has a handshake with the gateway.
pop_handshake_wait() {
	wait_for "${1:-10}" eval 'v=$(peer_val pop latest-handshakes "$(pub gw)") && ((v > 0))'
}

# gw_json: `wgrouter show gw0 --json` inside the gateway.
gw_json() { nsx gw timeout 10 "$WGROUTER_BIN" show "$GW_IF" --json; }
# gw_drop NAME: the interface's drop counter NAME (0 when absent).
gw_drop() { gw_json | jq -r --arg k "$1" '.[0].drops[$k] // 0'; }
# gw_port_drop PORT NAME
gw_port_drop() {
	gw_json | jq -r --arg p "$1" --arg k "$2" '(.[0].ports // [])[] | select(.name == $p) | .drops[$k] // 0'
}
