// fuzz/lpm_diff_fuzz.cpp — PrefixTable (the multibit trie) against the binary radix trie it
// replaced: the input is decoded into a sequence of insert / remove / remove_if / remove_value /
// lookup / check operations (format in tests/core/lpm_diff.hpp) applied to both, and any
// difference in an answer (lookup and lookup_batch), in the contents or in check() traps. The
// whole contents are compared once more at the end of every input. The first byte sets the
// table size from which the direct-pointing array is built (1..32 prefixes; IPv4 gets its large
// one at 64 times that), so that short inputs build, resize and drop it.
#include <cstdio>

#include "core/lpm_diff.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace wg::testing::lpm;
  constexpr uint32_t kOwners = 16;
  if (size == 0) return 0;
  Pair pair;
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
