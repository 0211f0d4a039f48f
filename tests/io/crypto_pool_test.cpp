// tests/io/crypto_pool_test.cpp — the pool itself: a batch's AEAD jobs run on several threads
// give what the Device does alone, and a message the Device would refuse is never prepared.
// How the data plane uses it (deferred seals and opens, order, forgeries, duplicates) is in
// tests/core/dataplane_test.cpp.
#include <doctest/doctest.h>

#include <vector>

#include "core/harness.hpp"
#include "io/crypto_pool.hpp"

namespace {

using namespace wg::core;
using wg::io::CryptoPool;
using wg::testing::Pair;

constexpr size_t kLen = 1000;

// A handshake done, then `n` packets from a to b sealed on the pool; returns the datagrams.
std::vector<std::vector<uint8_t>> sealed_batch(Pair& pr, CryptoPool& pool, size_t n) {
  std::vector<std::vector<uint8_t>> bufs(n, std::vector<uint8_t>(send_capacity(kLen)));
  std::vector<AeadJob> jobs;
  std::vector<std::span<uint8_t>> dgrams;
  for (size_t i = 0; i < n; ++i) {
    Pair::write_ipv4(std::span(bufs[i]).subspan(data::kHeaderLen, kLen), static_cast<uint8_t>(i));
    const TxResult r = pr.dev[0].send(pr.env(), pr.peer[0], bufs[i], kLen, pr.out[0], &jobs);
    REQUIRE(r.status == TxStatus::Sent);
    dgrams.push_back(r.datagram);
  }
  REQUIRE(jobs.size() == n);
  pool.run(jobs);
  for (const AeadJob& j : jobs) {
    CHECK(j.ok);
    CHECK(j.key == std::array<uint8_t, 32>{});  // wiped
  }
  std::vector<std::vector<uint8_t>> out;
  for (auto d : dgrams) out.emplace_back(d.begin(), d.end());
  return out;
}

}  // namespace

TEST_CASE("crypto pool: every job of a batch runs once, as inline, on 1 and 3 threads; keys wiped") {
  for (unsigned threads : {1u, 3u}) {
    CAPTURE(threads);
    Pair pr;
    pr.send_ip(0, 100);  // handshake, then the staged packet
    pr.pump();
    REQUIRE(pr.p(0).keypairs.current);
    CryptoPool pool(threads);
    CHECK(pool.threads() == threads);
    // Sealed on the pool, opened by the peer one by one (Device::receive opening inline).
    const auto dg = sealed_batch(pr, pool, 40);
    for (size_t i = 0; i < dg.size(); ++i) {
      CAPTURE(i);
      std::vector<uint8_t> d = dg[i];
      const RxResult r = pr.dev[1].receive(pr.env(), pr.addr[0], d, pr.out[1]);
      REQUIRE(r.kind == RxKind::Data);
      CHECK(r.plaintext[kLen - 1] == static_cast<uint8_t>(i));  // Pair::write_ipv4's fill
    }
    // Fewer jobs than kInlineBelow, and none, run too.
    const auto few = sealed_batch(pr, pool, 3);
    CHECK(few.size() == 3);
    std::vector<AeadJob> none;
    pool.run(none);
  }
}

TEST_CASE("crypto pool: a message that is not an acceptable data message is not prepared") {
  Pair pr;
  pr.send_ip(0, 100);
  pr.pump();
  std::vector<uint8_t> tiny(10, 4);
  AeadJob j;
  CHECK_FALSE(pr.dev[1].prepare_open(tiny, pr.clock.now, j));
  CryptoPool pool(2);
  auto dg = sealed_batch(pr, pool, 1);
  std::vector<uint8_t> unknown = dg[0];
  unknown[data::kReceiver] ^= 0xff;  // no such index
  CHECK_FALSE(pr.dev[1].prepare_open(unknown, pr.clock.now, j));
  CHECK(pr.dev[1].prepare_open(dg[0], pr.clock.now, j));
  REQUIRE(pr.dev[1].receive(pr.env(), pr.addr[0], dg[0], pr.out[1]).kind == RxKind::Data);
  CHECK_FALSE(pr.dev[1].prepare_open(dg[0], pr.clock.now, j));  // already seen
}
