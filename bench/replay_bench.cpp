// bench/replay_bench.cpp — ReplayWindow::update per counter: in order, reordered within the
// window, and rejected (too old, duplicate), in items per second (Google Benchmark).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "core/replay_window.hpp"

namespace {

using wg::core::ReplayWindow;

// Counters 0, 1, 2, ...: every one accepted, the window slides by one each time.
void bm_replay_in_order(benchmark::State& state) {
  ReplayWindow w;
  uint64_t counter = 0;
  for (auto _ : state) {
    if (!w.update(counter++)) {
      state.SkipWithError("in-order counter rejected");
      break;
    }
  }
  benchmark::DoNotOptimize(w.greatest());
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

// Blocks of state.range(0) consecutive counters, each block shuffled (a fixed permutation per
// block), so a counter arrives up to block-1 behind the greatest: all inside the window, all
// new, all accepted.
void bm_replay_reordered(benchmark::State& state) {
  const uint64_t block = static_cast<uint64_t>(state.range(0));
  const uint64_t blocks = block >= 8192 ? 2 : 16384 / block;
  std::vector<uint64_t> seq(block * blocks);
  uint64_t x = 0x9e3779b97f4a7c15ULL;
  for (uint64_t b = 0; b < blocks; ++b) {
    uint64_t* p = seq.data() + b * block;
    for (uint64_t i = 0; i < block; ++i) p[i] = b * block + i;
    for (uint64_t i = block - 1; i > 0; --i) {  // Fisher-Yates with xorshift64
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      std::swap(p[i], p[x % (i + 1)]);
    }
  }
  ReplayWindow w;
  uint64_t base = 0;
  size_t i = 0;
  for (auto _ : state) {
    if (!w.update(base + seq[i])) {
      state.SkipWithError("reordered counter inside the window rejected");
      break;
    }
    if (++i == seq.size()) {
      i = 0;
      base += seq.size();
    }
  }
  benchmark::DoNotOptimize(w.greatest());
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

// Counters more than the window behind the greatest: each rejected.
void bm_replay_reject_too_old(benchmark::State& state) {
  ReplayWindow w;
  const uint64_t greatest = uint64_t{1} << 20;
  if (!w.update(greatest)) return state.SkipWithError("setup failed");
  uint64_t counter = 0;
  for (auto _ : state) {
    if (w.update(counter)) {
      state.SkipWithError("too-old counter accepted");
      break;
    }
    if (++counter == greatest - ReplayWindow::kWindowSize) counter = 0;  // no division in the loop
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

// Counters already accepted, anywhere in the window: each rejected.
void bm_replay_reject_duplicate(benchmark::State& state) {
  ReplayWindow w;
  const uint64_t n = ReplayWindow::kWindowSize;
  for (uint64_t c = 0; c <= n; ++c)
    if (!w.update(c)) return state.SkipWithError("setup failed");
  uint64_t counter = 0;
  for (auto _ : state) {
    if (w.update(counter)) {
      state.SkipWithError("duplicate counter accepted");
      break;
    }
    counter += 7919;  // a prime stride visits the whole window (no division in the loop)
    if (counter > n) counter -= n + 1;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

BENCHMARK(bm_replay_in_order);
BENCHMARK(bm_replay_reordered)->Arg(64)->Arg(1024)->Arg(8128);
BENCHMARK(bm_replay_reject_too_old);
BENCHMARK(bm_replay_reject_duplicate);

}  // namespace
