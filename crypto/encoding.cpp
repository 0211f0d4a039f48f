// crypto/encoding.cpp — constant-time-style base64 and hex codecs for 32-byte keys.
// Every character is classified with arithmetic masks instead of table lookups or branches,
// so timing does not depend on the key; only the (public) length is checked with a branch.
#include "crypto/encoding.hpp"

#include "crypto/secure.hpp"

namespace wg::crypto {

namespace {

constexpr size_t kKeyBytes = 32;

// All ones (-1) when lo <= c <= hi, else 0. c, lo and hi lie in [0, 255], so both
// differences lie in [-256, 255]: their AND is negative exactly when both are negative,
// and the arithmetic shift turns that sign into the mask.
constexpr int range_mask(int c, int lo, int hi) { return ((lo - 1 - c) & (c - hi - 1)) >> 8; }

// All ones when a == b (both in [0, 255]), else 0.
constexpr int equal_mask(int a, int b) { return range_mask(a, b, b); }

// The 6-bit value of one base64 character, or -1 when it is not in the standard alphabet.
constexpr int base64_value(char ch) {
  const int c = static_cast<unsigned char>(ch);
  return -1 + (range_mask(c, 'A', 'Z') & (c - 'A' + 1)) + (range_mask(c, 'a', 'z') & (c - 'a' + 27)) +
         (range_mask(c, '0', '9') & (c - '0' + 53)) + (equal_mask(c, '+') & 63) + (equal_mask(c, '/') & 64);
}

// The character for a 6-bit value.
constexpr char base64_char(int v) {
  int c = v + 'A';
  c += ((25 - v) >> 8) & ('a' - 'A' - 26);  // v >= 26
  c += ((51 - v) >> 8) & ('0' - 'a' - 26);  // v >= 52
  c += ((61 - v) >> 8) & ('+' - '0' - 10);  // v >= 62
  c += ((62 - v) >> 8) & ('/' - '+' - 1);   // v == 63
  return static_cast<char>(c);
}

// The 4-bit value of one hex digit, or -1 when it is not one.
constexpr int hex_value(char ch) {
  const int c = static_cast<unsigned char>(ch);
  const int lower = c | 0x20;  // maps 'A'-'F' onto 'a'-'f'; no other byte lands there
  const int is_digit = range_mask(c, '0', '9');
  const int is_alpha = range_mask(lower, 'a', 'f');
  return (is_digit & (c - '0')) | (is_alpha & (lower - 'a' + 10)) | ~(is_digit | is_alpha);
}

constexpr char hex_char(int nibble) {
  return static_cast<char>(nibble + '0' + (((9 - nibble) >> 8) & ('a' - '0' - 10)));
}

static_assert(base64_value('A') == 0 && base64_value('Z') == 25 && base64_value('a') == 26 &&
              base64_value('z') == 51 && base64_value('0') == 52 && base64_value('9') == 61 &&
              base64_value('+') == 62 && base64_value('/') == 63);
static_assert(base64_value('=') == -1 && base64_value('\0') == -1 && base64_value('-') == -1 &&
              base64_value('_') == -1 && base64_value('\xff') == -1 && base64_value('\x80') == -1);
static_assert(base64_char(0) == 'A' && base64_char(25) == 'Z' && base64_char(26) == 'a' && base64_char(51) == 'z' &&
              base64_char(52) == '0' && base64_char(61) == '9' && base64_char(62) == '+' && base64_char(63) == '/');
static_assert(hex_value('0') == 0 && hex_value('9') == 9 && hex_value('a') == 10 && hex_value('F') == 15 &&
              hex_value('g') == -1 && hex_value('G') == -1 && hex_value('@') == -1 && hex_value('`') == -1 &&
              hex_value('\xc1') == -1);
static_assert(hex_char(0) == '0' && hex_char(9) == '9' && hex_char(10) == 'a' && hex_char(15) == 'f');

// Copies src into key when ok, zeros otherwise, without branching; then wipes src.
void commit_or_wipe(uint8_t key[32], uint8_t src[32], bool ok) {
  const uint8_t keep = static_cast<uint8_t>(0u - static_cast<unsigned>(ok));
  for (size_t i = 0; i < kKeyBytes; ++i) key[i] = src[i] & keep;
  wipe(src, kKeyBytes);
}

}  // namespace

bool key_from_base64(uint8_t key[32], std::string_view b64) {
  if (b64.size() != kKeyBase64Len) {
    wipe(key, kKeyBytes);
    return false;
  }
  uint8_t out[kKeyBytes];
  unsigned bad = 0;
  // Ten full quanta: 4 characters -> 3 bytes.
  for (size_t q = 0; q < 10; ++q) {
    int quantum = 0;
    for (size_t j = 0; j < 4; ++j) quantum |= base64_value(b64[q * 4 + j]) << (18 - 6 * j);
    bad |= static_cast<unsigned>(quantum) >> 31;  // any -1 made the whole quantum negative
    out[q * 3 + 0] = static_cast<uint8_t>(quantum >> 16);
    out[q * 3 + 1] = static_cast<uint8_t>(quantum >> 8);
    out[q * 3 + 2] = static_cast<uint8_t>(quantum);
  }
  // The last quantum: 3 characters -> 2 bytes; the remaining 2 bits must be zero, then '='.
  int quantum = 0;
  for (size_t j = 0; j < 3; ++j) quantum |= base64_value(b64[40 + j]) << (18 - 6 * j);
  bad |= static_cast<unsigned>(quantum) >> 31;
  bad |= static_cast<unsigned>(quantum) & 0xffu;  // the 2 unused bits of the 43rd character
  bad |= static_cast<unsigned>(~equal_mask(static_cast<unsigned char>(b64[43]), '=')) & 1u;
  out[30] = static_cast<uint8_t>(quantum >> 16);
  out[31] = static_cast<uint8_t>(quantum >> 8);
  const bool ok = bad == 0;
  commit_or_wipe(key, out, ok);
  return ok;
}

void key_to_base64(char out[45], const uint8_t key[32]) {
  for (size_t q = 0; q < 10; ++q) {
    const int quantum = key[q * 3] << 16 | key[q * 3 + 1] << 8 | key[q * 3 + 2];
    for (size_t j = 0; j < 4; ++j) out[q * 4 + j] = base64_char(quantum >> (18 - 6 * j) & 63);
  }
  const int quantum = key[30] << 16 | key[31] << 8;
  for (size_t j = 0; j < 3; ++j) out[40 + j] = base64_char(quantum >> (18 - 6 * j) & 63);
  out[43] = '=';
  out[44] = '\0';
}

std::string key_to_base64(const uint8_t key[32]) {
  char buf[kKeyBase64Len + 1];
  key_to_base64(buf, key);
  std::string s(buf, kKeyBase64Len);
  wipe(buf, sizeof buf);
  return s;
}

bool key_from_hex(uint8_t key[32], std::string_view hex) {
  if (hex.size() != kKeyHexLen) {
    wipe(key, kKeyBytes);
    return false;
  }
  uint8_t out[kKeyBytes];
  unsigned bad = 0;
  for (size_t i = 0; i < kKeyBytes; ++i) {
    const int hi = hex_value(hex[2 * i]);
    const int lo = hex_value(hex[2 * i + 1]);
    bad |= static_cast<unsigned>(hi | lo) >> 31;
    out[i] = static_cast<uint8_t>(hi << 4 | (lo & 0xf));
  }
  const bool ok = bad == 0;
  commit_or_wipe(key, out, ok);
  return ok;
}

void key_to_hex(char out[65], const uint8_t key[32]) {
  for (size_t i = 0; i < kKeyBytes; ++i) {
    out[2 * i] = hex_char(key[i] >> 4);
    out[2 * i + 1] = hex_char(key[i] & 0xf);
  }
  out[kKeyHexLen] = '\0';
}

std::string key_to_hex(const uint8_t key[32]) {
  char buf[kKeyHexLen + 1];
  key_to_hex(buf, key);
  std::string s(buf, kKeyHexLen);
  wipe(buf, sizeof buf);
  return s;
}

}  // namespace wg::crypto
