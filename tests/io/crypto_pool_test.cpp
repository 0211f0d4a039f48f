// tests/io/crypto_pool_test.cpp — AEAD work taken out of the Device (sealing deferred on send,
// opening prepared on receive) and run on several threads gives what the Device does alone:
// the peer decrypts every packet, forgeries and duplicates are still refused, order is kept.
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

TEST_CASE("crypto pool: deferred seals and prepared opens on 1 and 3 threads match the inline path") {
  for (unsigned threads : {1u, 3u}) {
    CAPTURE(threads);
    Pair pr;
    pr.send_ip(0, 100);  // handshake, then the staged packet
    pr.pump();
    REQUIRE(pr.p(0).keypairs.current);
    CryptoPool pool(threads);
    CHECK(pool.threads() == threads);
    auto dg = sealed_batch(pr, pool, 40);
    // Two extra: a forgery and a duplicate of packet 3.
    std::vector<uint8_t> forged = dg[5];
    forged[data::kHeaderLen + 7] ^= 1;
    dg.push_back(dg[3]);
    const size_t forged_at = 5;
    dg[forged_at] = forged;

    std::vector<AeadJob> jobs;
    std::vector<size_t> at;
    for (size_t i = 0; i < dg.size(); ++i) {
      AeadJob j;
      if (pr.dev[1].prepare_open(dg[i], pr.clock.now, j)) {
        jobs.push_back(j);
        at.push_back(i);
      }
    }
    CHECK(jobs.size() == dg.size());  // every one looks acceptable before opening
    pool.run(jobs);
    std::vector<const bool*> res(dg.size(), nullptr);
    for (size_t k = 0; k < at.size(); ++k) res[at[k]] = &jobs[k].ok;
    size_t data = 0;
    const uint64_t decrypt_before = pr.dev[1].drops()[Drop::DataDecrypt];
    const uint64_t replay_before = pr.dev[1].drops()[Drop::Replayed];
    for (size_t i = 0; i < dg.size(); ++i) {
      CAPTURE(i);
      const RxResult r = pr.dev[1].receive(pr.env(), pr.addr[0], dg[i], pr.out[1], res[i]);
      if (i == forged_at || i == 40) {
        CHECK(r.kind == RxKind::Dropped);
        continue;
      }
      REQUIRE(r.kind == RxKind::Data);
      REQUIRE(r.plaintext.size() == kLen);
      CHECK(r.plaintext[kLen - 1] == static_cast<uint8_t>(i));  // Pair::write_ipv4's fill
      ++data;
    }
    CHECK(data == 39);
    CHECK(pr.dev[1].drops()[Drop::DataDecrypt] == decrypt_before + 1);
    CHECK(pr.dev[1].drops()[Drop::Replayed] == replay_before + 1);
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
