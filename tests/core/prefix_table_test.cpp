// tests/core/prefix_table_test.cpp — PrefixTable: fixed cases in the style of the kernel's
// selftest/allowedips.c (overlaps, /0, /32, /128, v4 vs v6, host bits) and a differential test
// against a naive list model with a seeded RNG, as wireguard-go allowedips_rand_test.go.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "core/prefix_table.hpp"

namespace wg::core {

namespace {

Prefix pfx(std::string_view text) {
  auto p = parse_prefix(text);
  REQUIRE_MESSAGE(p, text);
  return *p;
}

struct Addr {
  Family family = Family::None;
  std::array<uint8_t, 16> bytes{};
};

Addr addr(std::string_view text) {
  auto p = parse_prefix(text);  // a bare address parses as a host prefix
  REQUIRE_MESSAGE(p, text);
  return {p->family, p->addr};
}

std::optional<uint32_t> find(const PrefixTable<uint32_t>& t, std::string_view text) {
  const Addr a = addr(text);
  const uint32_t* v = t.lookup(a.family, a.bytes.data());
  if (!v) return std::nullopt;
  return *v;
}

enum : uint32_t { a = 1, b, c, d, e, f, g, h };

// The table the kernel selftest builds, with our own addresses where it uses helpers.
PrefixTable<uint32_t> selftest_table() {
  PrefixTable<uint32_t> t;
  t.insert(pfx("192.168.4.0/24"), a);
  t.insert(pfx("192.168.4.4/32"), b);
  t.insert(pfx("192.168.0.0/16"), c);
  t.insert(pfx("192.95.5.64/27"), d);
  t.insert(pfx("192.95.5.65/0"), c);  // host bits: stored as 0.0.0.0/0
  t.insert(pfx("2607:5300:6000:6b00::c05f:543/128"), d);
  t.insert(pfx("2607:5300:6000:6b00::/64"), c);
  t.insert(pfx("::/0"), e);
  t.insert(pfx("::/0"), f);  // replaces e
  t.insert(pfx("2404:6800::/32"), g);
  t.insert(pfx("2404:6800:4004:800:dead:beef:dead:beef/64"), h);
  t.insert(pfx("2404:6800:4004:800:dead:beef:dead:beef/128"), a);
  t.insert(pfx("2404:6800:4004:800:1010:1010:1010:1010/128"), c);
  t.insert(pfx("64.15.112.0/20"), g);
  t.insert(pfx("64.15.123.211/25"), h);  // host bits: 64.15.123.128/25
  t.insert(pfx("10.0.0.0/25"), a);
  t.insert(pfx("10.0.0.128/25"), b);
  t.insert(pfx("10.1.0.0/30"), a);
  t.insert(pfx("10.1.0.4/30"), b);
  t.insert(pfx("10.1.0.8/29"), c);
  t.insert(pfx("10.1.0.16/29"), d);
  return t;
}

}  // namespace

TEST_CASE("prefix_table: kernel-selftest style lookups") {
  PrefixTable<uint32_t> t = selftest_table();
  CHECK(t.size() == 20);
  CHECK(t.check());

  CHECK(find(t, "192.168.4.20") == a);
  CHECK(find(t, "192.168.4.0") == a);
  CHECK(find(t, "192.168.4.4") == b);
  CHECK(find(t, "192.168.200.182") == c);
  CHECK(find(t, "192.95.5.68") == d);
  CHECK(find(t, "192.95.5.96") == c);  // only 0.0.0.0/0
  CHECK(find(t, "2607:5300:6000:6b00::c05f:543") == d);
  CHECK(find(t, "2607:5300:6000:6b00::c02e:1ee") == c);
  CHECK(find(t, "2607:5300:6000:6b01::") == f);
  CHECK(find(t, "2404:6800:4004:806::1006") == g);
  CHECK(find(t, "2404:6800:4004:800:dead:beef:dead:beef") == a);
  CHECK(find(t, "2404:6800:4004:800:dead:beef:dead:beee") == h);
  CHECK(find(t, "2404:6800:4004:800:1010:1010:1010:1010") == c);
  CHECK(find(t, "2404:6800:4004:800:1010:1010:1010:1011") == h);
  CHECK(find(t, "2404:67ff::") == f);
  CHECK(find(t, "64.15.116.26") == g);
  CHECK(find(t, "64.15.123.200") == h);
  CHECK(find(t, "64.15.127.3") == g);
  CHECK(find(t, "64.15.123.1") == g);
  CHECK(find(t, "10.0.0.5") == a);
  CHECK(find(t, "10.0.0.200") == b);
  CHECK(find(t, "10.1.0.2") == a);
  CHECK(find(t, "10.1.0.6") == b);
  CHECK(find(t, "10.1.0.12") == c);
  CHECK(find(t, "10.1.0.20") == d);
  CHECK(find(t, "10.1.0.30") == c);  // past 10.1.0.16/29: 0.0.0.0/0

  // The two families never see each other's prefixes, even for "the same" bits.
  CHECK(find(t, "1.2.3.4") == c);
  CHECK(find(t, "::102:304") == f);
  CHECK(find(t, "::ffff:192.168.4.4") == f);
}

TEST_CASE("prefix_table: insert returns the previous owner of the exact prefix only") {
  PrefixTable<uint32_t> t;
  CHECK_FALSE(t.insert(pfx("10.0.0.0/8"), a));
  CHECK_FALSE(t.insert(pfx("10.0.0.0/16"), b));  // nested, not the same prefix
  CHECK(t.insert(pfx("10.1.2.3/8"), c) == a);    // host bits ignored: same prefix, moves to c
  CHECK(t.insert(pfx("10.0.0.0/8"), c) == c);
  CHECK_FALSE(t.insert(pfx("::/0"), a));
  CHECK_FALSE(t.insert(pfx("0.0.0.0/0"), a));  // v4 /0 is not v6 /0
  CHECK(t.insert(pfx("::/0"), b) == a);
  CHECK(t.size() == 4);
  CHECK(find(t, "10.200.0.1") == c);
  CHECK(find(t, "10.0.9.9") == b);
  CHECK(t.check());
}

TEST_CASE("prefix_table: /0 and host routes at both ends of each family") {
  PrefixTable<uint32_t> t;
  CHECK(find(t, "0.0.0.0") == std::nullopt);
  CHECK(find(t, "::") == std::nullopt);
  t.insert(pfx("0.0.0.0/0"), a);
  t.insert(pfx("255.255.255.255/32"), b);
  t.insert(pfx("0.0.0.0/32"), c);
  t.insert(pfx("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"), d);
  t.insert(pfx("::/128"), e);
  CHECK(find(t, "255.255.255.255") == b);
  CHECK(find(t, "255.255.255.254") == a);
  CHECK(find(t, "0.0.0.0") == c);
  CHECK(find(t, "0.0.0.1") == a);
  CHECK(find(t, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff") == d);
  CHECK(find(t, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe") == std::nullopt);
  CHECK(find(t, "::") == e);
  CHECK(find(t, "::1") == std::nullopt);
  CHECK(t.remove(pfx("0.0.0.0/0")));
  CHECK(find(t, "0.0.0.1") == std::nullopt);
  CHECK(find(t, "0.0.0.0") == c);
  CHECK(t.check());
}

TEST_CASE("prefix_table: every length of one address nests (33 v4, 129 v6)") {
  for (Family fam : {Family::V4, Family::V6}) {
    CAPTURE(static_cast<int>(fam));
    const unsigned bits = Prefix::max_len(fam);
    const size_t n = fam == Family::V4 ? 4 : 16;
    std::array<uint8_t, 16> ones{};
    std::fill(ones.begin(), ones.begin() + static_cast<long>(n), uint8_t{0xff});
    PrefixTable<uint32_t> t;
    std::vector<unsigned> order(bits + 1);
    for (unsigned i = 0; i <= bits; ++i) order[i] = i;
    std::mt19937 rng(42);
    std::shuffle(order.begin(), order.end(), rng);
    for (unsigned len : order) t.insert(Prefix::make(fam, ones.data(), static_cast<uint8_t>(len)), len);
    REQUIRE(t.size() == bits + 1);
    REQUIRE(t.check());
    // An address that first differs from all-ones at bit k matches lengths 0..k.
    auto probe = [&](unsigned k) {
      std::array<uint8_t, 16> x = ones;
      if (k < bits) x[k / 8] ^= static_cast<uint8_t>(0x80 >> (k % 8));
      return t.lookup(fam, x.data());
    };
    for (unsigned k = 0; k <= bits; ++k) {
      CAPTURE(k);
      REQUIRE(probe(k));
      CHECK(*probe(k) == k);
    }
    // Remove in another random order; lookups fall back to the next shorter length left.
    std::shuffle(order.begin(), order.end(), rng);
    std::vector<bool> present(bits + 1, true);
    for (unsigned len : order) {
      CHECK(t.remove(Prefix::make(fam, ones.data(), static_cast<uint8_t>(len))));
      present[len] = false;
      REQUIRE(t.check());
      for (unsigned k = 0; k <= bits; k += 7) {
        std::optional<unsigned> want;
        for (unsigned l = 0; l <= k; ++l)
          if (present[l]) want = l;
        const uint32_t* got = probe(k);
        CHECK((got ? std::optional<unsigned>(*got) : std::nullopt) == want);
      }
    }
    CHECK(t.size() == 0);
  }
}

TEST_CASE("prefix_table: remove, remove_if and remove_value") {
  PrefixTable<uint32_t> t = selftest_table();
  CHECK_FALSE(t.remove(pfx("192.168.4.0/25")));  // not an exact prefix of the table
  CHECK_FALSE(t.remove_if(pfx("192.168.4.0/24"), b));
  CHECK(find(t, "192.168.4.20") == a);
  CHECK(t.remove_if(pfx("192.168.4.77/24"), a));  // host bits ignored
  CHECK(find(t, "192.168.4.20") == c);
  CHECK_FALSE(t.remove(pfx("192.168.4.0/24")));

  // c owns 0.0.0.0/0, 192.168.0.0/16, 10.1.0.8/29 and two v6 prefixes.
  CHECK(t.remove_value(c) == 5);
  CHECK(t.remove_value(c) == 0);
  CHECK(find(t, "192.168.200.182") == std::nullopt);
  CHECK(find(t, "192.168.4.4") == b);
  CHECK(find(t, "10.1.0.12") == std::nullopt);
  CHECK(find(t, "2607:5300:6000:6b00::c02e:1ee") == f);
  CHECK(find(t, "2404:6800:4004:800:1010:1010:1010:1010") == h);
  CHECK(find(t, "2607:5300:6000:6b00::c05f:543") == d);
  CHECK(t.size() == 14);
  CHECK(t.check());

  size_t seen = 0;
  t.for_each([&](const Prefix&, const uint32_t& v) {
    CHECK(v != c);
    ++seen;
  });
  CHECK(seen == 14);
  t.clear();
  CHECK(t.size() == 0);
  CHECK(find(t, "10.0.0.5") == std::nullopt);
  t.insert(pfx("10.0.0.0/8"), a);  // usable after clear
  CHECK(find(t, "10.0.0.5") == a);
}

TEST_CASE("prefix_table: for_each order and for_each_of insertion order") {
  PrefixTable<uint32_t> t;
  t.insert(pfx("fe80::/10"), a);
  t.insert(pfx("10.0.0.0/16"), a);
  t.insert(pfx("10.0.0.0/8"), b);
  t.insert(pfx("192.168.1.0/24"), a);
  t.insert(pfx("::/0"), b);
  t.insert(pfx("0.0.0.0/0"), a);
  t.insert(pfx("10.0.0.0/16"), a);  // same owner again: moves to the end of a's list
  std::vector<std::string> all;
  t.for_each([&](const Prefix& p, const uint32_t& v) { all.push_back(to_string(p) + "=" + std::to_string(v)); });
  CHECK(all == std::vector<std::string>{"0.0.0.0/0=1", "10.0.0.0/8=2", "10.0.0.0/16=1", "192.168.1.0/24=1",
                                        "::/0=2", "fe80::/10=1"});
  std::vector<std::string> of_a;
  t.for_each_of(a, [&](const Prefix& p) { of_a.push_back(to_string(p)); });
  CHECK(of_a == std::vector<std::string>{"192.168.1.0/24", "0.0.0.0/0", "10.0.0.0/16", "fe80::/10"});
}

// --- differential test against a naive model ---

namespace {

struct Model {
  std::vector<std::pair<Prefix, uint32_t>> entries;  // in (re)insertion order

  std::optional<uint32_t> insert(const Prefix& p, uint32_t v) {
    std::optional<uint32_t> old;
    auto it = std::find_if(entries.begin(), entries.end(), [&](auto& e) { return e.first == p; });
    if (it != entries.end()) {
      old = it->second;
      entries.erase(it);
    }
    entries.emplace_back(p, v);
    return old;
  }
  bool remove(const Prefix& p, const uint32_t* only) {
    auto it = std::find_if(entries.begin(), entries.end(), [&](auto& e) { return e.first == p; });
    if (it == entries.end() || (only && it->second != *only)) return false;
    entries.erase(it);
    return true;
  }
  size_t remove_value(uint32_t v) {
    const size_t before = entries.size();
    std::erase_if(entries, [&](auto& e) { return e.second == v; });
    return before - entries.size();
  }
  std::optional<uint32_t> lookup(const Addr& x) const {
    int best_len = -1;
    std::optional<uint32_t> best;
    for (const auto& [p, v] : entries)
      if (p.contains(x.family, x.bytes.data()) && p.len > best_len) {
        best_len = p.len;
        best = v;
      }
    return best;
  }
};

struct Gen {
  std::mt19937_64 rng;
  explicit Gen(uint64_t seed) : rng(seed) {}

  unsigned below(unsigned n) { return static_cast<unsigned>(rng() % n); }
  // Bytes from a small alphabet so prefixes share long common runs and overlap often.
  uint8_t byte() {
    static constexpr uint8_t kAlphabet[] = {0x00, 0x00, 0x0a, 0x80, 0xff, 0xc0, 0x01};
    return below(5) == 0 ? static_cast<uint8_t>(rng()) : kAlphabet[below(sizeof(kAlphabet))];
  }
  Addr address() {
    Addr x;
    x.family = below(2) ? Family::V4 : Family::V6;
    for (auto& byte_ref : x.bytes) byte_ref = 0;
    const size_t n = x.family == Family::V4 ? 4 : 16;
    for (size_t i = 0; i < n; ++i) x.bytes[i] = byte();
    return x;
  }
  uint8_t length(Family fam) {
    const unsigned max = Prefix::max_len(fam);
    switch (below(4)) {
      case 0: return static_cast<uint8_t>(max);
      case 1: return static_cast<uint8_t>(below(max + 1));
      default: return static_cast<uint8_t>(std::min<unsigned>(max, below(max / 4 + 1) + (below(2) ? max / 2 : 0)));
    }
  }
  Prefix random_prefix() {
    const Addr x = address();
    return Prefix::make(x.family, x.bytes.data(), length(x.family));
  }
  // A neighbour of an existing prefix: other length, a flipped bit, or both.
  Prefix mutate(const Prefix& p) {
    const int max = Prefix::max_len(p.family);
    std::array<uint8_t, 16> x = p.addr;
    int len = p.len;
    if (below(2)) len = std::clamp(len + static_cast<int>(below(7)) - 3, 0, max);
    if (below(2)) {
      const unsigned bit = below(static_cast<unsigned>(max));
      x[bit / 8] ^= static_cast<uint8_t>(0x80 >> (bit % 8));
    }
    return Prefix::make(p.family, x.data(), static_cast<uint8_t>(len));
  }
  // An address inside p with random host bits, or just outside it (bit len flipped).
  Addr near(const Prefix& p) {
    Addr x{p.family, p.addr};
    const unsigned max = Prefix::max_len(p.family);
    for (unsigned bit = p.len; bit < max; ++bit)
      if (below(2)) x.bytes[bit / 8] |= static_cast<uint8_t>(0x80 >> (bit % 8));
    if (below(3) == 0 && p.len > 0) {
      const unsigned bit = p.len - 1;  // last bit of the prefix: falls out of it
      x.bytes[bit / 8] ^= static_cast<uint8_t>(0x80 >> (bit % 8));
    }
    return x;
  }
};

bool prefix_less(const Prefix& x, const Prefix& y) {
  return std::tie(x.family, x.addr, x.len) < std::tie(y.family, y.addr, y.len);
}

void compare_contents(const PrefixTable<uint32_t>& t, const Model& m) {
  std::vector<std::pair<Prefix, uint32_t>> got;
  t.for_each([&](const Prefix& p, const uint32_t& v) { got.emplace_back(p, v); });
  auto want = m.entries;
  std::sort(want.begin(), want.end(), [](auto& x, auto& y) { return prefix_less(x.first, y.first); });
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    CAPTURE(i);
    CHECK(to_string(got[i].first) == to_string(want[i].first));
    CHECK(got[i].second == want[i].second);
  }
  for (uint32_t v = 0; v < 8; ++v) {
    std::vector<std::string> of, model_of;
    t.for_each_of(v, [&](const Prefix& p) { of.push_back(to_string(p)); });
    for (Family fam : {Family::V4, Family::V6})
      for (const auto& [p, owner] : m.entries)
        if (owner == v && p.family == fam) model_of.push_back(to_string(p));
    CHECK(of == model_of);
  }
}

}  // namespace

TEST_CASE("prefix_table: differential test against a naive model") {
  for (uint64_t seed = 1; seed <= 24; ++seed) {
    CAPTURE(seed);
    Gen gen(seed);
    PrefixTable<uint32_t> t;
    Model m;
    for (int step = 0; step < 2500; ++step) {
      CAPTURE(step);
      const unsigned op = gen.below(100);
      auto existing = [&]() -> Prefix { return m.entries[gen.below(static_cast<unsigned>(m.entries.size()))].first; };
      if (op < 45) {
        const Prefix p = (m.entries.empty() || gen.below(2)) ? gen.random_prefix() : gen.mutate(existing());
        const uint32_t v = gen.below(8);
        const auto got = t.insert(p, v);
        const auto want = m.insert(p, v);
        REQUIRE(got == want);
      } else if (op < 60) {
        const Prefix p = (m.entries.empty() || gen.below(4) == 0) ? gen.random_prefix() : existing();
        REQUIRE(t.remove(p) == m.remove(p, nullptr));
      } else if (op < 72) {
        const Prefix p = (m.entries.empty() || gen.below(4) == 0) ? gen.random_prefix() : existing();
        const uint32_t v = gen.below(8);
        REQUIRE(t.remove_if(p, v) == m.remove(p, &v));
      } else if (op < 74) {
        const uint32_t v = gen.below(8);
        REQUIRE(t.remove_value(v) == m.remove_value(v));
      } else {
        for (int k = 0; k < 8; ++k) {
          const Addr x = (m.entries.empty() || gen.below(3) == 0) ? gen.address() : gen.near(existing());
          const uint32_t* got = t.lookup(x.family, x.bytes.data());
          const auto want = m.lookup(x);
          CAPTURE(to_string(Prefix::make(x.family, x.bytes.data(), static_cast<uint8_t>(Prefix::max_len(x.family)))));
          REQUIRE((got ? std::optional<uint32_t>(*got) : std::nullopt) == want);
        }
      }
      REQUIRE(t.size() == m.entries.size());
      if (step % 250 == 0) {
        REQUIRE(t.check());
        compare_contents(t, m);
      }
    }
    REQUIRE(t.check());
    compare_contents(t, m);
  }
}

TEST_CASE("prefix_table: small families are scanned, across the threshold both ways, and copies answer from their own") {
  using T = PrefixTable<uint32_t>;
  T t;
  CHECK(t.scanned(Family::V6));
  CHECK_FALSE(find(t, "2001:db8::1"));
  // kScanMax /64s under one /48 and the default route, one more to cross over.
  t.insert(*parse_prefix("::/0"), a);
  t.insert(*parse_prefix("2001:db8:5::/48"), b);
  for (uint32_t i = 0; i + 3 < T::kScanMax; ++i)
    t.insert(*parse_prefix("2001:db8:5:" + std::to_string(i) + "::/64"), 100 + i);
  CHECK(t.scanned(Family::V6));
  CHECK(find(t, "2001:db8:5:3::7") == 103u);
  CHECK(find(t, "2001:db8:5:ff::7") == b);
  CHECK(find(t, "2001:db8:6::1") == a);
  t.insert(*parse_prefix("2001:db8:5:3::7/128"), c);
  CHECK(t.scanned(Family::V6));  // exactly kScanMax
  t.insert(*parse_prefix("2001:db8:5:3::8/127"), d);
  CHECK_FALSE(t.scanned(Family::V6));
  CHECK(t.scanned(Family::V4));  // each family on its own
  CHECK(find(t, "2001:db8:5:3::7") == c);
  CHECK(find(t, "2001:db8:5:3::9") == d);
  REQUIRE(t.check());
  // Back under: the scan is rebuilt with the values as they are now.
  REQUIRE(t.remove(*parse_prefix("2001:db8:5:3::7/128")));
  CHECK(t.scanned(Family::V6));
  CHECK(find(t, "2001:db8:5:3::7") == 103u);
  CHECK(find(t, "2001:db8:5:3::9") == d);
  // The scan holds pointers into the table's values: a copy must use its own, so changing or
  // dropping the original leaves the copy's answers intact.
  auto copy = std::make_unique<T>(t);
  CHECK(copy->scanned(Family::V6));
  t.insert(*parse_prefix("2001:db8:5:3::/64"), e);  // replaces 103 in the original only
  CHECK(t.remove_value(d) == 1);
  t.clear();
  CHECK(find(*copy, "2001:db8:5:3::6") == 103u);
  CHECK(find(*copy, "2001:db8:5:3::9") == d);
  T moved = std::move(*copy);
  copy.reset();
  CHECK(find(moved, "2001:db8:5:3::9") == d);
  CHECK(find(moved, "2001:db8:7::1") == a);
  CHECK(find(moved, "192.0.2.1") == std::nullopt);
  CHECK(moved.check());
}

}  // namespace wg::core
