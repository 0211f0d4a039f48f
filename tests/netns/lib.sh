# shellcheck shell=bash
# tests/netns/lib.sh: helpers for wgrouter's network-namespace tests. Source it; don't run it.
#
# Rules every test built on this file follows:
#   - Everything it creates (netns, links, interfaces, sockets, temp files) is named with
#     T_PREFIX (wgt<pid>), so parallel runs never collide, and is registered with on_cleanup,
#     which runs on exit, failure, SIGINT and SIGTERM.
#   - Traffic stays in namespaces the test created (veth between them) or on loopback; no
#     namespace gets a route to the real uplink. Only documentation addresses are used:
#     192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32.
#   - Every wait is bounded (wait_for, timeout, ping -w), and so is the whole run (watchdog).
#     A wait is on a condition (a link state, a log line, a counter, tcpdump's "listening on":
#     tcpdump_start), never a fixed sleep; a sleep left is a duration itself (the watchdog's
#     bound, the pace of generated traffic, wait_for's pause between two looks).
#   - Bench scripts (bench/) use this file too: one copy of every helper.
#
# Result lines are "PASS  tag: what was checked", "FAIL  ..." (followed by indented details),
# "SKIP  ..." and "INFO  ...". SKIP_RC (77) is the exit status for "cannot run here".

[[ -n ${WGT_LIB_LOADED:-} ]] && return 0
WGT_LIB_LOADED=1

export LC_ALL=C
# shellcheck disable=SC2034  # constants used by the scripts that source this file
SKIP_RC=77
T_PREFIX=wgt$$
T_T0=${EPOCHREALTIME/./}
T_PASS=0 T_FAIL=0 T_SKIP=0
T_FAILED=()
T_TAG=""                     # the current scenario, printed in front of every result
T_CLEANUP=()
T_WG_TIMEOUT=${T_WG_TIMEOUT:-15}     # bound for every `wg` call (a hung daemon must not hang us)
T_LISTEN_TIMEOUT=${T_LISTEN_TIMEOUT:-5}  # bound for a test server (iperf3, python) to listen
WIREGUARD_GO=${WIREGUARD_GO:-wireguard-go}
WGROUTER_BIN=${WGROUTER_BIN:-/work/main/build/wgrouter}
WG_SOCK_DIR=/var/run/wireguard
T_DIR=$(mktemp -d "/tmp/$T_PREFIX.XXXXXX") || { echo "mktemp failed" >&2; exit 1; }

# Per node (a node is a network namespace the test drives):
#   NODE_NS[n]   name of a named netns (ip netns exec), or
#   NODE_PID[n]  pid of a process holding a user+net+mount namespace (nsenter -U -n -m);
#   NODE_IF[n]   its WireGuard interface, NODE_IMPL[n] the implementation behind it,
#   NODE_DPID[n] the daemon's pid (userspace implementations), NODE_LOG[n] its log file.
declare -A NODE_NS=() NODE_PID=() NODE_IF=() NODE_IMPL=() NODE_DPID=() NODE_LOG=() NODE_VETH=()

# ---------------------------------------------------------------------------------------------
# Output and results

now_us() { echo "${EPOCHREALTIME/./}"; }
# since_s T0_US: seconds elapsed since T0_US, one decimal.
since_s() { awk -v a="$1" -v b="$(now_us)" 'BEGIN { printf "%.1f", (b - a) / 1e6 }'; }

# The results print the tag without a command substitution: a fork per line adds up in a test
# of a hundred checks on a loaded machine.
indent() { head -n "${T_MAX_DETAIL_LINES:-30}" | sed 's/^/      | /'; }
info() { printf 'INFO  %s%s\n' "${T_TAG:+$T_TAG: }" "$*"; }
pass() { T_PASS=$((T_PASS + 1)); printf 'PASS  %s%s\n' "${T_TAG:+$T_TAG: }" "$*"; }
# fail DESC [DETAIL...]: one FAIL line, then every DETAIL (may be multi-line) indented.
fail() {
	local desc=$1; shift
	T_FAIL=$((T_FAIL + 1)); T_FAILED+=("${T_TAG:+$T_TAG: }$desc")
	printf 'FAIL  %s%s\n' "${T_TAG:+$T_TAG: }" "$desc"
	if (($#)); then printf '%s\n' "$@" | indent; fi
	return 1
}
skip() { T_SKIP=$((T_SKIP + 1)); printf 'SKIP  %s%s\n' "${T_TAG:+$T_TAG: }" "$*"; }

# check DESC CMD...: PASS if CMD exits 0; else FAIL with the command, its status and output
# (kept in a file, not a command substitution: no fork for a check that passes).
check() {
	local desc=$1 out="$T_DIR/check-$BASHPID.out" rc; shift
	"$@" >"$out" 2>&1; rc=$?
	if ((rc == 0)); then pass "$desc"; return 0; fi
	fail "$desc" "command: $*" "exit status: $rc" "$(cat "$out")"
}
# check_eq DESC EXPECTED ACTUAL
check_eq() {
	if [[ "$2" == "$3" ]]; then pass "$1 = '$3'"; return 0; fi
	fail "$1" "expected: '$2'" "actual:   '$3'"
}
# check_match DESC REGEX ACTUAL
check_match() {
	if [[ "$3" =~ $2 ]]; then pass "$1 = '$3'"; return 0; fi
	fail "$1" "expected to match: /$2/" "actual: '$3'"
}

# selected LETTER NAME: whether scenario LETTER (called NAME) runs under ONLY= and SKIP=
# (space-separated letters, names or LETTER_NAME).
selected() { # LETTER NAME
	local w
	for w in ${SKIP:-}; do [[ $w == "$1" || $w == "$2" || $w == "$1_$2" ]] && return 1; done
	[[ -z ${ONLY:-} ]] && return 0
	for w in $ONLY; do [[ $w == "$1" || $w == "$2" || $w == "$1_$2" ]] && return 0; done
	return 1
}

# summary NAME: the closing lines; returns 0 if nothing failed.
summary() {
	local f
	T_TAG=""
	echo "----------------------------------------------------------------------"
	if ((T_FAIL)); then
		echo "Failed checks:"
		for f in "${T_FAILED[@]}"; do echo "  - $f"; done
	fi
	printf 'SUMMARY %s: %d passed, %d failed, %d skipped in %ss\n' \
		"$1" "$T_PASS" "$T_FAIL" "$T_SKIP" "$(since_s "$T_T0")"
	((T_FAIL == 0))
}

# run_scenarios RESET LETTER:NAME...: each selected scenario (see selected) under its tag, after
# RESET (a function that puts the topology back to its base state, or ":" for none), timed.
run_scenarios() {
	local reset=$1 s t0; shift
	for s; do
		selected "${s%%:*}" "${s#*:}" || continue
		T_TAG="${s%%:*}.${s#*:}"
		echo "-- $T_TAG"
		t0=$(now_us)
		"$reset"
		"sc_${s%%:*}_${s#*:}"
		info "took $(since_s "$t0") s"
	done
}

# require_root WHY / require_tools TOOL...: exit with SKIP_RC, saying why, when not root or when a
# tool is not installed.
require_root() { ((EUID == 0)) || { echo "SKIP: needs root${1:+ ($1)}"; exit "$SKIP_RC"; }; }
require_tools() {
	local t
	for t; do command -v "$t" >/dev/null || { echo "SKIP: $t not installed"; exit "$SKIP_RC"; }; done
}

# ---------------------------------------------------------------------------------------------
# Cleanup registry (LIFO) and a watchdog

# on_cleanup "SHELL CODE": run at exit, in reverse order of registration, errors ignored.
# run_cleanup runs (and forgets) what is registered so far: at exit, or between the rounds of a
# script that builds its topology more than once.
on_cleanup() { T_CLEANUP+=("$*"); }
run_cleanup() {
	local i
	for ((i = ${#T_CLEANUP[@]} - 1; i >= 0; i--)); do
		eval "${T_CLEANUP[i]}" >/dev/null 2>&1 || true
	done
	T_CLEANUP=()
}
_on_exit() {
	local rc=$?
	trap - EXIT INT TERM
	run_cleanup
	if [[ -n ${KEEP_LOGS:-} ]] || ((T_FAIL)); then
		echo "logs kept in $T_DIR"
	else
		rm -rf "$T_DIR"
	fi
	exit "$rc"
}
trap _on_exit EXIT
trap 'echo "interrupted" >&2; exit 130' INT
trap 'echo "terminated (watchdog or signal)" >&2; exit 143' TERM

# start_watchdog SECONDS: SIGTERM this script (which then cleans up) after SECONDS.
start_watchdog() {
	local main=$$
	(
		trap 'kill "$sp" 2>/dev/null; exit 0' TERM
		sleep "$1" & sp=$!
		wait "$sp"
		echo "WATCHDOG: run exceeded $1 s, stopping it" >&2
		kill -TERM "$main"
	) &
	on_cleanup "kill $! 2>/dev/null"
}

# pid_alive PID: the process exists and is not a zombie (read without a fork: it is polled).
pid_alive() {
	local st
	read -r st 2>/dev/null <"/proc/$1/stat" || return 1
	st=${st##*) } st=${st%% *}
	[[ -n $st && $st != Z ]]
}
# stop_pid PID: SIGTERM, up to 3 s, then SIGKILL; reaps it if it is our child.
stop_pid() {
	local p=$1
	[[ -n $p ]] || return 0
	if pid_alive "$p"; then
		kill -TERM "$p" 2>/dev/null
		wait_for 3 eval "! pid_alive $p" || kill -KILL "$p" 2>/dev/null
	fi
	wait "$p" 2>/dev/null
	return 0
}

# wait_for TIMEOUT_S CMD...: run CMD until it exits 0; status 1 on timeout. A second look after
# 0.05 s (most conditions hold within a moment), then one every 0.1 s.
# CMD must itself be bounded (every helper here is).
wait_for() {
	local end=$(($(now_us) + $1 * 1000000)) nap=0.05; shift
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		(($(now_us) >= end)) && return 1
		sleep "$nap"
		nap=0.1
	done
}

# ---------------------------------------------------------------------------------------------
# Nodes

# ns_prefix NODE ARRAY: fill ARRAY with the command prefix that runs a command in NODE. The
# prefix execs the command (no extra fork), so `"${pre[@]}" daemon &` makes $! the daemon.
ns_prefix() {
	local -n _arr=$2
	if [[ -n ${NODE_PID[$1]:-} ]]; then
		_arr=(nsenter -t "${NODE_PID[$1]}" -U -n -m --)
	else
		_arr=(ip netns exec "${NODE_NS[$1]}")
	fi
}
# nsx NODE CMD...: run CMD in NODE.
nsx() {
	local -a pre
	ns_prefix "$1" pre; shift
	"${pre[@]}" "$@"
}
# ns_ref NODE: what `ip link ... netns X` accepts for the node (netns name or pid).
ns_ref() { echo "${NODE_NS[$1]:-${NODE_PID[$1]:-}}"; }

ns_sysctls() {
	nsx "$1" sh -c '
		sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
		sysctl -qw net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0
		sysctl -qw net.ipv4.conf.all.promote_secondaries=1 net.ipv4.conf.default.promote_secondaries=1
		ip link set lo up' >/dev/null 2>&1
}

# ns_stop_all NS: SIGTERM whatever still runs in the named netns, SIGKILL after 3 s. Deleting a
# netns does not end its processes: one a test forgot would outlive the run.
ns_stop_all() {
	local pids
	pids=$(ip netns pids "$1" 2>/dev/null)
	[[ -n $pids ]] || return 0
	# shellcheck disable=SC2086  # one pid a word
	kill -TERM $pids 2>/dev/null
	wait_for 3 eval "[[ -z \$(ip netns pids $1 2>/dev/null) ]]" && return 0
	pids=$(ip netns pids "$1" 2>/dev/null)
	# shellcheck disable=SC2086
	[[ -n $pids ]] && kill -KILL $pids 2>/dev/null
	return 0
}

# make_ns NODE: a fresh named netns "$T_PREFIX-<node>", lo up; on exit whatever still runs
# there is stopped and the netns deleted.
make_ns() {
	local ns="$T_PREFIX-${1,,}"
	ip netns add "$ns" || { fail "ip netns add $ns"; return 1; }
	on_cleanup "ns_stop_all $ns; ip netns del $ns"
	NODE_NS[$1]=$ns
	ns_sysctls "$1"
}

# make_userns_node NODE [UID]: a process that holds a new user+net+mount namespace made with
# `unshare --user --map-root-user --net --mount` (by UID if given, via setpriv), mounts a sysfs
# for its netns, and sleeps. The node is entered with nsenter -t PID -U -n -m.
make_userns_node() {
	local node=$1 uid=${2:-} pid
	local -a as=()
	[[ -n $uid ]] && as=(setpriv --reuid="$uid" --regid="$uid" --clear-groups --inh-caps=-all)
	"${as[@]}" unshare --user --map-root-user --net --mount --propagation private -- \
		sh -c 'mount -t sysfs sysfs /sys 2>/dev/null; exec sleep 900' </dev/null >/dev/null 2>&1 &
	pid=$!
	on_cleanup "stop_pid $pid"
	# ready when its net namespace differs from ours and the uid map is written
	if ! wait_for 5 eval "[[ \$(readlink /proc/$pid/ns/net) != \$(readlink /proc/self/ns/net) && -n \$(cat /proc/$pid/uid_map) ]]"; then
		fail "unshare holder for $node did not start"; return 1
	fi
	NODE_PID[$node]=$pid
	ns_sysctls "$node"
}

# veth_pair N1 IF1 N2 IF2: a veth between two nodes, both ends up.
veth_pair() {
	ip link add "$2" netns "$(ns_ref "$1")" type veth peer name "$4" netns "$(ns_ref "$3")" ||
		{ fail "ip link add $2 <-> $4 (veth $1 <-> $3)"; return 1; }
	nsx "$1" ip link set "$2" up && nsx "$3" ip link set "$4" up
}
# addr_add NODE IF ADDR/LEN...: add addresses (IPv6 without DAD).
addr_add() {
	local n=$1 ifc=$2 a; shift 2
	for a; do
		if [[ $a == *:* ]]; then nsx "$n" ip -6 addr add "$a" dev "$ifc" nodad || return 1
		else nsx "$n" ip -4 addr add "$a" dev "$ifc" || return 1; fi
	done
}

# ipn NODE ARGS...: `ip ARGS` in NODE; for a named netns `ip -n`, which unlike `ip netns exec`
# makes no mount namespace: cheaper in a loop that polls.
ipn() {
	local n=$1; shift
	if [[ -n ${NODE_NS[$n]:-} ]]; then ip -n "${NODE_NS[$n]}" "$@"; else nsx "$n" ip "$@"; fi
}
# link_is_up NODE IF: the link's flags say UP (`ip link show DEV up` would list it whatever its
# state).
link_is_up() { ipn "$1" -o link show "$2" 2>/dev/null | grep -q '[<,]UP[,>]'; }

# have_kernel_wg: `ip link add <tmp> type wireguard` works (tried in a scratch netns).
have_kernel_wg() {
	local ns="$T_PREFIX-kprobe" rc
	ip netns add "$ns" 2>/dev/null || return 1
	ip -n "$ns" link add "${T_PREFIX}k" type wireguard 2>/dev/null; rc=$?
	ip netns del "$ns" 2>/dev/null
	return "$rc"
}

# ---------------------------------------------------------------------------------------------
# WireGuard

# wgc NODE ARGS...: `wg ARGS` in NODE, bounded by T_WG_TIMEOUT.
wgc() { local n=$1; shift; nsx "$n" timeout "$T_WG_TIMEOUT" wg "$@"; }
# wg_conf NODE setconf|addconf FILE: feed FILE through a pipe (works whatever uid NODE runs as).
wg_conf() { cat "$3" | nsx "$1" timeout "${T_CONF_TIMEOUT:-$T_WG_TIMEOUT}" wg "$2" "${NODE_IF[$1]}" /dev/stdin; }

# gen_key NAME: $T_DIR/NAME.key and NAME.pub from `wg genkey`/`wg pubkey`.
gen_key() {
	(umask 077; wg genkey >"$T_DIR/$1.key") && wg pubkey <"$T_DIR/$1.key" >"$T_DIR/$1.pub"
}
pub() { cat "$T_DIR/$1.pub"; }
priv() { cat "$T_DIR/$1.key"; }

# peer_val NODE FIELD PUBKEY: the value `wg show IF FIELD` prints for that peer.
peer_val() {
	wgc "$1" show "${NODE_IF[$1]}" "$2" |
		awk -F'\t' -v k="$3" '$1 == k { sub(/^[^\t]*\t/, ""); print; f = 1 } END { exit !f }'
}
# words_sorted: one canonical line from whitespace/comma separated words.
words_sorted() { tr ' ,\t' '\n\n\n' | sed '/^$/d' | sort | paste -sd' '; }

# wg_answers NODE: the interface exists and its configuration interface answers.
wg_answers() {
	nsx "$1" ip link show "${NODE_IF[$1]}" >/dev/null 2>&1 &&
		wgc "$1" show "${NODE_IF[$1]}" >/dev/null 2>&1
}
# daemon_ok NODE: for userspace implementations, the daemon still runs; and wg_answers.
daemon_ok() {
	[[ -z ${NODE_DPID[$1]:-} ]] || pid_alive "${NODE_DPID[$1]}" || return 1
	wg_answers "$1"
}
node_desc() { echo "$1[${NODE_IMPL[$1]:-?} ${NODE_IF[$1]:-}]"; }
log_tail() { [[ -s ${NODE_LOG[$1]:-} ]] && { echo "last lines of ${NODE_LOG[$1]}:"; tail -n "${2:-15}" "${NODE_LOG[$1]}"; }; }

# impl_cmd IMPL: the program for a userspace implementation.
impl_cmd() {
	case $1 in
	wgrouter) echo "$WGROUTER_BIN" ;;
	wireguard-go) command -v "$WIREGUARD_GO" ;;
	*) return 1 ;;
	esac
}

# start_wg IMPL NODE IFACE: create WireGuard interface IFACE in NODE with IMPL (wgrouter |
# wireguard-go | kernel). Userspace daemons run in the foreground (-f) as our children, logging
# to $T_DIR; we wait until the link exists and `wg show IFACE` answers.
start_wg() {
	local impl=$1 node=$2 ifc=$3 pid="" cmd t0
	local log="$T_DIR/daemon-$node-$ifc.log"
	local -a pre
	ns_prefix "$node" pre
	NODE_IF[$node]=$ifc NODE_IMPL[$node]=$impl NODE_LOG[$node]=$log NODE_DPID[$node]=""
	t0=$(now_us)
	echo "=== $(date '+%F %T') start $impl $ifc" >>"$log"
	case $impl in
	kernel)
		nsx "$node" ip link add "$ifc" type wireguard >>"$log" 2>&1 ||
			{ fail "start kernel WireGuard $ifc on $node" "$(cat "$log")"; return 1; }
		;;
	wireguard-go | wgrouter)
		cmd=$(impl_cmd "$impl") || { fail "start $impl: program not found"; return 1; }
		LOG_LEVEL=${WG_GO_LOG_LEVEL:-error} "${pre[@]}" "$cmd" -f "$ifc" </dev/null >>"$log" 2>&1 &
		pid=$!
		NODE_DPID[$node]=$pid
		on_cleanup "stop_pid $pid; rm -f $WG_SOCK_DIR/$ifc.sock"
		;;
	*) fail "unknown implementation '$impl'"; return 1 ;;
	esac
	if ! wait_for "${T_START_TIMEOUT:-10}" wg_answers "$node"; then
		fail "start $impl on $node: link $ifc + UAPI answer within ${T_START_TIMEOUT:-10} s" \
			"daemon pid ${pid:-none}: $([[ -n $pid ]] && { pid_alive "$pid" && echo running || echo exited; })" \
			"$(nsx "$node" ip -br link 2>&1)" "$(ls -l "$WG_SOCK_DIR/$ifc.sock" 2>&1)" "$(log_tail "$node")"
		return 1
	fi
	info "started $(node_desc "$node") in $(since_s "$t0") s${pid:+ (pid $pid)}"
}

# find_daemon IFACE: pid of a running wireguard-go/wgrouter whose last argument is IFACE
# (used for daemons that wg-quick started and that daemonized).
find_daemon() {
	local p a base
	local -a args
	for p in /proc/[0-9]*; do
		[[ -r $p/cmdline ]] || continue
		mapfile -d '' args <"$p/cmdline" 2>/dev/null || continue
		((${#args[@]} >= 2)) || continue
		[[ ${args[-1]} == "$1" ]] || continue
		base=${args[0]##*/}
		case $base in wireguard-go | wgrouter) echo "${p#/proc/}"; return 0 ;; esac
		a=$(readlink "$p/exe" 2>/dev/null) || continue
		case ${a##*/} in wireguard-go | wgrouter) echo "${p#/proc/}"; return 0 ;; esac
	done
	return 1
}

# up_start NODE LOG ARGS...: `wgrouter up ARGS --foreground` in NODE in the background, its
# output appended to LOG; UP_PID is wgrouter itself (the prefix execs), stopped on exit.
# Variables set in front of the call reach wgrouter's environment.
up_start() {
	local n=$1 log=$2
	local -a pre
	shift 2
	ns_prefix "$n" pre
	"${pre[@]}" "$WGROUTER_BIN" up "$@" --foreground </dev/null >>"$log" 2>&1 &
	UP_PID=$!
	on_cleanup "stop_pid $UP_PID"
}

# ---------------------------------------------------------------------------------------------
# Traffic

# tcpdump_start NODE SECS OUT ARGS...: tcpdump ARGS in NODE in the background for at most SECS,
# stdout to OUT, stderr to OUT.err; returns once tcpdump says it is listening (a capture started
# blind may miss the first packets), status 1 if it does not within 5 s (OUT.err says why).
# Sets CAP_PID; not for $(...): the capture must be this shell's child.
tcpdump_start() {
	local n=$1 secs=$2 out=$3
	local -a pre
	shift 3
	ns_prefix "$n" pre
	: >"$out.err"
	"${pre[@]}" timeout "$secs" tcpdump "$@" >"$out" 2>"$out.err" </dev/null &
	CAP_PID=$!
	on_cleanup "stop_pid $CAP_PID"
	wait_for 5 grep -q "listening on" "$out.err"
}

# ping_ok NODE DST COUNT DEADLINE [ARGS...]: COUNT replies within DEADLINE seconds.
ping_ok() {
	local n=$1 dst=$2 c=$3 w=$4; shift 4
	nsx "$n" ping -n -q -c "$c" -w "$w" -i 0.2 "$@" "$dst"
}
# ping_none NODE DST [ARGS...]: 3 echo requests, not one reply (ping status 1 exactly: status
# 2, e.g. an unusable source address, is an error and not "no reply").
ping_none() {
	local n=$1 dst=$2 rc; shift 2
	nsx "$n" ping -n -q -c 3 -W 1 -i 0.3 "$@" "$dst"; rc=$?
	((rc == 1))
}
# port_listening NODE TCPPORT
port_listening() { [[ -n $(nsx "$1" ss -Hltn "sport = :$2" 2>/dev/null) ]]; }

# iperf_tcp CLIENT SERVER SERVER_ADDR [-R]: 3 s (IPERF_SECS) of iperf3 TCP, at most IPERF_RATE
# (iperf3 -b, e.g. 100M; unbounded without it); prints the receiver's Mbit/s.
iperf_tcp() {
	local cn=$1 sn=$2 addr=$3 rev=${4:-} port=$((5201 + RANDOM % 500)) spid out bps rc
	local slog="$T_DIR/iperf3-server-$port.log"
	local -a pre
	ns_prefix "$sn" pre
	"${pre[@]}" timeout $((30 + ${IPERF_SECS:-3})) iperf3 -s -1 -B "$addr" -p "$port" </dev/null >"$slog" 2>&1 &
	spid=$!
	on_cleanup "stop_pid $spid"
	if ! wait_for "$T_LISTEN_TIMEOUT" port_listening "$sn" "$port"; then
		echo "iperf3 server on $sn did not listen on $addr:$port"; cat "$slog"; stop_pid "$spid"; return 1
	fi
	out=$(nsx "$cn" timeout $((25 + ${IPERF_SECS:-3})) iperf3 -c "$addr" -p "$port" -t "${IPERF_SECS:-3}" ${IPERF_RATE:+-b "$IPERF_RATE"} -J $rev 2>&1); rc=$?
	wait_for 5 eval "! pid_alive $spid" || stop_pid "$spid"
	bps=$(jq -r '.end.sum_received.bits_per_second // empty' <<<"$out" 2>/dev/null)
	if ((rc != 0)) || [[ -z $bps ]]; then
		echo "iperf3 client exit status $rc"
		jq -r '.error // empty' <<<"$out" 2>/dev/null || true
		echo "$out" | tail -n 15
		echo "server log:"; tail -n 10 "$slog"
		return 1
	fi
	awk -v b="$bps" 'BEGIN { printf "%.1f\n", b / 1e6 }'
}

# tcp_integrity FROM TO ADDR [MiB] [PORT] [pull]: sends MiB (default 16) of random bytes over one
# TCP connection from node FROM to node TO and compares SHA-256 at both ends: segments the data
# path split, joined and checksummed must arrive byte for byte. ADDR is where the listener is:
# TO's address (TO listens, FROM connects), or with "pull" FROM's address (FROM listens and
# sends once TO connects: the connection is TO's, e.g. to pass an inbound filter). Prints the
# digest.
tcp_integrity() {
	local from=$1 to=$2 addr=$3 mib=${4:-16} port=${5:-$((5801 + RANDOM % 500))} mode=${6:-push}
	local blob="$T_DIR/blob-$port" sums="$T_DIR/blob-$port.sha" want got lpid lnode cnode
	head -c $((mib * 1048576)) /dev/urandom >"$blob"
	want=$(sha256sum <"$blob" | cut -d' ' -f1)
	# One script for both ends: listen|connect, send FILE|recv (prints the digest).
	local py='
import hashlib, socket, sys
role, action, addr, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
if role == "listen":
    l = socket.socket(fam, socket.SOCK_STREAM); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind((addr, port)); l.listen(1); s, _ = l.accept()
else:
    s = socket.create_connection((addr, port), timeout=50)
if action == "send":
    with open(sys.argv[5], "rb") as f: s.sendfile(f)
    s.shutdown(socket.SHUT_WR); s.recv(1)
else:
    h = hashlib.sha256()
    while True:
        b = s.recv(1 << 20)
        if not b: break
        h.update(b)
    print(h.hexdigest())'
	local -a pre
	if [[ $mode == pull ]]; then lnode=$from; else lnode=$to; fi
	ns_prefix "$lnode" pre
	if [[ $mode == pull ]]; then
		"${pre[@]}" timeout 60 python3 -c "$py" listen send "$addr" "$port" "$blob" >/dev/null 2>&1 &
	else
		"${pre[@]}" timeout 60 python3 -c "$py" listen recv "$addr" "$port" >"$sums" 2>&1 &
	fi
	lpid=$!
	on_cleanup "stop_pid $lpid"
	if ! wait_for "$T_LISTEN_TIMEOUT" port_listening "$lnode" "$port"; then
		echo "listener on $lnode did not listen on $addr:$port"; stop_pid "$lpid"; return 1
	fi
	if [[ $mode == pull ]]; then
		nsx "$to" timeout 60 python3 -c "$py" connect recv "$addr" "$port" >"$sums" 2>&1 || { echo "receiver failed: $(tail -n 2 "$sums")"; stop_pid "$lpid"; return 1; }
	else
		nsx "$from" timeout 60 python3 -c "$py" connect send "$addr" "$port" "$blob" || { echo "sender failed"; stop_pid "$lpid"; return 1; }
	fi
	wait_for 30 eval "! pid_alive $lpid" || { echo "listener did not finish"; stop_pid "$lpid"; return 1; }
	got=$(tail -n 1 "$sums")
	rm -f "$blob"
	[[ $got == "$want" ]] || { echo "sha256 sent $want, received $got"; return 1; }
	echo "$got"
}

# udp_integrity FROM TO ADDR [COUNT] [SIZE]: COUNT (default 20000) datagrams of SIZE bytes (default
# 1000) from node FROM to ADDR on node TO in bursts of 64; each carries its number and a digest
# of it, so the receiver sees whether every datagram arrived whole and unchanged (joined and
# split again on the way when offloads are on). Prints "received N of COUNT, bad 0"; fails on
# any bad datagram or when fewer than half arrived.
udp_integrity() {
	local from=$1 to=$2 addr=$3 count=${4:-20000} size=${5:-1000} port=$((6401 + RANDOM % 500)) lpid out
	local res="$T_DIR/udp-$port.out"
	local py='
import hashlib, socket, struct, sys, time
mode, addr, port, count, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
def body(i):
    d = hashlib.sha256(struct.pack("!I", i)).digest()
    return (struct.pack("!I", i) + d * (size // 32 + 1))[:size]
s = socket.socket(fam, socket.SOCK_DGRAM)
if mode == "recv":
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind((addr, port)); s.settimeout(3); got = bad = 0
    print("ready", flush=True)
    try:
        while got + bad < count:
            b = s.recv(65536)
            if len(b) == size and b == body(struct.unpack("!I", b[:4])[0]): got += 1
            else: bad += 1
    except socket.timeout: pass
    print(f"received {got} of {count}, bad {bad}")
else:
    for i in range(count):
        s.sendto(body(i), (addr, port))
        if i % 64 == 63: time.sleep(0.0005)'
	local -a pre
	ns_prefix "$to" pre
	"${pre[@]}" timeout 60 python3 -c "$py" recv "$addr" "$port" "$count" "$size" >"$res" 2>&1 &
	lpid=$!
	on_cleanup "stop_pid $lpid"
	wait_for 5 grep -q ready "$res" || { echo "receiver did not start"; stop_pid "$lpid"; return 1; }
	nsx "$from" timeout 60 python3 -c "$py" send "$addr" "$port" "$count" "$size" || { echo "sender failed"; stop_pid "$lpid"; return 1; }
	wait_for 30 eval "! pid_alive $lpid" || { echo "receiver did not finish"; stop_pid "$lpid"; return 1; }
	out=$(tail -n 1 "$res")
	echo "$out"
	[[ $out =~ ^received\ ([0-9]+)\ of\ [0-9]+,\ bad\ 0$ ]] && ((BASH_REMATCH[1] * 2 >= count))
}

# ---------------------------------------------------------------------------------------------
# Process figures (bench/e2e, bench/flood)

# proc_ticks PID...: utime+stime (stat fields 14, 15; all threads) summed, in clock ticks.
proc_ticks() {
	local t=0 s f pid
	for pid; do
		s=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
		s=${s##*) }                  # fields from 3 on; comm may hold spaces
		read -r -a f <<<"$s"
		[ "${f[0]}" != Z ] || return 1   # exited, not yet reaped
		t=$((t + f[11] + f[12]))
	done
	echo $t
}
# busy_ticks: the whole machine's busy time from /proc/stat (all but idle and iowait).
busy_ticks() {
	local user nice system irq softirq steal
	read -r _ user nice system _ _ irq softirq steal _ </proc/stat
	echo $((user + nice + system + irq + softirq + steal))
}

# rss_kb PID: the process's resident set (VmRSS) in kB.
rss_kb() { awk '$1 == "VmRSS:" { print $2; f = 1 } END { exit !f }' "/proc/$1/status" 2>/dev/null; }

# ---------------------------------------------------------------------------------------------
# The two-node topology shared by interop_test.sh and unprivileged_test.sh
#
#   node A  ---- veth ${T_PREFIX}a0 / ${T_PREFIX}b0 ----  node B
#   outer   192.0.2.1/25, 2001:db8:a::1/64        192.0.2.2/25, 2001:db8:a::2/64
#   wg      ${T_PREFIX}a  port 40001              ${T_PREFIX}b  port 40002
#   inner   198.51.100.1/24, 2001:db8:100::1/48   198.51.100.2/24, 2001:db8:100::2/48
#
# A's peer B owns 198.51.100.2/32, 198.51.100.64/26, 2001:db8:100::2/128, 2001:db8:100:1::/64
# (the /26 and /64 are the extra sources scenario h uses); B's peer A owns A's two /32, /128.

# shellcheck disable=SC2034  # used by interop_test.sh
OUT4_A=192.0.2.1 OUT4_B=192.0.2.2 OUT4_B2=192.0.2.3 OUT4_LEN=25
OUT6_A=2001:db8:a::1 OUT6_B=2001:db8:a::2 OUT6_LEN=64
IN4_A=198.51.100.1 IN4_B=198.51.100.2
IN6_A=2001:db8:100::1 IN6_B=2001:db8:100::2
# shellcheck disable=SC2034
PORT_A=40001 PORT_B=40002 PORT_B2=40012
ALLOWED_B_AT_A="198.51.100.2/32, 198.51.100.64/26, 2001:db8:100::2/128, 2001:db8:100:1::/64"
ALLOWED_A_AT_B="198.51.100.1/32, 2001:db8:100::1/128"

write_base_confs() {
	(
		umask 077
		cat >"$T_DIR/A.conf" <<-EOF
			[Interface]
			PrivateKey = $(priv A)
			ListenPort = $PORT_A

			[Peer]
			PublicKey = $(pub B)
			Endpoint = $OUT4_B:$PORT_B
			AllowedIPs = $ALLOWED_B_AT_A
		EOF
		cat >"$T_DIR/B.conf" <<-EOF
			[Interface]
			PrivateKey = $(priv B)
			ListenPort = $PORT_B

			[Peer]
			PublicKey = $(pub A)
			Endpoint = $OUT4_A:$PORT_A
			AllowedIPs = $ALLOWED_A_AT_B
		EOF
	)
}

# wg_inner_up NODE ADDR4 ADDR6: inner addresses on the WireGuard interface, link up.
wg_inner_up() {
	addr_add "$1" "${NODE_IF[$1]}" "$2/24" "$3/48" &&
		nsx "$1" ip link set "${NODE_IF[$1]}" up
}

# bring_up NODE: (re)start the node's daemon, apply its base config, inner addresses, link up.
bring_up() {
	local n=$1
	start_wg "${NODE_IMPL[$n]}" "$n" "${NODE_IF[$n]}" || return 1
	local out
	out=$(wg_conf "$n" setconf "$T_DIR/$n.conf" 2>&1) || { fail "wg setconf $(node_desc "$n") base config" "$out"; return 1; }
	if [[ $n == A ]]; then wg_inner_up A "$IN4_A" "$IN6_A"; else wg_inner_up B "$IN4_B" "$IN6_B"; fi ||
		{ fail "inner addresses / link up on $(node_desc "$n")"; return 1; }
}

# pair_link: nodes A and B must exist. The veth between them with the outer addresses.
pair_link() {
	NODE_VETH[A]=${T_PREFIX}a0 NODE_VETH[B]=${T_PREFIX}b0
	veth_pair A "${NODE_VETH[A]}" B "${NODE_VETH[B]}" || return 1
	addr_add A "${NODE_VETH[A]}" "$OUT4_A/$OUT4_LEN" "$OUT6_A/$OUT6_LEN" &&
		addr_add B "${NODE_VETH[B]}" "$OUT4_B/$OUT4_LEN" "$OUT6_B/$OUT6_LEN" ||
		{ fail "outer addresses on the veth"; return 1; }
}

# pair_test WATCHDOG_S: the start of a test that drives the pair with plain `ip -n` and its own
# daemons: root (else SKIP), a watchdog, nodes A and B joined by pair_link, keys A and B. Sets A
# and B (the netns names), KA KB (private keys) and PA PB (public keys).
pair_test() {
	require_root
	start_watchdog "$1"
	make_ns A && make_ns B && pair_link && gen_key A && gen_key B || return 1
	# shellcheck disable=SC2034  # for the script that called
	A=${NODE_NS[A]} B=${NODE_NS[B]} KA=$(priv A) KB=$(priv B) PA=$(pub A) PB=$(pub B)
}

# setup_pair IMPL_A IMPL_B: nodes A and B must exist. veth, daemons, keys, base config.
setup_pair() {
	pair_link || return 1
	gen_key A && gen_key B || { fail "wg genkey"; return 1; }
	write_base_confs
	NODE_IMPL[A]=$1 NODE_IF[A]=${T_PREFIX}a
	NODE_IMPL[B]=$2 NODE_IF[B]=${T_PREFIX}b
	bring_up A && bring_up B
}

# reset_pair: restart a dead daemon (and say so), then `wg setconf` the base config on both
# sides: keys, ports, peers, endpoints, allowed IPs back to the start; sessions dropped.
reset_pair() {
	local n out rc=0
	for n in A B; do
		if ! daemon_ok "$n"; then
			fail "$(node_desc "$n") is not running/answering at the start of this scenario (restarting it)" \
				"$(log_tail "$n" 25)"
			restart_node "$n" || rc=1
			continue
		fi
		out=$(wg_conf "$n" setconf "$T_DIR/$n.conf" 2>&1) && continue
		# the daemon refuses its own base config: say so, then restart it so this scenario
		# starts clean instead of inheriting the previous one's breakage
		fail "reset: wg setconf base config on $(node_desc "$n") (restarting it)" "$out" \
			"UDP sockets in $n (a port listed without a process is still bound but owned by no fd):" \
			"$(nsx "$n" ss -uanp 2>&1 | head -n 12)"
		restart_node "$n" || rc=1
	done
	return "$rc"
}

# restart_node NODE: stop its daemon / delete its interface, then bring_up.
restart_node() {
	[[ -n ${NODE_DPID[$1]:-} ]] && stop_pid "${NODE_DPID[$1]}"
	wait_for 3 eval "! nsx $1 ip link show ${NODE_IF[$1]}" || nsx "$1" ip link del "${NODE_IF[$1]}" 2>/dev/null
	bring_up "$1"
}
