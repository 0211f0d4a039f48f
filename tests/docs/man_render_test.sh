#!/usr/bin/env bash
# tests/docs/man_render_test.sh — the man pages the build made from man/*.scd render without a
# single warning: groff with every warning on (-ww), and man-db's `man --warnings -l` at 80
# columns, as a reader's `man wgrouter` would show them. The pages must exist; a renderer that
# is not installed is skipped (exit 77 when neither is).
# Usage: bash man_render_test.sh PAGE... Exit 0 all passed, 1 any failure, 77 nothing to run.
set -euo pipefail

(($# > 0)) || { echo "usage: man_render_test.sh PAGE..."; exit 1; }

failures=0
checks=0
pass() { checks=$((checks + 1)); echo "ok   $1"; }
fail() { checks=$((checks + 1)); failures=$((failures + 1)); echo "FAIL $1"; }

have_groff=0 have_man=0
command -v groff >/dev/null && have_groff=1
command -v man >/dev/null && have_man=1
if ((!have_groff && !have_man)); then
  echo "SKIP: neither groff nor man is installed"
  exit 77
fi

for page in "$@"; do
  name=$(basename "$page")
  if [[ ! -s $page ]]; then
    fail "$name: $page is missing or empty (was the man target built?)"
    continue
  fi
  if ((have_groff)); then
    warnings=$(timeout 30 groff -ww -man -z "$page" 2>&1) || warnings+=" (groff failed)"
    if [[ -z $warnings ]]; then pass "$name: groff -ww -man -z"; else fail "$name: groff: $warnings"; fi
  fi
  if ((have_man)); then
    rc=0
    warnings=$(MANWIDTH=80 timeout 30 man --warnings -l "$page" 2>&1 >/dev/null) || rc=$?
    if ((rc == 0)) && [[ -z $warnings ]]; then
      pass "$name: man --warnings -l"
    else
      fail "$name: man --warnings -l (rc $rc): $warnings"
    fi
    # The page says what it is: its NAME line reached the rendered text.
    if MANWIDTH=80 timeout 30 man -l "$page" 2>/dev/null | grep -q "^NAME"; then
      pass "$name: renders a NAME section"
    else
      fail "$name: no NAME section in the rendered page"
    fi
  fi
done

echo "$checks checks, $failures failed"
((failures == 0))
