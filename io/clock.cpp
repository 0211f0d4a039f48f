// io/clock.cpp — clock_gettime and libsodium's CSPRNG.
#include "io/clock.hpp"

#include <time.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "crypto/random.hpp"
#include "crypto/secure.hpp"

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

SystemRng::~SystemRng() { crypto::wipe(pool_.data(), pool_.size()); }

void SystemRng::fill(std::span<uint8_t> out) {
  if (out.size() > pool_.size()) return crypto::random_bytes(out);
  size_t done = 0;
  while (done < out.size()) {
    if (used_ == pool_.size()) {
      crypto::random_bytes(pool_);
      used_ = 0;
    }
    const size_t n = std::min(out.size() - done, pool_.size() - used_);
    std::memcpy(out.data() + done, pool_.data() + used_, n);
    crypto::wipe(pool_.data() + used_, n);
    used_ += n;
    done += n;
  }
}

}  // namespace wg::io
