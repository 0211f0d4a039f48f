// core/cookie.hpp — MAC1/MAC2 and cookie replies (whitepaper §5.4.4, §5.4.7; kernel cookie.c).
// CookieChecker is the device's side (validates macs, makes cookies and replies);
// CookieMaker is one per peer (adds macs to what we send, takes the peer's cookie replies).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "core/drop.hpp"
#include "core/endpoint.hpp"
#include "core/env.hpp"
#include "core/keys.hpp"
#include "core/messages.hpp"
#include "crypto/secure.hpp"

namespace wg::core {

// HASH(label || public key): the keyed-MAC and cookie keys.
void derive_label_key(uint8_t out[32], std::string_view label, const PublicKey& pub);

class CookieChecker {
 public:
  // Re-derives the mac1 and cookie keys for our own public key.
  void set_public_key(const PublicKey& ours);
  void clear();

  // mac1 over msg[0 : len-32]; msg is a whole initiation or response.
  [[nodiscard]] bool check_mac1(std::span<const uint8_t> msg) const;
  // mac2 over msg[0 : len-16] with the cookie for `from`; may rotate the secret.
  [[nodiscard]] bool check_mac2(const Env& env, std::span<const uint8_t> msg, const Endpoint& from);
  // Writes a 64-byte cookie reply to msg (an initiation or response received from `from`).
  void create_reply(const Env& env, std::span<const uint8_t> msg, const Endpoint& from,
                    uint8_t out[cookie_reply::kLen]);

 private:
  void make_cookie(const Env& env, const Endpoint& from, uint8_t cookie[kCookieLen]);

  crypto::Secret<32> mac1_key_;
  crypto::Secret<32> cookie_key_;
  crypto::Secret<32> secret_;
  std::optional<Instant> secret_birth_;
};

class CookieMaker {
 public:
  void set_peer_key(const PublicKey& theirs);

  // Fills mac1 and mac2 of a whole initiation or response about to be sent.
  void add_macs(const Env& env, std::span<uint8_t> msg);
  // Takes a cookie reply addressed to us. Nothing changes unless it decrypts against the last
  // mac1 we sent and we have not taken a cookie since (CookieUnexpected / CookieDecrypt).
  [[nodiscard]] Drop consume_reply(const Env& env, std::span<const uint8_t> reply);

  bool has_cookie(Instant now) const;

 private:
  crypto::Secret<32> mac1_key_;
  crypto::Secret<32> cookie_key_;
  crypto::Secret<kCookieLen> cookie_;
  std::optional<Instant> cookie_birth_;
  std::array<uint8_t, kMacLen> last_mac1_{};
  bool have_sent_mac1_ = false;
};

}  // namespace wg::core
