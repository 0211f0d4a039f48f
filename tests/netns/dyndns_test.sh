#!/usr/bin/env bash
# tests/netns/dyndns_test.sh — a hostname Endpoint in `wgrouter up`: resolved at start, and
# resolved again when the peer stops answering (the dynamic-DNS case). Names come from a
# per-namespace hosts file (/etc/netns/NS/hosts, which `ip netns exec` mounts over
# /etc/hosts), so no DNS server and no real network are involved. The protocol clock runs 10x
# (WGROUTER_TEST_CLOCK_SCALE) so "stopped answering" takes seconds, not a minute.
# Usage: dyndns_test.sh WGROUTER_BIN
set -uo pipefail
BIN=${1:?usage: dyndns_test.sh WGROUTER_BIN}
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
WGROUTER_BIN=$BIN
pair_test 180 || exit 1
P=$T_PREFIX DIR=$T_DIR VB=${NODE_VETH[B]}
on_cleanup "rm -rf /etc/netns/$A"
mkdir -p "/etc/netns/$A"
printf '127.0.0.1 localhost\n192.0.2.2 peer-b.example\n' >"/etc/netns/$A/hosts"
# endpoint_is ADDR: A's endpoint for B is ADDR:51821.
endpoint_is() { [[ $(nsx A wg show "${P}a" endpoints | cut -f2) == "$1:51821" ]]; }
# move_b ADDR: B's outer address moves to ADDR; the hosts file in A is updated in place (the
# mount `ip netns exec` made shows the same file).
move_b() {
  nsx B ip -4 addr flush dev "$VB" && addr_add B "$VB" "$1/$OUT4_LEN" &&
    printf '127.0.0.1 localhost\n%s peer-b.example\n' "$1" >"/etc/netns/$A/hosts"
}
cat >"$DIR/${P}a.conf" <<CONF
[Interface]
PrivateKey = $KA
Address = 198.51.100.1/24
Table = off

[Peer]
PublicKey = $PB
AllowedIPs = 198.51.100.2/32
Endpoint = peer-b.example:51821
CONF
cat >"$DIR/${P}b.conf" <<CONF
[Interface]
PrivateKey = $KB
ListenPort = 51821
Address = 198.51.100.2/24
Table = off

[Peer]
PublicKey = $PA
AllowedIPs = 198.51.100.1/32
CONF
chmod 600 "$DIR"/*.conf
WGROUTER_TEST_CLOCK_SCALE=10 up_start A "$DIR/a.log" "$DIR/${P}a.conf"
APID=$UP_PID
up_start B "$DIR/b.log" "$DIR/${P}b.conf"
on_cleanup "rm -f $WG_SOCK_DIR/${P}a.sock $WG_SOCK_DIR/${P}b.sock"
check "both interfaces up" wait_for 10 eval "link_is_up A ${P}a && link_is_up B ${P}b"
check "hostname endpoint resolved at start" endpoint_is 192.0.2.2
check "ping through the tunnel" ping_ok A 198.51.100.2 2 6

# The peer moves and its name follows: B's outer address changes, B does not know where A is.
move_b 192.0.2.3
nsx A ping -c 1 -W 1 198.51.100.2 >/dev/null 2>&1  # data with no answer
# a pace, not a wait: one ping at most every 1.5 s until one is answered
nsx A timeout 90 bash -c "while sleep 0.5; do ping -c 1 -W 1 198.51.100.2 >/dev/null 2>&1 && exit 0; done" &
PINGER=$!
on_cleanup "stop_pid $PINGER"
if wait_for 60 endpoint_is 192.0.2.3; then
  pass "after the peer stopped answering, the name was resolved again: endpoint 192.0.2.3:51821"
else
  fail "endpoint not re-resolved: $(nsx A wg show "${P}a" endpoints)" "$(tail -5 "$DIR/a.log")"
fi
check "traffic flows to the new address" wait_for 30 eval "! pid_alive $PINGER"
check "the log says what happened" grep -q "peer-b.example:51821 now resolves to 192.0.2.3:51821" "$DIR/a.log"
stop_pid "$PINGER"

# SIGHUP with the name pointing elsewhere: the reload leaves the endpoint as it is, looks the
# name up in the background and sets the answer when it comes back (io/resolver.hpp).
move_b 192.0.2.2
kill -HUP "$APID"
if wait_for 10 endpoint_is 192.0.2.2; then
  pass "SIGHUP: the name's new address was set when its lookup answered: endpoint 192.0.2.2:51821"
else
  fail "SIGHUP: endpoint not updated: $(nsx A wg show "${P}a" endpoints)" "$(tail -5 "$DIR/a.log")"
fi
check "the log says the reload looked the name up and set it" \
  grep -q "reload: peer-b.example:51821 now resolves to 192.0.2.2:51821" "$DIR/a.log"
check "ping through the tunnel after the reload" ping_ok A 198.51.100.2 2 6

# Steady traffic towards a peer that moved, on a session past its rekey age: new packets keep
# restarting the handshake tries, so "every third unanswered initiation" may not come for a
# long time; a session older than 135 s whose peer we keep trying to reach is looked up again
# (at most every 15 s). The session from the reload has to age past that first: 15 whole wall
# seconds since its handshake are more than 14 s, 140 protocol seconds at 10x.
hs=$(nsx A wg show "${P}a" latest-handshakes | cut -f2)
if [[ $hs =~ ^[1-9][0-9]*$ ]] && wait_for 30 eval "(( \$(date +%s) - $hs >= 15 ))"; then
  info "the session is $(($(date +%s) - hs)) s old (x10 on the protocol clock)"
else
  fail "the session from the reload did not age past 135 protocol seconds (latest handshake: '$hs')"
fi
move_b 192.0.2.4
nsx A timeout 40 ping -q -i 0.1 198.51.100.2 >/dev/null 2>&1 &
STEADY=$!
on_cleanup "stop_pid $STEADY"
if wait_for 30 endpoint_is 192.0.2.4; then
  pass "under steady traffic the name was looked up again: endpoint 192.0.2.4:51821"
else
  fail "steady traffic: endpoint not re-resolved: $(nsx A wg show "${P}a" endpoints)" "$(tail -5 "$DIR/a.log")"
fi
stop_pid "$STEADY"
check "ping through the tunnel at the new address" ping_ok A 198.51.100.2 2 6
[ -n "${KEEP:-}" ] && { cat "$DIR/a.log" "$DIR/b.log"; nsx A wg show; nsx B wg show; }
summary "dynamic DNS"
