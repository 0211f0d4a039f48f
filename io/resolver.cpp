// io/resolver.cpp — see resolver.hpp.
#include "io/resolver.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <system_error>
#include <utility>

namespace wg::io {

namespace {

std::string key_of(const config::EndpointSpec& spec) { return spec.host + ":" + spec.port; }

}  // namespace

// Owned jointly by the Resolver and its workers: a worker stuck in getaddrinfo when the
// Resolver goes away still holds it, and the last one out closes the eventfd.
struct Resolver::Shared {
  struct Job {
    std::string key;
    config::EndpointSpec spec;
  };
  Lookup lookup;  // fixed after construction
  int efd = -1;   // fixed after construction
  std::mutex mu;
  std::condition_variable cv;
  // Under mu:
  std::deque<Job> queue;
  std::vector<std::pair<std::string, Answer>> answers;
  std::vector<bool> busy;  // per worker: inside lookup()
  bool stop = false;

  ~Shared() {
    if (efd >= 0) ::close(efd);
  }

  // A worker: takes jobs until stop. After a lookup it looks at stop again before touching
  // anything but this state, so a detached worker that wakes from a long getaddrinfo only
  // drops its answer and leaves.
  static void work(const std::shared_ptr<Shared>& s, size_t me) {
    std::unique_lock<std::mutex> l(s->mu);
    for (;;) {
      s->cv.wait(l, [&] { return s->stop || !s->queue.empty(); });
      if (s->stop) return;
      Job job = std::move(s->queue.front());
      s->queue.pop_front();
      s->busy[me] = true;
      l.unlock();
      Answer a = s->lookup(job.spec);
      l.lock();
      s->busy[me] = false;
      if (s->stop) return;
      s->answers.emplace_back(std::move(job.key), std::move(a));
      const uint64_t one = 1;
      [[maybe_unused]] const ssize_t n = ::write(s->efd, &one, sizeof(one));  // fails only on overflow: still readable
    }
  }
};

Resolver::Resolver(Lookup lookup, size_t max_pending)
    : shared_(std::make_shared<Shared>()), max_pending_(max_pending) {
  shared_->lookup = std::move(lookup);
  shared_->efd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  shared_->busy.assign(kMaxWorkers, false);
}

Resolver::~Resolver() {
  std::vector<bool> busy;
  {
    std::lock_guard<std::mutex> l(shared_->mu);
    shared_->stop = true;
    shared_->queue.clear();
    busy = shared_->busy;
  }
  shared_->cv.notify_all();
  // An idle worker sees stop at once: join it. A busy one may sit in getaddrinfo for as long
  // as the name server makes it (timeout × attempts × families): let it finish on its own; it
  // owns a reference to shared_ and touches nothing else.
  for (size_t i = 0; i < workers_.size(); ++i) {
    if (busy[i])
      workers_[i].detach();
    else
      workers_[i].join();
  }
}

int Resolver::fd() const { return shared_->efd; }

bool Resolver::in_flight(const config::EndpointSpec& spec) const { return waiting_.count(key_of(spec)) != 0; }

Resolver::Submit Resolver::resolve(const config::EndpointSpec& spec, Done done) {
  std::string key = key_of(spec);
  if (auto it = waiting_.find(key); it != waiting_.end()) {
    if (it->second.size() >= kMaxWaiters) return Submit::Full;
    it->second.push_back(std::move(done));
    return Submit::Joined;
  }
  if (waiting_.size() >= max_pending_ || shared_->efd < 0) return Submit::Full;
  bool spawn = false;
  {
    std::lock_guard<std::mutex> l(shared_->mu);
    shared_->queue.push_back({key, spec});
    const size_t busy = static_cast<size_t>(std::count(shared_->busy.begin(), shared_->busy.end(), true));
    spawn = shared_->queue.size() > workers_.size() - busy && workers_.size() < kMaxWorkers;
  }
  shared_->cv.notify_one();  // an idle worker, if there is one
  if (spawn) {
    // Workers take no signals: SIGINT/SIGTERM/SIGHUP are the loop's (a signalfd), and a
    // thread with them unblocked would take the default action for the whole process.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    try {
      workers_.emplace_back(&Shared::work, shared_, workers_.size());
    } catch (const std::system_error&) {
      // No thread: an existing worker gets to the job later; with none, refuse it.
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    if (workers_.empty()) {
      std::lock_guard<std::mutex> l(shared_->mu);
      shared_->queue.pop_back();
      return Submit::Full;
    }
  }
  waiting_[std::move(key)].push_back(std::move(done));
  return Submit::Queued;
}

void Resolver::deliver() {
  uint64_t count;
  [[maybe_unused]] const ssize_t n = ::read(shared_->efd, &count, sizeof(count));  // EAGAIN: nothing new
  std::vector<std::pair<std::string, Answer>> got;
  {
    std::lock_guard<std::mutex> l(shared_->mu);
    got.swap(shared_->answers);
  }
  for (auto& [key, answer] : got) {
    auto it = waiting_.find(key);
    if (it == waiting_.end()) continue;
    // Out of the map first: a callback may ask for the same name again.
    std::vector<Done> callbacks = std::move(it->second);
    waiting_.erase(it);
    for (Done& cb : callbacks) cb(answer);
  }
}

}  // namespace wg::io
