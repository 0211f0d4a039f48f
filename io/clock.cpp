// io/clock.cpp — clock_gettime and libsodium's CSPRNG.
#include "io/clock.hpp"

#include <time.h>

#include "crypto/random.hpp"

namespace wg::io {

namespace {
core::Duration read(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}
}  // namespace

core::Instant monotonic_now() { return core::Instant{read(CLOCK_BOOTTIME)}; }
core::WallTime wall_now() { return core::WallTime{read(CLOCK_REALTIME)}; }

void SystemRng::fill(std::span<uint8_t> out) { crypto::random_bytes(out); }

}  // namespace wg::io
