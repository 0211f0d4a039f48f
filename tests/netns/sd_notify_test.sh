#!/usr/bin/env bash
# tests/netns/sd_notify_test.sh WGROUTER_BIN — the service manager protocol (tools/notify.hpp)
# as systemd would see it, without systemd: the test owns the NOTIFY_SOCKET (a unix datagram
# socket read by a small python receiver that records each message with the sender's
# credentials, SCM_CREDENTIALS) and starts wgrouter itself in a namespace it made.
#   a  `up --foreground`: the first message is READY=1, sent by the daemon's own pid, after the
#      PostUp hook (the hook sends a datagram of its own to the same socket: order is the proof),
#      with the interface's address, its routes and the TAP port in place when it arrives;
#      STATUS says "2 peers, 1 port"; a `wg show` sends nothing, a `wg set` adding a peer sends
#      STATUS "3 peers, 1 port" once; SIGHUP with a one-peer file gives RELOADING=1 (with
#      MONOTONIC_USEC) then READY=1 with STATUS "1 peer, 1 port"; a reload of a broken file
#      still ends in READY=1; SIGTERM gives STOPPING=1 and exit 0
#   b  `up --user nobody`: READY=1, RELOADING=1/READY=1 on SIGHUP and STOPPING=1 all come from
#      uid nobody (sent after the privilege drop)
#   c  wireguard-go mode `wgrouter -f IFACE`: READY=1 with "0 peers"; `wg setconf` of two peers
#      gives STATUS "2 peers"; the TUN deleted gives STOPPING=1
#   d  wireguard-go mode detached (no -f): says NOTIFY_SOCKET is ignored and sends nothing
# Absence is checked without waiting: the test sends its own marker datagram after the daemon
# acted (or exited); the socket is FIFO, so once the marker is read everything the daemon sent
# before it has been read too. Documentation addresses only; everything removed on exit.
set -uo pipefail
BIN=${1:?usage: sd_notify_test.sh WGROUTER_BIN}
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
WGROUTER_BIN=$BIN
require_root
require_tools ip wg python3
getent passwd nobody >/dev/null || { echo "SKIP: no user nobody"; exit "$SKIP_RC"; }
start_watchdog 400
make_ns A || exit 1
P=$T_PREFIX DIR=$T_DIR
IF=${P}a TAP=${P}p
NOBODY=$(id -u nobody)
SOCK=$DIR/notify.sock LOG=$DIR/notify.log
on_cleanup "rm -f $WG_SOCK_DIR/$IF.sock"
# The daemon as nobody must reach the socket and read its file: a directory it may cross.
chmod 711 "$DIR"
for k in a p1 p2 p3; do gen_key "$k" || exit 1; done

# The receiver: one line per datagram, "SEQ PID UID MESSAGE" (newlines in MESSAGE as "|").
# Bounded by its own deadline and by the watchdog; ends on the datagram "TEST-QUIT".
cat >"$DIR/receiver.py" <<'EOF'
import array, os, socket, struct, sys, time
path, log = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o777)  # as systemd's own notify socket: any uid may send
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
deadline = time.monotonic() + 390
seq = 0
with open(log, "a", buffering=1) as out:
    while time.monotonic() < deadline:
        s.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            data, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
        except socket.timeout:
            break
        pid = uid = -1
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid, uid, _ = struct.unpack("iII", payload[:12])
        msg = data.decode(errors="replace")
        if msg == "TEST-QUIT":
            break
        seq += 1
        out.write("%d %d %d %s\n" % (seq, pid, uid, msg.replace("\n", "|")))
EOF
python3 "$DIR/receiver.py" "$SOCK" "$LOG" </dev/null >"$DIR/receiver.err" 2>&1 &
RECV=$!
on_cleanup "stop_pid $RECV"
wait_for 30 test -S "$SOCK" || { fail "notify receiver did not start" "$(cat "$DIR/receiver.err")"; exit 1; }

# send_dgram TEXT: a datagram of the test's own to the socket (markers, the PostUp hook's).
send_dgram() {
  python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(sys.argv[2].encode(), sys.argv[1])' \
    "$SOCK" "$1"
}
# sync_log NAME: sends the marker TEST-NAME and waits until the receiver has logged it.
sync_log() {
  send_dgram "TEST-$1"
  wait_for 30 grep -q " TEST-$1\$" "$LOG" || fail "marker $1 not received" "$(cat "$DIR/receiver.err")"
}
# msgs_after SEQ: the log lines after line SEQ.
msgs_after() { awk -v s="$1" '$1 > s' "$LOG"; }
last_seq() { awk 'END { print $1 + 0 }' "$LOG"; }
# first_seq_after SEQ REGEX: the first line after SEQ whose message matches REGEX (0: none).
first_seq_after() { awk -v s="$1" -v re="$2" '$1 > s && $0 ~ re { print $1; found = 1; exit } END { if (!found) print 0 }' "$LOG"; }
line_of() { awk -v s="$1" '$1 == s' "$LOG"; }
field() { line_of "$1" | awk -v f="$2" '{ print $f }'; }

# a_conf FILE PEERS: the native file with PEERS of p1 p2 (one port, a PostUp that announces itself).
a_conf() {
  local file=$1 n=$2
  {
    cat <<EOF
[Interface]
PrivateKey = $(priv a)
ListenPort = 51820
Address = 198.51.100.1/24, 2001:db8:5::1/64
PostUp = python3 -c 'import socket; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b"TEST-POSTUP-%i", "$SOCK")'

[Port]
Name = $TAP
Mode = tap
Address = fe80::1/64
Route = 2001:db8:5:1::2/128

[Peer]
PublicKey = $(pub p1)
AllowedIPs = 203.0.113.0/25
EOF
    ((n < 2)) || cat <<EOF

[Peer]
PublicKey = $(pub p2)
AllowedIPs = 203.0.113.128/25, 2001:db8:77::/48
EOF
  } >"$file"
  chmod 600 "$file"
}

# What the receiver's first READY=1 found, checked right away by the test (the state is there
# when READY=1 arrives and stays: the test waits for READY before looking).
check_state_at_ready() {
  check "address 198.51.100.1/24 on $IF" eval "ip -n ${NODE_NS[A]} -br addr show dev $IF | grep -q 198.51.100.1/24"
  check "route 203.0.113.128/25 via $IF" eval "ip -n ${NODE_NS[A]} route show 203.0.113.128/25 | grep -q 'dev $IF'"
  check "route 2001:db8:77::/48 via $IF" eval "ip -n ${NODE_NS[A]} -6 route show 2001:db8:77::/48 | grep -q 'dev $IF'"
  check "TAP port $TAP up" link_is_up A "$TAP"
}

# run_up TAG ARGS...: `up` with NOTIFY_SOCKET set, its log in $DIR/TAG.log, UP_PID set.
run_up() {
  local tag=$1; shift
  NOTIFY_SOCKET=$SOCK up_start A "$DIR/$tag.log" "$DIR/a.conf" --name "$IF" "$@"
}

# up_scenario TAG UID [ARGS...]: what a and b share (start, READY after PostUp, sender, STATUS;
# wg set; SIGHUP; SIGTERM). UID: the one every message of the daemon's must come from.
up_scenario() {
  local tag=$1 uid=$2 base ready postup reloading ready2 stopping rc; shift 2
  a_conf "$DIR/a.conf" 2
  [[ $uid != 0 ]] && chown nobody "$DIR/a.conf"
  base=$(last_seq)
  run_up "$tag" "$@"
  if ! wait_for 60 eval "(( \$(first_seq_after $base 'READY=1') > 0 ))"; then
    fail "READY=1 within 60 s" "$(cat "$DIR/$tag.log")" "$(msgs_after "$base")"
    return 1
  fi
  ready=$(first_seq_after "$base" 'READY=1')
  postup=$(first_seq_after "$base" "TEST-POSTUP-$IF")
  check "PostUp ran (its datagram came)" test "$postup" -gt 0
  check "READY=1 after PostUp's datagram (seq $postup < $ready)" test "$postup" -gt 0 -a "$postup" -lt "$ready"
  check_eq "nothing of the daemon's before READY=1" "" \
    "$(awk -v s="$base" -v r="$ready" '$1 > s && $1 < r && $4 !~ /^TEST-/' "$LOG")"
  check_eq "READY=1 sent by the daemon's pid" "$UP_PID" "$(field "$ready" 2)"
  check_eq "READY=1 sent as uid" "$uid" "$(field "$ready" 3)"
  check_match "READY=1 carries the peer and port counts" 'STATUS=2 peers, 1 port$' "$(line_of "$ready")"
  check_state_at_ready

  # `wg show` changes nothing: no message; `wg set` adding a peer: one STATUS, 3 peers.
  base=$(last_seq)
  nsx A timeout "$T_WG_TIMEOUT" wg show "$IF" >/dev/null || fail "wg show $IF"
  nsx A timeout "$T_WG_TIMEOUT" wg set "$IF" peer "$(pub p3)" allowed-ips 192.0.2.0/24 || fail "wg set $IF peer"
  wait_for 30 eval "(( \$(first_seq_after $base 'STATUS=3 peers, 1 port') > 0 ))" ||
    fail "STATUS=3 peers, 1 port after wg set" "$(msgs_after "$base")"
  sync_log "after-set-$tag"
  check_eq "messages after wg show + wg set (one STATUS)" "STATUS=3 peers, 1 port" \
    "$(msgs_after "$base" | awk '$4 !~ /^TEST-/ { $1 = $2 = $3 = ""; sub(/^ +/, ""); print }')"

  # SIGHUP with one peer in the file: RELOADING=1, then READY=1 with the new count.
  a_conf "$DIR/a.conf" 1
  base=$(last_seq)
  kill -HUP "$UP_PID"
  wait_for 30 eval "(( \$(first_seq_after $base 'READY=1') > 0 ))" ||
    fail "READY=1 after SIGHUP" "$(msgs_after "$base")" "$(tail -5 "$DIR/$tag.log")"
  reloading=$(first_seq_after "$base" 'RELOADING=1')
  ready2=$(first_seq_after "$base" 'READY=1')
  check "RELOADING=1 before READY=1 (seq $reloading < $ready2)" test "$reloading" -gt 0 -a "$reloading" -lt "$ready2"
  check_match "RELOADING=1 carries MONOTONIC_USEC" 'RELOADING=1.*MONOTONIC_USEC=[0-9]+' "$(line_of "$reloading")"
  check_match "READY=1 after reload: the file's peer count" 'STATUS=1 peer, 1 port$' "$(line_of "$ready2")"
  check_eq "reload messages sent as uid" "$uid $uid" "$(field "$reloading" 3) $(field "$ready2" 3)"

  # A broken file changes nothing, but the reload still ends.
  echo "Bogus = 1" >>"$DIR/a.conf"
  base=$(last_seq)
  kill -HUP "$UP_PID"
  wait_for 30 eval "(( \$(first_seq_after $base 'READY=1') > 0 ))" ||
    fail "READY=1 after a reload of a bad file" "$(msgs_after "$base")" "$(tail -5 "$DIR/$tag.log")"
  check_match "the bad reload left the peers" 'STATUS=1 peer, 1 port$' "$(line_of "$(first_seq_after "$base" 'READY=1')")"

  base=$(last_seq)
  kill -TERM "$UP_PID"
  wait_for 30 eval "! pid_alive $UP_PID" || fail "wgrouter stops on SIGTERM"
  wait "$UP_PID"; rc=$?
  check_eq "exit status after SIGTERM" 0 "$rc"
  sync_log "stopped-$tag"
  stopping=$(first_seq_after "$base" 'STOPPING=1')
  check "STOPPING=1 sent" test "$stopping" -gt 0
  ((stopping > 0)) && check_eq "STOPPING=1 sent by the daemon's pid as uid" "$UP_PID $uid" \
    "$(field "$stopping" 2) $(field "$stopping" 3)"
}

sc_a_up() { up_scenario a 0; }
sc_b_user() { up_scenario b "$NOBODY" --user nobody; }

# The wireguard-go mode's file for `wg setconf`.
go_conf() {
  cat >"$DIR/go.conf" <<EOF
[Interface]
PrivateKey = $(priv a)

[Peer]
PublicKey = $(pub p1)
AllowedIPs = 203.0.113.0/25

[Peer]
PublicKey = $(pub p2)
AllowedIPs = 203.0.113.128/25
EOF
}

sc_c_go() {
  local base ready pid stopping
  local -a pre
  go_conf
  base=$(last_seq)
  ns_prefix A pre  # execs: $! is the daemon, the pid the manager would watch
  NOTIFY_SOCKET=$SOCK "${pre[@]}" "$WGROUTER_BIN" -f "$IF" </dev/null >"$DIR/c.log" 2>&1 &
  pid=$!
  on_cleanup "stop_pid $pid"
  wait_for 30 eval "(( \$(first_seq_after $base 'READY=1') > 0 ))" || { fail "READY=1" "$(cat "$DIR/c.log")"; return 1; }
  ready=$(first_seq_after "$base" 'READY=1')
  check_match "READY=1 once the TUN and the UAPI socket exist" 'READY=1\|STATUS=0 peers$' "$(line_of "$ready")"
  check_eq "READY=1 sent by the daemon's pid" "$pid" "$(field "$ready" 2)"
  check "TUN $IF exists at READY" ipn A link show "$IF"
  check "UAPI socket exists at READY" test -S "$WG_SOCK_DIR/$IF.sock"
  base=$(last_seq)
  nsx A timeout "$T_WG_TIMEOUT" wg setconf "$IF" "$DIR/go.conf" || fail "wg setconf"
  if wait_for 30 eval "(( \$(first_seq_after $base 'STATUS=2 peers$') > 0 ))"; then
    pass "STATUS=2 peers after wg setconf"
  else
    fail "STATUS=2 peers after wg setconf" "$(msgs_after "$base")"
  fi
  base=$(last_seq)
  ipn A link del "$IF"
  wait_for 30 eval "! pid_alive $pid" || fail "wgrouter stops when its TUN is deleted"
  wait "$pid"
  sync_log stopped-c
  stopping=$(first_seq_after "$base" 'STOPPING=1')
  check "STOPPING=1 after the TUN was deleted" test "$stopping" -gt 0
}

sc_d_detached() {
  local base rc
  go_conf
  base=$(last_seq)
  NOTIFY_SOCKET=$SOCK nsx A "$WGROUTER_BIN" "$IF" </dev/null >"$DIR/d.log" 2>&1
  rc=$?
  check_eq "detached: the parent's exit status" 0 "$rc"
  check "detached: says NOTIFY_SOCKET is not used" grep -q "NOTIFY_SOCKET is set but the daemon detaches" "$DIR/d.log"
  on_cleanup "ip -n ${NODE_NS[A]} link del $IF"
  nsx A timeout "$T_WG_TIMEOUT" wg setconf "$IF" "$DIR/go.conf" || fail "wg setconf (detached daemon)"
  ipn A link del "$IF"
  wait_for 30 eval "! test -S $WG_SOCK_DIR/$IF.sock" || fail "the detached daemon stops when its TUN is deleted"
  sync_log stopped-d
  check_eq "detached: nothing sent (READY, STATUS, STOPPING)" "" "$(msgs_after "$base" | awk '$4 !~ /^TEST-/')"
}

run_scenarios : a:up b:user c:go d:detached
send_dgram TEST-QUIT
summary sd_notify
