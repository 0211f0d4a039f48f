// crypto/aead_ipsec_mb.cpp — the intel-ipsec-mb ChaCha20-Poly1305 backend (see aead.hpp).
//
// The library's job manager may keep several jobs in flight (other algorithms share SIMD lanes
// among packets; ChaCha20-Poly1305 in 1.3 completes each job as it is submitted); a job is done
// only when the manager hands it back, in submission order.
// One manager per thread (the loop thread and each crypto-pool worker), made on first use.
// Decryption in the library computes the tag of the ciphertext but does not compare it: the
// comparison is ours, in constant time, and a plaintext whose tag does not match is zeroed
// before the batch returns.
#include "crypto/aead_ipsec_mb.hpp"

#include <intel-ipsec-mb.h>
#include <openssl/crypto.h>

#include <cstring>
#include <vector>

#include "crypto/secure.hpp"

namespace wg::crypto::ipsec_mb {

namespace {

struct Manager {
  IMB_MGR* mgr = nullptr;
  IMB_ARCH arch = IMB_ARCH_NONE;
  std::string_view unusable = "not tried";
  // Per job of the batch, kept until the library is done with it: the nonce it reads and the
  // tag an open computes. Grown once to the largest batch.
  std::vector<std::array<uint8_t, kAeadNonceLen>> nonces;
  std::vector<std::array<uint8_t, kAeadTagLen>> tags;
  Manager() {
    mgr = alloc_mb_mgr(0);
    if (!mgr) {
      unusable = "its manager could not be allocated";
      return;
    }
    init_mb_mgr_auto(mgr, &arch);
    if (arch == IMB_ARCH_NONE || imb_get_errno(mgr) != 0) {
      unusable = "the library found no code path for this CPU";
    } else if (!(mgr->features & IMB_FEATURE_SAFE_DATA)) {
      // Built without SAFE_DATA, the library leaves key material in registers and on the stack.
      unusable = "the library was built without SAFE_DATA (key material would stay in registers)";
    } else {
      unusable = {};
      nonces.resize(64);
      tags.resize(64);
      return;
    }
    free_mb_mgr(mgr);
    mgr = nullptr;
  }
  ~Manager() {
    if (!mgr) return;
    // Whatever the lanes still hold of the last keys goes with the memory.
    while (IMB_FLUSH_JOB(mgr)) {
    }
    free_mb_mgr(mgr);
  }
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;
};

Manager& manager() {
  thread_local Manager m;
  return m;
}

// The job's fields that do not depend on the direction.
void fill(IMB_JOB* j, const uint8_t* src, uint8_t* dst, size_t len, const uint8_t* ad, size_t ad_len,
          const uint8_t* nonce, const uint8_t* key, uint8_t* tag) {
  j->cipher_mode = IMB_CIPHER_CHACHA20_POLY1305;
  j->hash_alg = IMB_AUTH_CHACHA20_POLY1305;
  j->enc_keys = key;
  j->dec_keys = key;
  j->key_len_in_bytes = 32;
  j->iv = nonce;
  j->iv_len_in_bytes = kAeadNonceLen;
  j->src = src;
  j->dst = dst;
  j->cipher_start_src_offset_in_bytes = 0;
  j->msg_len_to_cipher_in_bytes = len;
  j->hash_start_src_offset_in_bytes = 0;
  j->msg_len_to_hash_in_bytes = len;
  j->u.CHACHA20_POLY1305.aad = ad;
  j->u.CHACHA20_POLY1305.aad_len_in_bytes = ad_len;
  j->auth_tag_output = tag;
  j->auth_tag_output_len_in_bytes = kAeadTagLen;
}

void direction(IMB_JOB* j, bool seal) {
  j->cipher_direction = seal ? IMB_DIR_ENCRYPT : IMB_DIR_DECRYPT;
  j->chain_order = seal ? IMB_ORDER_CIPHER_HASH : IMB_ORDER_HASH_CIPHER;
}

// One job submitted and flushed on its own (handshake messages, vectors): the single-packet API.
bool run_one(uint8_t* out, const uint8_t* in, size_t len, const uint8_t* ad, size_t ad_len, const uint8_t nonce[12],
             const uint8_t key[32], bool seal, uint8_t* tag) {
  Manager& m = manager();
  if (!m.mgr) return false;
  IMB_JOB* j = IMB_GET_NEXT_JOB(m.mgr);
  fill(j, in, out, len, ad, ad_len, nonce, key, tag);
  direction(j, seal);
  bool ok = false;
  auto take = [&](IMB_JOB* done) {
    for (; done; done = IMB_GET_COMPLETED_JOB(m.mgr)) ok = done->status == IMB_STATUS_COMPLETED;
  };
  take(IMB_SUBMIT_JOB(m.mgr));
  take(IMB_FLUSH_JOB(m.mgr));
  return ok;
}

// What the manager's architecture is called in `wgrouter show`.
std::string_view arch_name(IMB_ARCH a) {
  switch (a) {
    case IMB_ARCH_AVX512: return "avx512";
    case IMB_ARCH_AVX2: return "avx2";
    case IMB_ARCH_AVX: return "avx";
    case IMB_ARCH_SSE: return "sse";
    case IMB_ARCH_NOAESNI: return "sse-noaesni";
    default: return "";
  }
}

}  // namespace

bool usable() { return manager().mgr != nullptr; }

std::string_view unusable_reason() { return manager().unusable; }

std::string_view arch() { return usable() ? arch_name(manager().arch) : ""; }

bool wide_simd() {
  const IMB_ARCH a = manager().arch;
  return usable() && (a == IMB_ARCH_AVX2 || a == IMB_ARCH_AVX512);
}

bool seal(uint8_t* out, const uint8_t* in, size_t len, const uint8_t* ad, size_t ad_len, const uint8_t nonce[12],
          const uint8_t key[32]) {
  return run_one(out, in, len, ad, ad_len, nonce, key, true, out + len);
}

bool open(uint8_t* out, const uint8_t* in, size_t len, const uint8_t* ad, size_t ad_len, const uint8_t nonce[12],
          const uint8_t key[32]) {
  if (len < kAeadTagLen) return false;
  const size_t n = len - kAeadTagLen;
  uint8_t expect[kAeadTagLen], got[kAeadTagLen];
  std::memcpy(expect, in + n, kAeadTagLen);  // in place, the plaintext may overwrite nothing past n; be safe
  const bool ran = run_one(out, in, n, ad, ad_len, nonce, key, false, got);
  const bool ok = ran && CRYPTO_memcmp(expect, got, kAeadTagLen) == 0;
  if (!ok) wipe(out, n);
  wipe(got, sizeof(got));
  return ok;
}

void run(std::span<AeadJob> jobs) {
  Manager& m = manager();
  if (!m.mgr) {
    for (AeadJob& j : jobs) {
      j.ok = false;
      wipe(j.key.data(), j.key.size());
    }
    return;
  }
  if (m.tags.size() < jobs.size()) {
    m.tags.resize(jobs.size());
    m.nonces.resize(jobs.size());
  }

  size_t completed = 0;
  auto complete = [&](IMB_JOB* done) {
    for (; done; done = IMB_GET_COMPLETED_JOB(m.mgr)) {
      const size_t i = reinterpret_cast<uintptr_t>(done->user_data);
      AeadJob& j = jobs[i];
      ++completed;
      bool ok = done->status == IMB_STATUS_COMPLETED;
      if (!j.seal) {
        const size_t n = j.len - kAeadTagLen;
        const uint8_t* tag = (j.src ? j.src : j.data) + n;
        ok = ok && CRYPTO_memcmp(tag, m.tags[i].data(), kAeadTagLen) == 0;
        if (!ok) wipe(j.data, n);  // never release a plaintext that did not verify
      }
      j.ok = ok;
    }
  };
  size_t submitted = 0;
  for (size_t i = 0; i < jobs.size(); ++i) {
    AeadJob& j = jobs[i];
    j.ok = false;
    if (!j.seal && j.len < kAeadTagLen) continue;
    counter_nonce(m.nonces[i].data(), j.counter);
    const uint8_t* src = j.src ? j.src : j.data;
    const size_t n = j.seal ? j.len : j.len - kAeadTagLen;
    IMB_JOB* job = IMB_GET_NEXT_JOB(m.mgr);
    fill(job, src, j.data, n, nullptr, 0, m.nonces[i].data(), j.key.data(), j.seal ? j.data + n : m.tags[i].data());
    direction(job, j.seal);
    job->user_data = reinterpret_cast<void*>(static_cast<uintptr_t>(i));
    ++submitted;
    complete(IMB_SUBMIT_JOB(m.mgr));
  }
  while (completed < submitted) {
    IMB_JOB* done = IMB_FLUSH_JOB(m.mgr);
    if (!done) break;
    complete(done);
  }
  if (completed < submitted)  // the manager lost a job (never seen): nothing of it is released
    for (AeadJob& j : jobs)
      if (!j.ok && !j.seal && j.len >= kAeadTagLen) wipe(j.data, j.len - kAeadTagLen);
  for (AeadJob& j : jobs) wipe(j.key.data(), j.key.size());
}

}  // namespace wg::crypto::ipsec_mb
