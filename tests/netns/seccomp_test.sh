#!/usr/bin/env bash
# tests/netns/seccomp_test.sh MODE LAUNCHER WGROUTER_BIN — wgrouter under a seccomp filter that
# refuses io_uring as container runtimes' default profiles do (tests/tools/no_io_uring.cpp:
# io_uring_setup/enter/register fail with EPERM, or with ENOSYS; MODE eperm | enosys).
#   a  the filter is real: io_uring_setup fails with MODE's errno under the launcher and works
#      without it (so the checks below can tell the backends apart); the same binary without
#      the filter says `io backend: io_uring`
#   b  `wgrouter up` under the filter against wireguard-go: exactly one fallback line in the log
#      naming the errno, `show` (text and JSON) says the epoll backend, handshake, ping both ways,
#      8 MiB each way over TCP with SHA-256 compared at both ends, the daemon still alive
#   c  under strace, with the crypto pool, a resolver lookup, the UAPI and traffic all used: the
#      one io_uring call of the whole run is the backend's refused io_uring_setup
# Documentation addresses only; everything removed on exit.
set -uo pipefail
MODE=${1:?usage: seccomp_test.sh eperm|enosys LAUNCHER WGROUTER_BIN}
LAUNCHER=${2:?launcher}
BIN=${3:?wgrouter binary}
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
WGROUTER_BIN=$BIN
case $MODE in
eperm) ERRNO=1 ERRTEXT="Operation not permitted" ;;
enosys) ERRNO=38 ERRTEXT="Function not implemented" ;;
*) echo "MODE must be eperm or enosys" >&2; exit 2 ;;
esac
[[ -x $LAUNCHER ]] || { echo "SKIP: launcher not built: $LAUNCHER"; exit "$SKIP_RC"; }
require_tools ip wg wireguard-go python3 ping jq
pair_test 180 || exit 1
P=$T_PREFIX DIR=$T_DIR
on_cleanup "rm -f $WG_SOCK_DIR/${P}a.sock $WG_SOCK_DIR/${P}x.sock"

# io_uring_setup(4, params) as a program sees it: "fd" or "errno N".
probe='
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
params = ctypes.create_string_buffer(120)
fd = libc.syscall(425, 4, params)
print("fd" if fd >= 0 else "errno %d" % ctypes.get_errno())'

T_TAG=a
got=$("$LAUNCHER" "$MODE" python3 -c "$probe" 2>&1)
check_eq "under the filter io_uring_setup fails with errno $ERRNO ($MODE)" "errno $ERRNO" "$got"
got=$(python3 -c "$probe" 2>&1)
if [[ $got == fd ]]; then
  pass "without the filter io_uring_setup works here"
  # The same binary, no filter: the backend line tells io_uring apart.
  ip netns exec "$A" "$BIN" -f "${P}x" </dev/null >"$DIR/x.log" 2>&1 &
  XPID=$!
  on_cleanup "stop_pid $XPID"
  if wait_for 10 eval "'$BIN' show ${P}x >/dev/null"; then
    check_match "without the filter show says io backend: io_uring" "io backend: io_uring" \
      "$("$BIN" show "${P}x" | grep 'io backend')"
  else
    fail "control daemon ${P}x did not answer" "$(cat "$DIR/x.log")"
  fi
  stop_pid "$XPID"
else
  info "io_uring does not work here even without the filter ($got): the control run is skipped"
fi

T_TAG=b
# B: wireguard-go with the peer's base config.
cat >"$DIR/b.conf" <<EOF
[Interface]
PrivateKey = $KB
ListenPort = $PORT_B

[Peer]
PublicKey = $PA
Endpoint = $OUT4_A:$PORT_A
AllowedIPs = $IN4_A/32, $IN6_A/128
EOF
start_wg wireguard-go B "${P}b" || exit 1
wg_conf B setconf "$DIR/b.conf" && wg_inner_up B "$IN4_B" "$IN6_B" || { fail "wireguard-go on B"; exit 1; }

(umask 077; cat >"$DIR/a.conf" <<EOF
[Interface]
PrivateKey = $KA
ListenPort = $PORT_A
Address = $IN4_A/24, $IN6_A/48

[Peer]
PublicKey = $PB
Endpoint = $OUT4_B:$PORT_B
AllowedIPs = $IN4_B/32, $IN6_B/128
PersistentKeepalive = 1
EOF
)
ip netns exec "$A" "$LAUNCHER" "$MODE" "$BIN" up "$DIR/a.conf" --name "${P}a" --foreground </dev/null >"$DIR/a.log" 2>&1 &
APID=$!
on_cleanup "stop_pid $APID"
if ! wait_for 10 grep -q "up (" "$DIR/a.log"; then
  fail "wgrouter up under the filter came up" "$(cat "$DIR/a.log")"
  summary "seccomp $MODE"; exit 1
fi
pass "wgrouter up under the filter came up"
lines=$(grep -c "io_uring unavailable (" "$DIR/a.log")
check_eq "exactly one fallback line in the log" 1 "$lines"
check_match "it names the errno" "io_uring unavailable \(io_uring_setup: $ERRTEXT\); using epoll \+ recvmmsg" "$(grep -m1 "io_uring unavailable" "$DIR/a.log")"
check_match "show: io backend: epoll+recvmmsg" "io backend: epoll\+recvmmsg" "$("$BIN" show "${P}a" | grep 'io backend')"
check_eq "show --json: io_backend" "epoll+recvmmsg" "$("$BIN" show "${P}a" --json | jq -r '.[0].io_backend')"
hs() { [[ $(wgc A show "${P}a" latest-handshakes | cut -f2) =~ ^[1-9] ]]; }
NODE_IF[A]=${P}a
check "handshake with wireguard-go" wait_for 10 hs
check "ping A -> B (IPv4)" ping_ok A "$IN4_B" 3 5
check "ping B -> A (IPv6)" ping_ok B "$IN6_A" 3 5
if out=$(tcp_integrity A B "$IN4_B" 8); then pass "8 MiB A -> B over TCP, sha256 $out"; else fail "8 MiB A -> B over TCP" "$out"; fi
if out=$(tcp_integrity B A "$IN6_A" 8); then pass "8 MiB B -> A over TCP (IPv6), sha256 $out"; else fail "8 MiB B -> A over TCP" "$out"; fi
check "wgrouter still running" pid_alive "$APID"
check_eq "still exactly one fallback line" 1 "$(grep -c "io_uring unavailable (" "$DIR/a.log")"
kill -TERM "$APID"
check "exits on SIGTERM" wait_for 10 eval "! pid_alive $APID"

T_TAG=c
# Nothing but the backend's probe asks for io_uring: under strace (not --seccomp-bpf: the
# launcher's ERRNO would win over strace's TRACE and hide the calls), with the UAPI server
# answering, a reload looking a hostname up on the resolver's threads, the crypto pool's
# threads and the output path busy, the only io_uring call of the whole run is one
# io_uring_setup.
if command -v strace >/dev/null; then
  # MTU set: the automatic one would follow the route to localhost (65536).
  { sed 's/^\[Interface\]$/[Interface]\nMTU = 1420/' "$DIR/a.conf"
    printf '\n[Peer]\nPublicKey = %s\nEndpoint = localhost:51999\nAllowedIPs = 203.0.113.9/32\n' "$("$BIN" genkey | "$BIN" pubkey)"
  } >"$DIR/c.conf"
  WGROUTER_THREADS=2 ip netns exec "$A" strace -f -qq -o "$DIR/strace.out" \
    -e trace=io_uring_setup,io_uring_enter,io_uring_register \
    "$LAUNCHER" "$MODE" "$BIN" up "$DIR/c.conf" --name "${P}a" --foreground </dev/null >"$DIR/c.log" 2>&1 &
  SPID=$!
  on_cleanup "stop_pid $SPID"
  if wait_for 10 grep -q "up (" "$DIR/c.log"; then
    WPID=$(pgrep -P "$SPID" | head -n1)
    check "traffic under strace: 2 MiB A -> B" tcp_integrity A B "$IN4_B" 2
    kill -HUP "$WPID"
    check "reload: the hostname looked up on the resolver" wait_for 10 grep -q -E "localhost:51999 (now|still) resolves to" "$DIR/c.log"
    check "UAPI get" eval "'$BIN' show ${P}a >/dev/null"
    kill -TERM "$WPID"
    check "strace and wgrouter ended" wait_for 10 eval "! pid_alive $SPID"
    # Every line that names an io_uring call, whatever its result: "NAME = RESULT".
    calls=$(grep 'io_uring_' "$DIR/strace.out" | sed 's/^[0-9]* *\(io_uring_[a-z]*\)(.*) *= *\(-1 [A-Z]*\|[0-9]*\).*/\1 = \2/' |
      paste -sd';')
    check_eq "io_uring calls in the whole run" "io_uring_setup = -1 ${MODE^^}" "$calls"
  else
    fail "wgrouter up under strace and the filter" "$(cat "$DIR/c.log")"
  fi
else
  skip "strace not installed: cannot count io_uring calls"
fi
summary "seccomp $MODE: wgrouter up without io_uring"
