// bench/prefix_table_bench.cpp — PrefixTable: lookups/s for IPv4 and IPv6 at 1k, 100k and 1M random
// prefixes (random addresses), insert rate, remove_value of a 100k-prefix owner among 1M, and
// bytes per prefix (counter) (Google Benchmark).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <utility>
#include <vector>

#include "core/prefix_table.hpp"

namespace wg::core {
namespace {

constexpr uint32_t kOwners = 1000;

// Random addresses; lengths 8..32 (IPv4) or 16..128 (IPv6), uniformly. Short lengths repeat, so
// the table ends up slightly smaller than the number of prefixes drawn.
std::vector<Prefix> random_prefixes(Family f, size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Prefix> out;
  out.reserve(n);
  const unsigned min_len = f == Family::V4 ? 8 : 16;
  const unsigned max_len = Prefix::max_len(f);
  for (size_t i = 0; i < n; ++i) {
    std::array<uint8_t, 16> a{};
    for (auto& b : a) b = static_cast<uint8_t>(rng());
    const auto len = static_cast<uint8_t>(min_len + rng() % (max_len - min_len + 1));
    out.push_back(Prefix::make(f, a.data(), len));
  }
  return out;
}

std::vector<std::array<uint8_t, 16>> random_addresses(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::array<uint8_t, 16>> out(n);
  for (auto& a : out)
    for (auto& b : a) b = static_cast<uint8_t>(rng());
  return out;
}

// Tables are built once per (family, size) and shared by the benchmarks.
const PrefixTable<uint32_t>& table_for(Family f, size_t n) {
  static std::map<std::pair<Family, size_t>, std::unique_ptr<PrefixTable<uint32_t>>> cache;
  auto& slot = cache[{f, n}];
  if (!slot) {
    slot = std::make_unique<PrefixTable<uint32_t>>();
    uint32_t v = 0;
    for (const Prefix& p : random_prefixes(f, n, 0x5eed + n)) slot->insert(p, v++ % kOwners);
  }
  return *slot;
}

void add_size_counters(benchmark::State& state, const PrefixTable<uint32_t>& t) {
  state.counters["prefixes"] = static_cast<double>(t.size());
  state.counters["bytes_per_prefix"] = static_cast<double>(t.memory_bytes()) / static_cast<double>(t.size());
}

void bm_lookup(benchmark::State& state, Family f) {
  const auto& t = table_for(f, static_cast<size_t>(state.range(0)));
  const auto addrs = random_addresses(size_t{1} << 16, 99);
  size_t i = 0;
  uint64_t hits = 0;
  for (auto _ : state) {
    const uint32_t* v = t.lookup(f, addrs[i++ & 0xffff].data());
    hits += v != nullptr;
    benchmark::DoNotOptimize(v);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["hit_rate"] = static_cast<double>(hits) / static_cast<double>(state.iterations());
  add_size_counters(state, t);
}

void bm_insert(benchmark::State& state, Family f) {
  const size_t n = static_cast<size_t>(state.range(0));
  const auto prefixes = random_prefixes(f, n, 7);
  size_t size = 0;
  size_t bytes = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto t = std::make_unique<PrefixTable<uint32_t>>();
    state.ResumeTiming();
    uint32_t v = 0;
    for (const Prefix& p : prefixes) t->insert(p, v++ % kOwners);
    state.PauseTiming();
    size = t->size();
    bytes = t->memory_bytes();
    t.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n));
  state.counters["prefixes"] = static_cast<double>(size);
  state.counters["bytes_per_prefix"] = static_cast<double>(bytes) / static_cast<double>(size);
}

// One owner with 100k of 1M IPv4 prefixes (peer removal, replace_allowed_ips).
void bm_remove_value(benchmark::State& state) {
  const auto prefixes = random_prefixes(Family::V4, 1'000'000, 11);
  PrefixTable<uint32_t> t;
  std::vector<Prefix> owned;
  for (size_t i = 0; i < prefixes.size(); ++i) {
    const uint32_t v = i % 10 == 0 ? 0 : 1 + static_cast<uint32_t>(i % kOwners);
    t.insert(prefixes[i], v);
  }
  t.for_each_of(0, [&](const Prefix& p) { owned.push_back(p); });
  size_t removed = 0;
  for (auto _ : state) {
    removed = t.remove_value(0);
    benchmark::DoNotOptimize(removed);
    state.PauseTiming();
    for (const Prefix& p : owned) t.insert(p, 0);
    state.ResumeTiming();
  }
  state.counters["removed"] = static_cast<double>(removed);
  state.counters["table"] = static_cast<double>(t.size());
}

BENCHMARK_CAPTURE(bm_lookup, v4, Family::V4)->Arg(1000)->Arg(100'000)->Arg(1'000'000);
BENCHMARK_CAPTURE(bm_lookup, v6, Family::V6)->Arg(1000)->Arg(100'000)->Arg(1'000'000);
BENCHMARK_CAPTURE(bm_insert, v4, Family::V4)->Arg(1000)->Arg(100'000)->Arg(1'000'000)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(bm_insert, v6, Family::V6)->Arg(1000)->Arg(100'000)->Arg(1'000'000)->Unit(benchmark::kMillisecond);
BENCHMARK(bm_remove_value)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace wg::core
