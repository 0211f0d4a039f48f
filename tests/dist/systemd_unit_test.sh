#!/usr/bin/env bash
# tests/dist/systemd_unit_test.sh — dist/systemd/wgrouter@.service as systemd reads it, without a
# running systemd (CI containers do not boot one, and the unit is never started here):
#   - `systemd-analyze verify` of a copy whose ExecStart names the built binary (verify checks
#     that the command exists and is executable): nothing said, exit 0. Any message counts as a
#     failure: verify exits 0 on an unknown key or a bad value, it only warns;
#   - `systemd-analyze security --offline` stays at exposure 4.0 or below (a directive of the
#     sandbox dropped or misspelled shows up here);
#   - the directives the daemon's contract relies on are there (Type=notify, the reload signal,
#     the command line, /dev/net/tun, the socket directory), and no @VAR@ is left unreplaced.
# Usage: bash systemd_unit_test.sh SOURCE_DIR path/to/wgrouter. Exit 0 all passed, 1 any failure,
# 77 when systemd-analyze is not installed.
set -uo pipefail

src=${1:?usage: systemd_unit_test.sh SOURCE_DIR WGROUTER_BIN}
bin=${2:?usage: systemd_unit_test.sh SOURCE_DIR WGROUTER_BIN}
command -v systemd-analyze >/dev/null || { echo "SKIP: systemd-analyze not installed (Debian: systemd)"; exit 77; }
bin=$(readlink -f "$bin")
[[ -x $bin ]] || { echo "FAIL: $bin is not an executable"; exit 1; }
template=$src/dist/systemd/wgrouter@.service.in
[[ -f $template ]] || { echo "FAIL: no $template"; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/wg_unit_test.XXXXXX")
trap 'rm -rf -- "$work"' EXIT
limit=30  # seconds per systemd-analyze run
failures=0 checks=0
pass() { checks=$((checks + 1)); echo "ok   $1"; }
fail() {
  checks=$((checks + 1)) failures=$((failures + 1))
  echo "FAIL $1"
  [[ -n ${2:-} ]] && sed 's/^/      | /' <<<"$2"
  return 0
}

# What `cmake --install` does to the template, with the build's directory as the bindir.
unit=$work/wgrouter@.service
sed "s|@WG_BINDIR@|$(dirname "$bin")|g" "$template" >"$unit"
# The binary must be called wgrouter for the ExecStart line to find it.
[[ $(basename "$bin") == wgrouter ]] || fail "the binary is not named wgrouter: $bin"

if left=$(grep -n '@[A-Z_]*@' "$unit"); then fail "unreplaced @VAR@ in the unit" "$left"; else pass "every @VAR@ replaced"; fi

# --man=no: the man pages of Documentation= need not be installed where the tests run.
out=$(cd "$work" && timeout "$limit" systemd-analyze verify --man=no "$unit" 2>&1)
rc=$?
if ((rc == 0)) && [[ -z $out ]]; then pass "systemd-analyze verify: clean"; else fail "systemd-analyze verify (exit $rc)" "$out"; fi

out=$(cd "$work" && timeout "$limit" systemd-analyze security --offline=yes --threshold=40 "$unit" 2>&1)
rc=$?
level=$(grep -o 'Overall exposure level for [^:]*: [0-9.]*' <<<"$out" | awk '{ print $NF }')
if ((rc == 0)); then pass "systemd-analyze security: exposure $level (at most 4.0)"; else
  fail "systemd-analyze security: exposure ${level:-?} above 4.0 (exit $rc)" "$(grep '✗' <<<"$out")"; fi

# The daemon's side of the contract (tools/notify.hpp, tools/up.cpp, docs/hardening.md).
# key_is KEY VALUE: the [Service]/[Unit] line KEY=VALUE is in the unit, exactly once.
key_is() {
  local n
  n=$(grep -cxF "$1=$2" "$unit")
  if ((n == 1)); then pass "$1=$2"; else fail "$1=$2 (found $n times)" "$(grep "^$1=" "$unit")"; fi
}
key_is Type notify
key_is NotifyAccess main
key_is ExecStart "$(dirname "$bin")/wgrouter up /etc/wgrouter/%i.conf --foreground"
key_is ExecReload "$(dirname "$bin")/wgrouter check /etc/wgrouter/%i.conf"
# shellcheck disable=SC2016  # $MAINPID is systemd's, literally
key_is ExecReload '/bin/kill -HUP $MAINPID'
key_is Restart on-failure
key_is DeviceAllow '/dev/net/tun rw'
key_is RuntimeDirectory wireguard
key_is RuntimeDirectoryPreserve yes
# Set-up's capabilities (io::needed_capabilities and the drop, docs/hardening.md); not
# CAP_SYS_ADMIN, which only `up --netns` needs.
caps=$(grep '^CapabilityBoundingSet=' "$unit" | cut -d= -f2- | tr ' ' '\n' | sort | paste -sd' ')
if [[ $caps == "CAP_NET_ADMIN CAP_NET_BIND_SERVICE CAP_NET_RAW CAP_SETGID CAP_SETPCAP CAP_SETUID" ]]; then
  pass "capability bounding set: $caps"
else
  fail "capability bounding set" "$caps"
fi
# The per-port sysctls and src_valid_mark are written under /proc/sys at set-up.
if grep -q '^ProtectKernelTunables=yes' "$unit"; then fail "ProtectKernelTunables=yes would break the veth sysctls"; else
  pass "/proc/sys left writable"; fi

echo "$((checks - failures))/$checks passed"
((failures == 0))
