// fuzz/lpm_diff_fuzz.cpp — PrefixTable (the multibit trie) against the binary radix trie it
// replaced: the input is decoded into a sequence of insert / remove / remove_if / remove_value /
// lookup / check operations (format in tests/core/lpm_diff.hpp) applied to both, and any
// difference in an answer (lookup and lookup_batch), in the contents or in check() traps. The
// whole contents are compared once more at the end of every input. The first byte sets the
// table size from which the direct-pointing array is built (1..32 prefixes; the larger array
// at 64 times that), so that short inputs build, resize and drop it.
//
// The table here has smaller direct-pointing arrays than the data path's: IPv4 8 and 14 bits
// (256 and 16 384 entries) instead of 13 and 19; IPv6 8 bits with second-stage blocks of 6 bits
// (64 entries) instead of 13 and 12, on a virtual offset of 4 instead of 5 (a second stage needs
// the first to end on a level). check() recomputes every entry, and an update of a short prefix
// rewrites most of them, so the data path's arrays made inputs take milliseconds (180 inputs/s
// with IPv4's 2^19 entries, 1.5 k/s with IPv6's 2^13). The code is the same template at other
// sizes; the IPv4 arrays here end inside a level, which the data path's never do. The data
// path's own layouts are crossed both ways by tests/core/prefix_table_diff_test.cpp.
#include <cstdio>

#include "core/lpm_diff.hpp"

namespace {
using namespace wg;
using SmallArrays = core::PrefixTable<uint32_t, std::hash<uint32_t>, core::prefix_trie::Layout<4, 5, 14>,
                                      core::prefix_trie::Layout<16, 4, 8, 6>>;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace wg::testing::lpm;
  constexpr uint32_t kOwners = 16;
  if (size == 0) return 0;
  PairOf<SmallArrays> pair;
  pair.table.set_direct_threshold(1 + data[0] % 32);
  Op op;
  const uint8_t* in = data + 1;
  const uint8_t* end = data + size;
  std::string diff;
  // check() recomputes every direct-pointing entry: a long input of 1 in 8 checks spent most of
  // its time there. The first kMaxChecks run; the one at the end always does.
  constexpr int kMaxChecks = 8;
  int checks = 0;
  while (diff.empty() && decode(in, end, op)) {
    if (op.kind == Op::Kind::Check && ++checks > kMaxChecks) continue;
    diff = apply(pair, op, kOwners);
  }
  if (diff.empty()) diff = apply(pair, Op{Op::Kind::Check, {}, 0}, kOwners);
  if (!diff.empty()) {
    std::fprintf(stderr, "lpm_diff: %s\n", diff.c_str());
    std::fflush(stderr);
    __builtin_trap();
  }
  return 0;
}
