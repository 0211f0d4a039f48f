// io/crypto_pool.hpp — several cores for one tunnel: the AEAD work of one batch (core::AeadJob)
// split across worker threads, the loop thread taking its share, and joined before the batch's
// packets leave. Everything else stays on the loop thread, so per-peer order is the order in
// which the Device assigned counters (sends) or in which datagrams arrived (receives).
//
// Small batches run inline: waking a worker costs more than sealing a few packets.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "core/device.hpp"

namespace wg::io {

class CryptoPool {
 public:
  static constexpr size_t kInlineBelow = 8;  // jobs; fewer run on the calling thread alone
  static constexpr size_t kChunk = 16;       // jobs taken per grab (enough to fill the multi-buffer lanes)

  // threads counts the calling thread: 1 (or 0) means no workers.
  explicit CryptoPool(unsigned threads);
  ~CryptoPool();
  CryptoPool(const CryptoPool&) = delete;
  CryptoPool& operator=(const CryptoPool&) = delete;

  unsigned threads() const { return static_cast<unsigned>(workers_.size()) + 1; }
  // Runs every job (sets job.ok) and wipes its key; returns when all are done.
  void run(std::span<core::AeadJob> jobs);

 private:
  void work(std::span<core::AeadJob> jobs);
  void worker();

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable start_cv_, done_cv_;
  uint64_t generation_ = 0;  // a new batch (under mu_)
  bool stop_ = false;
  std::span<core::AeadJob> jobs_;
  std::atomic<size_t> next_{0};
  size_t busy_ = 0;  // workers still on the current batch (under mu_)
};

}  // namespace wg::io
