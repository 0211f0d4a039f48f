#!/usr/bin/env bash
# tests/netns/netns_move_test.sh — `wgrouter up FILE --netns TARGET` and devices that move
# between namespaces while wgrouter runs:
#   a. bad --netns values are refused with a message and leave nothing behind;
#   b. up --netns C: UDP in A, the interface, addresses, Table=auto routes and fwmark rules and
#      the hooks in C; C (no other link) reaches B only through the tunnel; SIGTERM removes
#      everything there and PostDown runs there;
#   c. the container's namespace is deleted: the interface goes with it, wgrouter exits and
#      removes its socket (it never keeps the namespace alive);
#   d. a TAP port moved into C, back into A and into C again keeps forwarding.
# A = 192.0.2.1 (wgrouter's own namespace), B = 192.0.2.2 (the peer), C = the "container".
# Usage: netns_move_test.sh WGROUTER_BIN
set -uo pipefail
BIN=${1:?usage: netns_move_test.sh WGROUTER_BIN}
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
WGROUTER_BIN=$BIN
pair_test 200 && make_ns C || exit 1
C=${NODE_NS[C]} P=$T_PREFIX DIR=$T_DIR
A_IF=${P}a
SOCK=$WG_SOCK_DIR/$A_IF.sock
on_cleanup "rm -f $SOCK $WG_SOCK_DIR/${P}b.sock"
# gone PID: wgrouter PID exited within 10 s.
gone() { wait_for 10 eval "! pid_alive $1"; }

# B: a wgrouter peer that knows A's tunnel addresses and the instance's (scenario d).
cat >"$DIR/${P}b.conf" <<CONF
[Interface]
PrivateKey = $KB
ListenPort = 51821
Address = 198.51.100.2/24, 2001:db8:100::2/64

[Peer]
PublicKey = $PA
AllowedIPs = 198.51.100.1/32, 2001:db8:100::1/128, 2001:db8:200::/64
Endpoint = 192.0.2.1:51820
CONF
cat >"$DIR/${P}a.conf" <<CONF
[Interface]
PrivateKey = $KA
ListenPort = 51820
Address = 198.51.100.1/24, 2001:db8:100::1/64
PostUp = ip -o link show %i > $DIR/postup.out; ip netns identify > $DIR/postup.ns
PostDown = ip netns identify > $DIR/postdown.ns

[Peer]
PublicKey = $PB
AllowedIPs = 0.0.0.0/0, ::/0
Endpoint = 192.0.2.2:51821
PersistentKeepalive = 1
CONF
chmod 600 "$DIR"/*.conf
up_start B "$DIR/b.log" "$DIR/${P}b.conf"
wait_for 10 link_is_up B "${P}b" || fail "B's interface came up"
nothing_left() {  # no interface of that name in A or C, no socket, no rules in C
  ! ip -n "$A" link show "$A_IF" && ! ip -n "$C" link show "$A_IF" && [ ! -e "$SOCK" ] &&
    ! ip -n "$C" rule | grep -q fwmark && ! ip -n "$C" -6 rule | grep -q fwmark
}

echo "-- a. bad --netns"
for bad in "$P-nosuch:cannot open /run/netns/$P-nosuch" "/etc/passwd:not a network namespace" \
  "999999999:cannot open /proc/999999999/ns/net" "$DIR:cannot enter"; do
  spec=${bad%%:*} want=${bad#*:}
  out=$(nsx A "$BIN" up "$DIR/${P}a.conf" --netns "$spec" --foreground 2>&1)
  rc=$?
  if ((rc == 1)) && [[ $out == *"$want"* ]] && nothing_left >/dev/null 2>&1; then
    pass "--netns $spec: exit 1, \"$out\", nothing left behind"
  else
    fail "--netns $spec: rc=$rc out=$out" "$(ip -n "$A" -br link)" "$(ip -n "$C" -br link)"
  fi
done

# A namespace this process may not enter: a user namespace of its own has no CAP_SYS_ADMIN over C.
out=$(nsx A unshare --user --map-root-user -- "$BIN" up "$DIR/${P}a.conf" --netns "$C" --foreground 2>&1)
rc=$?
if ((rc == 1)) && [[ $out == *"cannot enter: Operation not permitted"* ]] && nothing_left >/dev/null 2>&1; then
  pass "--netns without the right to enter it: exit 1, \"$out\", nothing left behind"
else
  fail "--netns without permission: rc=$rc out=$out"
fi

echo "-- b. up --netns"
up_start A "$DIR/a.log" "$DIR/${P}a.conf" --netns "$C"
UP=$UP_PID
if wait_for 10 link_is_up C "$A_IF"; then pass "the interface is up in C"; else fail "interface not up in C" "$(cat "$DIR/a.log")"; fi
check "the interface is not in A" bash -c "! ip -n $A link show $A_IF"
check "UDP 51820 is bound in A (where wgrouter runs)" bash -c "ip netns exec $A ss -Hlun 'sport = :51820' | grep -q 51820"
check "nothing listens on 51820 in C" bash -c "! ip netns exec $C ss -Hlun 'sport = :51820' | grep -q 51820"
check "addresses in C" bash -c "ip -n $C -o addr show $A_IF | grep -q 198.51.100.1/24 && ip -n $C -o addr show $A_IF | grep -q 2001:db8:100::1/64"
check "Table=auto: fwmark rules in C (v4 and v6)" bash -c "ip -n $C rule | grep -q 'not from all fwmark 0xca6c lookup 51820' && ip -n $C -6 rule | grep -q 'not from all fwmark 0xca6c lookup 51820'"
check "Table=auto: default routes in table 51820 of C" bash -c "ip -n $C route show table 51820 | grep -q 'default dev $A_IF' && ip -n $C -6 route show table 51820 | grep -q 'default dev $A_IF'"
check "PostUp ran in C and saw the interface" bash -c "grep -q '$A_IF' $DIR/postup.out && [ \"\$(cat $DIR/postup.ns)\" = $C ]"
out=$(ip netns exec "$C" ping -c 3 -i 0.2 -W 3 198.51.100.2 2>&1)
if [[ $out == *" 3 received"* ]]; then pass "C reaches B through the tunnel (C has no other link): $(grep -o 'rtt.*' <<<"$out")"; else fail "ping from C: $out"; fi
check "ping6 from C through the tunnel" ip netns exec "$C" ping -6 -c 2 -i 0.2 -W 3 2001:db8:100::2
check "wg show works from the host" bash -c "wg show $A_IF latest-handshakes | awk '{exit !(\$2 > 0)}'"
kill -TERM "$UP"
if gone "$UP"; then pass "SIGTERM: wgrouter exited"; else fail "wgrouter did not exit"; fi
check "after exit: no interface, no socket, no rules in C" nothing_left
check "PostDown ran in C" bash -c "[ \"\$(cat $DIR/postdown.ns 2>/dev/null)\" = $C ]"

echo "-- c. the container's namespace goes away"
up_start A "$DIR/a2.log" "$DIR/${P}a.conf" --netns "$C"
UP=$UP_PID
wait_for 10 link_is_up C "$A_IF" || fail "interface up in C (second start)"
ino=$(stat -L -c %i "/run/netns/$C")
ip netns del "$C"
if wait_for 5 eval "! pid_alive $UP"; then
  pass "ip netns del: the interface went with the namespace and wgrouter exited ($(tail -n 2 "$DIR/a2.log" | head -n 1))"
else
  fail "wgrouter still running after its namespace was deleted (namespace $ino kept alive?)" "$(tail "$DIR/a2.log")"
fi
check "its socket is gone" bash -c "[ ! -e $SOCK ]"
ip netns add "$C" && ip -n "$C" link set lo up

echo "-- d. a TAP port moved between namespaces"
TAP=${P}t
cat >"$DIR/${P}g.conf" <<CONF
[Interface]
PrivateKey = $KA
ListenPort = 51820
Address = 198.51.100.1/24, 2001:db8:100::1/64
Table = off

[Peer]
PublicKey = $PB
AllowedIPs = 198.51.100.2/32, 2001:db8:100::2/128
Endpoint = 192.0.2.2:51821

[Port]
Name = $TAP
Mode = tap
Address = fe80::1/64
Route = 2001:db8:200::2/128
CONF
chmod 600 "$DIR/${P}g.conf"
up_start A "$DIR/g.log" "$DIR/${P}g.conf" --name "$A_IF"
UP=$UP_PID
wait_for 10 nsx A ip link show "$TAP" || fail "TAP created"
instance() {  # moves the TAP from $1 into C and configures the instance there
  ip -n "$1" link set "$TAP" netns "$C" &&
    ip -n "$C" addr add 2001:db8:200::2/128 dev "$TAP" nodad &&
    ip -n "$C" link set "$TAP" up &&
    ip -n "$C" -6 route add default via fe80::1 dev "$TAP"
}
# At most 12 s: one-second pings until one is answered (the instance's DAD and ND come first).
ping_b() { wait_for 12 ping_ok C 2001:db8:100::2 1 1 -6; }
instance "$A" && check "TAP in C: the instance reaches B through the gateway and the tunnel" ping_b
ip -n "$C" link set "$TAP" netns "$A" && ip -n "$A" link set "$TAP" up
check "TAP back in A: wgrouter still running" pid_alive "$UP"
instance "$A" && check "TAP in C again: forwarding resumes" ping_b
check "wgrouter kept running through the moves" pid_alive "$UP"
kill -TERM "$UP"
check "SIGTERM: wgrouter exited" gone "$UP"
[ -n "${KEEP:-}" ] && cat "$DIR"/*.log
summary "netns moves"
