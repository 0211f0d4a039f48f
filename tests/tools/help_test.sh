#!/usr/bin/env bash
# tests/tools/help_test.sh — every subcommand's `--help`/`-h` and usage errors (tools/usage.hpp):
# for each command of tools/main.cpp's table, `wgrouter CMD --help` prints a usage naming CMD on
# stdout, nothing on stderr, and exits 0 (genkey/genpsk/pubkey: as `wg`, see below); an unknown option prints the usage on stderr, nothing
# on stdout, and exits 2 (genkey/genpsk/pubkey: `wg`'s own "Usage:" line and 1, which
# keys_test.sh compares with the real `wg`). Also the top level (`wgrouter --help` points to the
# man pages) and the wireguard-go compatible mode. Nothing here gets as far as creating a device.
# Usage: bash help_test.sh path/to/wgrouter. Exit 0 all passed, 1 any failure.
set -euo pipefail

bin=${1:?usage: help_test.sh path/to/wgrouter}
if [[ ! -x $bin ]]; then
  echo "FAIL: $bin is not an executable"
  exit 1
fi
main_cpp=$(dirname "$(readlink -f "$0")")/../../tools/main.cpp

work=$(mktemp -d "${TMPDIR:-/tmp}/wg_help_test.XXXXXX")
trap 'rm -rf -- "$work"' EXIT

limit=10  # seconds per process
failures=0
checks=0
pass() { checks=$((checks + 1)); echo "ok   $1"; }
fail() { checks=$((checks + 1)); failures=$((failures + 1)); echo "FAIL $1"; }

# run ARGS... -> $work/{out,err,rc}
run() {
  local rc=0
  timeout "$limit" "$bin" "$@" >"$work/out" 2>"$work/err" </dev/null || rc=$?
  echo "$rc" >"$work/rc"
}

# expect_run NAME RC STREAM PATTERN: after run, the exit status is RC, STREAM (out or err)
# matches the grep -E PATTERN and the other stream is empty.
expect_run() {
  local name=$1 rc=$2 stream=$3 pattern=$4 other=out ok=1
  [[ $stream == out ]] && other=err
  if [[ $(cat "$work/rc") != "$rc" ]]; then
    ok=0
    echo "  exit status $(cat "$work/rc"), expected $rc"
  fi
  if ! grep -Eq -- "$pattern" "$work/$stream"; then
    ok=0
    echo "  std$stream does not match /$pattern/:"
    sed 's/^/    /' "$work/$stream"
  fi
  if [[ -s $work/$other ]]; then
    ok=0
    echo "  std$other should be empty:"
    sed 's/^/    /' "$work/$other"
  fi
  if ((ok)); then pass "$name"; else fail "$name"; fi
}

# The subcommands, as the dispatcher knows them: {"genkey", wg::tools::cmd_genkey}, ...
mapfile -t commands < <(sed -n 's/^ *{"\([a-z]*\)", wg::tools::cmd_[a-z]*},.*/\1/p' "$main_cpp")
if ((${#commands[@]} < 7)); then
  echo "FAIL: found only ${#commands[@]} commands (${commands[*]}) in $main_cpp"
  exit 1
fi
echo "commands: ${commands[*]}"

for cmd in "${commands[@]}"; do
  for opt in --help -h; do
    run "$cmd" "$opt"
    case $cmd in
      # PRODUCT.md: byte-identical to `wg genkey|genpsk|pubkey`, which have no help: wg's usage
      # line and 1 (keys_test.sh compares with the real wg).
      genkey | genpsk | pubkey) expect_run "$cmd $opt (as wg)" 1 err "^Usage: wgrouter $cmd\$" ;;
      *) expect_run "$cmd $opt" 0 out "^Usage: wgrouter $cmd( |\$)" ;;
    esac
  done
  run "$cmd" --no-such-option
  case $cmd in
    genkey | genpsk | pubkey) expect_run "$cmd --no-such-option (as wg)" 1 err "^Usage: wgrouter $cmd\$" ;;
    *) expect_run "$cmd --no-such-option" 2 err "^Usage: wgrouter $cmd( |\$)" ;;
  esac
  # The one line before the usage says what was wrong (the keys keep wg's bare usage line).
  case $cmd in
    genkey | genpsk | pubkey) ;;
    *)
      if [[ $(head -n 1 "$work/err") == "wgrouter $cmd: unknown option \`--no-such-option'" ]]; then
        pass "$cmd --no-such-option names the option"
      else
        fail "$cmd --no-such-option names the option: $(head -n 1 "$work/err")"
      fi
      ;;
  esac
done

# Options that take a value, given none; a second file.
run up x.conf --name
expect_run "up --name without a value" 2 err "^wgrouter up: option \`--name' needs a value\$"
run up a.conf b.conf
expect_run "up with two files" 2 err "^wgrouter up: unexpected argument \`b.conf'\$"
run show wg0 wg1
expect_run "show with two interfaces" 2 err "^wgrouter show: unexpected argument \`wg1'\$"
run selftest now
expect_run "selftest with an argument" 2 err "^Usage: wgrouter selftest\$"

# Top level: every command listed, the man pages named.
for opt in --help -h help; do
  run "$opt"
  expect_run "wgrouter $opt" 0 out "man wgrouter"
  missing=()
  for cmd in "${commands[@]}"; do grep -Eq "^  $cmd( |\$)" "$work/out" || missing+=("$cmd"); done
  if ((${#missing[@]} == 0)); then pass "wgrouter $opt lists every command"; else fail "wgrouter $opt lacks: ${missing[*]}"; fi
done
run
expect_run "wgrouter without arguments" 2 err "^Usage: wgrouter <command>"

# The wireguard-go compatible mode: wgrouter [-f] [--user U] INTERFACE.
run -f --help
expect_run "wgrouter -f --help" 0 out "^Usage: wgrouter \[-f\|--foreground\]"
run --no-such-option
expect_run "wgrouter --no-such-option" 2 err "^wgrouter: unknown option \`--no-such-option'\$"
run -f
expect_run "wgrouter -f without an interface" 2 err "^wgrouter: no INTERFACE given\$"
run --user
expect_run "wgrouter --user without a value" 2 err "^wgrouter: option \`--user' needs a value\$"

echo "$checks checks, $failures failed"
((failures == 0))
