// tests/io/resolver_test.cpp — io::Resolver: lookups run off the calling thread and their
// answers come back through the eventfd, in deliver(), on the calling thread; a name already
// being looked up is not looked up twice; the destructor does not wait for a stuck lookup.
#include <doctest/doctest.h>
#include <poll.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "io/resolver.hpp"

namespace {

using wg::config::EndpointSpec;
using wg::io::Resolver;
using Clock = std::chrono::steady_clock;

// "host:port" as the parser splits a hostname Endpoint (no IP-literal shortcut: the lookup
// itself sees the text).
EndpointSpec spec_of(const std::string& text) {
  EndpointSpec e;
  e.text = text;
  const size_t colon = text.rfind(':');
  e.host = text.substr(0, colon);
  e.port = text.substr(colon + 1);
  return e;
}

// The loop's part: wait for the eventfd, then deliver(), until done() or 5 s.
template <class Pred>
bool pump(Resolver& r, Pred done) {
  const auto end = Clock::now() + std::chrono::seconds(5);
  while (!done()) {
    if (Clock::now() >= end) return false;
    pollfd p{r.fd(), POLLIN, 0};
    if (::poll(&p, 1, 50) > 0) r.deliver();
  }
  return true;
}

// A lookup that counts its calls and blocks until the test opens the gate.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  int calls = 0;
  void release() {
    {
      std::lock_guard<std::mutex> l(mu);
      open = true;
    }
    cv.notify_all();
  }
  int count() {
    std::lock_guard<std::mutex> l(mu);
    return calls;
  }
};

Resolver::Lookup gated(const std::shared_ptr<Gate>& g) {
  return [g](const EndpointSpec& spec) -> Resolver::Answer {
    std::unique_lock<std::mutex> l(g->mu);
    ++g->calls;
    g->cv.wait(l, [&] { return g->open; });
    return spec.port == "1" ? wg::core::Endpoint::v4(192, 0, 2, 1, 1) : wg::core::Endpoint::v4(192, 0, 2, 2, 2);
  };
}

template <class Pred>
bool wait_until(Pred p) {
  const auto end = Clock::now() + std::chrono::seconds(5);
  while (!p()) {
    if (Clock::now() >= end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

TEST_CASE("resolver: numeric and /etc/hosts names are answered in deliver(), on the loop's thread") {
  Resolver r;
  REQUIRE(r.fd() >= 0);
  const auto loop = std::this_thread::get_id();

  std::optional<Resolver::Answer> numeric;
  std::thread::id ran_on;
  REQUIRE(r.resolve(spec_of("192.0.2.7:51820"), [&](const Resolver::Answer& a) {
    numeric = a;
    ran_on = std::this_thread::get_id();
  }) == Resolver::Submit::Queued);
  CHECK(r.in_flight(spec_of("192.0.2.7:51820")));
  // The answer is signalled on the eventfd, but the callback waits for deliver().
  pollfd p{r.fd(), POLLIN, 0};
  REQUIRE(::poll(&p, 1, 5000) == 1);
  CHECK_FALSE(numeric);
  r.deliver();
  REQUIRE(numeric);
  REQUIRE(numeric->has_value());
  CHECK(wg::core::to_string(**numeric) == "192.0.2.7:51820");
  CHECK(ran_on == loop);
  CHECK(r.pending() == 0);
  CHECK_FALSE(r.in_flight(spec_of("192.0.2.7:51820")));

  std::optional<Resolver::Answer> local, empty;
  REQUIRE(r.resolve(spec_of("localhost:51820"), [&](const Resolver::Answer& a) { local = a; }) == Resolver::Submit::Queued);
  REQUIRE(r.resolve(spec_of(":51820"), [&](const Resolver::Answer& a) { empty = a; }) == Resolver::Submit::Queued);
  REQUIRE(pump(r, [&] { return local && empty; }));
  REQUIRE(local->has_value());
  const std::string text = wg::core::to_string(**local);
  CHECK((text == "127.0.0.1:51820" || text == "[::1]:51820"));
  // A failed lookup comes back as the error resolve_endpoint gives.
  REQUIRE_FALSE(empty->has_value());
  CHECK(empty->error().message == "Name or service not known: `:51820'");
}

TEST_CASE("resolver: a name already being looked up joins that lookup, and the number of names is bounded") {
  auto gate = std::make_shared<Gate>();
  Resolver r(gated(gate), 2);
  int a_answers = 0, b_answers = 0;
  auto count_a = [&](const Resolver::Answer& x) {
    CHECK(wg::core::to_string(*x) == "192.0.2.1:1");
    ++a_answers;
  };
  CHECK(r.resolve(spec_of("a.example:1"), count_a) == Resolver::Submit::Queued);
  CHECK(r.resolve(spec_of("a.example:1"), count_a) == Resolver::Submit::Joined);
  CHECK(r.resolve(spec_of("b.example:2"), [&](const Resolver::Answer&) { ++b_answers; }) == Resolver::Submit::Queued);
  CHECK(r.resolve(spec_of("c.example:3"), [](const Resolver::Answer&) {}) == Resolver::Submit::Full);
  CHECK(r.pending() == 2);
  // Both names are looked up at the same time (one worker each), a.example only once.
  REQUIRE(wait_until([&] { return gate->count() == 2; }));
  gate->release();
  REQUIRE(pump(r, [&] { return a_answers == 2 && b_answers == 1; }));
  CHECK(gate->count() == 2);
  CHECK(r.pending() == 0);
  // Answered: the next request is a new lookup.
  CHECK(r.resolve(spec_of("a.example:1"), count_a) == Resolver::Submit::Queued);
  REQUIRE(pump(r, [&] { return a_answers == 3; }));
  CHECK(gate->count() == 3);
}

TEST_CASE("resolver: destroying it while a lookup is stuck returns at once, the worker ends later") {
  auto gate = std::make_shared<Gate>();
  bool answered = false;
  auto r = std::make_unique<Resolver>(gated(gate));
  REQUIRE(r->resolve(spec_of("stuck.example:1"), [&](const Resolver::Answer&) { answered = true; }) ==
          Resolver::Submit::Queued);
  REQUIRE(wait_until([&] { return gate->count() == 1; }));  // the worker is inside the lookup
  const auto t0 = Clock::now();
  r.reset();
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
  MESSAGE("destructor took " << took.count() << " ms with a lookup in flight");
  CHECK(took < std::chrono::milliseconds(100));
  // The lookup ends: the detached worker drops its answer, and the last reference to the
  // shared state (which holds the lookup function, hence `gate`) goes with it.
  gate->release();
  CHECK(wait_until([&] { return gate.use_count() == 1; }));
  CHECK_FALSE(answered);
}

}  // namespace
