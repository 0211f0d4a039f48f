// bench/lpm_scale_bench.cpp — PrefixTable at routing-table scale (issue 13): BGP-shaped tables
// (bench/bgp_prefixes.hpp, mix in its header) of 1 k, 100 k and 1 M distinct prefixes per family,
// fixed seeds. Per table: single lookups per second of (a) addresses inside random table
// prefixes ("hit") and (b) uniformly random addresses ("random"), bytes per prefix from
// memory_bytes(); at 1 M also inserts/s (the build from empty), removes/s (the teardown, random
// order) and updates/s of churn on a full table (remove one, insert another).
// Three tables in the same run: `multibit` (PrefixTable, the chosen design), `binary` (the path-
// compressed binary radix trie it replaced, tests/core/binary_prefix_table.hpp) and `offset0`
// (the multibit trie with level boundaries at multiples of 6 bits, no virtual offset).
// Batched lookups (lpm_batch_hit / lpm_batch_random: lookup_batch over 64 addresses per call, the
// data path's batch) for `multibit`, for `nodirect` (PrefixTable without its direct-pointing
// array), `direct16` / `direct19` (16 or 19 direct-pointed bits instead of 13) and `nosecond`
// (13 bits for both families, without IPv6's second direct stage); and at 1 M,
// lpm_batch_lanes_hit/multibit with 1..64 lookups in flight, and lpm_batch_hit/inlinecount
// (multibit without the popcnt instruction).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "bench/bgp_prefixes.hpp"
#include "core/binary_prefix_table.hpp"
#include "core/prefix_table.hpp"

namespace wg::core {
namespace {

using Address = std::array<uint8_t, 16>;
constexpr uint32_t kOwners = 4096;
constexpr size_t kAddresses = size_t{1} << 16;  // lookups cycle through this many
constexpr size_t kBatch = 64;                   // lookups per benchmark iteration

// The multibit trie with another virtual offset or number of direct-pointed bits, behind
// PrefixTable's interface.
template <unsigned Offset, unsigned DirectBits = 13>
class OffsetTable {
 public:
  std::optional<uint32_t> insert(const Prefix& p, uint32_t v) {
    return p.family == Family::V4 ? v4_.insert(p.addr.data(), p.len, v) : v6_.insert(p.addr.data(), p.len, v);
  }
  bool remove(const Prefix& p) {
    return p.family == Family::V4 ? v4_.remove(p.addr.data(), p.len) : v6_.remove(p.addr.data(), p.len);
  }
  const uint32_t* lookup(Family f, const uint8_t* a) const { return f == Family::V4 ? v4_.lookup(a) : v6_.lookup(a); }
  template <unsigned G = 32, bool Popcnt = true>
  void lookup_batch(Family f, std::span<const uint8_t* const> in, std::span<const uint32_t*> out) const {
    return f == Family::V4 ? v4_.template lookup_batch<G, Popcnt>(in, out)
                           : v6_.template lookup_batch<G, Popcnt>(in, out);
  }
  // PrefixTable's lanes per family.
  void lookup_batch(Family f, std::span<const uint8_t* const> in, std::span<const uint32_t*> out) const {
    if (f == Family::V4)
      lookup_batch<PrefixTable<uint32_t>::kBatchLanes>(f, in, out);
    else
      lookup_batch<PrefixTable<uint32_t>::kBatchLanes6>(f, in, out);
  }
  size_t size() const { return v4_.size() + v6_.size(); }
  size_t memory_bytes() const { return v4_.memory_bytes() + v6_.memory_bytes(); }

 private:
  prefix_trie::Trie<prefix_trie::Layout<4, Offset, DirectBits>, uint32_t, std::hash<uint32_t>> v4_;
  prefix_trie::Trie<prefix_trie::Layout<16, Offset, DirectBits>, uint32_t, std::hash<uint32_t>> v6_;
};

// PrefixTable that never builds its direct-pointing array.
class NoDirect : public PrefixTable<uint32_t> {
 public:
  NoDirect() { set_direct_threshold(~size_t{0}); }
};

using Multibit = PrefixTable<uint32_t>;
using Binary = reference::BinaryPrefixTable<uint32_t>;
using Offset0 = OffsetTable<0>;
using Direct16 = OffsetTable<5, 16>;
using Direct19 = OffsetTable<5, 19>;
using NoSecond = OffsetTable<5, 13>;

bool prefix_less(const Prefix& x, const Prefix& y) {
  return std::tie(x.family, x.addr, x.len) < std::tie(y.family, y.addr, y.len);
}

// n distinct prefixes in random order (the generator's duplicates dropped), plus `spare` more
// distinct ones for churn.
std::vector<Prefix> distinct_prefixes(Family f, size_t n, uint64_t seed) {
  bench::BgpPrefixes gen(f, n, seed);
  std::vector<Prefix> out;
  while (out.size() < n) {
    for (size_t i = out.size(); i < n + n / 16 + 16; ++i) out.push_back(gen.next());
    std::sort(out.begin(), out.end(), prefix_less);
    out.erase(std::unique(out.begin(), out.end()), out.end());
  }
  std::mt19937_64 rng(seed);
  std::shuffle(out.begin(), out.end(), rng);
  out.resize(n);
  return out;
}

uint64_t seed_of(Family f, size_t n) { return 0x1b3 + n + static_cast<uint64_t>(f); }

const std::vector<Prefix>& prefixes(Family f, size_t n) {
  static std::map<std::pair<Family, size_t>, std::vector<Prefix>> cache;
  auto& slot = cache[{f, n}];
  if (slot.empty()) slot = distinct_prefixes(f, n, seed_of(f, n));
  return slot;
}

template <class T>
struct Built {
  T table;
  double build_seconds = 0;
};

// Built once per (table, family, size) and shared by the lookup benchmarks.
template <class T>
const Built<T>& built(Family f, size_t n) {
  static std::map<std::pair<Family, size_t>, std::unique_ptr<Built<T>>> cache;
  auto& slot = cache[{f, n}];
  if (!slot) {
    slot = std::make_unique<Built<T>>();
    const auto& ps = prefixes(f, n);
    const auto start = std::chrono::steady_clock::now();
    uint32_t v = 0;
    for (const Prefix& p : ps) slot->table.insert(p, v++ % kOwners);
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

// Addresses inside table prefixes: a random prefix with random host bits.
std::vector<Address> hit_addresses(const std::vector<Prefix>& ps, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Address> out(kAddresses);
  for (auto& a : out) {
    const Prefix& p = ps[rng() % ps.size()];
    for (auto& b : a) b = static_cast<uint8_t>(rng());
    for (unsigned bit = 0; bit < p.len; ++bit) {
      const auto mask = static_cast<uint8_t>(0x80 >> (bit % 8));
      a[bit / 8] = static_cast<uint8_t>((a[bit / 8] & ~mask) | (p.addr[bit / 8] & mask));
    }
  }
  return out;
}

template <class T>
void run_lookups(benchmark::State& state, Family f, const Built<T>& b, const std::vector<Address>& addrs) {
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
  state.counters["prefixes"] = static_cast<double>(b.table.size());
  state.counters["bytes_per_prefix"] = static_cast<double>(b.table.memory_bytes()) / static_cast<double>(b.table.size());
  state.counters["build_s"] = b.build_seconds;
}

// lookup_batch over kBatch addresses per call, G in flight (0: the table's default).
template <class T, unsigned G = 0, bool Popcnt = true>
void run_batches(benchmark::State& state, Family f, const Built<T>& b, const std::vector<Address>& addrs) {
  std::vector<const uint8_t*> in;
  for (const Address& a : addrs) in.push_back(a.data());
  std::array<const uint32_t*, kBatch> out{};
  size_t i = 0;
  uint64_t hits = 0;
  for (auto _ : state) {
    if constexpr (G == 0)
      b.table.lookup_batch(f, std::span(in).subspan(i, kBatch), out);
    else
      b.table.template lookup_batch<G, Popcnt>(f, std::span(in).subspan(i, kBatch), out);
    for (const uint32_t* v : out) hits += v != nullptr;
    benchmark::DoNotOptimize(out);
    i = (i + kBatch) & (kAddresses - 1);
  }
  const auto lookups = static_cast<int64_t>(state.iterations() * kBatch);
  state.SetItemsProcessed(lookups);
  state.counters["hit_rate"] = static_cast<double>(hits) / static_cast<double>(lookups);
  state.counters["bytes_per_prefix"] = static_cast<double>(b.table.memory_bytes()) / static_cast<double>(b.table.size());
}

template <class T, unsigned G = 0, bool Popcnt = true>
void bm_batch_hit(benchmark::State& state, Family f) {
  const size_t n = static_cast<size_t>(state.range(0));
  run_batches<T, G, Popcnt>(state, f, built<T>(f, n), hit_addresses(prefixes(f, n), 77));
}

template <class T>
void bm_batch_random(benchmark::State& state, Family f) {
  run_batches<T>(state, f, built<T>(f, static_cast<size_t>(state.range(0))), random_addresses(99));
}

template <class T>
void bm_lookup_hit(benchmark::State& state, Family f) {
  const size_t n = static_cast<size_t>(state.range(0));
  run_lookups(state, f, built<T>(f, n), hit_addresses(prefixes(f, n), 77));
}

template <class T>
void bm_lookup_random(benchmark::State& state, Family f) {
  run_lookups(state, f, built<T>(f, static_cast<size_t>(state.range(0))), random_addresses(99));
}

// The build from empty, timed per iteration: items/s = inserts per second.
template <class T>
void bm_insert(benchmark::State& state, Family f) {
  const size_t n = static_cast<size_t>(state.range(0));
  const auto& ps = prefixes(f, n);
  size_t bytes = 0;
  for (auto _ : state) {
    auto t = std::make_unique<T>();
    uint32_t v = 0;
    for (const Prefix& p : ps) t->insert(p, v++ % kOwners);
    state.PauseTiming();
    bytes = t->memory_bytes();
    t.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n));
  state.counters["bytes_per_prefix"] = static_cast<double>(bytes) / static_cast<double>(n);
}

// The teardown of a full table in another random order: items/s = removes per second.
template <class T>
void bm_remove(benchmark::State& state, Family f) {
  const size_t n = static_cast<size_t>(state.range(0));
  std::vector<Prefix> order = prefixes(f, n);
  std::mt19937_64 rng(5);
  std::shuffle(order.begin(), order.end(), rng);
  size_t removed = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto t = std::make_unique<T>();
    uint32_t v = 0;
    for (const Prefix& p : prefixes(f, n)) t->insert(p, v++ % kOwners);
    state.ResumeTiming();
    for (const Prefix& p : order) removed += t->remove(p);
    state.PauseTiming();
    t.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n));
  state.counters["removed"] = static_cast<double>(removed) / static_cast<double>(state.iterations());
}

// Churn on a full table: each iteration removes one stored prefix and inserts one that was not
// there (2 updates); the table stays at n. items/s = updates per second.
template <class T>
void bm_churn(benchmark::State& state, Family f) {
  const size_t n = static_cast<size_t>(state.range(0));
  const std::vector<Prefix> all = distinct_prefixes(f, n + n / 8, seed_of(f, n) + 1);
  auto t = std::make_unique<T>();
  for (size_t i = 0; i < n; ++i) t->insert(all[i], static_cast<uint32_t>(i % kOwners));
  // all[out] is stored, all[in] is not; both walk round the ring of n + n/8.
  size_t out = 0, in = n;
  for (auto _ : state) {
    t->remove(all[out]);
    t->insert(all[in], static_cast<uint32_t>(in % kOwners));
    out = (out + 1) % all.size();
    in = (in + 1) % all.size();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * 2));
  state.counters["prefixes"] = static_cast<double>(t->size());
  state.counters["bytes_per_prefix"] = static_cast<double>(t->memory_bytes()) / static_cast<double>(t->size());
}

template <class T>
void register_table(const std::string& name, bool updates) {
  for (Family f : {Family::V4, Family::V6}) {
    const std::string suffix = name + (f == Family::V4 ? "_v4" : "_v6");
    for (auto* bm : {&bm_lookup_hit<T>, &bm_lookup_random<T>}) {
      const char* kind = bm == &bm_lookup_hit<T> ? "lpm_lookup_hit/" : "lpm_lookup_random/";
      benchmark::RegisterBenchmark((kind + suffix).c_str(), bm, f)->Arg(1000)->Arg(100'000)->Arg(1'000'000);
    }
    if (!updates) continue;
    // One build or teardown of 1 M prefixes is an iteration.
    benchmark::RegisterBenchmark(("lpm_insert/" + suffix).c_str(), bm_insert<T>, f)
        ->Arg(1'000'000)->Unit(benchmark::kMillisecond)->Iterations(2);
    benchmark::RegisterBenchmark(("lpm_remove/" + suffix).c_str(), bm_remove<T>, f)
        ->Arg(1'000'000)->Unit(benchmark::kMillisecond)->Iterations(2);
    benchmark::RegisterBenchmark(("lpm_churn/" + suffix).c_str(), bm_churn<T>, f)->Arg(1'000'000);
  }
}

template <class T>
void register_batches(const std::string& name) {
  for (Family f : {Family::V4, Family::V6}) {
    const std::string suffix = name + (f == Family::V4 ? "_v4" : "_v6");
    benchmark::RegisterBenchmark(("lpm_batch_hit/" + suffix).c_str(), bm_batch_hit<T>, f)
        ->Arg(1000)->Arg(100'000)->Arg(1'000'000);
    benchmark::RegisterBenchmark(("lpm_batch_random/" + suffix).c_str(), bm_batch_random<T>, f)
        ->Arg(1000)->Arg(100'000)->Arg(1'000'000);
  }
}

template <unsigned G>
void register_lanes() {
  for (Family f : {Family::V4, Family::V6}) {
    const std::string name = std::string("lpm_batch_lanes_hit/multibit_") + (f == Family::V4 ? "v4" : "v6") + "/lanes:" +
                             std::to_string(G);
    benchmark::RegisterBenchmark(name.c_str(), bm_batch_hit<Multibit, G>, f)->Arg(1'000'000);
  }
}

const bool registered = [] {
  register_table<Multibit>("multibit", true);
  register_table<Binary>("binary", true);
  register_table<Offset0>("offset0", false);
  register_table<NoDirect>("nodirect", false);
  register_batches<Multibit>("multibit");
  register_batches<NoDirect>("nodirect");
  register_batches<Direct16>("direct16");
  register_batches<Direct19>("direct19");
  register_batches<NoSecond>("nosecond");
  register_table<Direct16>("direct16", false);
  register_table<Direct19>("direct19", false);
  register_lanes<1>();
  register_lanes<4>();
  register_lanes<8>();
  register_lanes<16>();
  register_lanes<32>();
  register_lanes<64>();
  // The batched walk with the inline popcount only (what a CPU without popcnt runs).
  for (Family f : {Family::V4, Family::V6})
    benchmark::RegisterBenchmark((std::string("lpm_batch_hit/inlinecount_") + (f == Family::V4 ? "v4" : "v6")).c_str(),
                                 bm_batch_hit<Multibit, 32, false>, f)
        ->Arg(1000)->Arg(1'000'000);
  return true;
}();

}  // namespace
}  // namespace wg::core
