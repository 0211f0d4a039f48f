#!/usr/bin/env bash
# tests/tools/keys_test.sh — `wgrouter genkey|genpsk|pubkey` against the real `wg`, byte for byte.
# Usage: bash keys_test.sh path/to/wgrouter. Exit 0 all matched, 1 any mismatch, 77 skip (no /usr/bin/wg).
# stdout and exit status must be identical; stderr must be identical once `wg`'s program name
# is replaced by `wgrouter` (the real `wg` runs with argv[0] = "wg").
set -euo pipefail

bin=${1:?usage: keys_test.sh path/to/wgrouter}
real_wg=/usr/bin/wg
if [[ ! -x $real_wg ]]; then
  echo "SKIP: $real_wg not installed"
  exit 77
fi
if [[ ! -x $bin ]]; then
  echo "FAIL: $bin is not an executable"
  exit 1
fi
bin=$(readlink -f "$bin")
umask 077  # key files written below must not trigger the world-accessible warning

work=$(mktemp -d "${TMPDIR:-/tmp}/wg_keys_test.XXXXXX")
trap 'rm -rf -- "$work"' EXIT
mkdir "$work/bin"
ln -s "$real_wg" "$work/bin/wg"  # so that `wg` runs with argv[0] = "wg" whatever PATH says

limit=10  # seconds per process
failures=0
checks=0

pass() { checks=$((checks + 1)); echo "ok   $1"; }
fail() { checks=$((checks + 1)); failures=$((failures + 1)); echo "FAIL $1"; }

# run_one WHICH STDIN ARGS... -> $work/WHICH.{out,err,rc}; WHICH is wg or wr. STDIN is a file,
# or "-" for a closed stdin.
run_one() {
  local which=$1 in=$2 rc=0
  shift 2
  local -a cmd
  if [[ $which == wg ]]; then
    cmd=(env "PATH=$work/bin:$PATH" timeout "$limit" wg "$@")
  else
    cmd=(timeout "$limit" "$bin" "$@")
  fi
  if [[ $in == - ]]; then
    "${cmd[@]}" >"$work/$which.out" 2>"$work/$which.err" <&- || rc=$?
  else
    "${cmd[@]}" >"$work/$which.out" 2>"$work/$which.err" <"$in" || rc=$?
  fi
  echo "$rc" >"$work/$which.rc"
}

# wg's stderr with its program name replaced, as wgrouter is expected to print it.
rename_wg() { sed -e 's/^wg: /wgrouter: /' -e 's/^Usage: wg /Usage: wgrouter /' "$1"; }

# compare_runs NAME: compares the files run_one left for wg and wr.
compare_runs() {
  local name=$1 ok=1
  rename_wg "$work/wg.err" >"$work/wg.err.renamed"
  if ! cmp -s "$work/wg.out" "$work/wr.out"; then
    ok=0
    echo "  stdout differs (wg vs wgrouter):"
    diff -u --label wg --label wgrouter <(od -c "$work/wg.out") <(od -c "$work/wr.out") | sed 's/^/    /' || true
  fi
  if ! cmp -s "$work/wg.err.renamed" "$work/wr.err"; then
    ok=0
    echo "  stderr differs (wg renamed vs wgrouter):"
    diff -u --label wg --label wgrouter "$work/wg.err.renamed" "$work/wr.err" | sed 's/^/    /' || true
  fi
  if ! cmp -s "$work/wg.rc" "$work/wr.rc"; then
    ok=0
    echo "  exit status differs: wg $(cat "$work/wg.rc"), wgrouter $(cat "$work/wr.rc")"
  fi
  if ((ok)); then
    pass "$name (rc $(cat "$work/wr.rc"), stderr: $(head -c 60 "$work/wr.err" | tr '\n' ' '))"
  else
    fail "$name"
  fi
}

# same NAME STDIN ARGS...: run both, compare.
same() {
  local name=$1 in=$2
  shift 2
  run_one wg "$in" "$@"
  run_one wr "$in" "$@"
  compare_runs "$name"
}

# pubkey_case NAME PRINTF_FORMAT [ARGS...]: stdin is printf's output.
n_inputs=0
pubkey_case() {
  local name=$1
  shift
  n_inputs=$((n_inputs + 1))
  local in="$work/in.$n_inputs"
  # shellcheck disable=SC2059
  printf "$@" >"$in"
  same "pubkey: $name" "$in" pubkey
}

# Decodes a base64 key file (first line) to space-separated decimal bytes.
key_bytes() { head -n 1 "$1" | base64 -d | od -An -v -tu1 | tr -s ' \n' ' '; }

# --- pubkey: inputs ---------------------------------------------------------------------------
alice_priv=dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=          # RFC 7748 §6.1, unclamped
alice_priv_clamped=cAdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LGo=  # the same scalar clamped
alice_pub=hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=
bob_priv=XasIfmJKikt54X+Lg4AO5m87sSkmGLb9HC+LJ/+I4Os=
zeros=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=
ones=//////////////////////////////////////////8=
k43=${alice_priv:0:43}

pubkey_case "unclamped key + newline" '%s\n' "$alice_priv"
pubkey_case "clamped key + newline" '%s\n' "$alice_priv_clamped"
pubkey_case "key without newline" '%s' "$alice_priv"
pubkey_case "second key (Bob)" '%s\n' "$bob_priv"
pubkey_case "all-zero key" '%s\n' "$zeros"
pubkey_case "all-ones key" '%s\n' "$ones"
pubkey_case "trailing spaces" '%s   \n' "$alice_priv"
pubkey_case "trailing CRLF" '%s\r\n' "$alice_priv"
pubkey_case "trailing tabs, VT, FF" '%s\t\v\f\n\t' "$alice_priv"
pubkey_case "trailing NULs" '%s\0\0\0' "$alice_priv"
pubkey_case "trailing NUL/space/newline mix" '%s\n\0 \n\0\r\n\n' "$alice_priv"
pubkey_case "trailing garbage x" '%sx' "$alice_priv"
pubkey_case "whitespace then garbage" '%s \n\t#' "$alice_priv"
pubkey_case "two keys on two lines" '%s\n%s\n' "$alice_priv" "$bob_priv"
pubkey_case "trailing 0x80 byte" '%s\200' "$alice_priv"
pubkey_case "trailing DEL" '%s\177' "$alice_priv"
pubkey_case "empty input" ''
pubkey_case "just a newline" '\n'
pubkey_case "43 chars" '%s' "$k43"
pubkey_case "43 chars + newline" '%s\n' "$k43"
pubkey_case "45 chars" '%sA' "$k43="
pubkey_case "leading space" ' %s\n' "$alice_priv"
pubkey_case "bad char ! in the middle" '%s!%s\n' "${alice_priv:0:20}" "${alice_priv:21}"
pubkey_case "url-safe - and _" '%s-_%s\n' "${alice_priv:0:10}" "${alice_priv:12}"
pubkey_case "nonzero low bits in 43rd char (o->p)" '%sp=\n' "${alice_priv:0:42}"
pubkey_case "nonzero low bits in 43rd char (8->9)" '%s9=\n' "${ones:0:42}"
pubkey_case "missing = (A instead)" '%sA\n' "$k43"
pubkey_case "== padding" '%s==\n' "${alice_priv:0:42}"
pubkey_case "high byte inside key" '%s\377%s\n' "${alice_priv:0:5}" "${alice_priv:6}"
pubkey_case "NUL inside key" '%s\0%s\n' "${alice_priv:0:5}" "${alice_priv:6}"
pubkey_case "bad key + trailing garbage" '%s!!!!xyz' "${alice_priv:0:40}"
pubkey_case "hex key (64 chars)" '%s\n' 77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a
pubkey_case "44 spaces" '%44s' ''
same "pubkey: closed stdin" - pubkey

# The public key itself, independently of `wg`.
printf '%s\n' "$alice_priv" >"$work/alice"
if [[ $(timeout "$limit" "$bin" pubkey <"$work/alice") == "$alice_pub" ]]; then
  pass "pubkey: RFC 7748 Alice's public key"
else
  fail "pubkey: RFC 7748 Alice's public key"
fi

# --- usage errors -----------------------------------------------------------------------------
printf '%s\n' "$alice_priv" >"$work/key.in"
same "usage: genkey extra" /dev/null genkey extra
same "usage: genpsk a b" /dev/null genpsk a b
same "usage: pubkey extra" "$work/key.in" pubkey extra
same "usage: pubkey --bogus" "$work/key.in" pubkey --bogus
same "usage: genkey --help extra" /dev/null genkey --help extra  # only a lone --help is wgrouter's help
same "usage: genkey ''" /dev/null genkey ''

# --- genkey: format, clamping, agreement with `wg pubkey` --------------------------------------
genkey_good=0
for i in $(seq 1 16); do
  timeout "$limit" "$bin" genkey >"$work/gen" 2>"$work/gen.err"
  line=$(head -n 1 "$work/gen")
  if [[ $(wc -c <"$work/gen") -ne 45 || ${#line} -ne 44 || ${line: -1} != = || -s $work/gen.err ]]; then
    fail "genkey #$i: format of '$line'"
    continue
  fi
  read -r -a b <<<"$(key_bytes "$work/gen")"
  if ((${#b[@]} != 32 || (b[0] & 7) != 0 || (b[31] & 0x80) != 0 || (b[31] & 0x40) == 0)); then
    fail "genkey #$i: not clamped: ${b[*]}"
    continue
  fi
  ours=$(timeout "$limit" "$bin" pubkey <"$work/gen")
  theirs=$(timeout "$limit" "$real_wg" pubkey <"$work/gen")
  if [[ -z $ours || $ours != "$theirs" ]]; then
    fail "genkey #$i: pubkey disagrees: wgrouter '$ours', wg '$theirs'"
    continue
  fi
  genkey_good=$((genkey_good + 1))
  if ((i == 1)); then pass "genkey #$i: $line clamped, public $ours matches wg"; fi
done
if ((genkey_good == 16)); then
  pass "genkey: 16 of 16 samples well-formed, clamped, same public key as wg"
else
  fail "genkey: only $genkey_good of 16 samples good"
fi

# --- genpsk: format, not clamped ---------------------------------------------------------------
unclamped=0
declare -A seen=()
dupes=0
for i in $(seq 1 64); do
  timeout "$limit" "$bin" genpsk >"$work/psk" 2>"$work/psk.err"
  line=$(head -n 1 "$work/psk")
  if [[ $(wc -c <"$work/psk") -ne 45 || ${#line} -ne 44 || ${line: -1} != = || -s $work/psk.err ]]; then
    fail "genpsk #$i: format of '$line'"
    continue
  fi
  # `wg` itself must accept it as a key.
  if ! timeout "$limit" "$real_wg" pubkey <"$work/psk" >/dev/null 2>&1; then
    fail "genpsk #$i: wg rejects '$line'"
  fi
  [[ -n ${seen[$line]:-} ]] && dupes=$((dupes + 1))
  seen[$line]=1
  read -r -a b <<<"$(key_bytes "$work/psk")"
  if (((b[0] & 7) != 0 || (b[31] & 0x80) != 0 || (b[31] & 0x40) == 0)); then
    unclamped=$((unclamped + 1))
  fi
done
if ((unclamped > 0)); then
  pass "genpsk: $unclamped of 64 samples not clamped (not clamping, as wg)"
else
  fail "genpsk: all 64 samples look clamped (chance 2^-320 if unclamped)"
fi
if ((dupes == 0)); then pass "genpsk: 64 distinct samples"; else fail "genpsk: $dupes repeated samples"; fi

# --- world-accessible warning ------------------------------------------------------------------
# gen_to_file WHICH SUBCOMMAND MODE UMASK: writes a fresh file; stderr/rc to $work/WHICH.{err,rc}, and
# the file's first line length to $work/WHICH.out.
gen_to_file() {
  local which=$1 sub=$2 mode=$3 mask=$4 rc=0 f="$work/$1.keyfile"
  rm -f -- "$f"
  if [[ $mode != new ]]; then
    : >"$f"
    chmod "$mode" "$f"
  fi
  if [[ $which == wg ]]; then
    (umask "$mask" && env "PATH=$work/bin:$PATH" timeout "$limit" wg "$sub" >>"$f" 2>"$work/wg.err") || rc=$?
  else
    (umask "$mask" && timeout "$limit" "$bin" "$sub" >>"$f" 2>"$work/wr.err") || rc=$?
  fi
  echo "$rc" >"$work/$which.rc"
  { head -n 1 "$f" | tr -d '\n' | wc -c; stat -c %a "$f"; } >"$work/$which.out"
}

for sub in genkey genpsk; do
  for setup in "new 022" "new 077" "604 077" "601 077" "640 077" "606 022"; do
    read -r mode mask <<<"$setup"
    gen_to_file wg "$sub" "$mode" "$mask"
    gen_to_file wr "$sub" "$mode" "$mask"
    compare_runs "$sub > file (mode $mode, umask $mask)"
  done
done
# Exactly the expected warning text, not just agreement.
gen_to_file wr genkey new 022
expected=$'Warning: writing to world accessible file.\nConsider setting the umask to 077 and trying again.'
if [[ $(cat "$work/wr.err") == "$expected" ]]; then pass "genkey: warning text"; else fail "genkey: warning text"; fi

# --- write errors and odd stdouts ----------------------------------------------------------------
for sub in genkey genpsk; do
  # run_one sends stdout to a file, so these runs are spelled out.
  rc=0; env "PATH=$work/bin:$PATH" timeout "$limit" wg "$sub" >/dev/full 2>"$work/wg.err" || rc=$?; echo "$rc" >"$work/wg.rc"
  rc=0; timeout "$limit" "$bin" "$sub" >/dev/full 2>"$work/wr.err" || rc=$?; echo "$rc" >"$work/wr.rc"
  : >"$work/wg.out"; : >"$work/wr.out"
  compare_runs "$sub > /dev/full"
done
rc=0; env "PATH=$work/bin:$PATH" timeout "$limit" wg pubkey <"$work/key.in" >/dev/full 2>"$work/wg.err" || rc=$?; echo "$rc" >"$work/wg.rc"
rc=0; timeout "$limit" "$bin" pubkey <"$work/key.in" >/dev/full 2>"$work/wr.err" || rc=$?; echo "$rc" >"$work/wr.rc"
: >"$work/wg.out"; : >"$work/wr.out"
compare_runs "pubkey > /dev/full"

echo "keys_test: $checks checks ($n_inputs pubkey inputs), $failures failed"
((failures == 0))
