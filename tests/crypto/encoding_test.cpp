// tests/crypto/encoding_test.cpp — base64/hex key codecs: accept/reject tables, every
// single-character corruption against a naive reference decoder, round trips, RFC 7748 keys.
#include "crypto/encoding.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "crypto/x25519.hpp"

#ifndef WG_VECTORS_DIR
#error "WG_VECTORS_DIR must be defined (tests/CMakeLists.txt does it)"
#endif

namespace {

using Key = std::array<uint8_t, 32>;
using wg::crypto::key_from_base64;
using wg::crypto::key_from_hex;
using wg::crypto::key_to_base64;
using wg::crypto::key_to_hex;

constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// A deliberately naive decoder, written independently of the one under test: table lookup,
// bit accumulator, the WireGuard rules spelled out one by one.
std::optional<Key> reference_base64(std::string_view s) {
  if (s.size() != 44 || s[43] != '=') return std::nullopt;
  Key k{};
  uint32_t acc = 0;
  int bits = 0;
  size_t out = 0;
  for (size_t i = 0; i < 43; ++i) {
    const size_t v = kAlphabet.find(s[i]);
    if (v == std::string_view::npos) return std::nullopt;
    if (i == 42 && (v & 3) != 0) return std::nullopt;
    acc = acc << 6 | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      k[out++] = static_cast<uint8_t>(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  return out == 32 ? std::optional<Key>(k) : std::nullopt;
}

std::optional<Key> reference_hex(std::string_view s) {
  constexpr std::string_view digits = "0123456789abcdef";
  if (s.size() != 64) return std::nullopt;
  Key k{};
  for (size_t i = 0; i < 64; ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    const size_t v = digits.find(c);
    if (v == std::string_view::npos) return std::nullopt;
    k[i / 2] = static_cast<uint8_t>(k[i / 2] << 4 | v);
  }
  return k;
}

Key key_of_hex(std::string_view hex) {
  Key k{};
  REQUIRE(key_from_hex(k.data(), hex));
  return k;
}

Key filled(uint8_t b) {
  Key k;
  k.fill(b);
  return k;
}

bool is_zero(const Key& k) {
  for (uint8_t b : k)
    if (b != 0) return false;
  return true;
}

nlohmann::json rfc7748_section_6_1() {
  std::ifstream f(std::string(WG_VECTORS_DIR) + "/crypto_rfc_vectors.json");
  REQUIRE(f.good());
  return nlohmann::json::parse(f).at("rfc7748_x25519").at("section_6_1_dh");
}

// RFC 7748 §6.1 keys in both encodings (base64 computed independently with Python).
constexpr std::string_view kAlicePrivB64 = "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=";
constexpr std::string_view kAlicePubB64 = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=";
constexpr std::string_view kBobPrivB64 = "XasIfmJKikt54X+Lg4AO5m87sSkmGLb9HC+LJ/+I4Os=";
constexpr std::string_view kBobPubB64 = "3p7bfXt9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK08=";

}  // namespace

TEST_CASE("encoding: RFC 7748 §6.1 keys decode to the RFC's bytes and give the RFC's public keys") {
  const auto v = rfc7748_section_6_1();
  struct Pair {
    std::string_view priv_b64, pub_b64;
    std::string priv_hex, pub_hex;
  };
  const Pair pairs[] = {
      {kAlicePrivB64, kAlicePubB64, v.at("alice_private"), v.at("alice_public")},
      {kBobPrivB64, kBobPubB64, v.at("bob_private"), v.at("bob_public")},
  };
  for (const Pair& p : pairs) {
    CAPTURE(p.priv_b64);
    Key priv{}, pub{}, expected_priv = key_of_hex(p.priv_hex), expected_pub = key_of_hex(p.pub_hex);
    REQUIRE(key_from_base64(priv.data(), p.priv_b64));
    CHECK(priv == expected_priv);
    CHECK(key_to_hex(priv.data()) == p.priv_hex);
    CHECK(key_to_base64(expected_priv.data()) == p.priv_b64);
    wg::crypto::x25519_public(pub.data(), priv.data());
    CHECK(pub == expected_pub);
    CHECK(key_to_base64(pub.data()) == p.pub_b64);
    Key pub_decoded{};
    REQUIRE(key_from_base64(pub_decoded.data(), p.pub_b64));
    CHECK(pub_decoded == expected_pub);
  }
}

TEST_CASE("encoding: fixed keys in both directions") {
  Key k{};
  REQUIRE(key_from_base64(k.data(), "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="));
  CHECK(k == filled(0));
  REQUIRE(key_from_base64(k.data(), "//////////////////////////////////////////8="));
  CHECK(k == filled(0xff));
  CHECK(key_to_base64(filled(0xff).data()) == "//////////////////////////////////////////8=");
  CHECK(key_to_hex(filled(0xff).data()) == std::string(64, 'f'));
  CHECK(key_to_hex(filled(0xab).data()) == [] {
    std::string s;
    for (int i = 0; i < 32; ++i) s += "ab";
    return s;
  }());

  Key seq{};
  for (size_t i = 0; i < 32; ++i) seq[i] = static_cast<uint8_t>(i * 8 + 1);
  // Python: base64.b64encode(bytes(i*8+1 for i in range(32)))
  CHECK(key_to_base64(seq.data()) == "AQkRGSEpMTlBSVFZYWlxeYGJkZmhqbG5wcnR2eHp8fk=");
  CHECK(key_to_hex(seq.data()) == "0109111921293139414951596169717981899199a1a9b1b9c1c9d1d9e1e9f1f9");

  char b64[45];
  key_to_base64(b64, seq.data());
  CHECK(b64[44] == '\0');
  CHECK(std::string_view(b64) == "AQkRGSEpMTlBSVFZYWlxeYGJkZmhqbG5wcnR2eHp8fk=");
  char hex[65];
  key_to_hex(hex, seq.data());
  CHECK(hex[64] == '\0');
  CHECK(std::string_view(hex) == "0109111921293139414951596169717981899199a1a9b1b9c1c9d1d9e1e9f1f9");
}

TEST_CASE("encoding: base64 reject table (and the key is wiped on failure)") {
  const std::string good(kAlicePrivB64);
  struct Row {
    const char* why;
    std::string text;
  };
  const Row rows[] = {
      {"empty", ""},
      {"43 chars", good.substr(0, 43)},
      {"45 chars", good + "A"},
      {"45 chars with trailing newline", good + "\n"},
      {"88 chars (two keys)", good + good},
      {"missing '=' (44 data chars)", good.substr(0, 43) + "A"},
      {"'=' replaced by space", good.substr(0, 43) + " "},
      {"'==' padding", good.substr(0, 42) + "=="},
      {"'=' in the middle", good.substr(0, 20) + "=" + good.substr(21)},
      {"bad char '!'", good.substr(0, 5) + "!" + good.substr(6)},
      {"url-safe '-'", good.substr(0, 5) + "-" + good.substr(6)},
      {"url-safe '_'", good.substr(0, 5) + "_" + good.substr(6)},
      {"space inside", good.substr(0, 5) + " " + good.substr(6)},
      {"NUL inside", good.substr(0, 5) + std::string(1, '\0') + good.substr(6)},
      {"byte 0xff inside", good.substr(0, 5) + "\xff" + good.substr(6)},
      {"byte 0x80 inside", good.substr(0, 5) + "\x80" + good.substr(6)},
      {"low bits 01 in 43rd char ('o' -> 'p')", good.substr(0, 42) + "p="},
      {"low bits 10 in 43rd char ('o' -> 'q')", good.substr(0, 42) + "q="},
      {"low bits 11 in 43rd char ('o' -> 'r')", good.substr(0, 42) + "r="},
      {"low bits in 43rd char ('8' -> '9' on all ones)", std::string(42, '/') + "9="},
      {"low bits in 43rd char ('/' on all ones)", std::string(43, '/') + "="},
      {"leading space, 44 chars", " " + good.substr(0, 43)},
      {"hex instead of base64", "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"},
  };
  for (const Row& r : rows) {
    CAPTURE(r.why);
    Key k = filled(0xa5);
    CHECK_FALSE(key_from_base64(k.data(), r.text));
    CHECK(is_zero(k));
  }
  Key k{};
  CHECK(key_from_base64(k.data(), good));  // the base of the table is valid
}

TEST_CASE("encoding: every single-character corruption of a valid base64 key") {
  const std::string good(kAlicePrivB64);
  Key original{};
  REQUIRE(key_from_base64(original.data(), good));
  size_t accepted = 0, rejected = 0;
  for (size_t pos = 0; pos < good.size(); ++pos) {
    for (int byte = 0; byte < 256; ++byte) {
      std::string s = good;
      s[pos] = static_cast<char>(byte);
      const std::optional<Key> expected = reference_base64(s);
      Key k = filled(0x5a);
      const bool ok = key_from_base64(k.data(), s);
      CAPTURE(pos);
      CAPTURE(byte);
      REQUIRE(ok == expected.has_value());
      if (ok) {
        ++accepted;
        REQUIRE(k == *expected);
        // A changed character means a changed key: base64 of 32 bytes is a bijection.
        REQUIRE((k == original) == (s == good));
        REQUIRE(key_to_base64(k.data()) == s);
      } else {
        ++rejected;
        REQUIRE(is_zero(k));
      }
    }
  }
  // 42 free positions accept all 64 letters; the 43rd accepts 16; the '=' only itself.
  CHECK(accepted == 42 * 64 + 16 + 1);
  CHECK(rejected == 44 * 256 - accepted);
}

TEST_CASE("encoding: the 43rd character accepts exactly the 16 values with zero low bits") {
  const std::string good(kAlicePrivB64);
  std::string accepted;
  for (char c : kAlphabet) {
    std::string s = good;
    s[42] = c;
    Key k{};
    if (key_from_base64(k.data(), s)) accepted += c;
  }
  CHECK(accepted == "AEIMQUYcgkosw048");
}

TEST_CASE("encoding: hex accept/reject table (and the key is wiped on failure)") {
  const std::string good = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
  std::string upper = good;
  for (char& c : upper)
    if (c >= 'a' && c <= 'f') c = static_cast<char>(c - 'a' + 'A');
  std::string mixed = good;
  for (size_t i = 0; i < mixed.size(); i += 2)
    if (mixed[i] >= 'a' && mixed[i] <= 'f') mixed[i] = static_cast<char>(mixed[i] - 'a' + 'A');

  Key a{}, b{}, c{};
  REQUIRE(key_from_hex(a.data(), good));
  REQUIRE(key_from_hex(b.data(), upper));
  REQUIRE(key_from_hex(c.data(), mixed));
  CHECK(a == b);
  CHECK(a == c);
  CHECK(key_to_hex(a.data()) == good);  // lowercase out
  CHECK(a[0] == 0x77);
  CHECK(a[31] == 0x2a);

  struct Row {
    const char* why;
    std::string text;
  };
  const Row rows[] = {
      {"empty", ""},
      {"63 chars", good.substr(0, 63)},
      {"65 chars", good + "0"},
      {"trailing newline", good + "\n"},
      {"'g'", good.substr(0, 10) + "g" + good.substr(11)},
      {"'G'", good.substr(0, 10) + "G" + good.substr(11)},
      {"'@' (just below 'A')", good.substr(0, 10) + "@" + good.substr(11)},
      {"'`' (just below 'a')", good.substr(0, 10) + "`" + good.substr(11)},
      {"'/' (just below '0')", good.substr(0, 10) + "/" + good.substr(11)},
      {"':' (just above '9')", good.substr(0, 10) + ":" + good.substr(11)},
      {"0x prefix", "0x" + good.substr(2)},
      {"space", good.substr(0, 10) + " " + good.substr(11)},
      {"NUL", good.substr(0, 10) + std::string(1, '\0') + good.substr(11)},
      {"byte 0xc6 ('F' | 0x80)", good.substr(0, 10) + "\xc6" + good.substr(11)},
      {"base64 key", std::string(kAlicePrivB64)},
  };
  for (const Row& r : rows) {
    CAPTURE(r.why);
    Key k = filled(0xa5);
    CHECK_FALSE(key_from_hex(k.data(), r.text));
    CHECK(is_zero(k));
  }
}

TEST_CASE("encoding: every single-character corruption of a valid hex key") {
  const std::string good = "0123456789abcdefABCDEF0123456789abcdefABCDEF0123456789abcdef0a1b";
  REQUIRE(good.size() == 64);
  size_t accepted = 0;
  for (size_t pos = 0; pos < good.size(); ++pos) {
    for (int byte = 0; byte < 256; ++byte) {
      std::string s = good;
      s[pos] = static_cast<char>(byte);
      const std::optional<Key> expected = reference_hex(s);
      Key k = filled(0x5a);
      const bool ok = key_from_hex(k.data(), s);
      CAPTURE(pos);
      CAPTURE(byte);
      REQUIRE(ok == expected.has_value());
      if (ok) {
        ++accepted;
        REQUIRE(k == *expected);
      } else {
        REQUIRE(is_zero(k));
      }
    }
  }
  CHECK(accepted == 64 * 22);  // 0-9, a-f, A-F
}

TEST_CASE("encoding: random round trips through both encodings") {
  const uint64_t seed = std::random_device{}();
  CAPTURE(seed);
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 20000; ++i) {
    Key k{};
    for (uint8_t& b : k) b = static_cast<uint8_t>(rng());
    const std::string b64 = key_to_base64(k.data());
    const std::string hex = key_to_hex(k.data());
    REQUIRE(b64.size() == 44);
    REQUIRE(hex.size() == 64);
    const std::optional<Key> ref = reference_base64(b64);
    REQUIRE(ref.has_value());
    REQUIRE(*ref == k);
    Key back{};
    REQUIRE(key_from_base64(back.data(), b64));
    REQUIRE(back == k);
    back.fill(0);
    REQUIRE(key_from_hex(back.data(), hex));
    REQUIRE(back == k);
    REQUIRE(hex.find_first_of("ABCDEF") == std::string::npos);
  }
}
