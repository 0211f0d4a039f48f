// tests/test_main.cpp — doctest entry point for the whole suite. WGROUTER_AEAD picks the AEAD
// backend every test runs with (tools/test.sh runs the suite once per backend's worth of
// tests); unset, the one wgrouter would pick on this CPU.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <string>

#include "crypto/aead.hpp"

int main(int argc, char** argv) {
  if (std::string error; !wg::crypto::select_aead_backend_from_env(error)) {
    std::fprintf(stderr, "wgrouter_tests: WGROUTER_AEAD: %s\n", error.c_str());
    return 2;
  }
  return doctest::Context(argc, argv).run();
}
