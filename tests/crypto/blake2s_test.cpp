// tests/crypto/blake2s_test.cpp — BLAKE2s: RFC 7693 Appendix B and E, the 512-entry KAT, incremental vs one-shot.
#include "crypto/blake2s.hpp"

#include <algorithm>
#include <array>
#include <doctest/doctest.h>

#include "vectors.hpp"

namespace wg::crypto {
namespace {

const nlohmann::json& rfc7693() {
  static const nlohmann::json j = load_vectors("crypto_rfc_vectors.json").at("rfc7693_blake2s");
  return j;
}

// RFC 7693 Appendix E: a Fibonacci-like byte generator seeded by the length.
Bytes selftest_seq(size_t len, uint32_t seed) {
  Bytes out(len);
  uint32_t a = 0xDEAD4BADu * seed, b = 1;
  for (size_t i = 0; i < len; ++i) {
    const uint32_t t = a + b;
    a = b;
    b = t;
    out[i] = static_cast<uint8_t>(t >> 24);
  }
  return out;
}

Bytes digest(size_t outlen, std::span<const uint8_t> in, std::span<const uint8_t> key = {}) {
  Bytes out(outlen);
  blake2s(out, in, key);
  return out;
}

Bytes counting_bytes(size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(i);
  return b;
}

}  // namespace

TEST_CASE("RFC 7693 Appendix B: BLAKE2s-256(\"abc\")") {
  const auto& t = rfc7693().at("appendix_B_abc");
  const Bytes in = hex_field(t.at("in"));
  CHECK(in == to_bytes(t.at("in_ascii").get<std::string>()));
  const size_t outlen = t.at("outlen").get<size_t>();
  REQUIRE(outlen == 32);
  CHECK(hex_encode(digest(outlen, in)) == t.at("out").get<std::string>());

  Bytes out(outlen);
  Blake2s(outlen).update(in).final(out);
  CHECK(hex_encode(out) == t.at("out").get<std::string>());
}

TEST_CASE("RFC 7693 Appendix E: self-test grand hash") {
  const auto& t = rfc7693().at("appendix_E_selftest");
  const auto md_lens = t.at("md_len").get<std::vector<size_t>>();
  const auto in_lens = t.at("in_len").get<std::vector<size_t>>();
  REQUIRE(md_lens == std::vector<size_t>{16, 20, 28, 32});
  REQUIRE(in_lens == std::vector<size_t>{0, 3, 64, 65, 255, 1024});

  Blake2s grand(32);
  size_t hashed = 0;
  for (size_t outlen : md_lens) {
    for (size_t inlen : in_lens) {
      const Bytes in = selftest_seq(inlen, static_cast<uint32_t>(inlen));
      grand.update(digest(outlen, in));  // unkeyed
      const Bytes key = selftest_seq(outlen, static_cast<uint32_t>(outlen));
      grand.update(digest(outlen, in, key));  // keyed, key length == digest length
      hashed += 2;
    }
  }
  Bytes out(32);
  grand.final(out);
  CHECK(hashed == 48);
  CHECK(hex_encode(out) == t.at("grand_hash").get<std::string>());
}

TEST_CASE("RFC 7693 Appendix E: selftest_seq generator sanity") {
  // As specified: a = 0xDEAD4BAD * seed (mod 2^32), b = 1; each byte is the top byte of t = a + b.
  const Bytes s = selftest_seq(3, 3);
  const uint32_t a0 = 0xDEAD4BADu * 3u;
  const uint32_t t1 = a0 + 1, t2 = 1 + t1, t3 = t1 + t2;
  CHECK(s == Bytes{static_cast<uint8_t>(t1 >> 24), static_cast<uint8_t>(t2 >> 24), static_cast<uint8_t>(t3 >> 24)});
  CHECK(selftest_seq(0, 0).empty());
}

TEST_CASE("blake2s_kat.json: all 512 BLAKE2s-256 entries, unkeyed and keyed") {
  const nlohmann::json j = load_vectors("blake2s_kat.json");
  size_t unkeyed = 0, keyed = 0;
  const Bytes key_expected = counting_bytes(32);
  for (const auto& v : j.at("vectors")) {
    REQUIRE(v.at("hash") == "blake2s");
    const Bytes in = hex_field(v.at("in")), key = hex_field(v.at("key")), out = hex_field(v.at("out"));
    INFO("in length ", in.size(), ", key length ", key.size());
    REQUIRE(out.size() == 32);
    CHECK(in == counting_bytes(in.size()));
    CHECK((key.empty() || key == key_expected));

    CHECK(hex_encode(digest(32, in, key)) == hex_encode(out));
    // The same through the incremental interface, split in two uneven halves.
    Blake2s h(32, key);
    const size_t split = in.size() / 3;
    h.update(std::span(in).first(split)).update(std::span(in).subspan(split));
    Bytes inc(32);
    h.final(inc);
    CHECK(hex_encode(inc) == hex_encode(out));
    (key.empty() ? unkeyed : keyed)++;
  }
  CHECK(unkeyed == 256);
  CHECK(keyed == 256);
}

TEST_CASE("BLAKE2s incremental update in odd chunks equals one-shot") {
  const Bytes msg = counting_bytes(1000);
  const Bytes key = to_bytes("a key of exactly thirty-two byte");
  REQUIRE(key.size() == 32);
  int cases = 0;
  for (size_t outlen : {size_t{16}, size_t{32}}) {
    for (bool keyed : {false, true}) {
      const std::span<const uint8_t> k = keyed ? std::span<const uint8_t>(key) : std::span<const uint8_t>();
      const Bytes expected = digest(outlen, msg, k);
      for (size_t chunk : {size_t{1}, size_t{3}, size_t{7}, size_t{63}, size_t{64}, size_t{65}, size_t{127},
                           size_t{999}}) {
        INFO("outlen ", outlen, " keyed ", keyed, " chunk ", chunk);
        Blake2s h(outlen, k);
        for (size_t off = 0; off < msg.size(); off += chunk)
          h.update(std::span(msg).subspan(off, std::min(chunk, msg.size() - off)));
        h.update({});  // empty updates are harmless
        Bytes out(outlen);
        h.final(out);
        CHECK(out == expected);
        ++cases;
      }
    }
  }
  CHECK(cases == 2 * 2 * 8);
}

TEST_CASE("BLAKE2s: a 16-byte digest is not the truncated 32-byte digest") {
  int cases = 0;
  for (size_t n : {size_t{0}, size_t{3}, size_t{64}, size_t{200}}) {
    INFO("input length ", n);
    const Bytes in = counting_bytes(n);
    const Bytes d16 = digest(16, in), d32 = digest(32, in);
    CHECK(d16.size() == 16);
    CHECK_FALSE(std::equal(d16.begin(), d16.end(), d32.begin()));
    const Bytes key = counting_bytes(32);
    const Bytes k16 = digest(16, in, key), k32 = digest(32, in, key);
    CHECK_FALSE(std::equal(k16.begin(), k16.end(), k32.begin()));
    ++cases;
  }
  CHECK(cases == 4);

  // Blake2s::final writes exactly the digest length, even into a bigger buffer.
  Bytes big(32, 0xcc);
  Blake2s(16).update(to_bytes("abc")).final(big);
  const Bytes d16 = digest(16, to_bytes("abc"));
  CHECK(std::equal(d16.begin(), d16.end(), big.begin()));
  CHECK(std::all_of(big.begin() + 16, big.end(), [](uint8_t b) { return b == 0xcc; }));
}

}  // namespace wg::crypto
