#!/usr/bin/env bash
# tests/netns/native_up_test.sh — `wgrouter up FILE` end to end in two network namespaces:
# a config error names file and line; addresses, MTU, routes and hooks (%i) are applied without
# `ip`; Table = auto with AllowedIPs 0.0.0.0/0 installs wg-quick's fwmark rules; `show --json`
# reports peers and drop counters; SIGTERM tears down rules, interface and socket; SaveConfig
# writes the running peers back. Documentation addresses only; everything removed on exit.
# Usage: native_up_test.sh WGROUTER_BIN
set -uo pipefail
BIN=${1:?usage: native_up_test.sh WGROUTER_BIN}
PREFIX=wgn WATCHDOG_SECS=240
# shellcheck source=pair.sh
source "$(dirname "$0")/pair.sh"

# A: everything through the tunnel (Table auto + /0), hooks, SaveConfig.
cat >"$DIR/${P}a.conf" <<CONF
[Interface]
PrivateKey = $KA
ListenPort = 51820
Address = 198.51.100.1/24
MTU = 1380
PostUp = echo "up %i" > $DIR/hook-up
PostDown = echo "down %i" > $DIR/hook-down
SaveConfig = true

[Peer]
PublicKey = $PB
AllowedIPs = 0.0.0.0/0
Endpoint = 192.0.2.2:51821
CONF
# B: Table = off, routes left to the operator.
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

# A malformed file: one clear error naming file and line, non-zero exit, nothing created.
printf '[Interface]\nPrivateKey = %s\nListenPort = 70000x\n' "$KA" >"$DIR/${P}c.conf"
out=$(ip netns exec $A "$BIN" up "$DIR/${P}c.conf" --foreground 2>&1); rc=$?
if ((rc != 0)) && [[ $out == *"${P}c.conf:3:"* ]]; then pass "malformed config refused with file:line ($out)"; else fail "malformed config: rc=$rc out=$out"; fi
check "no interface left behind by the failed up" bash -c "! ip -n $A link show ${P}c"

ip netns exec $A "$BIN" up "$DIR/${P}a.conf" --foreground >"$DIR/a.log" 2>&1 &
APID=$!
ip netns exec $B "$BIN" up "$DIR/${P}b.conf" --foreground >"$DIR/b.log" 2>&1 &
check "A's interface came up" wait_for 10 is_up $A ${P}a
check "B's interface came up" wait_for 10 is_up $B ${P}b
check "A's MTU is the file's 1380" bash -c "ip -n $A link show ${P}a | grep -q 'mtu 1380'"
check "A's address applied" bash -c "ip -n $A -4 addr show ${P}a | grep -q 198.51.100.1/24"
check "PostUp ran with %i replaced" grep -qx "up ${P}a" "$DIR/hook-up"
check "Table auto + 0.0.0.0/0: 'not fwmark 0xca6c lookup 51820' rule" bash -c "ip -n $A rule | grep -q 'not from all fwmark 0xca6c lookup 51820'"
check "Table auto + 0.0.0.0/0: suppress_prefixlength rule" bash -c "ip -n $A rule | grep -q 'suppress_prefixlength 0'"
check "default route in table 51820" bash -c "ip -n $A route show table 51820 | grep -q 'default dev ${P}a'"
check "fwmark reported to wg" bash -c "[ \"\$(ip netns exec $A wg show ${P}a fwmark)\" = 0xca6c ]"
check "Table = off: B added no route for the peer" bash -c "! ip -n $B route | grep -q '198.51.100.1 dev'"
# B knows A only from A's handshake (no Endpoint in its file).
check "ping A->B through the tunnel (A's default route via the tunnel, its UDP outside)" \
  ip netns exec $A ping -c 2 -W 3 -i 0.3 198.51.100.2
check "ping B->A" ip netns exec $B ping -c 2 -W 3 -i 0.3 198.51.100.1
json=$(ip netns exec $A "$BIN" show ${P}a --json)
if python3 -c '
import json, sys
d = json.loads(sys.argv[1])[0]
assert d["interface"] == sys.argv[2], d
p = d["peers"][0]
assert p["public_key"] == sys.argv[3] and p["endpoint"] == "192.0.2.2:51821", p
assert p["rx_bytes"] > 0 and p["tx_bytes"] > 0 and p["latest_handshake"] > 0, p
assert "no_route" in d["drops"] and "replayed_counter" in d["drops"], d["drops"]
' "$json" "${P}a" "$PB"; then pass "show --json: interface, peer, endpoint, transfer, handshake, drop counters"; else fail "show --json: $json"; fi
text=$(ip netns exec $B "$BIN" show ${P}b)
check "show (text) on B lists the peer with its learned endpoint" grep -q "endpoint: 192.0.2.1:51820" <<<"$text"
# Cryptokey routing inbound: a source B did not allow for A is dropped and counted.
ip -n $A addr add 198.51.100.9/32 dev ${P}a
ip netns exec $A ping -c 2 -W 1 -i 0.2 -I 198.51.100.9 198.51.100.2 >/dev/null 2>&1
drops=$(ip netns exec $B "$BIN" show ${P}b --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["drops"]["source_not_allowed"])')
if [[ $drops =~ ^[0-9]+$ ]] && ((drops >= 2)); then pass "B dropped and counted $drops packets from 198.51.100.9 (not in A's AllowedIPs)"; else fail "source_not_allowed on B: '$drops'"; fi

# A new peer added at runtime is written back by SaveConfig on shutdown.
NEWPUB=$("$BIN" genkey | "$BIN" pubkey)
ip netns exec $A wg set ${P}a peer "$NEWPUB" allowed-ips 198.51.100.77/32
kill -TERM $APID
check "A exits on SIGTERM" wait_for 10 bash -c "! kill -0 $APID"
check "interface removed" bash -c "! ip -n $A link show ${P}a"
check "UAPI socket removed" bash -c "[ ! -e /var/run/wireguard/${P}a.sock ]"
check "fwmark rules removed" bash -c "! ip -n $A rule | grep -q 51820"
check "PostDown ran" grep -qx "down ${P}a" "$DIR/hook-down"
check "SaveConfig wrote the runtime peer back" grep -q "$NEWPUB" "$DIR/${P}a.conf"
check "SaveConfig kept the wg-quick settings" grep -q "PostUp" "$DIR/${P}a.conf"
check "the saved file parses" "$BIN" check "$DIR/${P}a.conf"
check "the saved file is private (0600)" bash -c "[ \"\$(stat -c %a $DIR/${P}a.conf)\" = 600 ]"
finish "native up"
