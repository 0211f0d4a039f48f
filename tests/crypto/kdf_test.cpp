// tests/crypto/kdf_test.cpp — WireGuard constants, initial Ci/Hi, HMAC-BLAKE2s and the KDF against wireguard-go's vectors.
#include <algorithm>
#include <array>
#include <doctest/doctest.h>

#include "core/messages.hpp"
#include "crypto/blake2s.hpp"
#include "vectors.hpp"

namespace wg::crypto {
namespace {

const nlohmann::json& kdf_vectors() {
  static const nlohmann::json j = load_vectors("wireguard_kdf_and_constants.json");
  return j;
}

Bytes hash32(std::span<const uint8_t> in) {
  Bytes out(32);
  blake2s(out, in);
  return out;
}

// RFC 2104 HMAC over BLAKE2s-256 (block 64), written out the textbook way as an independent
// reference: keys longer than the block are hashed first, then zero-padded to the block.
Bytes reference_hmac(std::span<const uint8_t> key, std::span<const uint8_t> msg) {
  Bytes k(key.begin(), key.end());
  if (k.size() > 64) k = hash32(k);
  k.resize(64, 0);
  Bytes inner_in(64), outer_in(64);
  for (size_t i = 0; i < 64; ++i) {
    inner_in[i] = k[i] ^ 0x36;
    outer_in[i] = k[i] ^ 0x5c;
  }
  inner_in.insert(inner_in.end(), msg.begin(), msg.end());
  const Bytes inner = hash32(inner_in);
  outer_in.insert(outer_in.end(), inner.begin(), inner.end());
  return hash32(outer_in);
}

Bytes hmac(std::span<const uint8_t> key, std::span<const uint8_t> msg) {
  Bytes out(32);
  hmac_blake2s(out.data(), key, msg);
  return out;
}

Bytes pattern(size_t n, uint8_t seed) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(seed + 13 * i);
  return b;
}

}  // namespace

TEST_CASE("WireGuard strings in core/messages.hpp match the vector file") {
  const auto& j = kdf_vectors();
  CHECK(wg::core::kConstruction == j.at("construction").get<std::string>());
  CHECK(wg::core::kIdentifier == j.at("identifier").get<std::string>());
  CHECK(wg::core::kLabelMac1 == j.at("labels").at("mac1").get<std::string>());
  CHECK(wg::core::kLabelCookie == j.at("labels").at("cookie").get<std::string>());
  CHECK(wg::core::kConstruction == "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s");
  CHECK(wg::core::kIdentifier == "WireGuard v1 zx2c4 Jason@zx2c4.com");
  CHECK(wg::core::kLabelMac1.size() == 8);
  CHECK(wg::core::kLabelCookie.size() == 8);
}

TEST_CASE("Initial chaining key Ci0 = HASH(construction), initial hash Hi0 = HASH(Ci0 || identifier)") {
  const auto& j = kdf_vectors();
  const Bytes ci0 = hash32(to_bytes(wg::core::kConstruction));
  CHECK(hex_encode(ci0) == j.at("initial_chaining_key").get<std::string>());
  const Bytes hi0 = hash32(concat(ci0, to_bytes(wg::core::kIdentifier)));
  CHECK(hex_encode(hi0) == j.at("initial_hash").get<std::string>());

  // The same through the incremental interface, the way a MixHash would do it.
  Bytes hi0_inc(32);
  Blake2s(32).update(ci0).update(to_bytes(wg::core::kIdentifier)).final(hi0_inc);
  CHECK(hi0_inc == hi0);
}

TEST_CASE("wireguard-go KDF vectors: reference HMAC, hmac_blake2s and kdf()") {
  int cases = 0;
  for (const auto& v : kdf_vectors().at("kdf_hmac_blake2s")) {
    const Bytes key = hex_field(v.at("key")), input = hex_field(v.at("input"));
    const std::string t0 = v.at("t0").get<std::string>(), t1 = v.at("t1").get<std::string>(),
                      t2 = v.at("t2").get<std::string>();
    INFO("key '", std::string(key.begin(), key.end()), "'");
    REQUIRE(key.size() <= 32);

    // 1. The independent reference reproduces the vector (so the vector and HMAC agree).
    const Bytes prk = reference_hmac(key, input);
    const Bytes r1 = reference_hmac(prk, Bytes{0x01});
    const Bytes r2 = reference_hmac(prk, concat(r1, Bytes{0x02}));
    const Bytes r3 = reference_hmac(prk, concat(r2, Bytes{0x03}));
    CHECK(hex_encode(r1) == t0);
    CHECK(hex_encode(r2) == t1);
    CHECK(hex_encode(r3) == t2);

    // 2. hmac_blake2s with the key at its own length.
    CHECK(hmac(key, input) == prk);
    CHECK(hmac(prk, concat(r1, Bytes{0x02})) == r2);

    // 3. kdf() takes a 32-byte chaining key. HMAC zero-pads any key up to the 64-byte block,
    // so the vector's shorter key zero-padded to 32 bytes is the same HMAC key.
    std::array<uint8_t, 32> ck{};
    std::copy(key.begin(), key.end(), ck.begin());
    std::array<uint8_t, 32> k1{}, k2{}, k3{};
    kdf(ck.data(), input, k1.data(), k2.data(), k3.data());
    CHECK(hex_encode(k1) == t0);
    CHECK(hex_encode(k2) == t1);
    CHECK(hex_encode(k3) == t2);

    // KDF1 and KDF2 give prefixes of KDF3.
    std::array<uint8_t, 32> only1{}, two1{}, two2{};
    kdf(ck.data(), input, only1.data());
    kdf(ck.data(), input, two1.data(), two2.data());
    CHECK(hex_encode(only1) == t0);
    CHECK(hex_encode(two1) == t0);
    CHECK(hex_encode(two2) == t1);

    // Outputs may alias the chaining key (ck = T1 is the common pattern).
    std::array<uint8_t, 32> chain = ck, second{};
    kdf(chain.data(), input, chain.data(), second.data());
    CHECK(hex_encode(chain) == t0);
    CHECK(hex_encode(second) == t1);
    chain = ck;
    std::array<uint8_t, 32> first{};
    kdf(chain.data(), input, first.data(), second.data(), chain.data());
    CHECK(hex_encode(first) == t0);
    CHECK(hex_encode(second) == t1);
    CHECK(hex_encode(chain) == t2);
    ++cases;
  }
  CHECK(cases == 3);
}

TEST_CASE("hmac_blake2s: keys longer than the 64-byte block are hashed first") {
  const Bytes msg = to_bytes("some message for the MAC");
  int cases = 0;
  for (size_t key_len : {size_t{65}, size_t{100}, size_t{128}, size_t{300}}) {
    INFO("key length ", key_len);
    const Bytes key = pattern(key_len, static_cast<uint8_t>(key_len));
    const Bytes got = hmac(key, msg);
    CHECK(got == reference_hmac(key, msg));
    CHECK(got == hmac(hash32(key), msg));  // HMAC(K, m) == HMAC(BLAKE2s-256(K), m) for |K| > 64
    CHECK(got != hmac(std::span(key).first(64), msg));
    ++cases;
  }
  // At or below the block size the key is used as is (zero-padded), never hashed.
  for (size_t key_len : {size_t{0}, size_t{1}, size_t{31}, size_t{32}, size_t{33}, size_t{63}, size_t{64}}) {
    INFO("key length ", key_len);
    const Bytes key = pattern(key_len, 0x42);
    const Bytes got = hmac(key, msg);
    CHECK(got == reference_hmac(key, msg));
    if (key_len > 0) {
      CHECK(got != hmac(hash32(key), msg));
      Bytes padded = key;
      padded.resize(64, 0);
      CHECK(got == hmac(padded, msg));
    }
    ++cases;
  }
  CHECK(cases == 4 + 7);

  // Longer messages (more than one block after the pad) also agree.
  const Bytes key = pattern(32, 1);
  for (size_t n : {size_t{0}, size_t{64}, size_t{65}, size_t{1000}}) {
    const Bytes m = pattern(n, 9);
    CHECK(hmac(key, m) == reference_hmac(key, m));
  }
}

}  // namespace wg::crypto
