// bench/lpm_scale_bench.cpp — PrefixTable at gateway scale: 1,000,000 random IPv6 prefixes
// (/16../64 and some /128s) and 1,000,000 random IPv4 prefixes (/8../32), fixed seeds. Measures
// the build (insert of the whole set), and lookups per second of random addresses and of
// addresses inside stored prefixes (deep matches). A 1,000-prefix table drawn the same way is
// the contrast: lookup cost follows the address length (trie depth), not the table size.
#include <benchmark/benchmark.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <utility>
#include <vector>

#include "core/prefix_table.hpp"

namespace wg::core {
namespace {

using Address = std::array<uint8_t, 16>;
constexpr uint32_t kOwners = 4096;
constexpr size_t kAddresses = size_t{1} << 16;  // lookups cycle through this many
constexpr size_t kBatch = 64;                   // lookups per benchmark iteration

// IPv6: 90 % /16../64 (uniform), 10 % /128 (hosts). IPv4: /8../32 uniform.
uint8_t draw_length(Family f, std::mt19937_64& rng) {
  if (f == Family::V4) return static_cast<uint8_t>(8 + rng() % 25);
  return rng() % 10 == 0 ? uint8_t{128} : static_cast<uint8_t>(16 + rng() % 49);
}

std::vector<Prefix> draw_prefixes(Family f, size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Prefix> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    Address a;
    for (auto& b : a) b = static_cast<uint8_t>(rng());
    out.push_back(Prefix::make(f, a.data(), draw_length(f, rng)));
  }
  return out;
}

struct Built {
  PrefixTable<uint32_t> table;
  std::vector<Prefix> prefixes;  // as drawn (duplicates included)
  double build_seconds = 0;
};

// Built once per (family, size) and shared by the lookup benchmarks.
const Built& built(Family f, size_t n) {
  static std::map<std::pair<Family, size_t>, std::unique_ptr<Built>> cache;
  auto& slot = cache[{f, n}];
  if (!slot) {
    slot = std::make_unique<Built>();
    slot->prefixes = draw_prefixes(f, n, 0x1b3 + n + static_cast<uint64_t>(f));
    const auto start = std::chrono::steady_clock::now();
    uint32_t v = 0;
    for (const Prefix& p : slot->prefixes) slot->table.insert(p, v++ % kOwners);
    slot->build_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  return *slot;
}

std::vector<Address> random_addresses(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Address> out(kAddresses);
  for (auto& a : out)
    for (auto& b : a) b = static_cast<uint8_t>(rng());
  return out;
}

// Addresses inside stored prefixes: a drawn prefix with random host bits, so the lookup walks
// down to (at least) that prefix's depth.
std::vector<Address> covered_addresses(const std::vector<Prefix>& prefixes, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Address> out(kAddresses);
  for (auto& a : out) {
    const Prefix& p = prefixes[rng() % prefixes.size()];
    for (auto& b : a) b = static_cast<uint8_t>(rng());
    const unsigned bits = Prefix::max_len(p.family);
    for (unsigned bit = 0; bit < p.len && bit < bits; ++bit) {
      const auto mask = static_cast<uint8_t>(0x80 >> (bit % 8));
      a[bit / 8] = static_cast<uint8_t>((a[bit / 8] & ~mask) | (p.addr[bit / 8] & mask));
    }
  }
  return out;
}

void table_counters(benchmark::State& state, const Built& b) {
  state.counters["prefixes"] = static_cast<double>(b.table.size());
  state.counters["bytes_per_prefix"] =
      static_cast<double>(b.table.memory_bytes()) / static_cast<double>(b.table.size());
  state.counters["build_s"] = b.build_seconds;
}

void run_lookups(benchmark::State& state, Family f, const Built& b, const std::vector<Address>& addrs) {
  size_t i = 0;
  uint64_t hits = 0;
  for (auto _ : state) {
    for (size_t k = 0; k < kBatch; ++k) {
      const uint32_t* v = b.table.lookup(f, addrs[i++ & (kAddresses - 1)].data());
      hits += v != nullptr;
      benchmark::DoNotOptimize(v);
    }
  }
  const auto lookups = static_cast<int64_t>(state.iterations() * kBatch);
  state.SetItemsProcessed(lookups);
  state.counters["hit_rate"] = static_cast<double>(hits) / static_cast<double>(lookups);
  table_counters(state, b);
}

void bm_lpm_lookup_random(benchmark::State& state, Family f) {
  const Built& b = built(f, static_cast<size_t>(state.range(0)));
  run_lookups(state, f, b, random_addresses(99));
}

void bm_lpm_lookup_covered(benchmark::State& state, Family f) {
  const Built& b = built(f, static_cast<size_t>(state.range(0)));
  run_lookups(state, f, b, covered_addresses(b.prefixes, 77));
}

// The whole build, timed per iteration: items/s = inserts per second.
void bm_lpm_build(benchmark::State& state, Family f) {
  const size_t n = static_cast<size_t>(state.range(0));
  const std::vector<Prefix> prefixes = draw_prefixes(f, n, 0x1b3 + n + static_cast<uint64_t>(f));
  size_t size = 0, bytes = 0;
  for (auto _ : state) {
    auto t = std::make_unique<PrefixTable<uint32_t>>();
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

BENCHMARK_CAPTURE(bm_lpm_lookup_random, v4, Family::V4)->Arg(1000)->Arg(1'000'000);
BENCHMARK_CAPTURE(bm_lpm_lookup_covered, v4, Family::V4)->Arg(1000)->Arg(1'000'000);
BENCHMARK_CAPTURE(bm_lpm_lookup_random, v6, Family::V6)->Arg(1000)->Arg(1'000'000);
BENCHMARK_CAPTURE(bm_lpm_lookup_covered, v6, Family::V6)->Arg(1000)->Arg(1'000'000);
BENCHMARK_CAPTURE(bm_lpm_build, v4, Family::V4)->Arg(1000)->Arg(1'000'000)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(bm_lpm_build, v6, Family::V6)->Arg(1000)->Arg(1'000'000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace wg::core
