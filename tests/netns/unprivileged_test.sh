#!/usr/bin/env bash
# tests/netns/unprivileged_test.sh [WGROUTER_BIN]
#
# The basic interop scenarios (a handshake, b ping, c iperf3) with the daemon under test on
# side A running inside `unshare --user --map-root-user --net` (plus --mount, used only to give
# the namespace its own /sys and, if needed, its own /run/wireguard): it holds capabilities in
# its own user namespace only, none in the initial one. Side B is an ordinary root-owned netns
# running PEER_IMPL. A veth joins them (one end moved into the holder's netns by pid).
#
# Environment:
#   UNPRIV_IMPL   implementation in the user namespace: wgrouter (default) | wireguard-go
#   PEER_IMPL     implementation on B: wireguard-go (default) | wgrouter | kernel
#   UNPRIV_UID    run unshare as this host uid (e.g. 65534) instead of the caller (root). With
#                 root, the namespace's root is host uid 0 without capabilities in the initial
#                 user namespace; with another uid it is a truly unprivileged user.
#   UNPRIV_SYSFS  0: do not mount a sysfs for the namespace's netns (default: mount it)
#   UNPRIV_RO_SOCKDIR=1  make /var/run/wireguard read-only inside the namespace, to see how the
#                 daemon reacts to a socket directory it cannot write, and use the fallback
#   ONLY, SKIP, KEEP_LOGS, WGROUTER_IO, T_WATCHDOG: as in interop_test.sh
#
# Exit: 0 passed, 1 failed, 77 skipped (not root, wgrouter binary missing, user namespaces or
# /dev/net/tun unusable there). Observations about the socket directory are printed as INFO.

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=interop_test.sh
source "$HERE/interop_test.sh" # scenarios and lib.sh; its main does not run when sourced

UNPRIV_IMPL=${UNPRIV_IMPL:-wgrouter}
PEER_IMPL=${PEER_IMPL:-wireguard-go}
BASIC=(a:handshake b:ping c:iperf)

# probe_node NODE: what the namespace's root may do; sets PROBE_TUN_OK.
probe_node() {
	local pid=${NODE_PID[$1]} out
	info "holder pid $pid, uid_map: $(tr -s ' ' <"/proc/$pid/uid_map" | sed 's/^ //'), user ns $(readlink "/proc/$pid/ns/user") (ours: $(readlink /proc/self/ns/user))"
	info "inside: $(nsx "$1" id 2>&1), $(nsx "$1" grep CapEff /proc/self/status | tr -s '\t' ' ')"
	# /tmp is world-writable, so only the capability (CAP_MKNOD in the initial user ns) decides
	local node_path=/tmp/$T_PREFIX-mknod-probe
	on_cleanup "rm -f $node_path"
	if out=$(nsx "$1" mknod "$node_path" c 1 3 2>&1); then
		fail "the namespace's root could mknod $node_path: it has capabilities in the initial user namespace"
	else
		pass "no capability in the initial user namespace: mknod $node_path (needs CAP_MKNOD there) refused: ${out##*: }"
	fi
	if nsx "$1" sh -c 'exec 3<>/dev/net/tun' 2>/dev/null; then
		PROBE_TUN_OK=1; info "/dev/net/tun ($(stat -c '%A %U:%G' /dev/net/tun)) opens inside"
	else
		PROBE_TUN_OK=0
		info "/dev/net/tun ($(stat -c '%A %U:%G' /dev/net/tun)) does NOT open inside: $(nsx "$1" sh -c 'exec 3<>/dev/net/tun' 2>&1 | tail -n1)"
	fi
	if [[ -d $WG_SOCK_DIR ]]; then
		if nsx "$1" test -w "$WG_SOCK_DIR"; then PROBE_SOCKDIR=writable; else PROBE_SOCKDIR=not-writable; fi
		info "$WG_SOCK_DIR exists ($(stat -c '%A %U:%G' "$WG_SOCK_DIR")) and is $PROBE_SOCKDIR for the namespace's root"
	else
		if nsx "$1" test -w "$(dirname "$WG_SOCK_DIR")"; then PROBE_SOCKDIR=creatable; else PROBE_SOCKDIR=not-creatable; fi
		info "$WG_SOCK_DIR does not exist; $(readlink -f "$(dirname "$WG_SOCK_DIR")") is $PROBE_SOCKDIR for the namespace's root"
	fi
}

# private_sockdir NODE: a tmpfs on /run/wireguard (or on /run) in the node's own mount namespace,
# as a container would have; `wg` run through nsx sees it, the host does not.
private_sockdir() {
	local out
	out=$(nsx "$1" sh -c '
		d=$(readlink -f /var/run)/wireguard
		if [ -d "$d" ] && mount -t tmpfs -o mode=0755,size=1m wgt-run "$d" 2>/dev/null; then
			echo "tmpfs mounted on $d"
		elif mount -t tmpfs -o mode=0755,size=4m wgt-run "$(dirname "$d")" && mkdir -m 0755 "$d"; then
			echo "tmpfs mounted on $(dirname "$d"), $d created in it"
		else exit 1; fi' 2>&1) || { fail "mount a private socket directory in the user+mount namespace" "$out"; return 1; }
	info "private socket directory for the namespace: $out (invisible from the host)"
}

main() {
	[[ -n ${1:-} ]] && WGROUTER_BIN=$1
	echo "== unprivileged: A=$UNPRIV_IMPL in unshare --user --map-root-user --net${UNPRIV_UID:+ as uid $UNPRIV_UID}, B=$PEER_IMPL   prefix $T_PREFIX   logs $T_DIR"
	require_root "to build the peer namespace and veth"
	require_tools ip wg ping iperf3 jq ss timeout unshare nsenter setpriv
	case $UNPRIV_IMPL in wgrouter | wireguard-go) ;; *) echo "UNPRIV_IMPL must be wgrouter or wireguard-go" >&2; exit 2 ;; esac
	if [[ $UNPRIV_IMPL == wgrouter || $PEER_IMPL == wgrouter ]]; then
		[[ -x $WGROUTER_BIN ]] || { echo "SKIP: wgrouter binary not found: $WGROUTER_BIN"; exit "$SKIP_RC"; }
		echo "wgrouter: $WGROUTER_BIN ($("$WGROUTER_BIN" --version 2>&1 | head -n1))${WGROUTER_IO:+ WGROUTER_IO=$WGROUTER_IO}"
	fi
	if [[ $PEER_IMPL == kernel ]] && ! have_kernel_wg; then
		echo "kernel WireGuard: not available"; echo "SKIP: PEER_IMPL=kernel needs it"; exit "$SKIP_RC"
	fi
	start_watchdog "${T_WATCHDOG:-240}"

	T_TAG=setup
	if ! make_userns_node A "${UNPRIV_UID:-}"; then
		echo "SKIP: could not create a user namespace (max_user_namespaces=$(cat /proc/sys/user/max_user_namespaces 2>/dev/null))"
		exit "$SKIP_RC"
	fi
	[[ ${UNPRIV_SYSFS:-1} == 0 ]] && nsx A umount /sys 2>/dev/null
	if [[ -n ${UNPRIV_RO_SOCKDIR:-} ]]; then
		# simulate a socket directory the namespace's root cannot write (e.g. an unprivileged uid)
		nsx A sh -c "mkdir -p $WG_SOCK_DIR 2>/dev/null; mount --bind $WG_SOCK_DIR $WG_SOCK_DIR && mount -o remount,bind,ro $WG_SOCK_DIR" ||
			{ fail "UNPRIV_RO_SOCKDIR: read-only bind mount of $WG_SOCK_DIR in the namespace"; summary setup; exit 1; }
		info "UNPRIV_RO_SOCKDIR: $WG_SOCK_DIR is a read-only bind mount inside the namespace"
	fi
	probe_node A
	if ((PROBE_TUN_OK == 0)); then
		echo "SKIP: /dev/net/tun is not usable inside the user namespace; nothing to test"
		summary "unprivileged A=$UNPRIV_IMPL B=$PEER_IMPL"; exit "$SKIP_RC"
	fi
	make_ns B || exit 1

	# setup_pair, with A's start split out to observe the socket directory behaviour
	pair_link || { summary setup; exit 1; }
	gen_key A && gen_key B && write_base_confs || { summary setup; exit 1; }
	NODE_IMPL[A]=$UNPRIV_IMPL NODE_IF[A]=${T_PREFIX}a NODE_IMPL[B]=$PEER_IMPL NODE_IF[B]=${T_PREFIX}b
	bring_up B || { summary setup; exit 1; }

	if [[ $PROBE_SOCKDIR == writable || $PROBE_SOCKDIR == creatable ]]; then
		bring_up A || { summary setup; exit 1; }
		if [[ -S $WG_SOCK_DIR/${NODE_IF[A]}.sock ]]; then
			info "A's socket is the host's $WG_SOCK_DIR/${NODE_IF[A]}.sock ($(stat -c '%A %U:%G' "$WG_SOCK_DIR/${NODE_IF[A]}.sock"))"
		fi
	else
		# expected to fail: show exactly what the daemon does, then give it a private /run/wireguard
		info "starting $UNPRIV_IMPL with the host's $WG_SOCK_DIR ($PROBE_SOCKDIR) to observe what happens"
		T_START_TIMEOUT=5 start_wg_observe A
		if ! wg_answers A; then
			private_sockdir A || { summary setup; exit 1; }
			bring_up A || { summary setup; exit 1; }
		else
			info "it came up anyway; wg_answers A succeeded"
			wg_conf A setconf "$T_DIR/A.conf" && wg_inner_up A "$IN4_A" "$IN6_A" || { summary setup; exit 1; }
		fi
		info "A's socket inside the namespace: $(nsx A ls -l "$WG_SOCK_DIR/${NODE_IF[A]}.sock" 2>&1)"
	fi

	run_scenarios reset_pair "${BASIC[@]}"
	summary "unprivileged A=$UNPRIV_IMPL(userns${UNPRIV_UID:+ uid $UNPRIV_UID}) B=$PEER_IMPL"
}

# start_wg_observe NODE: start the daemon expecting it may fail; report, do not count a FAIL.
start_wg_observe() {
	local n=$1 cmd pid
	local -a pre
	ns_prefix "$n" pre
	cmd=$(impl_cmd "${NODE_IMPL[$n]}")
	NODE_LOG[$n]="$T_DIR/daemon-$n-${NODE_IF[$n]}-hostsockdir.log"
	LOG_LEVEL=${WG_GO_LOG_LEVEL:-error} "${pre[@]}" "$cmd" -f "${NODE_IF[$n]}" </dev/null >"${NODE_LOG[$n]}" 2>&1 &
	pid=$!
	on_cleanup "stop_pid $pid"
	if wait_for "${T_START_TIMEOUT:-5}" wg_answers "$n"; then
		NODE_DPID[$n]=$pid
		return 0
	fi
	info "with the host's $WG_SOCK_DIR: daemon $(pid_alive "$pid" && echo 'still running' || echo "exited (status $(wait "$pid"; echo $?))"); link ${NODE_IF[$n]}: $(nsx "$n" ip -br link show "${NODE_IF[$n]}" 2>&1 | tr -s ' ')"
	info "its output:"
	sed 's/^/      | /' "${NODE_LOG[$n]}" | head -n 20
	stop_pid "$pid"
	nsx "$n" ip link del "${NODE_IF[$n]}" 2>/dev/null
	NODE_LOG[$n]=""
	return 1
}

main "$@"; exit $?
