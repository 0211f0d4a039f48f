// tests/config/uapi_hooks.hpp — the UapiHooks a test of the UAPI protocol, its server or the
// metrics built on it needs when no interface is behind it: a fake clock, a seeded RNG, an
// outbox, and sockets that accept any port and mark. Tests derive to change one of them.
#pragma once
#include <cstdint>

#include "config/uapi.hpp"
#include "core/harness.hpp"

namespace wg::testing {

struct StillUapiHooks : config::UapiHooks {
  explicit StillUapiHooks(uint64_t seed) : rng(seed) {}
  FakeClock clock;
  SeededRng rng;
  core::Outbox out;
  core::Env env() override { return core::Env{clock.now, clock.wall, rng}; }
  core::Outbox& outbox() override { return out; }
  uint16_t listen_port() const override { return 0; }
  int set_listen_port(uint16_t) override { return 0; }
  uint32_t fwmark() const override { return 0; }
  int set_fwmark(uint32_t) override { return 0; }
};

}  // namespace wg::testing
