#!/usr/bin/env bash
# tests/dist/install_test.sh — `cmake --install` into a DESTDIR with --prefix /usr, as a package
# build does: the binary in usr/bin, the unit in usr/lib/systemd/system naming that binary (not
# the DESTDIR, not the configure-time prefix), every example config and doc under
# usr/share/doc/wgrouter, and each man page the build made (build/man/*.5, *.8) in its section.
# Then the exact list of installed files: nothing expected missing, nothing unexpected.
# Usage: bash install_test.sh CMAKE BUILD_DIR SOURCE_DIR. Exit 0 all passed, 1 any failure.
set -uo pipefail

cmake=${1:?usage: install_test.sh CMAKE BUILD_DIR SOURCE_DIR}
build=${2:?usage: install_test.sh CMAKE BUILD_DIR SOURCE_DIR}
src=${3:?usage: install_test.sh CMAKE BUILD_DIR SOURCE_DIR}
work=$(mktemp -d "${TMPDIR:-/tmp}/wg_install_test.XXXXXX")
trap 'rm -rf -- "$work"' EXIT
dest=$work/root
failures=0 checks=0
pass() { checks=$((checks + 1)); echo "ok   $1"; }
fail() {
  checks=$((checks + 1)) failures=$((failures + 1))
  echo "FAIL $1"
  [[ -n ${2:-} ]] && sed 's/^/      | /' <<<"$2"
  return 0
}

if ! out=$(DESTDIR=$dest timeout 120 "$cmake" --install "$build" --prefix /usr 2>&1); then
  fail "cmake --install" "$out"
  echo "$((checks - failures))/$checks passed"
  exit 1
fi
pass "cmake --install $build --prefix /usr (DESTDIR)"

# What must be there, from the sources and the build (not a list kept here by hand).
expected=$work/expected
{
  echo usr/bin/wgrouter
  echo usr/lib/systemd/system/wgrouter@.service
  for f in "$src"/examples/*.conf; do echo "usr/share/doc/wgrouter/examples/$(basename "$f")"; done
  for f in "$src"/docs/*.md; do echo "usr/share/doc/wgrouter/$(basename "$f")"; done
  for f in "$build"/man/*.5 "$build"/man/*.8; do
    [[ -f $f ]] && echo "usr/share/man/man${f##*.}/$(basename "$f")"
  done
} | sort >"$expected"
(cd "$dest" && find . -type f -o -type l | sed 's|^\./||' | sort) >"$work/installed"
if diff -u "$expected" "$work/installed" >"$work/diff"; then
  pass "installed files: $(wc -l <"$work/installed") ($(grep -c 'share/man' "$work/installed") man pages)"
else
  fail "installed files differ from expected (- expected, + installed)" "$(cat "$work/diff")"
fi

if [[ -x $dest/usr/bin/wgrouter ]]; then pass "usr/bin/wgrouter is executable"; else fail "usr/bin/wgrouter is not executable"; fi
if cmp -s "$dest/usr/bin/wgrouter" "$build/wgrouter"; then pass "usr/bin/wgrouter is the built binary"; else
  fail "usr/bin/wgrouter differs from $build/wgrouter"; fi
# The installed binary runs (genkey needs nothing but the RNG).
key=$("$dest/usr/bin/wgrouter" genkey 2>&1)
if [[ ${#key} -eq 44 ]]; then pass "installed wgrouter genkey works"; else fail "installed wgrouter genkey" "$key"; fi

unit=$dest/usr/lib/systemd/system/wgrouter@.service
exec_start=$(grep '^ExecStart=' "$unit" 2>/dev/null)
if [[ $exec_start == "ExecStart=/usr/bin/wgrouter up /etc/wgrouter/%i.conf --foreground" ]]; then
  pass "the unit names the installed binary: $exec_start"
else
  fail "the unit's ExecStart" "$exec_start"
fi
if left=$(grep -n '@[A-Z_]*@' "$unit"); then fail "unreplaced @VAR@ in the installed unit" "$left"; else
  pass "the installed unit has no @VAR@ left"; fi

for f in "$src"/examples/*.conf; do
  if cmp -s "$f" "$dest/usr/share/doc/wgrouter/examples/$(basename "$f")"; then
    pass "example $(basename "$f") installed as it is in the sources"
  else
    fail "example $(basename "$f") not installed as it is in the sources"
  fi
done

echo "$((checks - failures))/$checks passed"
((failures == 0))
