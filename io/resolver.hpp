// io/resolver.hpp — hostname lookups (config::resolve_endpoint, i.e. getaddrinfo) off the
// event loop: a few worker threads do the lookups, and the answers come back to the loop
// through an eventfd the loop watches; the callbacks run on the loop thread, in deliver().
//
// A resolver that never answers must not stall the data path (issue 10): getaddrinfo cannot
// be cancelled, so a lookup may outlive this object. Everything a worker touches lives in a
// shared state the worker holds a reference to; the destructor lets go of workers stuck in a
// lookup (detached, they drop the answer and exit when getaddrinfo returns) and joins the idle
// ones, so it never waits for a name server.
//
// Loop-thread only: resolve(), deliver(), pending(), the destructor. The lookup function runs
// on the workers and must be thread-safe (getaddrinfo is).
#pragma once
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "config/config.hpp"
#include "core/endpoint.hpp"
#include "core/result.hpp"

namespace wg::io {

class Resolver {
 public:
  using Answer = Result<core::Endpoint, config::ResolveError>;
  using Lookup = std::function<Answer(const config::EndpointSpec&)>;
  using Done = std::function<void(const Answer&)>;

  static constexpr size_t kMaxPending = 64;   // names waiting or being looked up
  static constexpr size_t kMaxWaiters = 16;   // callbacks waiting for one name
  static constexpr unsigned kMaxWorkers = 4;  // lookups at the same time (one hung name takes one)

  // lookup: what a worker runs; config::resolve_endpoint unless a test wants another.
  explicit Resolver(Lookup lookup = config::resolve_endpoint, size_t max_pending = kMaxPending);
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // Readable when answers are waiting: watch it and call deliver() (-1 if eventfd failed, and
  // then resolve() refuses everything).
  int fd() const;

  enum class Submit {
    Queued,  // a new lookup
    Joined,  // the same host:port is already being looked up: done waits for that answer
    Full,    // kMaxPending names (or kMaxWaiters callbacks for this one) pending, or no
             // eventfd or thread: nothing queued, done never runs
  };
  // Looks spec's host and port up off the loop; done(answer) runs later, inside deliver().
  [[nodiscard]] Submit resolve(const config::EndpointSpec& spec, Done done);
  // Runs the callbacks of every answered lookup. A callback may call resolve() again.
  void deliver();
  // Names waiting or being looked up.
  size_t pending() const { return waiting_.size(); }
  // spec's host:port is waiting or being looked up.
  bool in_flight(const config::EndpointSpec& spec) const;

  struct Shared;  // the state the workers share (resolver.cpp)

 private:
  std::shared_ptr<Shared> shared_;
  size_t max_pending_;
  std::vector<std::thread> workers_;  // index i is Shared::busy[i]
  // host:port → the callbacks waiting for its answer (loop thread only).
  std::unordered_map<std::string, std::vector<Done>> waiting_;
};

}  // namespace wg::io
