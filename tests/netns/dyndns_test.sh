#!/usr/bin/env bash
# tests/netns/dyndns_test.sh — a hostname Endpoint in `wgrouter up`: resolved at start, and
# resolved again when the peer stops answering (the dynamic-DNS case). Names come from a
# per-namespace hosts file (/etc/netns/NS/hosts, which `ip netns exec` mounts over
# /etc/hosts), so no DNS server and no real network are involved. The protocol clock runs 10x
# (WGROUTER_TEST_CLOCK_SCALE) so "stopped answering" takes seconds, not a minute.
# Usage: dyndns_test.sh WGROUTER_BIN
set -uo pipefail
BIN=${1:?usage: dyndns_test.sh WGROUTER_BIN}
PREFIX=wgd WATCHDOG_SECS=180
# shellcheck source=pair.sh
source "$(dirname "$0")/pair.sh"
EXTRA_CLEANUP+=("/etc/netns/$A")
mkdir -p "/etc/netns/$A"
printf '127.0.0.1 localhost\n192.0.2.2 peer-b.example\n' >"/etc/netns/$A/hosts"
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
ip netns exec $A env WGROUTER_TEST_CLOCK_SCALE=10 "$BIN" up "$DIR/${P}a.conf" --foreground >"$DIR/a.log" 2>&1 &
APID=$!  # `ip netns exec` and `env` exec: this is wgrouter
ip netns exec $B "$BIN" up "$DIR/${P}b.conf" --foreground >"$DIR/b.log" 2>&1 &
check "both interfaces up" wait_for 10 bash -c "$(declare -f is_up); is_up $A ${P}a && is_up $B ${P}b"
check "hostname endpoint resolved at start" bash -c "[ \"\$(ip netns exec $A wg show ${P}a endpoints | cut -f2)\" = 192.0.2.2:51821 ]"
check "ping through the tunnel" ip netns exec $A ping -c 2 -W 3 -i 0.3 198.51.100.2

# The peer moves and its name follows: B's outer address changes, the hosts file is updated
# in place (the mount shows the same file), B does not know where A is.
ip -n $B addr del 192.0.2.2/24 dev ${P}y && ip -n $B addr add 192.0.2.3/24 dev ${P}y
printf '127.0.0.1 localhost\n192.0.2.3 peer-b.example\n' >"/etc/netns/$A/hosts"
ip netns exec $A ping -c 1 -W 1 198.51.100.2 >/dev/null 2>&1  # data with no answer
ip netns exec $A bash -c "while sleep 0.5; do ping -c 1 -W 1 198.51.100.2 >/dev/null 2>&1 && exit 0; done" &
PINGER=$!
if wait_for 60 bash -c "[ \"\$(ip netns exec $A wg show ${P}a endpoints | cut -f2)\" = 192.0.2.3:51821 ]"; then
  pass "after the peer stopped answering, the name was resolved again: endpoint 192.0.2.3:51821"
else
  fail "endpoint not re-resolved: $(ip netns exec $A wg show ${P}a endpoints)"; tail -5 "$DIR/a.log"
fi
check "traffic flows to the new address" wait_for 30 bash -c "! kill -0 $PINGER"
check "the log says what happened" grep -q "peer-b.example:51821 now resolves to 192.0.2.3:51821" "$DIR/a.log"
kill $PINGER 2>/dev/null

# SIGHUP with the name pointing elsewhere: the reload leaves the endpoint as it is, looks the
# name up in the background and sets the answer when it comes back (io/resolver.hpp).
ip -n $B addr del 192.0.2.3/24 dev ${P}y && ip -n $B addr add 192.0.2.2/24 dev ${P}y
printf '127.0.0.1 localhost\n192.0.2.2 peer-b.example\n' >"/etc/netns/$A/hosts"
kill -HUP "$APID"
if wait_for 10 bash -c "[ \"\$(ip netns exec $A wg show ${P}a endpoints | cut -f2)\" = 192.0.2.2:51821 ]"; then
  pass "SIGHUP: the name's new address was set when its lookup answered: endpoint 192.0.2.2:51821"
else
  fail "SIGHUP: endpoint not updated: $(ip netns exec $A wg show ${P}a endpoints)"; tail -5 "$DIR/a.log"
fi
check "the log says the reload looked the name up and set it" \
  grep -q "reload: peer-b.example:51821 now resolves to 192.0.2.2:51821" "$DIR/a.log"
check "ping through the tunnel after the reload" ip netns exec $A ping -c 2 -W 3 -i 0.3 198.51.100.2

# Steady traffic towards a peer that moved, on a session past its rekey age: new packets keep
# restarting the handshake tries, so "every third unanswered initiation" may not come for a
# long time; a session older than 135 s whose peer we keep trying to reach is looked up again
# (at most every 15 s).
sleep 14  # the session from the reload ages past 135 protocol seconds
ip -n $B addr del 192.0.2.2/24 dev ${P}y && ip -n $B addr add 192.0.2.4/24 dev ${P}y
printf '127.0.0.1 localhost\n192.0.2.4 peer-b.example\n' >"/etc/netns/$A/hosts"
ip netns exec $A timeout 40 ping -q -i 0.1 198.51.100.2 >/dev/null 2>&1 &
STEADY=$!
if wait_for 30 bash -c "[ \"\$(ip netns exec $A wg show ${P}a endpoints | cut -f2)\" = 192.0.2.4:51821 ]"; then
  pass "under steady traffic the name was looked up again: endpoint 192.0.2.4:51821"
else
  fail "steady traffic: endpoint not re-resolved: $(ip netns exec $A wg show ${P}a endpoints)"; tail -5 "$DIR/a.log"
fi
kill $STEADY 2>/dev/null
check "ping through the tunnel at the new address" ip netns exec $A ping -c 2 -W 3 -i 0.3 198.51.100.2
[ -n "${KEEP:-}" ] && { cat "$DIR/a.log" "$DIR/b.log"; ip netns exec $A wg show; ip netns exec $B wg show; }
finish "dynamic DNS"
