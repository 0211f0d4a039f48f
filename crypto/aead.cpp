// crypto/aead.cpp — the libsodium and OpenSSL libcrypto ChaCha20-Poly1305 backends, the
// choice among the three, and the one-job-at-a-time batch runner.
#include "crypto/aead.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sodium.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "crypto/aead_ipsec_mb.hpp"
#include "crypto/secure.hpp"

namespace wg::crypto {

namespace {

// The process default; -1 until chosen (then best_aead_backend() on first use).
std::atomic<int> g_default{-1};

bool sodium_seal(uint8_t* out, const uint8_t* in, size_t len, const uint8_t* ad, size_t ad_len,
                 const uint8_t nonce[12], const uint8_t key[32]) {
  return crypto_aead_chacha20poly1305_ietf_encrypt_detached(out, out + len, nullptr, in, len, ad, ad_len, nullptr,
                                                            nonce, key) == 0;
}

bool sodium_open(uint8_t* out, const uint8_t* in, size_t len, const uint8_t* ad, size_t ad_len,
                 const uint8_t nonce[12], const uint8_t key[32]) {
  if (len < kAeadTagLen) return false;
  const size_t n = len - kAeadTagLen;
  return crypto_aead_chacha20poly1305_ietf_decrypt_detached(out, nullptr, in, n, in + n, ad, ad_len, nonce, key) == 0;
}

// One cipher context per thread and direction, created on first use and then only re-keyed,
// so the data path does not allocate per packet. OpenSSL 3 answers every key and parameter
// call through named-parameter lookups, which cost as much as the cipher on a small packet:
// the key is set only when it differs from the one the context holds (compared in constant
// time; the copy is wiped with the context), and the tag goes through prepared parameters.
struct EvpContexts {
  EVP_CIPHER_CTX* enc = nullptr;
  EVP_CIPHER_CTX* dec = nullptr;
  uint8_t enc_key[32] = {}, dec_key[32] = {};
  bool enc_keyed = false, dec_keyed = false;
  EvpContexts() {
    enc = EVP_CIPHER_CTX_new();
    dec = EVP_CIPHER_CTX_new();
    if (!enc || !dec || EVP_EncryptInit_ex(enc, EVP_chacha20_poly1305(), nullptr, nullptr, nullptr) != 1 ||
        EVP_DecryptInit_ex(dec, EVP_chacha20_poly1305(), nullptr, nullptr, nullptr) != 1) {
      std::fputs("wgrouter: OpenSSL has no usable ChaCha20-Poly1305\n", stderr);
      std::abort();
    }
  }
  ~EvpContexts() {
    OPENSSL_cleanse(enc_key, sizeof(enc_key));
    OPENSSL_cleanse(dec_key, sizeof(dec_key));
    EVP_CIPHER_CTX_free(enc);
    EVP_CIPHER_CTX_free(dec);
  }
};

EvpContexts& evp() {
  thread_local EvpContexts ctx;
  return ctx;
}

// OpenSSL's update takes int lengths; WireGuard packets are far below that.
bool fits_int(size_t n) { return n <= 0x7fffffff; }

bool openssl_seal(uint8_t* out, const uint8_t* in, size_t len, const uint8_t* ad, size_t ad_len,
                  const uint8_t nonce[12], const uint8_t key[32]) {
  if (!fits_int(len) || !fits_int(ad_len)) return false;
  EvpContexts& x = evp();
  EVP_CIPHER_CTX* c = x.enc;
  int outl = 0;
  const bool same = x.enc_keyed && CRYPTO_memcmp(x.enc_key, key, 32) == 0;
  if (EVP_EncryptInit_ex(c, nullptr, nullptr, same ? nullptr : key, nonce) != 1) return false;
  if (!same) {
    std::memcpy(x.enc_key, key, 32);
    x.enc_keyed = true;
  }
  if (ad_len && EVP_EncryptUpdate(c, nullptr, &outl, ad, static_cast<int>(ad_len)) != 1) return false;
  if (len && EVP_EncryptUpdate(c, out, &outl, in, static_cast<int>(len)) != 1) return false;
  if (EVP_EncryptFinal_ex(c, out + len, &outl) != 1) return false;
  OSSL_PARAM tag[2] = {OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, out + len, kAeadTagLen),
                       OSSL_PARAM_construct_end()};
  return EVP_CIPHER_CTX_get_params(c, tag) == 1;
}

bool openssl_open(uint8_t* out, const uint8_t* in, size_t len, const uint8_t* ad, size_t ad_len,
                  const uint8_t nonce[12], const uint8_t key[32]) {
  if (len < kAeadTagLen || !fits_int(len) || !fits_int(ad_len)) return false;
  const size_t n = len - kAeadTagLen;
  uint8_t tag[kAeadTagLen];
  std::memcpy(tag, in + n, kAeadTagLen);  // in-place decryption may overwrite nothing past n, but be safe
  EvpContexts& x = evp();
  EVP_CIPHER_CTX* c = x.dec;
  int outl = 0;
  const bool same = x.dec_keyed && CRYPTO_memcmp(x.dec_key, key, 32) == 0;
  if (EVP_DecryptInit_ex(c, nullptr, nullptr, same ? nullptr : key, nonce) != 1) return false;
  if (!same) {
    std::memcpy(x.dec_key, key, 32);
    x.dec_keyed = true;
  }
  if (ad_len && EVP_DecryptUpdate(c, nullptr, &outl, ad, static_cast<int>(ad_len)) != 1) return false;
  if (n && EVP_DecryptUpdate(c, out, &outl, in, static_cast<int>(n)) != 1) return false;
  OSSL_PARAM set[2] = {OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, kAeadTagLen),
                       OSSL_PARAM_construct_end()};
  if (EVP_CIPHER_CTX_set_params(c, set) != 1) return false;
  return EVP_DecryptFinal_ex(c, out + n, &outl) == 1;
}

}  // namespace

std::string_view name(AeadBackend b) {
  switch (b) {
    case AeadBackend::Sodium: return "libsodium";
    case AeadBackend::OpenSsl: return "openssl";
    case AeadBackend::IpsecMb: return "ipsec-mb";
  }
  return "?";
}

std::optional<AeadBackend> parse_aead_backend(std::string_view s) {
  if (s == "ipsec-mb") return AeadBackend::IpsecMb;
  if (s == "openssl") return AeadBackend::OpenSsl;
  if (s == "sodium" || s == "libsodium") return AeadBackend::Sodium;
  return std::nullopt;
}

bool aead_backend_usable(AeadBackend b) { return b != AeadBackend::IpsecMb || ipsec_mb::usable(); }

std::string_view aead_arch(AeadBackend b) { return b == AeadBackend::IpsecMb ? ipsec_mb::arch() : ""; }

std::string describe(AeadBackend b) {
  std::string s(name(b));
  if (const std::string_view a = aead_arch(b); !a.empty()) s.append(" ").append(a);
  return s;
}

AeadBackend best_aead_backend() { return ipsec_mb::wide_simd() ? AeadBackend::IpsecMb : AeadBackend::OpenSsl; }

bool select_aead_backend_from_env(std::string& error) {
  const char* v = std::getenv("WGROUTER_AEAD");
  if (!v || !*v) {
    set_default_aead_backend(best_aead_backend());
    return true;
  }
  const auto b = parse_aead_backend(v);
  if (!b) {
    error = std::string("`") + v + "' is not an AEAD backend (ipsec-mb, openssl or sodium)";
    return false;
  }
  if (!aead_backend_usable(*b)) {
    error = std::string(name(*b)) + " cannot be used here: " + std::string(ipsec_mb::unusable_reason());
    return false;
  }
  set_default_aead_backend(*b);
  return true;
}

AeadBackend default_aead_backend() {
  int b = g_default.load(std::memory_order_relaxed);
  if (b < 0) {
    b = static_cast<int>(best_aead_backend());
    g_default.store(b, std::memory_order_relaxed);
  }
  return static_cast<AeadBackend>(b);
}

void set_default_aead_backend(AeadBackend b) { g_default.store(static_cast<int>(b), std::memory_order_relaxed); }

void counter_nonce(uint8_t nonce[12], uint64_t counter) {
  std::memset(nonce, 0, 4);
  for (int i = 0; i < 8; ++i) nonce[4 + i] = static_cast<uint8_t>(counter >> (8 * i));
}

bool chacha20poly1305_seal(AeadBackend b, uint8_t* out, const uint8_t* in, size_t len, const uint8_t* ad,
                           size_t ad_len, const uint8_t nonce[12], const uint8_t key[32]) {
  switch (b) {
    case AeadBackend::Sodium: return sodium_seal(out, in, len, ad, ad_len, nonce, key);
    case AeadBackend::OpenSsl: return openssl_seal(out, in, len, ad, ad_len, nonce, key);
    case AeadBackend::IpsecMb: return ipsec_mb::seal(out, in, len, ad, ad_len, nonce, key);
  }
  return false;
}

bool chacha20poly1305_open(AeadBackend b, uint8_t* out, const uint8_t* in, size_t len, const uint8_t* ad,
                           size_t ad_len, const uint8_t nonce[12], const uint8_t key[32]) {
  switch (b) {
    case AeadBackend::Sodium: return sodium_open(out, in, len, ad, ad_len, nonce, key);
    case AeadBackend::OpenSsl: return openssl_open(out, in, len, ad, ad_len, nonce, key);
    case AeadBackend::IpsecMb: return ipsec_mb::open(out, in, len, ad, ad_len, nonce, key);
  }
  return false;
}

void run_aead_jobs(std::span<AeadJob> jobs, AeadBackend b) {
  if (b == AeadBackend::IpsecMb) return ipsec_mb::run(jobs);
  for (AeadJob& j : jobs) {
    const uint8_t* in = j.src ? j.src : j.data;
    j.ok = j.seal ? aead_seal(j.data, in, j.len, nullptr, 0, j.counter, j.key.data(), b)
                  : aead_open(j.data, in, j.len, nullptr, 0, j.counter, j.key.data(), b);
    if (!j.ok && !j.seal && j.len >= kAeadTagLen) wipe(j.data, j.len - kAeadTagLen);
    wipe(j.key.data(), j.key.size());
  }
}

bool xchacha20poly1305_seal(uint8_t* out, const uint8_t* in, size_t len, const uint8_t* ad, size_t ad_len,
                            const uint8_t nonce[24], const uint8_t key[32]) {
  return crypto_aead_xchacha20poly1305_ietf_encrypt_detached(out, out + len, nullptr, in, len, ad, ad_len, nullptr,
                                                             nonce, key) == 0;
}

bool xchacha20poly1305_open(uint8_t* out, const uint8_t* in, size_t len, const uint8_t* ad, size_t ad_len,
                            const uint8_t nonce[24], const uint8_t key[32]) {
  if (len < kAeadTagLen) return false;
  const size_t n = len - kAeadTagLen;
  return crypto_aead_xchacha20poly1305_ietf_decrypt_detached(out, nullptr, in, n, in + n, ad, ad_len, nonce, key) ==
         0;
}

}  // namespace wg::crypto
