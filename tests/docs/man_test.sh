#!/usr/bin/env bash
# tests/docs/man_test.sh — the man pages (man/*.scd) against the code they describe:
#   - every key config/config.cpp accepts in [Interface], [Peer] and [Port] has an entry
#     (a line "*Key* = ...") in that section of wgrouter.conf.5.scd, and every entry there is a
#     key the parser accepts (no documented key that does not exist);
#   - every subcommand in tools/main.cpp's table is in wgrouter.8.scd's SYNOPSIS and has an
#     entry under COMMANDS; every long option in tools/ and every WGROUTER_ variable the code
#     reads is in wgrouter.8.scd;
#   - every example under EXAMPLES of wgrouter.conf.5.scd passes `wgrouter check`, and there is
#     one with a tap port and one with a veth port.
# The lists are extracted from the sources, so a key, command or option added to the code
# without documentation fails here.
# Usage: bash man_test.sh SOURCE_DIR path/to/wgrouter. Exit 0 all passed, 1 any failure.
set -euo pipefail

src=${1:?usage: man_test.sh SOURCE_DIR WGROUTER_BIN}
bin=${2:?usage: man_test.sh SOURCE_DIR WGROUTER_BIN}
conf5=$src/man/wgrouter.conf.5.scd
man8=$src/man/wgrouter.8.scd
for f in "$conf5" "$man8" "$src/config/config.cpp" "$src/tools/main.cpp"; do
  [[ -f $f ]] || { echo "FAIL: $f is missing"; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/wg_man_test.XXXXXX")
trap 'rm -rf -- "$work"' EXIT

failures=0
checks=0
pass() { checks=$((checks + 1)); echo "ok   $1"; }
fail() { checks=$((checks + 1)); failures=$((failures + 1)); echo "FAIL $1"; }

# section_of FILE HEADING: the lines of the scdoc section "# HEADING", up to the next "# ".
section_of() { awk -v h="# $2" '$0 == h {on = 1; next} /^# / {on = 0} on' "$1"; }

# --- config keys ------------------------------------------------------------------------------
# "SECTION KEY" for each iequals(key, "KEY") in the parser's functions for that section.
awk '
  /^  (bool|void) (wg_quick_key|interface_key)\(/ { sec = "Interface" }
  /^  void peer_key\(/ { sec = "Peer" }
  /^  void port_key\(/ { sec = "Port" }
  sec != "" && /^  }$/ { sec = "" }
  sec != "" {
    while (match($0, /iequals\(key, "[A-Za-z0-9]+"\)/)) {
      print sec, substr($0, RSTART + 14, RLENGTH - 16)
      $0 = substr($0, RSTART + RLENGTH)
    }
  }' "$src/config/config.cpp" >"$work/keys"
for sec in Interface Peer Port; do
  n=$(grep -c "^$sec " "$work/keys" || true)
  if ((n < 5)); then
    echo "FAIL: only $n keys of [$sec] found in config/config.cpp: has the parser's layout changed?"
    exit 1
  fi
done
echo "keys accepted by the parser: $(wc -l <"$work/keys")"

for sec in Interface Peer Port; do
  heading=$(tr '[:lower:]' '[:upper:]' <<<"$sec")" SECTION"
  section_of "$conf5" "$heading" | sed -n 's/^\*\([A-Za-z0-9]*\)\* = .*/\1/p' | sort -u >"$work/documented.$sec"
  if [[ ! -s $work/documented.$sec ]]; then
    fail "wgrouter.conf.5.scd has no entries under \"# $heading\""
    continue
  fi
  while read -r s key; do
    [[ $s == "$sec" ]] || continue
    if grep -qx "$key" "$work/documented.$sec"; then
      pass "[$sec] $key is documented"
    else
      fail "[$sec] $key: config/config.cpp accepts it, wgrouter.conf.5.scd has no \"*$key* =\" entry under \"# $heading\""
    fi
  done <"$work/keys"
  while read -r key; do
    grep -qx "$sec $key" "$work/keys" ||
      fail "[$sec] $key is documented in wgrouter.conf.5.scd but config/config.cpp does not accept it"
  done <"$work/documented.$sec"
done

# --- subcommands, options, environment ----------------------------------------------------------
mapfile -t commands < <(sed -n 's/^ *{"\([a-z]*\)", wg::tools::cmd_[a-z]*},.*/\1/p' "$src/tools/main.cpp")
if ((${#commands[@]} < 7)); then
  echo "FAIL: found only ${#commands[@]} commands in tools/main.cpp: has the table's layout changed?"
  exit 1
fi
section_of "$man8" SYNOPSIS >"$work/synopsis"
section_of "$man8" COMMANDS >"$work/commands"
for cmd in "${commands[@]}"; do
  if grep -q "^\*wgrouter $cmd\*" "$work/synopsis" && grep -q "^\*$cmd\*" "$work/commands"; then
    pass "command $cmd is in SYNOPSIS and COMMANDS"
  else
    fail "command $cmd (tools/main.cpp) lacks a \"*wgrouter $cmd*\" SYNOPSIS line or a \"*$cmd*\" entry under COMMANDS"
  fi
done

mapfile -t options < <(cat "$src"/tools/*.cpp "$src"/tools/*.hpp | grep -ohE '"--[a-z][a-z-]*"' | tr -d '"' | sort -u)
((${#options[@]} >= 5)) || { echo "FAIL: found only ${#options[@]} long options in tools/"; exit 1; }
for opt in "${options[@]}"; do
  if grep -qF -- "*$opt*" "$man8"; then pass "option $opt is documented"; else fail "option $opt (tools/) is not in wgrouter.8.scd"; fi
done

mapfile -t vars < <(cat "$src"/{config,core,crypto,io,tools,tun}/*.[ch]pp | grep -ohE '"WGROUTER_[A-Z_]+"' | tr -d '"' | sort -u)
((${#vars[@]} >= 4)) || { echo "FAIL: found only ${#vars[@]} WGROUTER_ variables in the sources"; exit 1; }
section_of "$man8" ENVIRONMENT >"$work/environment"
for var in "${vars[@]}"; do
  if grep -q "^\*$var\*" "$work/environment"; then pass "$var is under ENVIRONMENT"; else fail "$var is read by the code but not under ENVIRONMENT in wgrouter.8.scd"; fi
done

# --- examples ---------------------------------------------------------------------------------
# Each literal block under EXAMPLES that starts with [Interface] becomes a file for `check`.
section_of "$conf5" EXAMPLES | awk -v dir="$work" '
  /^```$/ { if (inblock) { inblock = 0; close(f) } else { inblock = 1; first = 1; n++; f = dir "/example" n ".conf" } next }
  inblock { if (first && $0 != "[Interface]") { inblock = 0; next } first = 0; print > f }'
examples=("$work"/example*.conf)
if [[ ! -e ${examples[0]} ]] || ((${#examples[@]} < 3)); then
  fail "wgrouter.conf.5.scd has fewer than 3 [Interface] examples under EXAMPLES"
fi
for f in "${examples[@]}"; do
  [[ -e $f ]] || continue
  chmod 600 "$f"
  rc=0
  out=$(timeout 10 "$bin" check "$f" 2>&1) || rc=$?
  if ((rc == 0)) && [[ $out == "$f: OK ("* ]]; then
    pass "example $(basename "$f") passes check: ${out#"$f": }"
  else
    fail "example $(basename "$f"): check says (rc $rc): $out"
  fi
done
for mode in tap veth; do
  if grep -qix "Mode = $mode" "${examples[@]}" 2>/dev/null; then pass "an example has a $mode port"; else fail "no example has a $mode port"; fi
done

echo "$checks checks, $failures failed"
((failures == 0))
