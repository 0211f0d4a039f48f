// tests/crypto/secure_test.cpp — equal_ct, is_zero_ct, wipe and Secret<N> (clear, copies, is_zero).
#include "crypto/secure.hpp"

#include <algorithm>
#include <array>
#include <doctest/doctest.h>
#include <new>

namespace wg::crypto {

TEST_CASE("equal_ct") {
  std::array<uint8_t, 64> a{}, b{};
  for (size_t i = 0; i < a.size(); ++i) a[i] = b[i] = static_cast<uint8_t>(i * 3 + 1);
  CHECK(equal_ct(a.data(), b.data(), a.size()));
  CHECK(equal_ct(a.data(), a.data(), a.size()));
  CHECK(equal_ct(a.data(), b.data(), 0));  // empty ranges are equal

  int cases = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    for (uint8_t bit = 1; bit != 0; bit = static_cast<uint8_t>(bit << 1)) {
      b[i] ^= bit;
      CHECK_FALSE(equal_ct(a.data(), b.data(), a.size()));
      // A difference past n is not looked at.
      CHECK(equal_ct(a.data(), b.data(), i));
      b[i] ^= bit;
      ++cases;
    }
  }
  CHECK(cases == 64 * 8);
  CHECK(equal_ct(a.data(), b.data(), a.size()));
}

TEST_CASE("is_zero_ct") {
  std::array<uint8_t, 48> z{};
  CHECK(is_zero_ct(z.data(), z.size()));
  CHECK(is_zero_ct(z.data(), 0));
  int cases = 0;
  for (size_t i = 0; i < z.size(); ++i) {
    for (uint8_t v : {uint8_t{0x01}, uint8_t{0x80}, uint8_t{0xff}}) {
      z[i] = v;
      CHECK_FALSE(is_zero_ct(z.data(), z.size()));
      CHECK(is_zero_ct(z.data(), i));  // the prefix before i is still zero
      z[i] = 0;
      ++cases;
    }
  }
  CHECK(cases == 48 * 3);
  CHECK(is_zero_ct(z.data(), z.size()));
}

TEST_CASE("wipe zeroes exactly n bytes") {
  std::array<uint8_t, 40> buf;
  buf.fill(0xab);
  wipe(buf.data() + 4, 32);
  CHECK(std::all_of(buf.begin(), buf.begin() + 4, [](uint8_t b) { return b == 0xab; }));
  CHECK(std::all_of(buf.begin() + 4, buf.begin() + 36, [](uint8_t b) { return b == 0; }));
  CHECK(std::all_of(buf.begin() + 36, buf.end(), [](uint8_t b) { return b == 0xab; }));
  wipe(buf.data(), 0);
  CHECK(buf[0] == 0xab);
}

TEST_CASE("Secret<N>: zero-initialised, clear() wipes, copies are independent") {
  Secret<32> s;
  CHECK(s.size() == 32);
  CHECK(s.is_zero());
  CHECK(std::all_of(s.bytes.begin(), s.bytes.end(), [](uint8_t b) { return b == 0; }));

  for (size_t i = 0; i < s.size(); ++i) s.data()[i] = static_cast<uint8_t>(0xf0 | i);
  CHECK_FALSE(s.is_zero());

  Secret<32> copy = s;
  CHECK(equal_ct(copy.data(), s.data(), 32));

  s.clear();
  CHECK(s.is_zero());
  CHECK(std::all_of(s.bytes.begin(), s.bytes.end(), [](uint8_t b) { return b == 0; }));
  // The copy has its own storage and is untouched.
  CHECK_FALSE(copy.is_zero());
  CHECK(copy.bytes[0] == 0xf0);
  CHECK(copy.bytes[31] == (0xf0 | 31));

  Secret<32> assigned;
  assigned = copy;
  copy.clear();
  CHECK(copy.is_zero());
  CHECK_FALSE(assigned.is_zero());
  CHECK(assigned.bytes[5] == (0xf0 | 5));

  // A single non-zero byte anywhere (including the last) makes is_zero false.
  Secret<16> small;
  small.bytes[15] = 1;
  CHECK_FALSE(small.is_zero());
  small.clear();
  CHECK(small.is_zero());

  const Secret<SymmetricKey::size()> key;
  CHECK(key.is_zero());
  CHECK(SymmetricKey::size() == kKeyLen);
  CHECK(kKeyLen == 32);
}

TEST_CASE("Secret<N> destructor wipes its storage") {
  // Construct in raw storage and destroy explicitly, so the bytes can be inspected afterwards
  // without touching a destroyed object through its type.
  alignas(Secret<24>) unsigned char storage[sizeof(Secret<24>)];
  auto* s = new (storage) Secret<24>();
  std::fill(s->bytes.begin(), s->bytes.end(), uint8_t{0x77});
  REQUIRE_FALSE(s->is_zero());
  const size_t offset = static_cast<size_t>(reinterpret_cast<unsigned char*>(s->data()) - storage);
  s->~Secret<24>();
  CHECK(std::all_of(storage + offset, storage + offset + 24, [](unsigned char b) { return b == 0; }));
}

}  // namespace wg::crypto
