#!/usr/bin/env bash
# tests/netns/metrics_test.sh — Prometheus metrics end to end (issue 14 item 1): two wgrouter
# gateways in namespaces A and B; A serves MetricsListen = 127.0.0.1:9586 in its namespace and
# has a veth port to an instance in namespace C.
#   a. `up` says where the metrics are; the tunnel works.
#   b. `wgrouter show --prometheus` and `GET /metrics` (curl) both pass `promtool check metrics`
#      and have the same families.
#   c. B sends through the tunnel from a source outside A's AllowedIPs for it, C from a source
#      outside its port's AllowedSource: A's source_not_allowed and the port's spoofed_source
#      drop counters grow in both outputs.
#   d. A real Prometheus server in A scrapes A every second; its query API returns both drop
#      counters > 0, the peer's received bytes > 0 and up == 1.
#   e. Other requests get their HTTP error (405, 404, 431, 408 for a request that never ends,
#      503 past 16 connections), and the tunnel keeps working.
#   f. SIGHUP with MetricsListen moved to a unix socket: served there, the port closed.
#   g. Bad input: a malformed MetricsListen is a file:line error of `check` and `up`; one that
#      cannot be bound (the port Prometheus holds, a missing directory) fails `up` with one
#      line, before any interface exists.
# Documentation addresses only; everything removed on exit.
# Usage: metrics_test.sh WGROUTER_BIN
set -uo pipefail
BIN=${1:?usage: metrics_test.sh WGROUTER_BIN}
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
WGROUTER_BIN=$BIN
require_root
require_tools promtool prometheus curl jq
pair_test 300 || exit 1
P=$T_PREFIX DIR=$T_DIR
MPORT=9586 PPORT=9590
on_cleanup "rm -f $WG_SOCK_DIR/${P}a.sock $WG_SOCK_DIR/${P}b.sock $WG_SOCK_DIR/${P}c.sock"

write_conf() {  # write_conf FILE METRICS_LINE: A's file
  (umask 077; cat >"$1" <<EOF
[Interface]
PrivateKey = $KA
ListenPort = 40001
Address = 198.51.100.1/24
Table = off
$2

[Peer]
PublicKey = $PB
Endpoint = 192.0.2.2:40002
AllowedIPs = 198.51.100.2/32

[Port]
Name = ${P}p
Mode = veth
Address = fe80::1/64
Route = 2001:db8:5::2/128
EOF
  )
}
write_conf "$DIR/A.conf" "MetricsListen = 127.0.0.1:$MPORT"
# B routes all of 198.51.100.0/24 to A and has a second address, 203.0.113.9, that A does not
# allow for it: what B sends from there is dropped by A as source_not_allowed.
(umask 077; cat >"$DIR/B.conf" <<EOF
[Interface]
PrivateKey = $KB
ListenPort = 40002
Address = 198.51.100.2/24, 203.0.113.9/32
Table = off

[Peer]
PublicKey = $PA
Endpoint = 192.0.2.1:40001
AllowedIPs = 198.51.100.0/24
EOF
)

# An instance behind a veth port of A: C's eth0 is 2001:db8:5::2, A's end is the port.
make_ns C && veth_pair A ${P}p C eth0 && addr_add C eth0 2001:db8:5::2/128 2001:db8:5::99/128 &&
  nsx C ip -6 route add default via fe80::1 dev eth0 || { fail "instance C behind port ${P}p"; exit 1; }

# curl_a ARGS...: curl in A, bounded.
curl_a() { nsx A curl -sS --max-time 10 "$@"; }
# status_of ARGS...: the HTTP status curl gets in A.
status_of() { curl_a -o /dev/null -w '%{http_code}' "$@" 2>/dev/null; }
# promtool_ok FILE: promtool check metrics is content with FILE (its lint complaints shown).
promtool_ok() { promtool check metrics <"$1"; }
families() { sed -n 's/^# TYPE \([^ ]*\) .*/\1/p' "$1" | sort; }
# sample FILE METRIC LABEL_MATCH: the value of the first sample of METRIC whose labels contain
# LABEL_MATCH.
sample() { awk -v m="$2" -v l="$3" 'index($0, m "{") == 1 && index($0, l) { print $NF; exit }' "$1"; }

T_TAG=a.up
up_start A "$DIR/A.log" "$DIR/A.conf" --name ${P}a
A_PID=$UP_PID
up_start B "$DIR/B.log" "$DIR/B.conf" --name ${P}b
wait_for 15 link_is_up A ${P}a && wait_for 15 link_is_up B ${P}b ||
  fail "interfaces up" "$(cat "$DIR/A.log" "$DIR/B.log")"
check "up says where the metrics are" grep -qF "metrics at http://127.0.0.1:$MPORT/metrics" "$DIR/A.log"
check "tunnel A -> B" ping_ok A 198.51.100.2 3 10

T_TAG=b.formats
nsx A "$BIN" show ${P}a --prometheus >"$DIR/show.prom" 2>"$DIR/show.err"
check "show --prometheus exits 0 with output" test -s "$DIR/show.prom"
check "promtool check metrics: show --prometheus" promtool_ok "$DIR/show.prom"
curl_a -o "$DIR/curl.prom" -D "$DIR/curl.head" "http://127.0.0.1:$MPORT/metrics"
check "GET /metrics is 200 text/plain 0.0.4" grep -q "^Content-Type: text/plain; version=0.0.4" "$DIR/curl.head"
check "promtool check metrics: GET /metrics" promtool_ok "$DIR/curl.prom"
check_eq "same families in both" "$(families "$DIR/show.prom" | md5sum)" "$(families "$DIR/curl.prom" | md5sum)"
check_match "families" '^[0-9]+$' "$(families "$DIR/curl.prom" | wc -l)"
for f in wireguard_sent_bytes_total wireguard_received_bytes_total wireguard_latest_handshake_seconds \
  wgrouter_drops_total wgrouter_handshakes_sent_total wgrouter_build_info wgrouter_io_syscalls_total; do
  check "family $f is there" grep -q "^# TYPE $f " "$DIR/curl.prom"
done
check_match "peer B's handshake time in GET /metrics" '^[1-9][0-9]{9}$' \
  "$(sample "$DIR/curl.prom" wireguard_latest_handshake_seconds "public_key=\"$PB\"")"

T_TAG=c.drop
before=$(sample "$DIR/curl.prom" wgrouter_drops_total 'reason="source_not_allowed"')
check_eq "source_not_allowed before" 0 "$before"
# From 203.0.113.9: no reply can come (A drops it); ping's status says nothing here.
nsx B ping -n -q -c 5 -i 0.2 -W 1 -I 203.0.113.9 198.51.100.1 >/dev/null 2>&1
dropped_now() {
  nsx A "$BIN" show ${P}a --prometheus >"$DIR/show2.prom" 2>/dev/null
  [[ $(sample "$DIR/show2.prom" wgrouter_drops_total 'reason="source_not_allowed"') -gt 0 ]]
}
check "source_not_allowed grows in show --prometheus" wait_for 10 dropped_now
# C sends from 2001:db8:5::99, outside the port's AllowedSource (its Route, ::2/128).
nsx C ping -6 -n -q -c 3 -i 0.2 -W 1 -I 2001:db8:5::99 2001:db8:100::1 >/dev/null 2>&1
port_dropped_now() {
  nsx A "$BIN" show ${P}a --prometheus >"$DIR/show3.prom" 2>/dev/null
  [[ $(sample "$DIR/show3.prom" wgrouter_port_drops_total "port=\"${P}p\",reason=\"spoofed_source\"") -gt 0 ]]
}
check "the port's spoofed_source grows in show --prometheus" wait_for 10 port_dropped_now
curl_a -o "$DIR/curl2.prom" "http://127.0.0.1:$MPORT/metrics"
check_match "source_not_allowed in GET /metrics" '^[1-9][0-9]*$' \
  "$(sample "$DIR/curl2.prom" wgrouter_drops_total 'reason="source_not_allowed"')"
check_match "the port's spoofed_source in GET /metrics" '^[1-9][0-9]*$' \
  "$(sample "$DIR/curl2.prom" wgrouter_port_drops_total 'reason="spoofed_source"')"
check_match "the port's rx packets in GET /metrics" '^[1-9][0-9]*$' \
  "$(sample "$DIR/curl2.prom" wgrouter_port_rx_packets_total "port=\"${P}p\"")"
check "promtool check metrics: GET /metrics with the counters grown" promtool_ok "$DIR/curl2.prom"

T_TAG=d.prometheus
cat >"$DIR/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: wgrouter
    static_configs:
      - targets: ['127.0.0.1:$MPORT']
EOF
declare -a pre
ns_prefix A pre
"${pre[@]}" prometheus --config.file="$DIR/prometheus.yml" --storage.tsdb.path="$DIR/tsdb" \
  --web.listen-address="127.0.0.1:$PPORT" >"$DIR/prometheus.log" 2>&1 </dev/null &
PROM_PID=$!
on_cleanup "stop_pid $PROM_PID"
check "Prometheus is ready" wait_for 60 curl_a -f "http://127.0.0.1:$PPORT/-/ready"
# query EXPR: the value of the query's first result (empty when none yet).
query() {
  curl_a -G --data-urlencode "query=$1" "http://127.0.0.1:$PPORT/api/v1/query" | jq -r '.data.result[0].value[1] // empty'
}
positive() { local v; v=$(query "$1"); [[ -n $v ]] && awk -v v="$v" 'BEGIN { exit !(v > 0) }'; }
check "query up{job=\"wgrouter\"} is 1" wait_for 60 eval '[[ $(query "up{job=\"wgrouter\"}") == 1 ]]'
check "query wgrouter_drops_total{reason=\"source_not_allowed\"} > 0" \
  wait_for 60 positive "wgrouter_drops_total{interface=\"${P}a\",reason=\"source_not_allowed\"}"
info "Prometheus says source_not_allowed = $(query "wgrouter_drops_total{reason=\"source_not_allowed\"}")"
check "query wgrouter_port_drops_total{port=\"${P}p\",reason=\"spoofed_source\"} > 0" \
  wait_for 30 positive "wgrouter_port_drops_total{port=\"${P}p\",reason=\"spoofed_source\"}"
info "Prometheus says the port's spoofed_source = $(query "wgrouter_port_drops_total{reason=\"spoofed_source\"}")"
check "query wireguard_received_bytes_total for peer B > 0" \
  wait_for 30 positive "wireguard_received_bytes_total{public_key=\"$PB\"}"
info "Prometheus says wireguard_received_bytes_total = $(query "wireguard_received_bytes_total{public_key=\"$PB\"}")"

T_TAG=e.bad-requests
check_eq "POST /metrics" 405 "$(status_of -X POST "http://127.0.0.1:$MPORT/metrics")"
check_eq "GET /" 404 "$(status_of "http://127.0.0.1:$MPORT/")"
check_eq "a 9000-byte header" 431 "$(status_of -H "X-Pad: $(head -c 9000 /dev/zero | tr '\0' a)" "http://127.0.0.1:$MPORT/metrics")"
check_eq "HEAD /metrics" 200 "$(status_of -I "http://127.0.0.1:$MPORT/metrics")"
# A request that never ends: 408 after the 5 s read timeout (bounded by `timeout`).
nsx A timeout 15 bash -c "exec 3<>/dev/tcp/127.0.0.1/$MPORT; printf 'GET /metrics HTTP/1.1\r\nHost: x\r\n' >&3; cat <&3" \
  >"$DIR/late.out" 2>&1
check_match "a request that does not end gets" '^HTTP/1.1 408 ' "$(head -n1 "$DIR/late.out")"
# 16 idle connections, then one more: 503 (the 16 time out on their own).
nsx A timeout 15 bash -c "
  for i in \$(seq 16); do exec {fd}<>/dev/tcp/127.0.0.1/$MPORT || exit 2; done
  exec 3<>/dev/tcp/127.0.0.1/$MPORT; cat <&3" >"$DIR/busy.out" 2>&1
check_match "the 17th connection gets" '^HTTP/1.1 503 ' "$(head -n1 "$DIR/busy.out")"
check "A's daemon still runs" pid_alive "$A_PID"
check "tunnel A -> B after the bad requests" ping_ok A 198.51.100.2 3 10
check_eq "a scrape after them" 200 "$(status_of "http://127.0.0.1:$MPORT/metrics")"

T_TAG=f.reload
write_conf "$DIR/A.conf" "MetricsListen = $DIR/metrics.sock"
kill -HUP "$A_PID"
check "reload says where the metrics are now" wait_for 10 grep -qF "reload: metrics at unix socket $DIR/metrics.sock" "$DIR/A.log"
nsx A curl -sS --max-time 10 --unix-socket "$DIR/metrics.sock" -o "$DIR/unix.prom" http://localhost/metrics
check "promtool check metrics: GET /metrics on the unix socket" promtool_ok "$DIR/unix.prom"
check "the port is closed" wait_for 5 eval "! port_listening A $MPORT"
check "tunnel A -> B after the reload" ping_ok A 198.51.100.2 3 10
kill -TERM "$A_PID"
check "A stops on SIGTERM" wait_for 10 eval "! pid_alive $A_PID"
check "the unix socket is removed at the end" test ! -e "$DIR/metrics.sock"

T_TAG=g.bad-input
write_conf "$DIR/bad.conf" "MetricsListen = localhost:9586"
line=$(grep -n MetricsListen "$DIR/bad.conf" | cut -d: -f1)
out=$("$BIN" check "$DIR/bad.conf" 2>&1); rc=$?
check_match "check: status $rc, says" "^$DIR/bad.conf:$line: MetricsListen is neither ADDRESS:PORT" "$out"
out=$(nsx A timeout 20 "$BIN" up "$DIR/bad.conf" --name ${P}c --foreground 2>&1); rc=$?
check_match "up with it: status $rc, says" "^$DIR/bad.conf:$line: MetricsListen is neither ADDRESS:PORT" "$out"
write_conf "$DIR/C.conf" "MetricsListen = 127.0.0.1:$PPORT"
out=$(nsx A timeout 20 "$BIN" up "$DIR/C.conf" --name ${P}c --foreground 2>&1); rc=$?
check "up with the port Prometheus holds fails" test "$rc" -ne 0
check_eq "and says, in one line" \
  "wgrouter: $DIR/C.conf:$line: MetricsListen 127.0.0.1:$PPORT: cannot bind: Address already in use" "$out"
check "no interface left" eval "! ipn A link show ${P}c"
check "no UAPI socket left" test ! -e "$WG_SOCK_DIR/${P}c.sock"
write_conf "$DIR/C.conf" "MetricsListen = $DIR/missing/metrics.sock"
out=$(nsx A timeout 20 "$BIN" up "$DIR/C.conf" --name ${P}c --foreground 2>&1); rc=$?
check_eq "up with a unix socket in a missing directory: status $rc, says" \
  "wgrouter: $DIR/C.conf:$line: MetricsListen $DIR/missing/metrics.sock: cannot bind: No such file or directory" "$out"

summary metrics_test
