#!/usr/bin/env bash
# tests/tools/check_test.sh — `wgrouter check FILE.conf`: exit status and exact output on good
# and bad files; then, where the real tools are installed, the same verdict and message as `wg`
# on wg-only files (its parser runs before it looks for the interface, so no kernel module is
# needed) and as wg-quick on its own keys.
# Usage: bash check_test.sh path/to/wgrouter. Exit 0 all passed, 1 any failure.
set -euo pipefail

bin=${1:?usage: check_test.sh path/to/wgrouter}
if [[ ! -x $bin ]]; then
  echo "FAIL: $bin is not an executable"
  exit 1
fi
bin=$(readlink -f "$bin")
umask 077  # no world-accessible warnings unless a test asks for one

work=$(mktemp -d "${TMPDIR:-/tmp}/wg_check_test.XXXXXX")
trap 'rm -rf -- "$work"' EXIT
cd "$work"

limit=10  # seconds per process
failures=0
checks=0
pass() { checks=$((checks + 1)); echo "ok   $1"; }
fail() { checks=$((checks + 1)); failures=$((failures + 1)); echo "FAIL $1"; }

priv=yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=  # keys from wg(8)'s examples
pub1=xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=
pub2=TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0=
psk=/UwcSPg38hW/D9Y3tcS1FOV0K1wuURMbS0sesJEP5ak=

# run_check ARGS... -> $work/{out,err,rc}
run_check() {
  local rc=0
  timeout "$limit" "$bin" check "$@" >"$work/out" 2>"$work/err" </dev/null || rc=$?
  echo "$rc" >"$work/rc"
}

# expect NAME RC STDOUT STDERR ARGS...: exact stdout and stderr (each without its last newline).
expect() {
  local name=$1 rc=$2 out=$3 err=$4 ok=1
  shift 4
  run_check "$@"
  if [[ $(cat "$work/rc") != "$rc" ]]; then
    ok=0
    echo "  exit status $(cat "$work/rc"), expected $rc"
  fi
  if [[ $(cat "$work/out") != "$out" ]]; then
    ok=0
    echo "  stdout: $(cat "$work/out")"
    echo "  wanted: $out"
  fi
  if [[ $(cat "$work/err") != "$err" ]]; then
    ok=0
    echo "  stderr: $(cat "$work/err")"
    echo "  wanted: $err"
  fi
  if ((ok)); then pass "$name"; else fail "$name"; fi
}

# --- usage ------------------------------------------------------------------------------------
# A wrong command line: what was wrong, then the usage (`check --help`'s text), status 2.
usage_text=$(timeout "$limit" "$bin" check --help)
expect "usage: no file" 2 "" "wgrouter check: no FILE.conf given
$usage_text"
expect "usage: two files" 2 "" "wgrouter check: one FILE.conf at a time
$usage_text" a.conf b.conf
expect "usage: unknown option" 2 "" "wgrouter check: unknown option \`--strict'
$usage_text" --strict a.conf

# --- good files -------------------------------------------------------------------------------
cat >gw0.conf <<EOF
# PRODUCT.md's gateway
[Interface]
PrivateKey = $priv
ListenPort = 51820
Address = 2a11:6c7:abcd:2000::1/128
Unreachable = 2a11:6c7:abcd:2000::/56

[Peer]                                     # ROUTE64
PublicKey = $pub1
Endpoint = 192.0.2.64:58140
AllowedIPs = ::/0
PersistentKeepalive = 25

[Port]
Name = pub-test0
Mode = tap
Address = fe80::1/64
Route = 2a11:6c7:abcd:2001::2/128
AllowedSource = 2a11:6c7:abcd:2001::2/128
AllowInbound = tcp/22, tcp/80, tcp/443
MTU = 1420
EOF
expect "gateway with a port" 0 "gw0.conf: OK (1 peer, 1 port)" "" gw0.conf

cat >wg0.conf <<EOF
[interface]
privatekey	= $priv
address	= 10.200.200.1/24, fd42::1/64
DNS = 10.200.200.1, home.lan
ListenPort = 51820
SaveConfig = true
PostUp = iptables -A FORWARD -i %i -j ACCEPT # allow forwarding
PostDown = iptables -D FORWARD -i %i -j ACCEPT

[PEER]
PublicKey = $pub1
PresharedKey = $psk
AllowedIPs = 10.200.200.2/32

[Peer]
PublicKey = $pub2
AllowedIPs = 10.200.200.3/32
Endpoint = [2001:db8::3]:51820
EOF
expect "wg-quick server, two peers" 0 "wg0.conf: OK (2 peers, 0 ports)" "" wg0.conf
printf '[Peer]\nPublicKey = %s\nEndpoint = nowhere.invalid:51820\n' "$pub1" >host.conf
expect "check resolves no hostname" 0 "host.conf: OK (1 peer, 0 ports)" "" host.conf
sed 's/$/\r/' wg0.conf >crlf.conf
expect "CRLF line endings" 0 "crlf.conf: OK (2 peers, 0 ports)" "" crlf.conf
: >empty.conf
expect "empty file" 0 "empty.conf: OK (0 peers, 0 ports)" "" empty.conf

# --- errors: one diagnostic, file:line -------------------------------------------------------
printf '[Interface]\nListenPort = 51820\n\n[Peer]\n# x\n\nPublicKey = abc\n' >bad0.conf
expect "bad public key (wg's text, line 7)" 1 "" "bad0.conf:7: Key is not the correct length or format: \`abc'" bad0.conf
printf '[Interface]\nPrivateKey = %s\n' "${priv:0:43}" >bad1.conf
expect "bad private key: value not shown" 1 "" "bad1.conf:2: Key is not the correct length or format" bad1.conf
printf 'Address = 10.0.0.1/24\n' >bad2.conf
expect "line before any section" 1 "" "bad2.conf:1: Line unrecognized: \`Address=10.0.0.1/24'" bad2.conf
printf '[Interface]\nSaveConfig = yes\n' >bad3.conf
expect "SaveConfig (wg-quick's text)" 1 "" "bad3.conf:2: \`yes' is neither true nor false" bad3.conf
printf '[Peer]\nAllowedIPs = 10.0.0.0/8\n' >bad4.conf
expect "peer without a key" 1 "" "bad4.conf:1: A peer is missing a public key" bad4.conf
printf '[Port]\nName = p0\nMode = tap\nRoute = 2001:db8::2\n[Peer]\nPublicKey = %s\nAllowedIPs = 2001:db8::2/128\n' \
  "$pub1" >bad5.conf
expect "port route = peer AllowedIP" 1 "" \
  "bad5.conf:7: AllowedIP 2001:db8::2/128 is also a Route of port \`p0' on line 4" bad5.conf
printf '[Port]\nName = p0\nMode = bridge\n' >bad6.conf
expect "port mode" 1 "" "bad6.conf:3: Mode is neither tap nor veth: \`bridge'" bad6.conf
expect "missing file" 1 "" "\`nope.conf' does not exist" nope.conf
# Table names come from iproute2's files (main is built in; this name is in none of them).
printf '[Interface]\nTable = main\n' >table0.conf
expect "Table = main" 0 "table0.conf: OK (0 peers, 0 ports)" "" table0.conf
printf '[Interface]\nListenPort = 1\nTable = wgrouter-check-no-such-table\n' >table1.conf
searched=/etc/iproute2/rt_tables  # newer iproute2 keeps its own in /usr/share, read when /etc has none
[ -f /etc/iproute2/rt_tables ] || searched+=", /usr/share/iproute2/rt_tables"
expect "unknown Table name" 1 "" "table1.conf:3: Table name \`wgrouter-check-no-such-table' is not defined in \
$searched, /usr/share/iproute2/rt_tables.d/*.conf, /etc/iproute2/rt_tables.d/*.conf (nor is it main, \
local or default)" table1.conf

# The shipped example (the seed's gateway) is a valid file. Copied with mode 0600 so the
# world-accessible warning (a property of the checkout, not of the file) stays out.
example=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/examples/route64-gw.conf
install -m 600 "$example" route64-gw.conf
expect "examples/route64-gw.conf" 0 "route64-gw.conf: OK (1 peer, 1 port)" "" route64-gw.conf

# --- warnings go to stderr, the verdict stays OK ----------------------------------------------
printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.0.0.1/24\n' "$pub1" >warn0.conf
expect "host bits warn" 0 "warn0.conf: OK (1 peer, 0 ports)" \
  "warn0.conf:3: Warning: AllowedIP has nonzero host part: 10.0.0.1/24" warn0.conf
cp warn0.conf this-name-is-too-long.conf
expect "file name unusable as an interface name" 0 "this-name-is-too-long.conf: OK (1 peer, 0 ports)" \
  "this-name-is-too-long.conf:3: Warning: AllowedIP has nonzero host part: 10.0.0.1/24
Warning: this-name-is-too-long.conf is not a valid interface name followed by .conf: \`up' will need --name" \
  this-name-is-too-long.conf
mkdir open
cp empty.conf open/wide.conf
chmod 0644 open/wide.conf
chmod 0755 open
expect "world accessible (wg-quick's warning)" 0 "open/wide.conf: OK (0 peers, 0 ports)" \
  "Warning: \`$(readlink -f open/wide.conf)' is world accessible" open/wide.conf

# --- the same verdict as the real `wg` ---------------------------------------------------------
real_wg=/usr/bin/wg
if [[ ! -x $real_wg ]]; then
  echo "skip: $real_wg not installed, no comparison with wg"
else
  # `wg setconf` parses the whole file before it looks for the interface: a file it accepts
  # ends in "Unable to modify/access interface", one it rejects prints the error first.
  wg_verdict() {
    WG_ENDPOINT_RESOLUTION_RETRIES=0 timeout "$limit" "$real_wg" setconf wgh4chk0 "$1" >/dev/null 2>"$work/wg.err" || true
    grep -v -e '^Warning: ' -e '^Configuration parsing error$' -e '^Invalid configuration$' "$work/wg.err" | head -n 1
  }
  n=0
  # same_as_wg TEXT: wgrouter accepts it iff wg does, with wg's message and wg's warnings.
  same_as_wg() {
    n=$((n + 1))
    local f="wgonly$n.conf" verdict ours want_warn got_warn
    printf '%s' "$1" >"$f"
    verdict=$(wg_verdict "$f")
    run_check "$f"
    want_warn=$(grep '^Warning: ' "$work/wg.err" || true)
    got_warn=$(grep -o 'Warning: .*' "$work/err" || true)
    if [[ $verdict == "Unable to modify interface"* || $verdict == "Unable to access interface"* ]]; then
      if [[ $(cat "$work/rc") == 0 && $want_warn == "$got_warn" ]]; then
        pass "like wg, accepted: $(head -c 70 "$f" | tr '\n' '|')"
      else
        fail "wg accepts $f, wgrouter: rc $(cat "$work/rc"), $(cat "$work/err")"
      fi
      return
    fi
    ours=$(sed -E 's/^[^:]*:[0-9]+: //' "$work/err")
    if [[ $(cat "$work/rc") == 1 && $ours == "$verdict" ]]; then
      pass "like wg, rejected: $verdict"
    else
      fail "wg on $f says \"$verdict\", wgrouter (rc $(cat "$work/rc")): $(cat "$work/err")"
    fi
  }
  same_as_wg $'[Interface]\nPrivateKey = '"$priv"$'\nListenPort = 51820\nFwMark = 0x10\n'
  same_as_wg $'[interface]\nlistenport = 0\nfwmark = OFF\n'
  same_as_wg $'[Interface]\nListen Port = 51820\nFwMark = 4294967295\n'
  same_as_wg $'[Peer]\nPublicKey = '"$pub1"$'\nPresharedKey = '"$psk"$'\nAllowedIPs = 10.0.0.0/8, fd00::/64\nEndpoint = 192.0.2.1:51820\nPersistentKeepalive = 25\n'
  same_as_wg $'[Peer]\npublickey='"$pub1"$'\nEndpoint = [2001:db8::1]:51820\nPersistentKeepalive = off\n'
  same_as_wg $'[Peer]\nPublicKey = '"$pub1"$'\nEndpoint = 2001:db8::1:5\nAllowedIPs = 10.0.0.0/032\n'
  same_as_wg $'[Peer]\nPublicKey = '"$pub1"$'\nAllowedIPs = 10.0.0.1/24, fd00::1/64\n'
  same_as_wg $'[Peer]\r\nPublicKey = '"$pub1"$'\r\nAllowedIPs = 10.0.0.0/24\r\n'
  same_as_wg $'# nothing but comments\n\n   # and blanks\n'
  same_as_wg $'[Peer]\nPublicKey = abc\n'
  same_as_wg $'ListenPort = 1\n'
  same_as_wg $'[Interface]\nFoo = bar\n'
  same_as_wg $'[Interface]\n[Peers]\n'
  same_as_wg $'[Interface]\nListenPort = abc\n'
  same_as_wg $'[Interface]\nListenPort =\n'
  same_as_wg $'[Interface]\nFwMark = 0X10\n'
  same_as_wg $'[Interface]\nFwMark = 4294967296\n'
  same_as_wg $'[Peer]\nPublicKey = '"$pub1"$'\nListenPort = 1\n'
  same_as_wg $'[Peer]\nPublicKey = '"$pub1"$'\nEndpoint = [::1\n'
  same_as_wg $'[Peer]\nPublicKey = '"$pub1"$'\nEndpoint = [::1]\n'
  same_as_wg $'[Peer]\nPublicKey = '"$pub1"$'\nEndpoint = vpn.example.net\n'
  same_as_wg $'[Peer]\nPublicKey = '"$pub1"$'\nEndpoint = 192.0.2.1:abc\n'
  same_as_wg $'[Peer]\nPublicKey = '"$pub1"$'\nPersistentKeepalive = 65536\n'
  same_as_wg $'[Peer]\nPublicKey = '"$pub1"$'\nAllowedIPs = 10.0.0.0/33\n'
  same_as_wg $'[Peer]\nPublicKey = '"$pub1"$'\nAllowedIPs = 10.0.0.0/8/8\n'
  same_as_wg $'[Peer]\nPublicKey = '"$pub1"$'\nAllowedIPs = nonsense\n'
  same_as_wg $'[Peer]\nPublicKey = '"$pub1"$'\nAllowedIPs = 10.0.0.1,\n'
  same_as_wg $'[Peer]\nAllowedIPs = 10.0.0.0/8\n'
  # Where wgrouter means to differ; wg's side is shown, not asserted.
  printf '[Interface]\nPrivateKey = abc\n' >diff0.conf
  expect "differs from wg: a bad private key is not echoed (wg: $(wg_verdict diff0.conf))" 1 "" \
    "diff0.conf:2: Key is not the correct length or format" diff0.conf
  printf '[Peer]\nPublicKey = %s\n[Peer]\nPublicKey = %s\n' "$pub1" "$pub1" >diff1.conf
  expect "differs from wg: a repeated peer is an error (wg: $(wg_verdict diff1.conf))" 1 "" \
    "diff1.conf:3: Public key \`$pub1' is already used by the peer on line 1" diff1.conf
fi

# --- the same reading as the real wg-quick -----------------------------------------------------
real_wg_quick=/usr/bin/wg-quick
if [[ ! -x $real_wg_quick || ! -x $real_wg ]]; then
  echo "skip: wg-quick or wg not installed, no comparison with wg-quick"
elif [[ $(id -u) != 0 ]]; then
  echo "skip: wg-quick strip re-runs itself through sudo unless root"
else
  # wg-quick takes its keys out and hands the rest to wg: both must accept our good file.
  if timeout "$limit" "$real_wg_quick" strip ./wg0.conf >stripped.conf 2>strip.err &&
    [[ $(wg_verdict stripped.conf) == "Unable to "* ]]; then
    pass "wg-quick strip + wg accept wg0.conf, as wgrouter does"
  else
    fail "wg-quick/wg reject wg0.conf: $(cat strip.err) $(cat "$work/wg.err")"
  fi
  # read_bool's message, from wg-quick itself.
  rc=0
  timeout "$limit" "$real_wg_quick" strip ./bad3.conf >/dev/null 2>strip.err || rc=$?
  if [[ $rc == 1 && $(cat strip.err) == "wg-quick: \`yes' is neither true nor false" ]]; then
    pass "wg-quick gives the SaveConfig message wgrouter gives"
  else
    fail "wg-quick on SaveConfig = yes: rc $rc, $(cat strip.err)"
  fi
  # How wg-quick reads a hook with '#' in it: its own parse_options, run on the file. It cuts
  # the line at the first '#' (as wgrouter does), whatever the '#' is inside.
  parse_options_src=$(sed -n '/^parse_options() {/,/^}/p' "$real_wg_quick")
  if [[ -z $parse_options_src ]]; then
    echo "skip: no parse_options() in $real_wg_quick"
  else
    printf '[Interface]\nPostUp = echo "a#b"\nPostUp = echo two   # comment\nSaveConfig = True\n' >hook0.conf
    got=$(timeout "$limit" bash -c 'shopt -s extglob; export LC_ALL=C
      die() { echo "die: $*"; exit 1; }
      read_bool() { case "$2" in true) printf -v "$1" 1 ;; false) printf -v "$1" 0 ;; *) die "bad bool" ;; esac; }
      eval "$1"; parse_options ./hook0.conf; printf "%s|" "${POST_UP[@]}" "$SAVE_CONFIG"' _ "$parse_options_src" 2>&1 || true)
    if [[ $got == 'echo "a|echo two|1|' ]]; then
      pass "wg-quick cuts hooks at '#' and reads SaveConfig = True as true, as wgrouter does"
    else
      fail "wg-quick's parse_options read hook0.conf as: $got"
    fi
    expect "wgrouter accepts hook0.conf" 0 "hook0.conf: OK (0 peers, 0 ports)" "" hook0.conf
  fi
fi

echo "$checks checks, $failures failed"
((failures == 0))
