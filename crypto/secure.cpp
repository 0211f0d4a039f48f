// crypto/secure.cpp — libsodium-backed wipe and constant-time comparisons.
#include "crypto/secure.hpp"

#include <sodium.h>

#include <cstdlib>
#include <cstdio>

namespace wg::crypto {

void init() {
  static const int rc = sodium_init();  // 0 first time, 1 if already done, -1 on failure
  if (rc < 0) {
    std::fputs("wgrouter: libsodium failed to initialise\n", stderr);
    std::abort();
  }
}

namespace {
// Run init() before main so no caller has to remember it.
[[maybe_unused]] const bool kInitialised = (init(), true);
}  // namespace

void wipe(void* p, size_t n) { sodium_memzero(p, n); }

bool equal_ct(const void* a, const void* b, size_t n) { return sodium_memcmp(a, b, n) == 0; }

bool is_zero_ct(const void* p, size_t n) { return sodium_is_zero(static_cast<const unsigned char*>(p), n) == 1; }

}  // namespace wg::crypto
