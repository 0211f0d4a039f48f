// tests/core/lpm_diff.hpp — one operation sequence applied to PrefixTable (the multibit trie)
// and to the reference BinaryPrefixTable (the binary radix trie it replaced), with every answer
// compared: the differential unit test draws the operations from a seeded RNG, lpm_diff_fuzz
// decodes them from its input. A lookup is also made in batches (lookup_batch), together with
// addresses that differ from it at bits spread over its length, each compared with the model. A difference is returned as text, so each caller reports it its
// own way (doctest FAIL, fuzzer trap).
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/binary_prefix_table.hpp"
#include "core/prefix_table.hpp"

namespace wg::testing::lpm {

using core::Family;
using core::Prefix;

struct Op {
  enum class Kind : uint8_t { Insert, Remove, RemoveIf, RemoveValue, Lookup, Check };
  Kind kind = Kind::Lookup;
  Prefix prefix;       // Lookup: the address is prefix.addr, prefix.family
  uint32_t value = 0;  // Insert, RemoveIf, RemoveValue
};

// The production table by default; fuzz/lpm_diff passes one with other layouts.
template <class Table = core::PrefixTable<uint32_t>>
struct PairOf {
  using TableType = Table;
  Table table;
  core::reference::BinaryPrefixTable<uint32_t> model;
};
using Pair = PairOf<>;

inline std::string show(const uint32_t* v) { return v ? std::to_string(*v) : "none"; }
inline std::string show(const std::optional<uint32_t>& v) { return v ? std::to_string(*v) : "none"; }

// The whole contents: for_each in order, and for_each_of for owners 0..owners-1.
template <class P>
std::string compare_contents(const P& p, uint32_t owners) {
  std::vector<std::pair<Prefix, uint32_t>> got, want;
  p.table.for_each([&](const Prefix& x, const uint32_t& v) { got.emplace_back(x, v); });
  p.model.for_each([&](const Prefix& x, const uint32_t& v) { want.emplace_back(x, v); });
  if (got.size() != want.size())
    return "for_each: " + std::to_string(got.size()) + " prefixes, want " + std::to_string(want.size());
  for (size_t i = 0; i < got.size(); ++i)
    if (!(got[i] == want[i]))
      return "for_each[" + std::to_string(i) + "]: " + core::to_string(got[i].first) + "=" +
             std::to_string(got[i].second) + ", want " + core::to_string(want[i].first) + "=" +
             std::to_string(want[i].second);
  for (uint32_t v = 0; v < owners; ++v) {
    std::vector<Prefix> of, model_of;
    p.table.for_each_of(v, [&](const Prefix& x) { of.push_back(x); });
    p.model.for_each_of(v, [&](const Prefix& x) { model_of.push_back(x); });
    if (of != model_of) return "for_each_of(" + std::to_string(v) + ") differs";
  }
  if (p.table.size() != p.model.size()) return "size differs";
  return {};
}

// The address, then kBatch - 1 copies of it with one bit flipped, the bits spread from the first
// to the last: more addresses than lanes, so lanes take new lookups while others still walk.
template <class P>
std::string compare_batch(const P& p, const Prefix& address) {
  constexpr size_t kBatch = P::TableType::kBatchLanes + 9;
  const unsigned bits = Prefix::max_len(address.family);
  std::array<std::array<uint8_t, 16>, kBatch> addrs;
  std::array<const uint8_t*, kBatch> in;
  for (size_t i = 0; i < kBatch; ++i) {
    addrs[i] = address.addr;
    if (i > 0) {
      const size_t bit = (i - 1) * bits / (kBatch - 1);
      addrs[i][bit / 8] ^= static_cast<uint8_t>(0x80 >> (bit % 8));
    }
    in[i] = addrs[i].data();
  }
  // The default lanes (with the popcnt instruction where the CPU has it), and 3 lanes with the
  // inline count.
  std::array<const uint32_t*, kBatch> wide{}, narrow{};
  p.table.lookup_batch(address.family, in, wide);
  p.table.template lookup_batch<3, false>(address.family, in, narrow);
  for (size_t i = 0; i < kBatch; ++i) {
    const uint32_t* want = p.model.lookup(address.family, in[i]);
    for (const uint32_t* got : {wide[i], narrow[i]})
      if ((got == nullptr) != (want == nullptr) || (got && *got != *want)) {
        Prefix a = address;
        a.addr = addrs[i];
        return "lookup_batch " + core::to_string(a) + ": " + show(got) + ", want " + show(want);
      }
  }
  return {};
}

// Applies op to both tables; "" when they agree.
template <class P>
std::string apply(P& p, const Op& op, uint32_t owners) {
  const std::string what = core::to_string(op.prefix);
  switch (op.kind) {
    case Op::Kind::Insert: {
      const auto got = p.table.insert(op.prefix, op.value);
      const auto want = p.model.insert(op.prefix, op.value);
      if (got != want) return "insert " + what + ": previous " + show(got) + ", want " + show(want);
      break;
    }
    case Op::Kind::Remove:
      if (p.table.remove(op.prefix) != p.model.remove(op.prefix)) return "remove " + what;
      break;
    case Op::Kind::RemoveIf:
      if (p.table.remove_if(op.prefix, op.value) != p.model.remove_if(op.prefix, op.value))
        return "remove_if " + what + " " + std::to_string(op.value);
      break;
    case Op::Kind::RemoveValue: {
      const size_t got = p.table.remove_value(op.value), want = p.model.remove_value(op.value);
      if (got != want) return "remove_value: " + std::to_string(got) + ", want " + std::to_string(want);
      break;
    }
    case Op::Kind::Lookup: {
      const uint32_t* got = p.table.lookup(op.prefix.family, op.prefix.addr.data());
      const uint32_t* want = p.model.lookup(op.prefix.family, op.prefix.addr.data());
      if ((got == nullptr) != (want == nullptr) || (got && *got != *want))
        return "lookup " + what + ": " + show(got) + ", want " + show(want);
      // Small tables are answered by the scan: the trie must agree on them too.
      const uint32_t* walked = p.table.lookup_walk(op.prefix.family, op.prefix.addr.data());
      if ((walked == nullptr) != (want == nullptr) || (walked && *walked != *want))
        return "lookup_walk " + what + ": " + show(walked) + ", want " + show(want);
      return compare_batch(p, op.prefix);
    }
    case Op::Kind::Check:
      if (!p.table.check()) return "check() failed";
      if (std::string diff = compare_contents(p, owners); !diff.empty()) return diff;
      break;
  }
  if (p.table.size() != p.model.size()) return "size after " + what;
  return {};
}

// The fuzz input format: per operation a kind byte (low 3 bits; the rest is the value, mod 16),
// a byte whose top bit picks the family and the rest the length (clamped to the family's), then
// 4 or 16 address bytes. A short tail ends the sequence.
inline bool decode(const uint8_t*& in, const uint8_t* end, Op& op) {
  if (end - in < 2) return false;
  const uint8_t kind = in[0], shape = in[1];
  const Family f = shape & 0x80 ? Family::V6 : Family::V4;
  const size_t n = f == Family::V4 ? 4 : 16;
  if (static_cast<size_t>(end - in) < 2 + n) return false;
  std::array<uint8_t, 16> addr{};
  for (size_t i = 0; i < n; ++i) addr[i] = in[2 + i];
  in += 2 + n;
  static constexpr Op::Kind kKinds[8] = {Op::Kind::Insert, Op::Kind::Insert,   Op::Kind::Remove, Op::Kind::RemoveIf,
                                         Op::Kind::Lookup, Op::Kind::Lookup,   Op::Kind::RemoveValue,
                                         Op::Kind::Check};
  op.kind = kKinds[kind & 7];
  op.value = (kind >> 3) % 16;
  const auto len = static_cast<uint8_t>(std::min<unsigned>(shape & 0x7f, Prefix::max_len(f)));
  if (op.kind == Op::Kind::Lookup) {
    op.prefix = Prefix{};
    op.prefix.family = f;
    op.prefix.addr = addr;
    op.prefix.len = Prefix::max_len(f);
  } else {
    op.prefix = Prefix::make(f, addr.data(), len);
  }
  return true;
}

}  // namespace wg::testing::lpm
