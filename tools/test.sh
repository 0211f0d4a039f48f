#!/usr/bin/env bash
# tools/test.sh — the whole test suite from a fresh Debian 12 machine: installs what is
# missing, builds with -Werror, runs ctest, runs it again under ASan+UBSan, then runs each
# libFuzzer target for a bounded time. WG_FUZZ_SECONDS (default 10) sets the fuzz time.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/deps.sh
jobs=$(nproc)

echo "== build (g++, -Werror)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWG_WERROR=ON >/dev/null
ninja -C build
echo "== tests"
(cd build && ctest --output-on-failure -j"$jobs" --timeout 600)

echo "== build (AddressSanitizer + UndefinedBehaviorSanitizer)"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DWG_SANITIZE=ON -DWG_BENCH=OFF -DWG_WERROR=ON >/dev/null
ninja -C build-asan
echo "== tests under sanitizers (the netns interop suite runs once, above, on the release build)"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --output-on-failure -j"$jobs" --timeout 900 -LE netns)

echo "== fuzzing (${WG_FUZZ_SECONDS:-10} s per target)"
bash fuzz/run.sh "${WG_FUZZ_SECONDS:-10}"
echo "== the data-path fuzz targets again with each other AEAD backend forced (5 s per target)"
for backend in openssl sodium; do
  echo "-- WGROUTER_AEAD=$backend"
  WGROUTER_AEAD=$backend bash fuzz/run.sh 5 data datagram initiation dataplane
done

echo "== all tests passed"
