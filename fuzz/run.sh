#!/usr/bin/env bash
# fuzz/run.sh — builds the fuzz targets if needed and runs each for N seconds (default 30)
# over a temporary copy of its seed corpus, so fuzz/corpus/ is never modified.
# Usage: fuzz/run.sh [SECONDS] [TARGET...]   (targets default to every fuzz/*_fuzz.cpp)
#        fuzz/run.sh --long [TARGET...]      the deep run: WG_FUZZ_LONG_RUNS executions per
#          target (default 10 000 000; each target also stops after WG_FUZZ_LONG_HOURS, default
#          6, or WG_FUZZ_LONG_SECS seconds), then the inputs that add coverage are merged into
#          fuzz/corpus/<target>/ and a line
#          per target (date, git, executions, exec/s, coverage, corpus) is added to
#          fuzz/LONG_RUNS.md. Commit both afterwards.
#        WG_FUZZ_FORK=N (--long only): libFuzzer's fork mode, N jobs at once on N cores, one
#          campaign (executions counted over all jobs; the run stops at the first job that ends
#          past WG_FUZZ_LONG_RUNS). For targets too slow for one core (dataplane).
# Env: WG_FUZZ_TIMEOUT: seconds before an input counts as hung (default 10, 60 with --long).
# Env: ASAN_OPTIONS: --long sets a faster default (see below) unless this is set.
# Env: WG_FUZZ_BUILD (default <repo>/build-fuzz). Exits 1 if any target crashed or failed;
# crash inputs are kept in $WG_FUZZ_BUILD/fuzz-artifacts/<target>/.
set -u -o pipefail

long=0
fork=1
if [ "${1:-}" = "--long" ]; then
  long=1
  shift
  runs="${WG_FUZZ_LONG_RUNS:-10000000}"
  hours="${WG_FUZZ_LONG_HOURS:-6}"
  case "$runs$hours" in '' | *[!0-9]*) echo "WG_FUZZ_LONG_RUNS and WG_FUZZ_LONG_HOURS take positive integers" >&2; exit 2 ;; esac
  secs=$((hours * 3600))
  if [ -n "${WG_FUZZ_LONG_SECS:-}" ]; then
    case "$WG_FUZZ_LONG_SECS" in *[!0-9]*) echo "WG_FUZZ_LONG_SECS takes a positive integer" >&2; exit 2 ;; esac
    secs="$WG_FUZZ_LONG_SECS"
  fi
  # A long run shares the machine for hours: an input that waited for the CPU is not a hang.
  timeout="${WG_FUZZ_TIMEOUT:-60}"
  fork="${WG_FUZZ_FORK:-1}"
  case "$fork" in '' | *[!0-9]* | 0) echo "WG_FUZZ_FORK takes a positive integer" >&2; exit 2 ;; esac
  # Throughput over report detail for hours of ASan: no allocation stacks (a finding is
  # replayed with the defaults to get them), no fill of fresh blocks, a small quarantine.
  # Together these made the dataplane target ~1.6x faster (265 -> 439 exec/s, one core).
  # An ASAN_OPTIONS already set wins.
  export ASAN_OPTIONS="${ASAN_OPTIONS:-malloc_context_size=0:max_malloc_fill_size=0:quarantine_size_mb=8:thread_local_quarantine_size_kb=64}"
else
  secs="${1:-30}"
  shift || true
  timeout="${WG_FUZZ_TIMEOUT:-10}"
fi
case "$secs" in '' | *[!0-9]*) echo "usage: $0 [SECONDS | --long] [TARGET...]" >&2; exit 2 ;; esac

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
build="${WG_FUZZ_BUILD:-$repo/build-fuzz}"

if [ $# -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for f in "$here"/*_fuzz.cpp; do
    n="$(basename "$f" .cpp)"
    targets+=("${n%_fuzz}")
  done
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/wgfuzz.XXXXXX")"
trap 'rm -rf "$work"' EXIT INT TERM

if [ ! -f "$build/build.ninja" ]; then
  if ! CC=clang CXX=clang++ cmake -S "$repo" -B "$build" -G Ninja \
    -DWG_FUZZ=ON -DWG_TESTS=OFF -DWG_BENCH=OFF >"$work/configure.log" 2>&1; then
    tail -30 "$work/configure.log" >&2
    echo "configure failed" >&2
    exit 1
  fi
fi
bins=()
for t in "${targets[@]}"; do bins+=("${t}_fuzz"); done
if ! ninja -C "$build" "${bins[@]}" >"$work/build.log" 2>&1; then
  tail -40 "$work/build.log" >&2
  echo "build failed (ninja -C $build ${bins[*]})" >&2
  exit 1
fi

status=0
summary=()
for t in "${targets[@]}"; do
  bin="$build/fuzz/${t}_fuzz"
  corpus="$work/$t/corpus"
  arts="$work/$t/artifacts"
  mkdir -p "$corpus" "$arts"
  if [ -d "$here/corpus/$t" ]; then cp -R "$here/corpus/$t/." "$corpus/"; fi
  seeds=$(find "$corpus" -type f | wc -l)
  log="$work/$t/log"
  # The hard timeout only bounds a hung run; libFuzzer stops itself at max_total_time.
  limit=()
  ((long)) && limit=(-runs="$runs")
  ((fork > 1)) && limit+=(-fork="$fork")
  started=$(date +%s)
  timeout -k 10 $((secs + 60)) "$bin" -max_total_time="$secs" "${limit[@]}" -max_len=2048 -timeout="$timeout" \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$arts/" "$corpus" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  if ((fork > 1)); then
    # Fork mode prints no final stats: its last status line has the campaign's executions.
    # (Its "cov" counts coverage features, a larger number than a single process's edges.)
    execs=$(sed -n 's/^#\([0-9]*\): cov:.*/\1/p' "$log" | tail -1)
    elapsed=$(($(date +%s) - started))
    [ -n "$execs" ] && rate=$((execs / (elapsed > 0 ? elapsed : 1)))
  fi
  grown=$(find "$corpus" -type f | wc -l)
  if [ "$rc" -eq 0 ]; then
    verdict=ok
  else
    verdict="FAILED (exit $rc)"
    status=1
    keep="$build/fuzz-artifacts/$t"
    mkdir -p "$keep"
    cp "$arts"/* "$keep"/ 2>/dev/null || true
    cp "$log" "$keep/log.txt"
    echo "=== $t: last lines of the log (all of it in $keep/log.txt) ===" >&2
    tail -40 "$log" >&2
  fi
  summary+=("$(printf '%-14s %-18s runs %-9s exec/s %-7s cov %-5s corpus %s -> %s' \
    "$t" "$verdict" "${execs:-?}" "${rate:-?}" "${cov:-?}" "$seeds" "$grown")")
  if ((long)) && [ "$rc" -eq 0 ]; then
    # Keep what the deep run found: only inputs that add coverage join the repo's corpus.
    mkdir -p "$here/corpus/$t"
    timeout -k 10 3600 "$bin" -merge=1 -max_len=2048 -timeout=10 -rss_limit_mb=2048 \
      "$here/corpus/$t" "$corpus" >"$work/$t/merge.log" 2>&1 || echo "$t: corpus merge failed (see $work/$t/merge.log)" >&2
    kept=$(find "$here/corpus/$t" -type f | wc -l)
    [ -f "$here/LONG_RUNS.md" ] || printf '%s\n\n%s\n%s\n' "# fuzz/run.sh --long, one line per target and run" \
      "| date | git | target | executions | exec/s | seconds | coverage | repo corpus after merge |" \
      "|---|---|---|---:|---:|---:|---:|---:|" >"$here/LONG_RUNS.md"
    label="$t"
    ((fork > 1)) && label="$t (fork $fork)"
    printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$(date -u +%F)" \
      "$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo ?)" "$label" "${execs:-?}" "${rate:-?}" \
      "$(($(date +%s) - started))" "${cov:-?}" "$kept" >>"$here/LONG_RUNS.md"
  fi
done

if ((long)); then
  echo "fuzz summary (--long: up to $runs executions or $hours h per target, build $build):"
else
  echo "fuzz summary (${secs}s per target, build $build):"
fi
printf '  %s\n' "${summary[@]}"
exit $status
