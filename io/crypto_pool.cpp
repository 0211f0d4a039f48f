// io/crypto_pool.cpp — see crypto_pool.hpp.
#include "io/crypto_pool.hpp"

#include <algorithm>

#include <pthread.h>
#include <signal.h>

namespace wg::io {

// Workers take no signals: the pool is made before the loop blocks SIGINT/SIGTERM/SIGHUP for
// its signalfd, and a thread that left them unblocked would take the default action (end the
// process, skipping the teardown) for a SIGTERM meant for the loop.
CryptoPool::CryptoPool(unsigned threads) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  for (unsigned i = 1; i < threads; ++i) workers_.emplace_back([this] { worker(); });
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

CryptoPool::~CryptoPool() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  start_cv_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void CryptoPool::work(std::span<core::AeadJob> jobs) {
  for (;;) {
    const size_t at = next_.fetch_add(kChunk, std::memory_order_relaxed);
    if (at >= jobs.size()) return;
    core::run_jobs(jobs.subspan(at, std::min(kChunk, jobs.size() - at)));
  }
}

void CryptoPool::run(std::span<core::AeadJob> jobs) {
  if (jobs.empty()) return;
  if (workers_.empty() || jobs.size() < kInlineBelow) return core::run_jobs(jobs);
  {
    std::lock_guard<std::mutex> l(mu_);
    jobs_ = jobs;
    next_.store(0, std::memory_order_relaxed);
    busy_ = workers_.size();
    ++generation_;
  }
  start_cv_.notify_all();
  work(jobs);
  std::unique_lock<std::mutex> l(mu_);
  done_cv_.wait(l, [this] { return busy_ == 0; });
  jobs_ = {};
}

void CryptoPool::worker() {
  uint64_t seen = 0;
  for (;;) {
    std::span<core::AeadJob> jobs;
    {
      std::unique_lock<std::mutex> l(mu_);
      start_cv_.wait(l, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      jobs = jobs_;
    }
    work(jobs);
    {
      std::lock_guard<std::mutex> l(mu_);
      --busy_;
    }
    done_cv_.notify_one();
  }
}

}  // namespace wg::io
