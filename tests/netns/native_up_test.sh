#!/usr/bin/env bash
# tests/netns/native_up_test.sh — `wgrouter up FILE` end to end in two network namespaces:
# a config error names file and line; addresses, MTU, routes and hooks (%i) are applied without
# `ip`; without an MTU line the MTU comes from the route to the endpoints (or the default route)
# less 80; `Table = NAME` is looked up in rt_tables.d, an unknown name fails before anything
# exists; Table = auto with AllowedIPs 0.0.0.0/0 and ::/0 installs wg-quick's fwmark rules and
# its nftables tables (anti-spoofing drop, conntrack marks), and nftables refusing them stops
# `up` with nothing left; `show --json` reports peers and drop counters; SIGTERM tears down
# rules, tables, interface and socket; SaveConfig writes the running peers back.
# Documentation addresses only; everything (incl. the rt_tables.d file) removed on exit.
# Usage: native_up_test.sh WGROUTER_BIN
set -uo pipefail
BIN=${1:?usage: native_up_test.sh WGROUTER_BIN}
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
WGROUTER_BIN=$BIN
pair_test 240 || exit 1
P=$T_PREFIX DIR=$T_DIR VB=${NODE_VETH[B]}
RT_FILE=/etc/iproute2/rt_tables.d/$P.conf
on_cleanup "rm -f $RT_FILE $WG_SOCK_DIR/${P}a.sock $WG_SOCK_DIR/${P}b.sock $WG_SOCK_DIR/${P}d.sock $WG_SOCK_DIR/${P}g.sock"
mtu_of() { ip -n "$1" -o link show "$2" | sed -n 's/.* mtu \([0-9]*\) .*/\1/p'; }
# gone PID: wgrouter PID exited within 10 s.
gone() { wait_for 10 eval "! pid_alive $1"; }

# run_briefly IFACE CONF: `up CONF --name IFACE` in A until the interface is up, then SIGTERM;
# RB_MTU is the MTU it had (or "none"), $DIR/IFACE.log what it printed.
run_briefly() {
  local ifc=$1 conf=$2
  : >"$DIR/$ifc.log"
  up_start A "$DIR/$ifc.log" "$conf" --name "$ifc"
  if wait_for 10 link_is_up A "$ifc"; then RB_MTU=$(mtu_of $A "$ifc"); else RB_MTU=none; fi
  kill -TERM "$UP_PID" 2>/dev/null
  gone "$UP_PID" || fail "$ifc did not exit on SIGTERM"
}

# mtu_conf FILE ENDPOINT...: no MTU line, Table = off, one peer per ENDPOINT ("-": none).
mtu_conf() {
  local f=$1 n=0 ep
  shift
  { printf '[Interface]\nPrivateKey = %s\nTable = off\n' "$KA"
    for ep in "$@"; do
      n=$((n + 1))
      printf '\n[Peer]\nPublicKey = %s\nAllowedIPs = 203.0.113.%d/32\n' "$("$BIN" genkey | "$BIN" pubkey)" $n
      [[ $ep == - ]] || printf 'Endpoint = %s\n' "$ep"
    done; } >"$f"
  chmod 600 "$f"
}

# --- Automatic MTU: a second link A-B with MTU 1400, and a route on it with an mtu metric.
ip link add ${P}m netns $A mtu 1400 type veth peer name ${P}n netns $B mtu 1400
ip -n $A addr add 203.0.113.1/25 dev ${P}m && ip -n $B addr add 203.0.113.2/25 dev ${P}n
ip -n $A link set ${P}m up && ip -n $B link set ${P}n up
ip -n $A route add 203.0.113.128/25 dev ${P}m mtu 1300
ip -n $A route add 203.0.113.96/28 dev ${P}m mtu 120
ip -n $A addr add 2001:db8:3::1/64 dev ${P}m nodad
ip -n $A -6 route add 2001:db8:4::/64 dev ${P}m mtu 1290
mtu_case() {  # mtu_case WHAT WANT_MTU WANT_LOG ENDPOINT...
  local what=$1 want=$2 said=$3
  shift 3
  mtu_conf "$DIR/mtu.conf" "$@"
  run_briefly ${P}d "$DIR/mtu.conf"
  if [[ $RB_MTU == "$want" ]] && grep -qF "MTU $want ($said, less 80)" "$DIR/${P}d.log"; then
    pass "automatic MTU, $what: $RB_MTU ($(grep -m1 -o 'MTU [0-9]* (.*)' "$DIR/${P}d.log"))"
  else
    fail "automatic MTU, $what: got $RB_MTU, want $want; log: $(cat "$DIR/${P}d.log")"
  fi
}
mtu_case "endpoint behind the 1400-byte link" 1320 "the route to 203.0.113.2:51830 has MTU 1400" 203.0.113.2:51830
mtu_case "endpoint behind a route with mtu 1300" 1220 "the route to 203.0.113.130:51830 has MTU 1300" 203.0.113.130:51830
mtu_case "two endpoints: the larger path wins" 1320 "the route to 203.0.113.2:51830 has MTU 1400" \
  203.0.113.130:51830 203.0.113.2:51830 -
mtu_case "IPv6 endpoint behind the 1400-byte link" 1320 "the route to [2001:db8:3::2]:51830 has MTU 1400" \
  "[2001:db8:3::2]:51830"
mtu_case "IPv6 endpoint behind a route with mtu 1290" 1210 "the route to [2001:db8:4::2]:51830 has MTU 1290" \
  "[2001:db8:4::2]:51830"
mtu_conf "$DIR/mtu.conf" 203.0.113.100:51830
run_briefly ${P}d "$DIR/mtu.conf"
if [[ $RB_MTU == 68 ]] && grep -qF "MTU 68 (the route to 203.0.113.100:51830 has MTU 120; less 80 is below the minimum)" "$DIR/${P}d.log"; then
  pass "automatic MTU, route with mtu 120: the minimum, 68, and says so"
else
  fail "automatic MTU, route with mtu 120: got $RB_MTU; log: $(cat "$DIR/${P}d.log")"
fi
mtu_case "endpoint on the 1500-byte veth" 1420 "the route to 192.0.2.2:51830 has MTU 1500" 192.0.2.2:51830
ip -n $A route add default dev ${P}m mtu 1360
mtu_case "unroutable endpoint, default route with mtu 1360" 1280 \
  "no endpoint route; the default route has MTU 1360" "[2001:db8:ffff::1]:51830" -
ip -n $A route del default dev ${P}m mtu 1360
mtu_case "no route at all" 1420 "no route found; assuming 1500" "[2001:db8:ffff::1]:51830"
check "no interface left behind by the MTU runs" bash -c "! ip -n $A link show ${P}d"
# An automatic MTU below 1280 turns IPv6 off on the interface, so ::/0 cannot be routed through
# it (wg-quick stops there too): a clear error, after the IPv4 table was made, and nothing left.
printf '[Interface]\nPrivateKey = %s\nAddress = 198.51.100.1/24\n\n[Peer]\nPublicKey = %s\nAllowedIPs = 0.0.0.0/0, ::/0\nEndpoint = 203.0.113.130:51830\n' \
  "$KA" "$PB" >"$DIR/small.conf"
chmod 600 "$DIR/small.conf"
out=$(ip netns exec $A "$BIN" up "$DIR/small.conf" --name ${P}d --foreground 2>&1); rc=$?
if ((rc != 0)) && [[ $out == *"MTU 1220"* && $out == *"route ::/0: No such device (IPv6 needs an interface MTU of 1280 or more)"* ]]; then
  pass "automatic MTU 1220 with ::/0: refused with the reason: $(grep 'route ::/0' <<<"$out")"
else
  fail "automatic MTU 1220 with ::/0: rc=$rc out=$out"
fi
check "... and left no interface, rule or nft table" bash -c "! ip -n $A link show ${P}d && ! ip -n $A rule | grep -q 51820 && ! ip -n $A -6 rule | grep -q 51820 && ! ip netns exec $A nft list tables | grep -q wg-quick-${P}d"

# --- Table = NAME, from an rt_tables.d file of this test (hex, as iproute2 allows).
printf '# native_up_test.sh, removed on exit\n0x1092 %s\n' "${P}tab" >"$RT_FILE"
cat >"$DIR/${P}g.conf" <<CONF
[Interface]
PrivateKey = $KA
MTU = 1400
Table = ${P}tab

[Peer]
PublicKey = $PB
AllowedIPs = 203.0.113.64/26, 2001:db8:2::/64
CONF
sed "s/^Table = .*/Table = ${P}nope/" "$DIR/${P}g.conf" >"$DIR/${P}h.conf"
chmod 600 "$DIR"/*.conf
check "check accepts Table = ${P}tab" "$BIN" check "$DIR/${P}g.conf"
up_start A "$DIR/g.log" "$DIR/${P}g.conf"
GPID=$UP_PID
check "Table = ${P}tab: interface up" wait_for 10 link_is_up A "${P}g"
check "Table = ${P}tab: IPv4 route in table 4242 (0x1092)" bash -c "ip -n $A route show table 4242 | grep -q '^203.0.113.64/26 dev ${P}g'"
check "Table = ${P}tab: IPv6 route in table 4242" bash -c "ip -n $A -6 route show table 4242 | grep -q '^2001:db8:2::/64 dev ${P}g'"
check "Table = ${P}tab: no route in main" bash -c "! ip -n $A route show table main | grep -q 203.0.113.64/26"
kill -TERM $GPID
check "Table = ${P}tab: exits on SIGTERM" gone "$GPID"
want="${P}h.conf:4: Table name \`${P}nope' is not defined in /etc/iproute2/rt_tables"
out=$(ip netns exec $A "$BIN" up "$DIR/${P}h.conf" --foreground 2>&1); rc=$?
if ((rc != 0)) && [[ $out == *"$want"* && $out == *"/etc/iproute2/rt_tables.d/*.conf"* ]]; then
  pass "unknown Table name refused: $out"
else
  fail "unknown Table name: rc=$rc out=$out"
fi
check "no interface left behind by the unknown Table name" bash -c "! ip -n $A link show ${P}h"
out=$("$BIN" check "$DIR/${P}h.conf" 2>&1); rc=$?
if ((rc != 0)) && [[ $out == *"$want"* ]]; then pass "check refuses the unknown Table name too"; else fail "check: rc=$rc out=$out"; fi

# An interface name nft cannot name a table after, with a /0 route: refused before anything exists.

# A: everything through the tunnel (Table auto + /0), hooks, SaveConfig.
cat >"$DIR/${P}a.conf" <<CONF
[Interface]
PrivateKey = $KA
ListenPort = 51820
Address = 198.51.100.1/24, 2001:db8:1::1/64
MTU = 1380
PostUp = echo "up %i" > $DIR/hook-up
PostUp = nft list tables > $DIR/tables-at-postup
PostDown = echo "down %i" > $DIR/hook-down
PostDown = nft list tables > $DIR/tables-at-postdown
SaveConfig = true

[Peer]
PublicKey = $PB
AllowedIPs = 0.0.0.0/0, ::/0
Endpoint = 192.0.2.2:51821
CONF
# B: Table = off, routes left to the operator.
cat >"$DIR/${P}b.conf" <<CONF
[Interface]
PrivateKey = $KB
ListenPort = 51821
Address = 198.51.100.2/24, 2001:db8:1::2/64
Table = off

[Peer]
PublicKey = $PA
AllowedIPs = 198.51.100.1/32, 2001:db8:1::1/128
CONF
chmod 600 "$DIR"/*.conf

out=$(ip netns exec $A "$BIN" up "$DIR/${P}a.conf" --name "${P}+q" --foreground 2>&1); rc=$?
if ((rc != 0)) && [[ $out == *"cannot name the nftables table wg-quick-${P}+q"* ]]; then pass "interface name with '+' and a /0 route refused: $out"; else fail "name with '+': rc=$rc out=$out"; fi
check "no interface left behind by the refused name" bash -c "! ip -n $A link show ${P}+q"

# A malformed file: one clear error naming file and line, non-zero exit, nothing created.
printf '[Interface]\nPrivateKey = %s\nListenPort = 70000x\n' "$KA" >"$DIR/${P}c.conf"
out=$(ip netns exec $A "$BIN" up "$DIR/${P}c.conf" --foreground 2>&1); rc=$?
if ((rc != 0)) && [[ $out == *"${P}c.conf:3:"* ]]; then pass "malformed config refused with file:line ($out)"; else fail "malformed config: rc=$rc out=$out"; fi
check "no interface left behind by the failed up" bash -c "! ip -n $A link show ${P}c"

up_start A "$DIR/a.log" "$DIR/${P}a.conf"
APID=$UP_PID
up_start B "$DIR/b.log" "$DIR/${P}b.conf"
check "A's interface came up" wait_for 10 link_is_up A "${P}a"
check "B's interface came up" wait_for 10 link_is_up B "${P}b"
check "A's MTU is the file's 1380" bash -c "ip -n $A link show ${P}a | grep -q 'mtu 1380'"
check "A's address applied" bash -c "ip -n $A -4 addr show ${P}a | grep -q 198.51.100.1/24"
check "PostUp ran with %i replaced" grep -qx "up ${P}a" "$DIR/hook-up"
check "Table auto + 0.0.0.0/0: 'not fwmark 0xca6c lookup 51820' rule" bash -c "ip -n $A rule | grep -q 'not from all fwmark 0xca6c lookup 51820'"
check "Table auto + 0.0.0.0/0: suppress_prefixlength rule" bash -c "ip -n $A rule | grep -q 'suppress_prefixlength 0'"
check "default route in table 51820" bash -c "ip -n $A route show table 51820 | grep -q 'default dev ${P}a'"
check "fwmark reported to wg" bash -c "[ \"\$(ip netns exec $A wg show ${P}a fwmark)\" = 0xca6c ]"
check "Table auto + ::/0: IPv6 fwmark rule" bash -c "ip -n $A -6 rule | grep -q 'not from all fwmark 0xca6c lookup 51820'"
# wg-quick's nftables tables, one per family, as `nft list` prints them.
for fam in ip ip6; do
  [[ $fam == ip ]] && addr=198.51.100.1 || addr=2001:db8:1::1
  listing=$(ip netns exec $A nft list table $fam wg-quick-${P}a 2>&1)
  rules=$(sed -n 's/^\t*//; /^\(chain\|type\|iifname\|meta\)/p' <<<"$listing")
  want_rules="chain preraw {
type filter hook prerouting priority raw; policy accept;
iifname != \"${P}a\" $fam daddr $addr fib saddr type != local drop
chain premangle {
type filter hook prerouting priority mangle; policy accept;
meta l4proto udp meta mark set ct mark
chain postmangle {
type filter hook postrouting priority mangle; policy accept;
meta l4proto udp meta mark 0x0000ca6c ct mark set meta mark"
  if [[ $rules == "$want_rules" ]]; then pass "nft table $fam wg-quick-${P}a: preraw/premangle/postmangle with wg-quick's rules"; else fail "nft table $fam wg-quick-${P}a: $listing"; fi
done
check "Table = off: B added no route for the peer" bash -c "! ip -n $B route | grep -q '198.51.100.1 dev'"
# B knows A only from A's handshake (no Endpoint in its file).
check "ping A->B through the tunnel (A's default route via the tunnel, its UDP outside)" \
  ip netns exec $A ping -c 2 -W 3 -i 0.3 198.51.100.2
check "ping B->A" ip netns exec $B ping -c 2 -W 3 -i 0.3 198.51.100.1
check "ping -6 A->B through the tunnel (::/0 in table 51820)" ip netns exec $A ping -6 -c 2 -W 3 -i 0.3 2001:db8:1::2
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
# Anti-spoofing: B sends to A's tunnel addresses over the veth instead of the tunnel. The file's
# address 198.51.100.1 is in the preraw rule and gets dropped; 198.51.100.9, added by hand after
# startup and so not in the rule, answers the same way — it is the rule that drops.
ip -n $B route add 198.51.100.1/32 via 192.0.2.1 dev "$VB" src 192.0.2.2
ip -n $B route add 198.51.100.9/32 via 192.0.2.1 dev "$VB" src 192.0.2.2
check "anti-spoof control: 198.51.100.9 (not in the rule) answers over the veth" \
  ip netns exec $B ping -c 2 -W 2 -i 0.3 198.51.100.9
check "anti-spoof: 198.51.100.1 over the veth (not the tunnel) is dropped by preraw" \
  bash -c "! ip netns exec $B ping -c 2 -W 1 -i 0.3 198.51.100.1"
ip -n $B route del 198.51.100.1/32
ip -n $B route del 198.51.100.9/32
check "the tunnel still answers after the spoof attempts" ip netns exec $B ping -c 1 -W 3 198.51.100.1

# A new peer added at runtime is written back by SaveConfig on shutdown.
NEWPUB=$("$BIN" genkey | "$BIN" pubkey)
ip netns exec $A wg set ${P}a peer "$NEWPUB" allowed-ips 198.51.100.77/32
kill -TERM $APID
check "A exits on SIGTERM" gone "$APID"
check "interface removed" bash -c "! ip -n $A link show ${P}a"
check "UAPI socket removed" bash -c "[ ! -e /var/run/wireguard/${P}a.sock ]"
check "fwmark rules removed" bash -c "! ip -n $A rule | grep -q 51820"
check "IPv6 fwmark rules removed" bash -c "! ip -n $A -6 rule | grep -q 51820"
check "nft tables wg-quick-${P}a removed (ip and ip6)" bash -c "! ip netns exec $A nft list tables | grep -q 'wg-quick-${P}a'"
# PostDown runs while wgrouter still lives: the tables are gone before the hooks, as in
# wg-quick's down (PostUp shows the same listing finds them).
check "PostUp's nft listing shows both tables" bash -c "grep -q 'table ip wg-quick-${P}a' $DIR/tables-at-postup && grep -q 'table ip6 wg-quick-${P}a' $DIR/tables-at-postup"
check "PostDown's nft listing (wgrouter still running) shows neither" bash -c "[ -e $DIR/tables-at-postdown ] && ! grep -q 'wg-quick-${P}a' $DIR/tables-at-postdown"
check "PostDown ran" grep -qx "down ${P}a" "$DIR/hook-down"
check "SaveConfig wrote the runtime peer back" grep -q "$NEWPUB" "$DIR/${P}a.conf"
check "SaveConfig kept the wg-quick settings" grep -q "PostUp" "$DIR/${P}a.conf"
check "the saved file parses" "$BIN" check "$DIR/${P}a.conf"
check "the saved file is private (0600)" bash -c "[ \"\$(stat -c %a $DIR/${P}a.conf)\" = 600 ]"
# nftables refusing the rules part way: a table of the IPv6 name owned by another process
# (`flags owner`, held by an interactive nft) makes nft fail with EPERM after the IPv4 table was
# made. `up` fails as wg-quick does and leaves no interface, no fwmark rules and no table of its
# own (the IPv4 one is deleted again); the other process's table stays.
sed -e "s/^ListenPort = .*/ListenPort = 51830/" -e '/^SaveConfig/d' -e '/^Post/d' "$DIR/${P}a.conf" >"$DIR/${P}k.conf"
chmod 600 "$DIR/${P}k.conf"
coproc NFTI { exec ip netns exec $A nft -i >/dev/null 2>&1; }
echo "add table ip6 wg-quick-${P}k { flags owner; }" >&"${NFTI[1]}"
if wait_for 5 bash -c "ip netns exec $A nft list tables | grep -q 'table ip6 wg-quick-${P}k'"; then
  out=$(ip netns exec $A "$BIN" up "$DIR/${P}k.conf" --foreground 2>&1); rc=$?
  if ((rc != 0)) && [[ $out == *"nftables table ip wg-quick-${P}k added"* &&
        $out == *"nftables rules for the default route (table ip6 wg-quick-${P}k): "*"Operation not permitted"* ]]; then
    pass "nftables refusing the IPv6 rules stops up: $(grep nftables <<<"$out" | tr '\n' ' ')"
  else
    fail "up with the ip6 table owned elsewhere: rc=$rc out=$out"
  fi
  check "no interface left behind when nftables refuses" bash -c "! ip -n $A link show ${P}k"
  check "no fwmark rules left behind when nftables refuses" bash -c "! ip -n $A rule | grep -q 51820 && ! ip -n $A -6 rule | grep -q 51820"
  check "the IPv4 table made before the refusal is removed" bash -c "! ip netns exec $A nft list tables | grep -q 'table ip wg-quick-${P}k'"
  check "the other process's table is left alone" bash -c "ip netns exec $A nft list tables | grep -q 'table ip6 wg-quick-${P}k'"
else
  fail "could not make an owned nft table to test the refusal"
fi
exec {NFTI[1]}>&-
check "an owner table goes with its process (what wgrouter's own tables rely on after SIGKILL)" \
  wait_for 5 bash -c "! ip netns exec $A nft list tables | grep -q 'wg-quick-${P}k'"
# SIGKILL: no cleanup code runs, yet the tables go with the process's netlink socket (owner flag).
up_start A "$DIR/k.log" "$DIR/${P}k.conf"
KPID=$UP_PID
if wait_for 10 bash -c "ip netns exec $A nft list tables | grep -q 'table ip6 wg-quick-${P}k'"; then
  { kill -KILL "$KPID" && wait "$KPID"; } 2>/dev/null  # reaped here: no job notice
  check "SIGKILL: the nft tables go with the process" wait_for 5 bash -c "! ip netns exec $A nft list tables | grep -q 'wg-quick-${P}k'"
  # Only the UAPI socket file stays after SIGKILL (a later start replaces a stale one): ours to remove.
  rm -f "/var/run/wireguard/${P}k.sock"
else
  fail "SIGKILL case: ${P}k did not come up: $(cat "$DIR/k.log")"
fi
# --netns: the interface lives in B, so do its routes, rules and nftables tables. They are plain
# tables there (a socket kept in B would keep B alive after its container stopped) and SIGTERM
# deletes them.
cat >"$DIR/${P}e.conf" <<CONF
[Interface]
PrivateKey = $KA
ListenPort = 51831
Address = 203.0.113.201/32, 2001:db8:5::1/128
MTU = 1400

[Peer]
PublicKey = $PB
AllowedIPs = 0.0.0.0/0, ::/0
Endpoint = 192.0.2.2:51821
CONF
chmod 600 "$DIR/${P}e.conf"
up_start A "$DIR/e.log" "$DIR/${P}e.conf" --netns "$B"
EPID=$UP_PID
on_cleanup "rm -f $WG_SOCK_DIR/${P}e.sock"
# "up (" comes after the routes and tables: the link is up before they are made.
if wait_for 10 link_is_up B "${P}e" && wait_for 10 grep -q "up (" "$DIR/e.log"; then
  for fam in ip ip6; do
    listing=$(ip netns exec $B nft list table $fam wg-quick-${P}e 2>&1)
    [[ $fam == ip ]] && addr=203.0.113.201 || addr=2001:db8:5::1
    if [[ $listing == *"iifname != \"${P}e\" $fam daddr $addr fib saddr type != local drop"* &&
          $listing == *"meta l4proto udp meta mark set ct mark"* && $listing != *"flags owner"* ]]; then
      pass "--netns: table $fam wg-quick-${P}e in the target namespace, anti-spoof rule for $addr, not owned"
    else
      fail "--netns: table $fam wg-quick-${P}e in B: $listing; log: $(cat "$DIR/e.log")"
    fi
  done
  check "--netns: no table in the namespace wgrouter runs in" bash -c "! ip netns exec $A nft list tables | grep -q 'wg-quick-${P}e'"
  kill -TERM $EPID
  check "--netns: exits on SIGTERM" gone "$EPID"
  check "--netns: tables deleted in the target namespace" bash -c "! ip netns exec $B nft list tables | grep -q 'wg-quick-${P}e'"
  check "--netns: fwmark rules deleted there" bash -c "! ip -n $B rule | grep -q 51820 && ! ip -n $B -6 rule | grep -q 51820"
else
  fail "--netns: ${P}e did not come up in B: $(cat "$DIR/e.log")"
fi
# --- A PostUp hook slower than REKEY_TIMEOUT (1 s: 20 s of protocol time at 20x). The first
# initiation leaves as the loop starts, after the hooks, so its response is read before a
# retransmission is due: no drop on either side. (Sent before the hooks, the response waited
# in the socket, the loop's first tick found the retransmission due and sent a second
# initiation, and the first response was dropped as unknown_index.)
printf '[Interface]\nPrivateKey = %s\nListenPort = 51841\nTable = off\n\n[Peer]\nPublicKey = %s\nAllowedIPs = 198.51.100.1/32\n' \
  "$KB" "$PA" >"$DIR/${P}k.conf"
printf '[Interface]\nPrivateKey = %s\nTable = off\nPostUp = sleep 1\n\n[Peer]\nPublicKey = %s\nEndpoint = 192.0.2.2:51841\nAllowedIPs = 198.51.100.2/32\nPersistentKeepalive = 25\n' \
  "$KA" "$PB" >"$DIR/${P}j.conf"
chmod 600 "$DIR/${P}j.conf" "$DIR/${P}k.conf"
on_cleanup "rm -f $WG_SOCK_DIR/${P}j.sock $WG_SOCK_DIR/${P}k.sock"
up_start B "$DIR/k.log" "$DIR/${P}k.conf"
KPID=$UP_PID
check "slow PostUp: responder up" wait_for 10 link_is_up B "${P}k"
WGROUTER_TEST_CLOCK_SCALE=20 up_start A "$DIR/j.log" "$DIR/${P}j.conf"
JPID=$UP_PID
hs_j() { v=$(ip netns exec $A wg show ${P}j latest-handshakes | cut -f2) && [[ $v =~ ^[1-9] ]]; }
if wait_for 15 hs_j; then
  sleep 0.5 # a pace: a second initiation or a late response would show within it
  drops_j=$("$BIN" show ${P}j --json | jq -c '.[0].drops | with_entries(select(.value > 0))')
  drops_k=$("$BIN" show ${P}k --json | jq -c '.[0].drops | with_entries(select(.value > 0))')
  check_eq "slow PostUp: drops at the initiator (its first response must not be stale)" "{}" "$drops_j"
  check_eq "slow PostUp: drops at the responder" "{}" "$drops_k"
else
  fail "slow PostUp: no handshake within 15 s" "$(cat "$DIR/j.log")"
fi
stop_pid "$JPID"
stop_pid "$KPID"
summary "native up"
