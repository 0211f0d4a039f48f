// tests/core/prefix_table_diff_test.cpp — the multibit PrefixTable against the binary radix trie
// it replaced (tests/core/binary_prefix_table.hpp): long seeded random sequences of insert,
// remove, remove_if, remove_value and lookup over both families, lengths 0..full with extra
// weight on the ones the trie treats specially (node and skip boundaries), plus BGP-shaped
// tables (bench/bgp_prefixes.hpp) built and torn down, with check() after every batch. Every
// lookup is also made in batches (lookup_batch); the direct-pointing array and its second stage
// (IPv6) are checked entry by entry in check(), with low thresholds so that small tables have
// them, cross them both ways, and get prefixes shorter than their bits inserted and removed
// under longer ones.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <random>
#include <set>
#include <utility>
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
    // Odd seeds: the direct-pointing array from 24 prefixes on, so most steps update it.
    if (seed % 2) pair.table.set_direct_threshold(24);
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
    CHECK((pair.table.direct_bits(Family::V4) != 0) == (seed % 2 == 1));
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
    CHECK(pair.table.direct_bits(f) == 13);  // 20 000 prefixes: past the default threshold
    // Lookups inside stored prefixes and uniformly random ones.
    size_t hits = 0;
    std::vector<std::array<uint8_t, 16>> addrs;
    for (int i = 0; i < 20'000; ++i) {
      Prefix x = prefixes[rng() % prefixes.size()];
      const unsigned max = Prefix::max_len(f);
      for (unsigned bit = i % 2 ? 0 : x.len; bit < max; ++bit)
        if (rng() & 1) x.addr[bit / 8] ^= static_cast<uint8_t>(0x80 >> (bit % 8));
      x.len = static_cast<uint8_t>(max);
      const Op op{Op::Kind::Lookup, x, 0};
      REQUIRE(testing::lpm::apply(pair, op, kOwners).empty());
      hits += pair.table.lookup(f, x.addr.data()) != nullptr;
      addrs.push_back(x.addr);
    }
    CHECK(hits >= 10'000);
    // All of them in one batch.
    std::vector<const uint8_t*> in;
    for (const auto& a : addrs) in.push_back(a.data());
    std::vector<const uint32_t*> out(in.size());
    pair.table.lookup_batch(f, in, out);
    for (size_t i = 0; i < in.size(); ++i) {
      const uint32_t* want = pair.model.lookup(f, in[i]);
      REQUIRE((out[i] == nullptr) == (want == nullptr));
      if (want) REQUIRE(*out[i] == *want);
    }
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

TEST_CASE("prefix_table diff: the direct-pointing arrays built, resized and dropped, short prefixes under them") {
  for (Family f : {Family::V4, Family::V6}) {
    CAPTURE(static_cast<int>(f));
    const unsigned max = Prefix::max_len(f);
    testing::lpm::Pair pair;
    // 13 bits from 8 prefixes (dropped below 2); IPv4 19 bits from 512 (back to 13 below 128).
    pair.table.set_direct_threshold(8);
    std::mt19937_64 rng(23 + static_cast<uint64_t>(f));
    bench::BgpPrefixes gen(f, 600, 5);
    // Prefixes shorter than, equal to and just past the direct-pointed bits (13, 19) and the
    // level boundaries around them (the virtual offset is 5: levels end at /1, /7, /13, /19),
    // inside the BGP prefixes' space so that they cover them.
    const std::vector<Prefix> bgp = gen.draw(600);
    std::vector<Prefix> shorts;
    // And for IPv6's second stage (13 + 12 bits: levels end at /19 and /25).
    for (unsigned len : {0u, 1u, 2u, 6u, 7u, 8u, 12u, 13u, 14u, 15u, 16u, 18u, 19u, 20u, 24u, 25u, 26u})
      for (int k = 0; k < 3; ++k) shorts.push_back(Prefix::make(f, bgp[rng() % bgp.size()].addr.data(), static_cast<uint8_t>(len)));
    const auto step = [&](const Op& op) {
      REQUIRE(testing::lpm::apply(pair, op, kOwners).empty());
      // A lookup inside a random stored prefix and one anywhere (each with its batch).
      for (int i = 0; i < 2; ++i) {
        Prefix x = i == 0 ? bgp[rng() % bgp.size()] : Prefix::make(f, bgp[0].addr.data(), 0);
        for (unsigned bit = x.len; bit < max; ++bit)
          if (rng() & 1) x.addr[bit / 8] ^= static_cast<uint8_t>(0x80 >> (bit % 8));
        x.len = static_cast<uint8_t>(max);
        REQUIRE(testing::lpm::apply(pair, Op{Op::Kind::Lookup, x, 0}, kOwners).empty());
      }
    };
    const auto check = [&] { REQUIRE(testing::lpm::apply(pair, Op{Op::Kind::Check, {}, 0}, kOwners).empty()); };
    const unsigned largest = f == Family::V4 ? 19 : 13;
    std::set<std::pair<unsigned, unsigned>> changes;  // (from, to) direct bits seen
    unsigned bits = pair.table.direct_bits(f);
    // Second-stage blocks added, and dropped under an array that stays.
    size_t blocks = 0;
    bool blocks_added = false, blocks_dropped = false;
    const auto note = [&] {
      if (pair.table.direct_bits(f) != bits) changes.emplace(bits, pair.table.direct_bits(f));
      bits = pair.table.direct_bits(f);
      const size_t now = pair.table.second_blocks(f);
      blocks_added |= now > blocks;
      blocks_dropped |= now < blocks && bits != 0;
      blocks = now;
    };
    for (int round = 0; round < 3; ++round) {
      CAPTURE(round);
      // Up: the BGP prefixes one by one, the short ones in between.
      for (size_t i = 0; i < bgp.size(); ++i) {
        step(Op{Op::Kind::Insert, bgp[i], static_cast<uint32_t>(rng() % kOwners)});
        if (i % 8 == 0) step(Op{Op::Kind::Insert, shorts[rng() % shorts.size()], static_cast<uint32_t>(rng() % kOwners)});
        note();
        if (i % 32 == 0) check();
      }
      check();
      REQUIRE(pair.table.direct_bits(f) == largest);
      // The short ones removed and put back under the full table, with other owners.
      for (const Prefix& s : shorts) {
        step(Op{Op::Kind::Remove, s, 0});
        check();
      }
      for (const Prefix& s : shorts) {
        step(Op{Op::Kind::Insert, s, static_cast<uint32_t>(rng() % kOwners)});
        check();
      }
      // Down: everything in random order, short ones included, to one prefix (and in the last
      // round to none).
      std::vector<Prefix> all = bgp;
      all.insert(all.end(), shorts.begin(), shorts.end());
      std::shuffle(all.begin(), all.end(), rng);
      const size_t keep = round == 2 ? 0 : 1;
      for (size_t i = 0; i + keep < all.size(); ++i) {
        step(Op{Op::Kind::Remove, all[i], 0});
        note();
        if (i % 32 == 0) check();
      }
      check();
      REQUIRE(pair.table.direct_bits(f) == 0);
    }
    // Every step up and down was taken.
    if (f == Family::V4)
      CHECK(changes == std::set<std::pair<unsigned, unsigned>>{{0, 13}, {13, 19}, {19, 13}, {13, 0}});
    else
      CHECK(changes == std::set<std::pair<unsigned, unsigned>>{{0, 13}, {13, 0}});
    CHECK(blocks_added == (f == Family::V6));
    CHECK(blocks_dropped == (f == Family::V6));
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
