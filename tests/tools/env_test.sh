#!/usr/bin/env bash
# tests/tools/env_test.sh — the run-time switches read from the environment (WGROUTER_OFFLOAD,
# WGROUTER_THREADS, WGROUTER_AEAD): a value wgrouter does not understand stops it before it creates anything,
# with a message naming the variable and the value, and exit status 1.
# Usage: bash env_test.sh path/to/wgrouter. Exit 0 all passed, 1 any failure.
set -uo pipefail

bin=${1:?usage: env_test.sh path/to/wgrouter}
fails=0
name=wgenv$$  # never created: every case must stop before the TUN

expect_refused() {
  local var=$1 value=$2 want=$3 out rc
  out=$(env "$var=$value" timeout 10 "$bin" -f "$name" 2>&1)
  rc=$?
  if ((rc == 1)) && [[ $out == *"$want"* ]] && ! ip link show "$name" >/dev/null 2>&1; then
    echo "PASS  $var='$value' refused: $out"
  else
    echo "FAIL  $var='$value': exit $rc, output: $out"
    fails=$((fails + 1))
  fi
}

expect_refused WGROUTER_OFFLOAD turbo "WGROUTER_OFFLOAD: unknown offload \`turbo'"
expect_refused WGROUTER_OFFLOAD "-tso,-" "WGROUTER_OFFLOAD: unknown offload"
expect_refused WGROUTER_THREADS 0 "WGROUTER_THREADS: \`0' is not a number from 1 to 64"
expect_refused WGROUTER_THREADS 65 "WGROUTER_THREADS: \`65' is not a number from 1 to 64"
expect_refused WGROUTER_THREADS 2x "WGROUTER_THREADS: \`2x' is not a number from 1 to 64"
expect_refused WGROUTER_THREADS "" "WGROUTER_THREADS: \`' is not a number from 1 to 64"
expect_refused WGROUTER_AEAD aesni "WGROUTER_AEAD: \`aesni' is not an AEAD backend (ipsec-mb, openssl or sodium)"
expect_refused WGROUTER_AEAD "IPSEC-MB" "WGROUTER_AEAD: \`IPSEC-MB' is not an AEAD backend"
echo "SUMMARY env: $((8 - fails)) passed, $fails failed"
((fails == 0))
