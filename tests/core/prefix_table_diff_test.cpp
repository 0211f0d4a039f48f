// tests/core/prefix_table_diff_test.cpp — the multibit PrefixTable against the binary radix trie
// it replaced (tests/core/binary_prefix_table.hpp): long seeded random sequences of insert,
// remove, remove_if, remove_value and lookup over both families, lengths 0..full with extra
// weight on the ones the trie treats specially (node and skip boundaries), plus BGP-shaped
// tables (bench/bgp_prefixes.hpp) built and torn down, with check() after every batch.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <random>
#include <vector>

#include "bench/bgp_prefixes.hpp"
#include "core/lpm_diff.hpp"

namespace wg::core {

namespace {

using testing::lpm::Op;

constexpr uint32_t kOwners = 12;

struct Draw {
  std::mt19937_64 rng;
  std::vector<Prefix> seen;  // prefixes inserted so far, for removals and neighbours

  explicit Draw(uint64_t seed) : rng(seed) {}
  unsigned below(unsigned n) { return static_cast<unsigned>(rng() % n); }

  // Few distinct bytes, so prefixes share long runs (deep common paths, skips that split).
  uint8_t byte() {
    static constexpr uint8_t kAlphabet[] = {0x00, 0x20, 0x01, 0x0d, 0xb8, 0xff, 0xc0};
    return below(6) == 0 ? static_cast<uint8_t>(rng()) : kAlphabet[below(sizeof(kAlphabet))];
  }
  uint8_t length(Family f) {
    const unsigned max = Prefix::max_len(f);
    switch (below(6)) {
      case 0: return static_cast<uint8_t>(below(2) ? 0 : max);
      case 1: {  // around a 6-bit level boundary of the virtual (offset by 5) address
        const unsigned edge = 6 * below((max + 5) / 6 + 1);
        const int len = static_cast<int>(edge) - 5 + static_cast<int>(below(3)) - 1;
        return static_cast<uint8_t>(std::clamp(len, 0, static_cast<int>(max)));
      }
      default: return static_cast<uint8_t>(below(max + 1));
    }
  }
  Prefix fresh() {
    const Family f = below(2) ? Family::V4 : Family::V6;
    std::array<uint8_t, 16> a{};
    for (size_t i = 0; i < (f == Family::V4 ? 4u : 16u); ++i) a[i] = byte();
    return Prefix::make(f, a.data(), length(f));
  }
  // Another length of a seen prefix, and/or one bit flipped.
  Prefix neighbour() {
    const Prefix& p = seen[below(static_cast<unsigned>(seen.size()))];
    const int max = Prefix::max_len(p.family);
    std::array<uint8_t, 16> a = p.addr;
    int len = p.len;
    if (below(2)) len = std::clamp(len + static_cast<int>(below(13)) - 6, 0, max);
    if (below(2) && max > 0) {
      const unsigned bit = below(static_cast<unsigned>(max));
      a[bit / 8] ^= static_cast<uint8_t>(0x80 >> (bit % 8));
    }
    return Prefix::make(p.family, a.data(), static_cast<uint8_t>(len));
  }
  Prefix prefix() { return seen.empty() || below(3) == 0 ? fresh() : neighbour(); }
  // An address: inside a seen prefix (random host bits), next to one, or anywhere.
  Prefix address() {
    Prefix x = seen.empty() || below(4) == 0 ? fresh() : seen[below(static_cast<unsigned>(seen.size()))];
    const unsigned max = Prefix::max_len(x.family);
    for (unsigned bit = x.len; bit < max; ++bit)
      if (below(2)) x.addr[bit / 8] |= static_cast<uint8_t>(0x80 >> (bit % 8));
    if (x.len > 0 && below(4) == 0) x.addr[(x.len - 1) / 8] ^= static_cast<uint8_t>(0x80 >> ((x.len - 1) % 8));
    x.len = static_cast<uint8_t>(max);
    return x;
  }
  Op next() {
    Op op;
    const unsigned roll = below(100);
    if (roll < 40) {
      op.kind = Op::Kind::Insert;
      op.prefix = prefix();
      seen.push_back(op.prefix);
    } else if (roll < 55) {
      op.kind = Op::Kind::Remove;
      op.prefix = prefix();
    } else if (roll < 65) {
      op.kind = Op::Kind::RemoveIf;
      op.prefix = prefix();
    } else if (roll < 67) {
      op.kind = Op::Kind::RemoveValue;
    } else {
      op.kind = Op::Kind::Lookup;
      op.prefix = address();
    }
    op.value = below(kOwners);
    return op;
  }
};

}  // namespace

TEST_CASE("prefix_table diff: random operations on both families against the binary trie") {
  size_t lookups = 0;
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    CAPTURE(seed);
    Draw draw(seed * 0x9e3779b97f4a7c15ULL);
    testing::lpm::Pair pair;
    for (int step = 0; step < 12'000; ++step) {
      const Op op = step % 500 == 499 ? Op{Op::Kind::Check, {}, 0} : draw.next();
      lookups += op.kind == Op::Kind::Lookup;
      const std::string diff = testing::lpm::apply(pair, op, kOwners);
      if (!diff.empty()) FAIL_CHECK("step " << step << ": " << diff);
      if (!diff.empty()) break;
    }
    CHECK(pair.table.check());
    CHECK(testing::lpm::compare_contents(pair, kOwners).empty());
    // The ops actually built something (not a sequence of no-ops on an empty table).
    CHECK(pair.model.size() > 100);
  }
  CHECK(lookups > 8 * 3000);
}

TEST_CASE("prefix_table diff: BGP-shaped tables built, probed and torn down") {
  for (Family f : {Family::V4, Family::V6}) {
    CAPTURE(static_cast<int>(f));
    bench::BgpPrefixes gen(f, 20'000, 7 + static_cast<uint64_t>(f));
    std::vector<Prefix> prefixes = gen.draw(20'000);
    testing::lpm::Pair pair;
    std::mt19937_64 rng(11);
    for (size_t i = 0; i < prefixes.size(); ++i) {
      const Op op{Op::Kind::Insert, prefixes[i], static_cast<uint32_t>(rng() % kOwners)};
      REQUIRE(testing::lpm::apply(pair, op, kOwners).empty());
    }
    REQUIRE(pair.table.check());
    REQUIRE(testing::lpm::compare_contents(pair, kOwners).empty());
    // Lookups inside stored prefixes and uniformly random ones.
    size_t hits = 0;
    for (int i = 0; i < 20'000; ++i) {
      Prefix x = prefixes[rng() % prefixes.size()];
      const unsigned max = Prefix::max_len(f);
      for (unsigned bit = i % 2 ? 0 : x.len; bit < max; ++bit)
        if (rng() & 1) x.addr[bit / 8] ^= static_cast<uint8_t>(0x80 >> (bit % 8));
      x.len = static_cast<uint8_t>(max);
      const Op op{Op::Kind::Lookup, x, 0};
      REQUIRE(testing::lpm::apply(pair, op, kOwners).empty());
      hits += pair.table.lookup(f, x.addr.data()) != nullptr;
    }
    CHECK(hits >= 10'000);
    // Tear down: half by exact removal in random order, the rest owner by owner.
    std::shuffle(prefixes.begin(), prefixes.end(), rng);
    for (size_t i = 0; i < prefixes.size() / 2; ++i) {
      const Op op{Op::Kind::Remove, prefixes[i], 0};
      REQUIRE(testing::lpm::apply(pair, op, kOwners).empty());
      if (i % 2000 == 0) REQUIRE(testing::lpm::apply(pair, Op{Op::Kind::Check, {}, 0}, kOwners).empty());
    }
    for (uint32_t v = 0; v < kOwners; ++v) {
      REQUIRE(testing::lpm::apply(pair, Op{Op::Kind::RemoveValue, {}, v}, kOwners).empty());
      REQUIRE(testing::lpm::apply(pair, Op{Op::Kind::Check, {}, 0}, kOwners).empty());
    }
    CHECK(pair.table.size() == 0);
  }
}

TEST_CASE("prefix_table: a few entries take a few hundred bytes, and clear gives the memory back") {
  PrefixTable<uint32_t> t;
  const size_t empty = t.memory_bytes();
  t.insert(*parse_prefix("10.0.0.0/8"), 1);
  t.insert(*parse_prefix("192.0.2.1/32"), 2);
  t.insert(*parse_prefix("2001:db8::/32"), 1);
  CHECK(t.memory_bytes() - empty < 1024);
  bench::BgpPrefixes gen(Family::V4, 5000, 3);
  for (const Prefix& p : gen.draw(5000)) t.insert(p, 3);
  CHECK(t.memory_bytes() - empty > 5000 * 16);
  t.clear();
  CHECK(t.memory_bytes() == empty);
}

}  // namespace wg::core
