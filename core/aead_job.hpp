// core/aead_job.hpp — the data path's AEAD work as jobs: one ChaCha20-Poly1305 operation taken
// out of the Device so that a batch of them runs at once (the multi-buffer backend's lanes,
// io/crypto_pool's threads): a data packet's payload sealed or opened under its counter and a
// copy of its key, wiped by whoever runs the job (crypto::AeadJob).
#pragma once
#include <span>

#include "crypto/aead.hpp"

namespace wg::core {

using AeadJob = crypto::AeadJob;

// Runs every job on this thread with the process's AEAD backend (sets ok) and wipes its key:
// what any job runner does with the jobs it takes.
inline void run_jobs(std::span<AeadJob> jobs) { crypto::run_aead_jobs(jobs); }

}  // namespace wg::core
