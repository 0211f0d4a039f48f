#!/usr/bin/env bash
# tests/netns/privileges_test.sh WGROUTER_BIN — least privilege after set-up (io/privileges.hpp,
# docs/hardening.md), against wireguard-go in a second namespace:
#   a  `up` as root, WGROUTER_THREADS=2: every thread's CapEff/CapPrm/CapBnd is exactly
#      cap_net_admin, CapInh/CapAmb empty, NoNewPrivs 1; `show` and `show --json` list it;
#      handshake, ping, 4 MiB over TCP (SHA-256); a SIGHUP that changes Address applies it and
#      traffic goes on from the new address; a reload adding a veth port says that
#      cap_net_raw was dropped
#   b  `up --user nobody`: uid/gid nobody, no groups, cap_net_admin kept; root's `wg show`
#      works; traffic; an Address reload as nobody; the PostDown hook runs as root through the
#      keeper; SIGTERM removes the socket (root-owned directory) and leaves no process
#   c  ListenPort 853 and a veth port: cap_net_admin,cap_net_bind_service,cap_net_raw; the port
#      re-attaches (AF_PACKET) after its veth is deleted and created again; traffic
#   d  wireguard-go mode (`wgrouter -f IFACE --user nobody`): cap_net_admin and
#      cap_net_bind_service kept for what `wg` sets later: listen-port 854 and an fwmark after
#      the drop; traffic; `ip link del` ends it and the socket goes
#   e  started without cap_setpcap (as some container runtimes do): the bounding set cannot
#      shrink; said once, the rest of the drop still done, `wg` still served
# Documentation addresses only; everything removed on exit.
set -uo pipefail
BIN=${1:?usage: privileges_test.sh WGROUTER_BIN}
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
WGROUTER_BIN=$BIN
require_tools ip wg wireguard-go python3 ping jq ss
getent passwd nobody >/dev/null || { echo "SKIP: no user nobody"; exit "$SKIP_RC"; }
pair_test 300 || exit 1
P=$T_PREFIX DIR=$T_DIR
NOBODY=$(id -u nobody) NOGROUP=$(id -g nobody)
IN4_A2=198.51.100.11
on_cleanup "rm -f $WG_SOCK_DIR/${P}a.sock $WG_SOCK_DIR/${P}d.sock"
# The daemon as nobody must read its file: a directory it may cross, the file its own.
chmod 711 "$DIR"

# Bits of /proc/PID/status's capability lines.
CAP_NET_BIND_SERVICE=$((1 << 10)) CAP_NET_ADMIN=$((1 << 12)) CAP_NET_RAW=$((1 << 13))
hexcaps() { printf '%016x' "$1"; }

# B: wireguard-go; A's peer may use both of A's addresses (the reload moves A to the second).
cat >"$DIR/b.conf" <<EOF
[Interface]
PrivateKey = $KB
ListenPort = $PORT_B

[Peer]
PublicKey = $PA
Endpoint = $OUT4_A:$PORT_A
AllowedIPs = $IN4_A/32, $IN4_A2/32, $IN6_A/128
EOF
start_wg wireguard-go B "${P}b" || exit 1
wg_conf B setconf "$DIR/b.conf" && wg_inner_up B "$IN4_B" "$IN6_B" || { fail "wireguard-go on B"; exit 1; }
NODE_IF[A]=${P}a

# a_conf FILE [EXTRA [ADDRESS]]: A's file; EXTRA lines go into [Interface], ADDRESS replaces
# the IPv4 address.
a_conf() {
  (umask 077; cat >"$1" <<EOF
[Interface]
PrivateKey = $KA
Address = ${3:-$IN4_A}/24, $IN6_A/48
${2:-}
PostDown = id -u > $DIR/postdown.out; grep -E '^Cap(Eff|Bnd)' /proc/self/status >> $DIR/postdown.out

[Peer]
PublicKey = $PB
Endpoint = $OUT4_B:$PORT_B
AllowedIPs = $IN4_B/32, $IN6_B/128
PersistentKeepalive = 1
EOF
)
}

# start_a LOG ARGS...: `wgrouter up ARGS --name ${P}a --foreground` in A (UP_PID), until "up (".
start_a() {
  local log=$1; shift
  : >"$log"
  up_start A "$log" "$@" --name "${P}a"
  wait_for 10 grep -q "up (" "$log" || { fail "wgrouter up $*" "$(cat "$log")"; return 1; }
}
stop_a() {
  kill -TERM "$UP_PID" 2>/dev/null
  wait_for 10 eval "! pid_alive $UP_PID" || fail "wgrouter did not exit on SIGTERM"
}

# caps_are PID HEX: every thread of PID has CapEff = CapPrm = CapBnd = HEX, no inheritable or
# ambient capability, and NoNewPrivs set.
caps_are() {
  local t bad=""
  for t in /proc/"$1"/task/*; do
    local s
    s=$(grep -E '^(Name|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):' "$t/status" | tr -s '\t' ' ' | paste -sd' ')
    [[ $s == *"CapPrm: $2"* && $s == *"CapEff: $2"* && $s == *"CapBnd: $2"* && $s == *"CapInh: 0000000000000000"* &&
      $s == *"CapAmb: 0000000000000000"* && $s == *"NoNewPrivs: 1"* ]] || bad+="${t##*/}: $s"$'\n'
  done
  [[ -z $bad ]] || { printf '%s' "$bad"; return 1; }
}
threads_of() { find /proc/"$1"/task -mindepth 1 -maxdepth 1 | wc -l; }

hs() { [[ $(wgc A show "${NODE_IF[A]}" latest-handshakes | cut -f2) =~ ^[1-9] ]]; }
traffic() { # traffic LABEL
  check "$1: handshake" wait_for 10 hs
  check "$1: ping A -> B" ping_ok A "$IN4_B" 3 5
  check "$1: ping B -> A (IPv6)" ping_ok B "$IN6_A" 3 5
  local out
  if out=$(tcp_integrity A B "$IN4_B" 4); then pass "$1: 4 MiB A -> B, sha256 $out"; else fail "$1: 4 MiB A -> B" "$out"; fi
}

sc_a_root() {
  a_conf "$DIR/a.conf" "ListenPort = $PORT_A"
  WGROUTER_THREADS=2 start_a "$DIR/a.log" "$DIR/a.conf" || return
  check_match "log says what is kept" "capabilities kept: cap_net_admin \(bounding set: cap_net_admin; no_new_privs on\)" \
    "$(grep -m1 'capabilities kept' "$DIR/a.log")"
  traffic "as root"
  local n; n=$(threads_of "$UP_PID")
  ((n >= 2)) && pass "the crypto pool's thread runs ($n threads)" || fail "WGROUTER_THREADS=2 but $n thread(s)"
  check "every thread: CapEff/CapPrm/CapBnd = cap_net_admin, NoNewPrivs" caps_are "$UP_PID" "$(hexcaps $CAP_NET_ADMIN)"
  check_match "show: capabilities line" "^  capabilities: cap_net_admin$" "$("$BIN" show "${P}a" | grep capabilities)"
  check_eq "show --json: capabilities" '["cap_net_admin"]' "$("$BIN" show "${P}a" --json | jq -c '.[0].capabilities')"
  check "wg show ignores the extension lines" wgc A show "${P}a"
  # SIGHUP: Address moves to another IPv4 address (netlink, CAP_NET_ADMIN after the drop).
  a_conf "$DIR/a.conf" "ListenPort = $PORT_A" "$IN4_A2"
  kill -HUP "$UP_PID"
  if wait_for 5 eval "ip -n $A -4 -o addr show ${P}a | grep -q ' $IN4_A2/24' && ! ip -n $A -4 -o addr show ${P}a | grep -q ' $IN4_A/24'"; then
    pass "reload after the drop: Address $IN4_A -> $IN4_A2 applied"
  else
    fail "reload after the drop: Address not applied" "$(ip -n "$A" -4 -o addr show "${P}a")" "$(tail -n 5 "$DIR/a.log")"
  fi
  check "traffic from the new address" ping_ok A "$IN4_B" 3 5 -I "$IN4_A2"
  # A reload that needs what was dropped says so.
  { cat "$DIR/a.conf"; printf '\n[Port]\nName = %s\nMode = veth\nRoute = 203.0.113.5/32\n' "${P}nv"; } >"$DIR/a2.conf"
  mv "$DIR/a2.conf" "$DIR/a.conf"
  kill -HUP "$UP_PID"
  check "reload adding a veth port: says cap_net_raw was dropped" \
    wait_for 5 grep -q "reload: the file now needs cap_net_raw, dropped at start" "$DIR/a.log"
  check "still running, still cap_net_admin only" caps_are "$UP_PID" "$(hexcaps $CAP_NET_ADMIN)"
  stop_a
  check_eq "PostDown ran as root (through the keeper)" 0 "$(head -n1 "$DIR/postdown.out")"
}

sc_b_user() {
  rm -f "$DIR/postdown.out"
  a_conf "$DIR/a.conf" "ListenPort = $PORT_A"
  chown nobody "$DIR/a.conf"
  start_a "$DIR/b.log" "$DIR/a.conf" --user nobody || return
  local keeper
  keeper=$(pgrep -P "$UP_PID" | head -n1)
  check_match "log: running as nobody" "capabilities kept: cap_net_admin .*running as nobody \(uid $NOBODY\)" \
    "$(grep -m1 'capabilities kept' "$DIR/b.log")"
  check_eq "uid (real, effective, saved, fs)" "$NOBODY $NOBODY $NOBODY $NOBODY" \
    "$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$UP_PID/status")"
  check_eq "gid" "$NOGROUP $NOGROUP $NOGROUP $NOGROUP" "$(awk '/^Gid:/ { print $2, $3, $4, $5 }' "/proc/$UP_PID/status")"
  check_eq "no supplementary groups" "" "$(awk '/^Groups:/ { print $2 }' "/proc/$UP_PID/status")"
  check "CapEff/CapPrm/CapBnd = cap_net_admin, NoNewPrivs" caps_are "$UP_PID" "$(hexcaps $CAP_NET_ADMIN)"
  check_match "the UAPI socket stays root's" "^srwx------ root " "$(stat -c '%A %U ' "$WG_SOCK_DIR/${P}a.sock")"
  check "root's wg show answers" wgc A show "${P}a"
  traffic "as nobody"
  check_match "wgrouter show as root: capabilities" "^  capabilities: cap_net_admin$" "$("$BIN" show "${P}a" | grep capabilities)"
  a_conf "$DIR/a.conf" "ListenPort = $PORT_A" "$IN4_A2"
  chown nobody "$DIR/a.conf"
  kill -HUP "$UP_PID"
  check "reload as nobody: Address applied" \
    wait_for 5 eval "ip -n $A -4 -o addr show ${P}a | grep -q ' $IN4_A2/24'"
  check "traffic from the new address" ping_ok A "$IN4_B" 3 5 -I "$IN4_A2"
  stop_a
  check_eq "PostDown ran as root (through the keeper)" 0 "$(head -n1 "$DIR/postdown.out")"
  check_match "with the capabilities up started with" "CapEff:.$(grep CapEff /proc/self/status | cut -f2)" \
    "$(grep CapEff "$DIR/postdown.out")"
  check "the socket is gone (removed by the keeper)" wait_for 3 eval "[[ ! -e $WG_SOCK_DIR/${P}a.sock ]]"
  check "the interface is gone" wait_for 3 eval "! ip -n $A link show ${P}a"
  [[ -n $keeper ]] && check "the keeper ended" wait_for 3 eval "! pid_alive $keeper"
}

sc_c_port() {
  local v=${P}v0 w=${P}v1
  ip -n "$A" link add "$v" type veth peer name "$w" && ip -n "$A" link set "$w" up || { fail "veth in A"; return; }
  a_conf "$DIR/a.conf" "ListenPort = 853"
  printf '\n[Port]\nName = %s\nMode = veth\nAddress = fe80::1/64\nRoute = 2001:db8:5::2/128\n' "$v" >>"$DIR/a.conf"
  start_a "$DIR/c.log" "$DIR/a.conf" || return
  check "CapEff/CapPrm/CapBnd = cap_net_admin,cap_net_bind_service,cap_net_raw" caps_are "$UP_PID" \
    "$(hexcaps $((CAP_NET_ADMIN | CAP_NET_BIND_SERVICE | CAP_NET_RAW)))"
  check_match "show: capabilities line" "^  capabilities: cap_net_bind_service,cap_net_admin,cap_net_raw$" \
    "$("$BIN" show "${P}a" | grep capabilities)"
  check "bound to UDP 853" eval "ip netns exec $A ss -Hlun 'sport = :853' | grep -q 853"
  traffic "ListenPort 853"
  # The container restarts: its veth goes and comes back under the same name.
  ip -n "$A" link del "$v"
  wait_for 5 grep -q "port $v: interface deleted" "$DIR/c.log" || fail "port deletion seen" "$(tail -n 3 "$DIR/c.log")"
  ip -n "$A" link add "$v" type veth peer name "$w" && ip -n "$A" link set "$w" up
  if wait_for 5 grep -q "port $v: interface created again .*: attached" "$DIR/c.log"; then
    pass "veth port attached again after the drop (AF_PACKET with cap_net_raw)"
  else
    fail "veth port attached again after the drop" "$(tail -n 5 "$DIR/c.log")"
  fi
  check_eq "no link-up or sysctl failure on re-attach" 0 "$(grep -c -E "port $v: (link up|warning|cannot attach)" "$DIR/c.log")"
  stop_a
}

sc_d_daemon() {
  NODE_IF[A]=${P}d
  : >"$DIR/d.log"
  ip netns exec "$A" "$BIN" -f --user nobody "${P}d" </dev/null >>"$DIR/d.log" 2>&1 &
  local dpid=$!
  on_cleanup "stop_pid $dpid"
  wait_for 10 wg_answers A || { fail "wgrouter -f --user nobody ${P}d" "$(cat "$DIR/d.log")"; return; }
  check "CapEff/CapPrm/CapBnd = cap_net_admin,cap_net_bind_service" caps_are "$dpid" \
    "$(hexcaps $((CAP_NET_ADMIN | CAP_NET_BIND_SERVICE)))"
  check_eq "uid" "$NOBODY" "$(awk '/^Uid:/ { print $3 }' "/proc/$dpid/status")"
  printf '[Interface]\nPrivateKey = %s\nListenPort = 854\nFwMark = 0x1234\n\n[Peer]\nPublicKey = %s\nEndpoint = %s:%s\nAllowedIPs = %s/32, %s/128\nPersistentKeepalive = 1\n' \
    "$KA" "$PB" "$OUT4_B" "$PORT_B" "$IN4_B" "$IN6_B" >"$DIR/d.conf"
  check "wg setconf after the drop: listen-port 854 (< 1024) and fwmark 0x1234" wg_conf A setconf "$DIR/d.conf"
  check_eq "wg show: port and fwmark" "854 0x1234" "$(wgc A show "${P}d" listen-port) $(wgc A show "${P}d" fwmark)"
  wg_inner_up A "$IN4_A" "$IN6_A" || fail "addresses on ${P}d"
  traffic "wireguard-go mode"
  ip -n "$A" link del "${P}d"
  check "the interface deleted: the daemon ends" wait_for 5 eval "! pid_alive $dpid"
  check "the socket is gone (removed by the keeper)" wait_for 3 eval "[[ ! -e $WG_SOCK_DIR/${P}d.sock ]]"
  NODE_IF[A]=${P}a
}

sc_e_no_setpcap() {
  : >"$DIR/e.log"
  ip netns exec "$A" setpriv --bounding-set -setpcap "$BIN" -f "${P}e" </dev/null >>"$DIR/e.log" 2>&1 &
  local epid=$!
  on_cleanup "stop_pid $epid; rm -f $WG_SOCK_DIR/${P}e.sock"
  check "started" wait_for 10 eval "'$BIN' show ${P}e >/dev/null"
  check_eq "the refused step said once" 1 "$(grep -c "the kernel refused part of the drop (bounding set left as it is (no cap_setpcap)); going on" "$DIR/e.log")"
  local want; want=$(hexcaps $((CAP_NET_ADMIN | CAP_NET_BIND_SERVICE)))
  check_eq "CapEff, CapPrm, NoNewPrivs" "$want $want 1" \
    "$(awk '/^CapEff:/ { e = $2 } /^CapPrm:/ { p = $2 } /^NoNewPrivs:/ { n = $2 } END { print e, p, n }' "/proc/$epid/status")"
  check "wg show answers" timeout 5 wg show "${P}e"
  stop_pid "$epid"
}

run_scenarios : a:root b:user c:port d:daemon e:no_setpcap
summary "privileges"
