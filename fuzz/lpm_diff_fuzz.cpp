// fuzz/lpm_diff_fuzz.cpp — PrefixTable (the multibit trie) against the binary radix trie it
// replaced: the input is decoded into a sequence of insert / remove / remove_if / remove_value /
// lookup / check operations (format in tests/core/lpm_diff.hpp) applied to both, and any
// difference in an answer (lookup and lookup_batch), in the contents or in check() traps. The
// whole contents are compared once more at the end of every input. The first byte sets the
// table size from which the direct-pointing array is built (1..32 prefixes; the larger array
// at 64 times that), so that short inputs build, resize and drop it.
//
// The table here has 8- and 14-bit arrays (256 and 16 384 entries) for both families instead
// of the data path's 13/19 (IPv4) and 13 (IPv6): check() recomputes every entry, and an
// update of a short prefix rewrites most of them, so a 2^19-entry array made inputs take tens
// of milliseconds (180 inputs/s). The code is the same template at other sizes, and these
// arrays end inside a level (13 and 19 virtual bits), which the data path's never do; the
// data path's own sizes are crossed both ways by tests/core/prefix_table_diff_test.cpp.
#include <cstdio>

#include "core/lpm_diff.hpp"

namespace {
using namespace wg;
using SmallArrays = core::PrefixTable<uint32_t, std::hash<uint32_t>, core::prefix_trie::Layout<4, 5, 14>,
                                      core::prefix_trie::Layout<16, 5, 14>>;
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
  while (diff.empty() && decode(in, end, op)) diff = apply(pair, op, kOwners);
  if (diff.empty()) diff = apply(pair, Op{Op::Kind::Check, {}, 0}, kOwners);
  if (!diff.empty()) {
    std::fprintf(stderr, "lpm_diff: %s\n", diff.c_str());
    std::fflush(stderr);
    __builtin_trap();
  }
  return 0;
}
