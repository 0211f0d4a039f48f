// core/cookie.cpp — MAC1/MAC2, cookie secret rotation and XChaCha20-Poly1305 cookie replies.
#include "core/cookie.hpp"

#include <algorithm>
#include <cstring>

#include "crypto/aead.hpp"
#include "crypto/blake2s.hpp"

namespace wg::core {

namespace {

void mac(uint8_t out[kMacLen], std::span<const uint8_t> key, std::span<const uint8_t> data) {
  crypto::blake2s(std::span(out, kMacLen), data, key);
}

}  // namespace

void derive_label_key(uint8_t out[32], std::string_view label, const PublicKey& pub) {
  crypto::Blake2s(32)
      .update(std::span(reinterpret_cast<const uint8_t*>(label.data()), label.size()))
      .update(pub.bytes)
      .final(std::span(out, 32));
}

void CookieChecker::set_public_key(const PublicKey& ours) {
  derive_label_key(mac1_key_.data(), kLabelMac1, ours);
  derive_label_key(cookie_key_.data(), kLabelCookie, ours);
}

void CookieChecker::clear() {
  mac1_key_.clear();
  cookie_key_.clear();
}

bool CookieChecker::check_mac1(std::span<const uint8_t> msg) const {
  const size_t off = msg.size() - 2 * kMacLen;
  uint8_t computed[kMacLen];
  mac(computed, mac1_key_.bytes, msg.first(off));
  return crypto::equal_ct(computed, msg.data() + off, kMacLen);
}

void CookieChecker::make_cookie(const Env& env, const Endpoint& from, uint8_t cookie[kCookieLen]) {
  // A fresh secret every two minutes; a cookie is only good as long as its secret.
  if (!secret_birth_ || env.now - *secret_birth_ >= kCookieSecretMaxAge) {
    env.rng.fill(secret_.bytes);
    secret_birth_ = env.now;
  }
  // Source address then port in network order, as the kernel does; the layout is ours to pick.
  uint8_t input[18];
  const size_t alen = from.addr_len();
  std::memcpy(input, from.addr.data(), alen);
  input[alen] = static_cast<uint8_t>(from.port >> 8);
  input[alen + 1] = static_cast<uint8_t>(from.port);
  mac(cookie, secret_.bytes, std::span<const uint8_t>(input, alen + 2));
}

bool CookieChecker::check_mac2(const Env& env, std::span<const uint8_t> msg, const Endpoint& from) {
  // A sender without a cookie sends mac2 as zeros (a real MAC is zero with odds of 2^-128):
  // under a flood of those, two BLAKE2s per packet are saved. mac2 is not secret.
  const uint8_t* mac2 = msg.data() + msg.size() - kMacLen;
  if (std::all_of(mac2, mac2 + kMacLen, [](uint8_t b) { return b == 0; })) return false;
  crypto::Secret<kCookieLen> cookie;
  make_cookie(env, from, cookie.data());
  const size_t off = msg.size() - kMacLen;
  uint8_t computed[kMacLen];
  mac(computed, cookie.bytes, msg.first(off));
  return crypto::equal_ct(computed, msg.data() + off, kMacLen);
}

void CookieChecker::create_reply(const Env& env, std::span<const uint8_t> msg, const Endpoint& from,
                                 uint8_t out[cookie_reply::kLen]) {
  crypto::Secret<kCookieLen> cookie;
  make_cookie(env, from, cookie.data());
  store_le32(out, header_of(MessageType::CookieReply));
  // The answered message's sender index sits at offset 4 in both initiation and response.
  std::memcpy(out + cookie_reply::kReceiver, msg.data() + 4, 4);
  env.rng.fill(std::span(out + cookie_reply::kNonce, kCookieNonceLen));
  const uint8_t* mac1 = msg.data() + msg.size() - 2 * kMacLen;
  [[maybe_unused]] bool ok = crypto::xchacha20poly1305_seal(out + cookie_reply::kCookie, cookie.data(), kCookieLen,
                                                            mac1, kMacLen, out + cookie_reply::kNonce,
                                                            cookie_key_.data());
}

void CookieMaker::set_peer_key(const PublicKey& theirs) {
  derive_label_key(mac1_key_.data(), kLabelMac1, theirs);
  derive_label_key(cookie_key_.data(), kLabelCookie, theirs);
  cookie_birth_.reset();
  have_sent_mac1_ = false;
}

bool CookieMaker::has_cookie(Instant now) const {
  return cookie_birth_ && now - *cookie_birth_ < kCookieSecretMaxAge - kCookieSecretLatency;
}

void CookieMaker::add_macs(const Env& env, std::span<uint8_t> msg) {
  const size_t mac1_off = msg.size() - 2 * kMacLen;
  const size_t mac2_off = msg.size() - kMacLen;
  mac(msg.data() + mac1_off, mac1_key_.bytes, msg.first(mac1_off));
  std::memcpy(last_mac1_.data(), msg.data() + mac1_off, kMacLen);
  have_sent_mac1_ = true;
  if (has_cookie(env.now))
    mac(msg.data() + mac2_off, cookie_.bytes, msg.first(mac2_off));
  else
    std::memset(msg.data() + mac2_off, 0, kMacLen);
}

Drop CookieMaker::consume_reply(const Env& env, std::span<const uint8_t> reply) {
  if (!have_sent_mac1_) return Drop::CookieUnexpected;
  crypto::Secret<kCookieLen> cookie;
  if (!crypto::xchacha20poly1305_open(cookie.data(), reply.data() + cookie_reply::kCookie, kCookieLen + kTagLen,
                                      last_mac1_.data(), kMacLen, reply.data() + cookie_reply::kNonce,
                                      cookie_key_.data()))
    return Drop::CookieDecrypt;
  cookie_ = cookie;
  cookie_birth_ = env.now;
  have_sent_mac1_ = false;
  return Drop::None;
}

}  // namespace wg::core
