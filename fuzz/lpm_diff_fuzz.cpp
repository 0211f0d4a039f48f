// fuzz/lpm_diff_fuzz.cpp — PrefixTable (the multibit trie) against the binary radix trie it
// replaced: the input is decoded into a sequence of insert / remove / remove_if / remove_value /
// lookup / check operations (format in tests/core/lpm_diff.hpp) applied to both, and any
// difference in an answer, in the contents or in check() traps. The whole contents are compared
// once more at the end of every input.
#include <cstdio>

#include "core/lpm_diff.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace wg::testing::lpm;
  constexpr uint32_t kOwners = 16;
  Pair pair;
  Op op;
  const uint8_t* in = data;
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
