// crypto/blake2s.cpp — libb2 wrappers plus HMAC-BLAKE2s and the WireGuard KDF.
#include "crypto/blake2s.hpp"

#include <cassert>
#include <cstring>

#include "crypto/secure.hpp"

namespace wg::crypto {

Blake2s::Blake2s(size_t outlen, std::span<const uint8_t> key) : outlen_(outlen) {
  assert(outlen >= 1 && outlen <= kBlake2sOutLen && "BLAKE2s digest length is 1..32");
  assert(key.size() <= BLAKE2S_KEYBYTES && "BLAKE2s key is at most 32 bytes");
  [[maybe_unused]] int rc = key.empty() ? blake2s_init(&state_, outlen)
                                        : blake2s_init_key(&state_, outlen, key.data(), key.size());
  assert(rc == 0);
}

Blake2s::~Blake2s() { wipe(&state_, sizeof(state_)); }

Blake2s& Blake2s::update(std::span<const uint8_t> in) {
  if (!in.empty()) blake2s_update(&state_, in.data(), in.size());
  return *this;
}

void Blake2s::final(std::span<uint8_t> out) {
  assert(out.size() >= outlen_);
  blake2s_final(&state_, out.data(), outlen_);
}

void blake2s(std::span<uint8_t> out, std::span<const uint8_t> in, std::span<const uint8_t> key) {
  Blake2s h(out.size(), key);
  h.update(in).final(out);
}

namespace {

// HMAC with the message given in two parts, which is all the KDF needs.
void hmac2(uint8_t out[32], std::span<const uint8_t> key, std::span<const uint8_t> a,
           std::span<const uint8_t> b) {
  Secret<kBlake2sBlockLen> k;  // zero-padded key
  if (key.size() > kBlake2sBlockLen) {
    blake2s(std::span(k.bytes).first(kBlake2sOutLen), key);
  } else if (!key.empty()) {
    std::memcpy(k.data(), key.data(), key.size());
  }
  Secret<kBlake2sBlockLen> pad;
  for (size_t i = 0; i < kBlake2sBlockLen; ++i) pad.bytes[i] = k.bytes[i] ^ 0x36;
  Secret<kBlake2sOutLen> inner;
  Blake2s(kBlake2sOutLen).update(pad.bytes).update(a).update(b).final(inner.bytes);
  for (size_t i = 0; i < kBlake2sBlockLen; ++i) pad.bytes[i] = k.bytes[i] ^ 0x5c;
  Blake2s(kBlake2sOutLen).update(pad.bytes).update(inner.bytes).final(std::span(out, kBlake2sOutLen));
}

}  // namespace

void hmac_blake2s(uint8_t out[32], std::span<const uint8_t> key, std::span<const uint8_t> in) {
  hmac2(out, key, in, {});
}

void kdf(const uint8_t ck[32], std::span<const uint8_t> input, uint8_t t1[32], uint8_t t2[32], uint8_t t3[32]) {
  Secret<32> prk, out1, out2;
  hmac2(prk.data(), std::span(ck, 32), input, {});
  const uint8_t one = 1, two = 2, three = 3;
  hmac2(out1.data(), prk.bytes, std::span(&one, 1), {});
  if (t2 || t3) hmac2(out2.data(), prk.bytes, out1.bytes, std::span(&two, 1));
  if (t3) hmac2(t3, prk.bytes, out2.bytes, std::span(&three, 1));
  if (t2) std::memcpy(t2, out2.data(), 32);
  std::memcpy(t1, out1.data(), 32);
}

}  // namespace wg::crypto
