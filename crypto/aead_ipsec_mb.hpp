// crypto/aead_ipsec_mb.hpp — the intel-ipsec-mb backend behind crypto/aead.hpp (internal).
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "crypto/aead.hpp"

namespace wg::crypto::ipsec_mb {

// This thread's manager initialised: the library found a code path for this CPU and was built
// to wipe what it leaves in registers and on the stack (SAFE_DATA).
bool usable();
// Why not, when not.
std::string_view unusable_reason();
// The code path the manager took ("avx512", "avx2", ...), empty when not usable.
std::string_view arch();
// AVX2 or AVX-512: the lanes that make batches pay.
bool wide_simd();

bool seal(uint8_t* out, const uint8_t* in, size_t len, const uint8_t* ad, size_t ad_len, const uint8_t nonce[12],
          const uint8_t key[32]);
bool open(uint8_t* out, const uint8_t* in, size_t len, const uint8_t* ad, size_t ad_len, const uint8_t nonce[12],
          const uint8_t key[32]);
// A batch as one burst of jobs on this thread's manager (see AeadJob); wipes the keys.
void run(std::span<AeadJob> jobs);

}  // namespace wg::crypto::ipsec_mb
