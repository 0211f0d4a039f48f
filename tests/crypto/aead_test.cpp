// tests/crypto/aead_test.cpp — ChaCha20-Poly1305 (RFC 8439 + Wycheproof, every backend) and XChaCha20-Poly1305.
#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <doctest/doctest.h>

#include "crypto/aead.hpp"
#include "crypto/secure.hpp"
#include "vectors.hpp"

namespace wg::crypto {
namespace {

constexpr std::array<AeadBackend, 3> kBackends{AeadBackend::Sodium, AeadBackend::OpenSsl, AeadBackend::IpsecMb};
constexpr uint8_t kCanary = 0xa5;

const nlohmann::json& rfc_vectors() {
  static const nlohmann::json j = load_vectors("crypto_rfc_vectors.json");
  return j;
}

const nlohmann::json& rfc8439() { return rfc_vectors().at("rfc8439_chacha20_poly1305"); }

// Raw ChaCha20 (RFC 8439 §2.4) through libsodium: keystream XOR msg starting at block `counter`.
Bytes chacha20_xor(const Bytes& key, const Bytes& nonce, uint32_t counter, const Bytes& msg) {
  REQUIRE(key.size() == crypto_stream_chacha20_ietf_KEYBYTES);
  REQUIRE(nonce.size() == crypto_stream_chacha20_ietf_NONCEBYTES);
  Bytes out(msg.size());
  REQUIRE(crypto_stream_chacha20_ietf_xor_ic(out.data(), msg.data(), msg.size(), nonce.data(), counter,
                                             key.data()) == 0);
  return out;
}

Bytes poly1305(const Bytes& key, const Bytes& msg) {
  REQUIRE(key.size() == crypto_onetimeauth_poly1305_KEYBYTES);
  Bytes tag(crypto_onetimeauth_poly1305_BYTES);
  REQUIRE(crypto_onetimeauth_poly1305(tag.data(), msg.data(), msg.size(), key.data()) == 0);
  return tag;
}

// RFC 8439 §2.6: the one-time Poly1305 key is the first 32 bytes of block 0.
Bytes poly1305_key_gen(const Bytes& key, const Bytes& nonce) {
  Bytes block = chacha20_xor(key, nonce, 0, Bytes(64, 0));
  block.resize(32);
  return block;
}

void append_le64(Bytes& b, uint64_t v) {
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

// RFC 8439 §2.8 tag computed from the primitives, independent of either AEAD backend.
Bytes rfc8439_tag(const Bytes& otk, const Bytes& aad, const Bytes& ct) {
  Bytes mac_data = aad;
  mac_data.resize((mac_data.size() + 15) / 16 * 16, 0);
  mac_data.insert(mac_data.end(), ct.begin(), ct.end());
  mac_data.resize((mac_data.size() + 15) / 16 * 16, 0);
  append_le64(mac_data, aad.size());
  append_le64(mac_data, ct.size());
  return poly1305(otk, mac_data);
}

// Seals into a buffer one byte longer than needed and checks that byte is left alone.
bool seal_checked(AeadBackend b, Bytes& sealed, const Bytes& pt, const Bytes& aad, const Bytes& nonce,
                  const Bytes& key) {
  REQUIRE(nonce.size() == kAeadNonceLen);
  REQUIRE(key.size() == 32);
  Bytes buf(pt.size() + kAeadTagLen + 1, kCanary);
  const bool ok = chacha20poly1305_seal(b, buf.data(), pt.data(), pt.size(), aad.data(), aad.size(), nonce.data(),
                                        key.data());
  CHECK(buf.back() == kCanary);
  buf.pop_back();
  sealed = std::move(buf);
  return ok;
}

bool open_checked(AeadBackend b, Bytes& opened, const Bytes& sealed, const Bytes& aad, const Bytes& nonce,
                  const Bytes& key) {
  REQUIRE(nonce.size() == kAeadNonceLen);
  REQUIRE(key.size() == 32);
  const size_t n = sealed.size() >= kAeadTagLen ? sealed.size() - kAeadTagLen : 0;
  Bytes buf(n + 1, kCanary);
  const bool ok = chacha20poly1305_open(b, buf.data(), sealed.data(), sealed.size(), aad.data(), aad.size(),
                                        nonce.data(), key.data());
  CHECK(buf.back() == kCanary);
  buf.pop_back();
  opened = std::move(buf);
  return ok;
}

bool xseal_checked(Bytes& sealed, const Bytes& pt, const Bytes& aad, const Bytes& nonce, const Bytes& key) {
  REQUIRE(nonce.size() == kXAeadNonceLen);
  REQUIRE(key.size() == 32);
  Bytes buf(pt.size() + kAeadTagLen + 1, kCanary);
  const bool ok =
      xchacha20poly1305_seal(buf.data(), pt.data(), pt.size(), aad.data(), aad.size(), nonce.data(), key.data());
  CHECK(buf.back() == kCanary);
  buf.pop_back();
  sealed = std::move(buf);
  return ok;
}

bool xopen_checked(Bytes& opened, const Bytes& sealed, const Bytes& aad, const Bytes& nonce, const Bytes& key) {
  REQUIRE(nonce.size() == kXAeadNonceLen);
  REQUIRE(key.size() == 32);
  const size_t n = sealed.size() >= kAeadTagLen ? sealed.size() - kAeadTagLen : 0;
  Bytes buf(n + 1, kCanary);
  const bool ok = xchacha20poly1305_open(buf.data(), sealed.data(), sealed.size(), aad.data(), aad.size(),
                                         nonce.data(), key.data());
  CHECK(buf.back() == kCanary);
  buf.pop_back();
  opened = std::move(buf);
  return ok;
}

// Deterministic filler for the property tests.
Bytes pattern(size_t n, uint8_t seed) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(seed + i * 31 + (i >> 8));
  return b;
}

}  // namespace

TEST_CASE("RFC 8439 §2.3.2 and A.1: ChaCha20 block function (libsodium)") {
  int cases = 0;
  const auto& v = rfc8439().at("2.3.2_chacha20_block");
  const Bytes block = chacha20_xor(hex_field(v.at("key")), hex_field(v.at("nonce")), v.at("counter").get<uint32_t>(),
                                   Bytes(64, 0));
  CHECK(hex_encode(block) == v.at("serialized_block").get<std::string>());
  ++cases;
  for (const auto& t : rfc8439().at("A.1_chacha20_block")) {
    INFO("A.1 tv ", t.at("tv").get<int>());
    const Bytes expected = hex_field(t.at("keystream"));
    REQUIRE(expected.size() == 64);
    const Bytes ks = chacha20_xor(hex_field(t.at("key")), hex_field(t.at("nonce")), t.at("counter").get<uint32_t>(),
                                  Bytes(64, 0));
    CHECK(hex_encode(ks) == hex_encode(expected));
    ++cases;
  }
  CHECK(cases == 6);
}

TEST_CASE("RFC 8439 §2.4.2 and A.2: ChaCha20 encryption (libsodium)") {
  int cases = 0;
  auto check_one = [&](const nlohmann::json& t) {
    const Bytes key = hex_field(t.at("key")), nonce = hex_field(t.at("nonce"));
    const Bytes pt = hex_field(t.at("plaintext")), ct = hex_field(t.at("ciphertext"));
    const auto counter = t.at("counter").get<uint32_t>();
    REQUIRE(pt.size() == ct.size());
    CHECK(hex_encode(chacha20_xor(key, nonce, counter, pt)) == hex_encode(ct));
    CHECK(hex_encode(chacha20_xor(key, nonce, counter, ct)) == hex_encode(pt));
    ++cases;
  };
  check_one(rfc8439().at("2.4.2_chacha20_encryption"));
  for (const auto& t : rfc8439().at("A.2_chacha20_encryption")) {
    INFO("A.2 tv ", t.at("tv").get<int>());
    check_one(t);
  }
  CHECK(cases == 4);
}

TEST_CASE("RFC 8439 §2.5.2 and A.3: Poly1305 (libsodium)") {
  int cases = 0;
  auto check_one = [&](const nlohmann::json& t) {
    CHECK(hex_encode(poly1305(hex_field(t.at("key")), hex_field(t.at("msg")))) == t.at("tag").get<std::string>());
    ++cases;
  };
  check_one(rfc8439().at("2.5.2_poly1305"));
  for (const auto& t : rfc8439().at("A.3_poly1305")) {
    INFO("A.3 tv ", t.at("tv").get<int>());
    check_one(t);
  }
  CHECK(cases == 12);
}

TEST_CASE("RFC 8439 §2.6.2 and A.4: Poly1305 key generation (libsodium)") {
  int cases = 0;
  auto check_one = [&](const nlohmann::json& t) {
    CHECK(hex_encode(poly1305_key_gen(hex_field(t.at("key")), hex_field(t.at("nonce")))) ==
          t.at("otk").get<std::string>());
    ++cases;
  };
  check_one(rfc8439().at("2.6.2_poly1305_keygen"));
  for (const auto& t : rfc8439().at("A.4_poly1305_keygen")) {
    INFO("A.4 tv ", t.at("tv").get<int>());
    check_one(t);
  }
  // The §2.8.2 and A.5 AEAD vectors also list their one-time keys.
  check_one(rfc8439().at("2.8.2_aead"));
  check_one(rfc8439().at("A.5_aead_decryption"));
  CHECK(cases == 6);
}

TEST_CASE("RFC 8439 §2.8.2 and A.5: AEAD seal/open, every backend") {
  int cases = 0;
  for (const char* which : {"2.8.2_aead", "A.5_aead_decryption"}) {
    INFO("vector ", which);
    const auto& t = rfc8439().at(which);
    const Bytes key = hex_field(t.at("key")), nonce = hex_field(t.at("nonce")), aad = hex_field(t.at("aad"));
    const Bytes pt = hex_field(t.at("plaintext")), ct = hex_field(t.at("ciphertext")), tag = hex_field(t.at("tag"));
    REQUIRE(pt.size() == ct.size());
    REQUIRE(tag.size() == kAeadTagLen);
    const Bytes sealed_expected = concat(ct, tag);

    // The vector itself is consistent with the primitives (independent of the backends).
    CHECK(hex_encode(chacha20_xor(key, nonce, 1, pt)) == hex_encode(ct));
    CHECK(hex_encode(rfc8439_tag(hex_field(t.at("otk")), aad, ct)) == hex_encode(tag));

    for (AeadBackend b : kBackends) {
      INFO("backend ", name(b));
      Bytes sealed, opened;
      CHECK(seal_checked(b, sealed, pt, aad, nonce, key));
      CHECK(hex_encode(sealed) == hex_encode(sealed_expected));
      CHECK(open_checked(b, opened, sealed_expected, aad, nonce, key));
      CHECK(hex_encode(opened) == hex_encode(pt));

      // Any flipped bit (ciphertext, tag, AAD, nonce, key) must fail.
      Bytes bad = sealed_expected;
      bad[0] ^= 0x01;
      CHECK_FALSE(open_checked(b, opened, bad, aad, nonce, key));
      bad = sealed_expected;
      bad.back() ^= 0x80;
      CHECK_FALSE(open_checked(b, opened, bad, aad, nonce, key));
      Bytes bad_aad = aad;
      bad_aad[3] ^= 0x10;
      CHECK_FALSE(open_checked(b, opened, sealed_expected, bad_aad, nonce, key));
      Bytes bad_nonce = nonce;
      bad_nonce[11] ^= 0x01;
      CHECK_FALSE(open_checked(b, opened, sealed_expected, aad, bad_nonce, key));
      Bytes bad_key = key;
      bad_key[31] ^= 0x01;
      CHECK_FALSE(open_checked(b, opened, sealed_expected, aad, nonce, bad_key));
      ++cases;
    }
  }
  CHECK(cases == 2 * static_cast<int>(kBackends.size()));
}

TEST_CASE("Wycheproof chacha20_poly1305_test.json, every backend") {
  const nlohmann::json w = load_vectors("wycheproof/chacha20_poly1305_test.json");
  REQUIRE(w.at("algorithm") == "CHACHA20-POLY1305");
  size_t total = 0, exercised = 0, skipped_iv = 0, valid = 0, invalid = 0;
  for (const auto& group : w.at("testGroups")) {
    for (const auto& t : group.at("tests")) {
      ++total;
      const Bytes iv = hex_field(t.at("iv"));
      if (iv.size() != kAeadNonceLen) {
        CHECK(t.at("result") == "invalid");  // only wrong-size nonces are skipped, and they are all invalid
        ++skipped_iv;
        continue;
      }
      INFO("tcId ", t.at("tcId").get<int>(), " (", t.at("comment").get<std::string>(), ")");
      const Bytes key = hex_field(t.at("key")), aad = hex_field(t.at("aad"));
      const Bytes msg = hex_field(t.at("msg")), ct = hex_field(t.at("ct")), tag = hex_field(t.at("tag"));
      const Bytes sealed_expected = concat(ct, tag);
      const std::string result = t.at("result").get<std::string>();
      REQUIRE((result == "valid" || result == "invalid"));
      for (AeadBackend b : kBackends) {
        INFO("backend ", name(b));
        Bytes sealed, opened;
        if (result == "valid") {
          CHECK(seal_checked(b, sealed, msg, aad, iv, key));
          CHECK(hex_encode(sealed) == hex_encode(sealed_expected));
          CHECK(open_checked(b, opened, sealed_expected, aad, iv, key));
          CHECK(hex_encode(opened) == hex_encode(msg));
        } else {
          CHECK_FALSE(open_checked(b, opened, sealed_expected, aad, iv, key));
          // Sealing the same message yields the genuine tag, which differs from the modified one.
          CHECK(seal_checked(b, sealed, msg, aad, iv, key));
          CHECK(hex_encode(sealed) != hex_encode(sealed_expected));
        }
      }
      ++exercised;
      (result == "valid" ? valid : invalid)++;
    }
  }
  MESSAGE("chacha20_poly1305: ", exercised, " cases exercised (", valid, " valid, ", invalid, " invalid), ",
          skipped_iv, " skipped for a non-12-byte IV");
  CHECK(total == w.at("numberOfTests").get<size_t>());
  CHECK(exercised + skipped_iv == total);
  CHECK(exercised > 300);
  CHECK(valid > 0);
  CHECK(invalid > 0);
}

TEST_CASE("ChaCha20-Poly1305 in place (out == in), every backend") {
  const auto& t = rfc8439().at("2.8.2_aead");
  const Bytes key = hex_field(t.at("key")), nonce = hex_field(t.at("nonce")), aad = hex_field(t.at("aad"));
  const Bytes pt = hex_field(t.at("plaintext"));
  const Bytes sealed_expected = concat(hex_field(t.at("ciphertext")), hex_field(t.at("tag")));
  int cases = 0;
  for (AeadBackend b : kBackends) {
    INFO("backend ", name(b));
    Bytes buf(pt.size() + kAeadTagLen, 0);
    std::copy(pt.begin(), pt.end(), buf.begin());
    CHECK(chacha20poly1305_seal(b, buf.data(), buf.data(), pt.size(), aad.data(), aad.size(), nonce.data(),
                                key.data()));
    CHECK(hex_encode(buf) == hex_encode(sealed_expected));
    CHECK(chacha20poly1305_open(b, buf.data(), buf.data(), buf.size(), aad.data(), aad.size(), nonce.data(),
                                key.data()));
    CHECK(hex_encode(buf.data(), pt.size()) == hex_encode(pt));
    ++cases;
  }

  // Many lengths around the 64-byte block and 16-byte Poly1305 boundaries: in-place with one
  // backend equals out-of-place with the other, and both open each other's output.
  const Bytes k2 = pattern(32, 7);
  for (size_t len : {size_t{0}, size_t{1}, size_t{15}, size_t{16}, size_t{17}, size_t{63}, size_t{64}, size_t{65},
                     size_t{127}, size_t{128}, size_t{129}, size_t{255}, size_t{256}, size_t{1420}, size_t{1500}}) {
    INFO("len ", len);
    const Bytes msg = pattern(len, static_cast<uint8_t>(len));
    const Bytes ad = pattern(len % 23, 3);
    uint8_t n[kAeadNonceLen];
    counter_nonce(n, len * 1000003u);
    for (AeadBackend b : kBackends) {
      const AeadBackend other = b == AeadBackend::Sodium ? AeadBackend::OpenSsl : AeadBackend::Sodium;
      INFO("in-place backend ", name(b));
      Bytes in_place(len + kAeadTagLen, 0);
      std::copy(msg.begin(), msg.end(), in_place.begin());
      CHECK(chacha20poly1305_seal(b, in_place.data(), in_place.data(), len, ad.data(), ad.size(), n, k2.data()));
      Bytes out_of_place(len + kAeadTagLen, 0);
      CHECK(chacha20poly1305_seal(other, out_of_place.data(), msg.data(), len, ad.data(), ad.size(), n, k2.data()));
      CHECK(hex_encode(in_place) == hex_encode(out_of_place));
      CHECK(chacha20poly1305_open(b, in_place.data(), in_place.data(), in_place.size(), ad.data(), ad.size(), n,
                                  k2.data()));
      CHECK(hex_encode(in_place.data(), len) == hex_encode(msg));
      Bytes opened(len + 1, 0);
      CHECK(chacha20poly1305_open(other, opened.data(), out_of_place.data(), out_of_place.size(), ad.data(),
                                  ad.size(), n, k2.data()));
      CHECK(hex_encode(opened.data(), len) == hex_encode(msg));
      ++cases;
    }
  }
  CHECK(cases == static_cast<int>(kBackends.size()) + 15 * static_cast<int>(kBackends.size()));
}

TEST_CASE("ChaCha20-Poly1305 rejects inputs shorter than the tag, every backend") {
  const Bytes key = pattern(32, 1), buf = pattern(kAeadTagLen, 2);
  uint8_t n[kAeadNonceLen];
  counter_nonce(n, 0);
  uint8_t out[kAeadTagLen] = {};
  int cases = 0;
  for (AeadBackend b : kBackends) {
    INFO("backend ", name(b));
    for (size_t len = 0; len < kAeadTagLen; ++len) {
      CHECK_FALSE(chacha20poly1305_open(b, out, buf.data(), len, nullptr, 0, n, key.data()));
      ++cases;
    }
  }
  CHECK(cases == static_cast<int>(kBackends.size()) * 16);
}

TEST_CASE("counter_nonce: 4 zero bytes then the counter little-endian") {
  struct Case {
    uint64_t counter;
    const char* hex;
  };
  const Case cases[] = {
      {0, "000000000000000000000000"},
      {1, "000000000100000000000000"},
      {0x0102030405060708ull, "000000000807060504030201"},
      {0xffull << 56, "0000000000000000000000ff"},
      {~uint64_t{0}, "00000000ffffffffffffffff"},
  };
  int n_cases = 0;
  for (const Case& c : cases) {
    uint8_t nonce[kAeadNonceLen];
    std::memset(nonce, 0xee, sizeof nonce);  // the prefix must be written, not assumed
    counter_nonce(nonce, c.counter);
    CHECK(hex_encode(nonce, sizeof nonce) == c.hex);
    ++n_cases;
  }
  CHECK(n_cases == 5);

  // aead_seal/aead_open use exactly that nonce, with whichever backend is passed.
  const Bytes key = pattern(32, 9), msg = pattern(100, 4), ad = pattern(32, 5);
  const uint64_t counter = 0x1122334455667788ull;
  uint8_t nonce[kAeadNonceLen];
  counter_nonce(nonce, counter);
  for (AeadBackend b : kBackends) {
    INFO("backend ", name(b));
    Bytes via_counter(msg.size() + kAeadTagLen), via_nonce(msg.size() + kAeadTagLen);
    CHECK(aead_seal(via_counter.data(), msg.data(), msg.size(), ad.data(), ad.size(), counter, key.data(), b));
    CHECK(chacha20poly1305_seal(b, via_nonce.data(), msg.data(), msg.size(), ad.data(), ad.size(), nonce,
                                key.data()));
    CHECK(hex_encode(via_counter) == hex_encode(via_nonce));
    Bytes opened(msg.size());
    CHECK(aead_open(opened.data(), via_counter.data(), via_counter.size(), ad.data(), ad.size(), counter, key.data(),
                    b));
    CHECK(opened == msg);
    CHECK_FALSE(aead_open(opened.data(), via_counter.data(), via_counter.size(), ad.data(), ad.size(), counter + 1,
                          key.data(), b));
  }
  CHECK(name(AeadBackend::Sodium) != name(AeadBackend::OpenSsl));
}

TEST_CASE("draft-irtf-cfrg-xchacha §2.2.1: HChaCha20 (libsodium)") {
  const auto& t = rfc_vectors().at("xchacha20_poly1305_draft").at("hchacha20_section_2_2_1");
  const Bytes key = hex_field(t.at("key")), nonce16 = hex_field(t.at("nonce16"));
  REQUIRE(key.size() == crypto_core_hchacha20_KEYBYTES);
  REQUIRE(nonce16.size() == crypto_core_hchacha20_INPUTBYTES);
  uint8_t subkey[crypto_core_hchacha20_OUTPUTBYTES];
  REQUIRE(crypto_core_hchacha20(subkey, nonce16.data(), key.data(), nullptr) == 0);
  CHECK(hex_encode(subkey, sizeof subkey) == t.at("subkey").get<std::string>());
}

TEST_CASE("draft-irtf-cfrg-xchacha A.3.1: XChaCha20-Poly1305") {
  const auto& t = rfc_vectors().at("xchacha20_poly1305_draft").at("aead_xchacha20_poly1305_appendix_A_3_1");
  const Bytes key = hex_field(t.at("key")), nonce = hex_field(t.at("nonce24")), aad = hex_field(t.at("aad"));
  const Bytes pt = hex_field(t.at("plaintext"));
  const Bytes sealed_expected = concat(hex_field(t.at("ciphertext")), hex_field(t.at("tag")));
  Bytes sealed, opened;
  CHECK(xseal_checked(sealed, pt, aad, nonce, key));
  CHECK(hex_encode(sealed) == hex_encode(sealed_expected));
  CHECK(xopen_checked(opened, sealed_expected, aad, nonce, key));
  CHECK(hex_encode(opened) == hex_encode(pt));
  Bytes bad = sealed_expected;
  bad[5] ^= 0x04;
  CHECK_FALSE(xopen_checked(opened, bad, aad, nonce, key));

  // The construction: subkey = HChaCha20(key, nonce[0:16]), then ChaCha20-Poly1305 with
  // nonce 00000000 || nonce[16:24]; every ChaCha20-Poly1305 backend must agree with it.
  uint8_t subkey[32];
  REQUIRE(crypto_core_hchacha20(subkey, nonce.data(), key.data(), nullptr) == 0);
  Bytes nonce12(4, 0);
  nonce12.insert(nonce12.end(), nonce.begin() + 16, nonce.end());
  const Bytes subkey_v(subkey, subkey + 32);
  int cases = 0;
  for (AeadBackend b : kBackends) {
    INFO("backend ", name(b));
    CHECK(seal_checked(b, sealed, pt, aad, nonce12, subkey_v));
    CHECK(hex_encode(sealed) == hex_encode(sealed_expected));
    ++cases;
  }
  CHECK(cases == static_cast<int>(kBackends.size()));

  // In place.
  Bytes buf(pt.size() + kAeadTagLen, 0);
  std::copy(pt.begin(), pt.end(), buf.begin());
  CHECK(xchacha20poly1305_seal(buf.data(), buf.data(), pt.size(), aad.data(), aad.size(), nonce.data(), key.data()));
  CHECK(hex_encode(buf) == hex_encode(sealed_expected));
  CHECK(xchacha20poly1305_open(buf.data(), buf.data(), buf.size(), aad.data(), aad.size(), nonce.data(), key.data()));
  CHECK(hex_encode(buf.data(), pt.size()) == hex_encode(pt));
}

TEST_CASE("Wycheproof xchacha20_poly1305_test.json") {
  const nlohmann::json w = load_vectors("wycheproof/xchacha20_poly1305_test.json");
  REQUIRE(w.at("algorithm") == "XCHACHA20-POLY1305");
  size_t total = 0, exercised = 0, skipped_iv = 0, valid = 0, invalid = 0;
  for (const auto& group : w.at("testGroups")) {
    for (const auto& t : group.at("tests")) {
      ++total;
      const Bytes iv = hex_field(t.at("iv"));
      if (iv.size() != kXAeadNonceLen) {
        CHECK(t.at("result") == "invalid");
        ++skipped_iv;
        continue;
      }
      INFO("tcId ", t.at("tcId").get<int>(), " (", t.at("comment").get<std::string>(), ")");
      const Bytes key = hex_field(t.at("key")), aad = hex_field(t.at("aad"));
      const Bytes msg = hex_field(t.at("msg"));
      const Bytes sealed_expected = concat(hex_field(t.at("ct")), hex_field(t.at("tag")));
      const std::string result = t.at("result").get<std::string>();
      REQUIRE((result == "valid" || result == "invalid"));
      Bytes sealed, opened;
      if (result == "valid") {
        CHECK(xseal_checked(sealed, msg, aad, iv, key));
        CHECK(hex_encode(sealed) == hex_encode(sealed_expected));
        CHECK(xopen_checked(opened, sealed_expected, aad, iv, key));
        CHECK(hex_encode(opened) == hex_encode(msg));
      } else {
        CHECK_FALSE(xopen_checked(opened, sealed_expected, aad, iv, key));
        CHECK(xseal_checked(sealed, msg, aad, iv, key));
        CHECK(hex_encode(sealed) != hex_encode(sealed_expected));
      }
      ++exercised;
      (result == "valid" ? valid : invalid)++;
    }
  }
  MESSAGE("xchacha20_poly1305: ", exercised, " cases exercised (", valid, " valid, ", invalid, " invalid), ",
          skipped_iv, " skipped for a non-24-byte IV");
  CHECK(total == w.at("numberOfTests").get<size_t>());
  CHECK(exercised + skipped_iv == total);
  CHECK(exercised > 300);
  CHECK(valid > 0);
  CHECK(invalid > 0);
}

}  // namespace wg::crypto
