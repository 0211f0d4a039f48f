// fuzz/aead_choice.hpp — the AEAD backend a fuzz target runs with, chosen once at load.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <string>

#include "crypto/aead.hpp"

namespace wg::fuzzing {

// WGROUTER_AEAD picks the AEAD backend the targets run with, as it does for wgrouter
// (tools/test.sh runs the data-path targets once more with each backend forced); a value that
// names none stops the target before the first input.
inline const bool kAeadChosen = [] {
  std::string error;
  if (crypto::select_aead_backend_from_env(error)) return true;
  std::fprintf(stderr, "WGROUTER_AEAD: %s\n", error.c_str());
  std::abort();
}();

}  // namespace wg::fuzzing
