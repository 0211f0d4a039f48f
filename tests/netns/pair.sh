# tests/netns/pair.sh — sourced by the single-scenario netns tests: PASS/FAIL bookkeeping,
# bounded waits, a watchdog, and two namespaces A (192.0.2.1) and B (192.0.2.2) joined by a
# veth, each with a fresh wgrouter key pair; everything is removed on exit.
# Before sourcing: BIN (the wgrouter binary) and PREFIX (a short name prefix, ≤ 6 chars).
((EUID == 0)) || { echo "SKIP: needs root"; exit 77; }
P=$PREFIX$$
A=$P-a B=$P-b
DIR=$(mktemp -d)
fails=0 passes=0
EXTRA_CLEANUP=()
pass() { passes=$((passes + 1)); echo "PASS  $*"; }
fail() { fails=$((fails + 1)); echo "FAIL  $*"; }
check() { local what=$1; shift; if "$@" >/dev/null 2>&1; then pass "$what"; else fail "$what"; fi; }
wait_for() { local t=$1; shift; for _ in $(seq $((t * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }
# `ip link show DEV up` lists DEV whatever its state: look at the flags themselves.
is_up() { ip -n "$1" -o link show "$2" | grep -q ',UP'; }
cleanup() {
  [ -e "$DIR/watchdog-fired" ] && echo "FAIL  watchdog: test took longer than ${WATCHDOG_SECS:-240} s"
  for ns in $A $B; do ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null; done
  sleep 0.5
  for ns in $A $B; do ip netns del "$ns" 2>/dev/null; done
  rm -rf "$DIR" "${EXTRA_CLEANUP[@]}" /var/run/wireguard/${P}a.sock /var/run/wireguard/${P}b.sock
  # The watchdog's sleep must go too: it would hold ctest's output pipe open until it ends.
  [ -n "${WATCHDOG:-}" ] && { pkill -P "$WATCHDOG" 2>/dev/null; kill "$WATCHDOG" 2>/dev/null; }
}
trap cleanup EXIT INT TERM
( sleep "${WATCHDOG_SECS:-240}"; touch "$DIR/watchdog-fired"; kill -TERM $$ ) >/dev/null 2>&1 &
WATCHDOG=$!
finish() { echo "SUMMARY $1: $passes passed, $fails failed"; ((fails == 0)); }

ip netns add $A && ip netns add $B
ip link add ${P}x netns $A type veth peer name ${P}y netns $B
ip -n $A addr add 192.0.2.1/24 dev ${P}x && ip -n $B addr add 192.0.2.2/24 dev ${P}y
for ns in $A $B; do ip -n $ns link set lo up; done
ip -n $A link set ${P}x up && ip -n $B link set ${P}y up
KA=$("$BIN" genkey) KB=$("$BIN" genkey)
PA=$("$BIN" pubkey <<<"$KA") PB=$("$BIN" pubkey <<<"$KB")
