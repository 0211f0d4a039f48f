// io/clock.cpp — clock_gettime and libsodium's CSPRNG.
#include "io/clock.hpp"

#include <time.h>

#include <cstdlib>

#include "crypto/random.hpp"

namespace wg::io {

namespace {
core::Duration read(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}
}  // namespace

// WGROUTER_TEST_CLOCK_SCALE=N makes protocol time run N times faster than real time (tests
// of rekeying under traffic would otherwise wait two minutes). Never set in production.
int64_t clock_scale() {
  static const int64_t scale = [] {
    const char* v = std::getenv("WGROUTER_TEST_CLOCK_SCALE");
    const long n = v ? std::strtol(v, nullptr, 10) : 1;
    return n >= 1 && n <= 1000 ? int64_t{n} : int64_t{1};
  }();
  return scale;
}

core::Instant monotonic_now() {
  static const core::Duration start = read(CLOCK_BOOTTIME);
  const core::Duration now = read(CLOCK_BOOTTIME);
  return core::Instant{start + (now - start) * clock_scale()};
}
core::WallTime wall_now() { return core::WallTime{read(CLOCK_REALTIME)}; }

void SystemRng::fill(std::span<uint8_t> out) { crypto::random_bytes(out); }

}  // namespace wg::io
