// tests/crypto/aead_batch_test.cpp — run_aead_jobs (the batch API of crypto/aead.hpp) on every
// backend against the single-packet API: mixed keys, sizes and counters, in place and out of
// place, batches below and above the ipsec-mb manager's job ring (IMB_MAX_JOBS, 256), forged
// packets among good ones, opens shorter than the tag. Every run also checks that each job's
// key was wiped, that nothing outside a job's buffer was written (canaries on both sides) and
// that an out-of-place source was only read.
#include <algorithm>
#include <array>
#include <cstring>
#include <deque>
#include <doctest/doctest.h>
#include <vector>

#include "crypto/aead.hpp"
#include "vectors.hpp"

namespace wg::crypto {
namespace {

constexpr std::array<AeadBackend, 3> kBackends{AeadBackend::Sodium, AeadBackend::OpenSsl, AeadBackend::IpsecMb};
// Around the 16-byte Poly1305 and 64-byte ChaCha20 blocks, a full-MTU packet, a GSO-sized one, the largest.
constexpr std::array<size_t, 11> kSizes{0, 1, 15, 16, 17, 63, 64, 65, 1420, 8192, 65535};
constexpr std::array<size_t, 9> kBatchSizes{1, 2, 7, 8, 31, 32, 63, 64, 300};
constexpr size_t kKeys = 5;
constexpr size_t kGuard = 32;
constexpr uint8_t kCanary = 0xa5;
// What an out-of-place destination holds before the run: neither zero nor the canary, so a
// region left unwritten is told apart from one written or wiped.
constexpr uint8_t kUnwritten = 0xee;

using Key = std::array<uint8_t, 32>;

Bytes pattern(size_t n, uint32_t seed) {
  Bytes b(n);
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1664525u + 1013904223u;
    b[i] = static_cast<uint8_t>(x >> 24);
  }
  return b;
}

Key key_of(size_t k) {
  Key key;
  const Bytes b = pattern(key.size(), 1000 + static_cast<uint32_t>(k));
  std::copy(b.begin(), b.end(), key.begin());
  return key;
}

const std::array<Key, kKeys>& keys() {
  static const std::array<Key, kKeys> table = [] {
    std::array<Key, kKeys> t;
    for (size_t k = 0; k < kKeys; ++k) t[k] = key_of(k);
    return t;
  }();
  return table;
}

// One packet of a batch: its plaintext length, counter, key (an index into keys()) and
// whether the job runs in place. Neighbours differ in all four, so a backend that mixes up
// lanes or reuses a lane's key or nonce gives wrong bytes somewhere.
struct Packet {
  size_t len;
  uint64_t counter;
  size_t key;
  bool in_place;
  uint32_t seed;  // of the plaintext
};

std::vector<Packet> mixed_packets(size_t n, uint32_t salt) {
  std::vector<Packet> v;
  for (size_t i = 0; i < n; ++i) {
    const size_t s = (i * 7 + salt) % kSizes.size();
    const uint64_t counter = (i % 4 == 3) ? ~uint64_t{0} - i : i * 0x10001 + salt;  // some near 2^64
    v.push_back({kSizes[s], counter, (i * 3 + i / 4 + salt) % kKeys, (i + salt) % 3 != 0,
                 static_cast<uint32_t>(i * 131 + salt)});
  }
  return v;
}

Bytes plaintext(const Packet& p) { return pattern(p.len, p.seed); }

// The single-packet API's ciphertext + tag for p: the reference every batch is held to.
Bytes reference_seal(AeadBackend b, const Packet& p) {
  const Bytes pt = plaintext(p);
  Bytes out(p.len + kAeadTagLen);
  REQUIRE(aead_seal(out.data(), pt.data(), p.len, nullptr, 0, p.counter, keys()[p.key].data(), b));
  return out;
}

// n bytes with kGuard canary bytes on each side.
class Guarded {
 public:
  Guarded(size_t n, uint8_t fill) : n_(n), bytes_(n + 2 * kGuard, kCanary) { std::fill_n(region(), n, fill); }
  uint8_t* region() { return bytes_.data() + kGuard; }
  const uint8_t* region() const { return bytes_.data() + kGuard; }
  size_t size() const { return n_; }
  Bytes contents() const { return Bytes(region(), region() + n_); }
  bool guards_intact() const {
    const auto canary = [](uint8_t c) { return c == kCanary; };
    return std::all_of(bytes_.begin(), bytes_.begin() + kGuard, canary) &&
           std::all_of(bytes_.end() - kGuard, bytes_.end(), canary);
  }

 private:
  size_t n_;
  Bytes bytes_;
};

bool all_zero(const uint8_t* p, size_t n) {
  return std::all_of(p, p + n, [](uint8_t c) { return c == 0; });
}

// A batch of jobs with the buffers they point into. deque: buffers never move as jobs are added.
struct Batch {
  std::vector<AeadJob> jobs;
  std::deque<Guarded> data, src;  // src[i] is empty for an in-place job
  std::vector<Bytes> input;       // what each job reads, to check an out-of-place source is only read
  std::vector<bool> expect_ok;

  // A seal of `pt`: in place, data holds pt and room for the tag.
  void add_seal(const Bytes& pt, uint64_t counter, const Key& key, bool in_place) {
    add(pt, pt.size() + kAeadTagLen, counter, key, in_place, true, true);
  }
  // An open of `sealed` (ciphertext + tag): out of place, data has room for the plaintext only.
  void add_open(const Bytes& sealed, uint64_t counter, const Key& key, bool in_place, bool expect_ok = true) {
    add(sealed, in_place ? sealed.size() : (sealed.size() >= kAeadTagLen ? sealed.size() - kAeadTagLen : 0), counter,
        key, in_place, false, expect_ok);
  }

  // Runs the batch and checks what holds for every job: the result it was added with, its key
  // wiped, no byte written outside its buffers.
  void run(AeadBackend b) {
    // Each result starts as the opposite of the expected one: the runner must write it.
    for (size_t i = 0; i < jobs.size(); ++i) jobs[i].ok = !expect_ok[i];
    run_aead_jobs(jobs, b);
    for (size_t i = 0; i < jobs.size(); ++i) {
      INFO("job ", i, " of ", jobs.size(), ", len ", jobs[i].len, jobs[i].seal ? " seal" : " open",
           jobs[i].src ? " out of place" : " in place");
      CHECK(jobs[i].ok == expect_ok[i]);
      CHECK(all_zero(jobs[i].key.data(), jobs[i].key.size()));
      CHECK(data[i].guards_intact());
      if (jobs[i].src) {
        CHECK(src[i].guards_intact());
        CHECK(src[i].contents() == input[i]);
      }
    }
  }

  // The plaintext an open job released (len - 16 bytes at data).
  Bytes opened(size_t i) const { return Bytes(data[i].region(), data[i].region() + jobs[i].len - kAeadTagLen); }

 private:
  void add(const Bytes& in, size_t room, uint64_t counter, const Key& key, bool in_place, bool seal, bool ok) {
    AeadJob j;
    if (in_place) {
      data.emplace_back(room, kUnwritten);
      std::copy(in.begin(), in.end(), data.back().region());
      src.emplace_back(0, 0);
    } else {
      data.emplace_back(room, kUnwritten);
      src.emplace_back(in.size(), 0);
      std::copy(in.begin(), in.end(), src.back().region());
      j.src = src.back().region();
    }
    j.data = data.back().region();
    j.len = in.size();
    j.counter = counter;
    j.key = key;
    j.seal = seal;
    jobs.push_back(j);
    input.push_back(in);
    expect_ok.push_back(ok);
  }
};

}  // namespace

TEST_CASE("run_aead_jobs: seals and opens equal the single-packet API, every backend and batch size") {
  int batches = 0;
  for (size_t n : kBatchSizes) {
    const auto packets = mixed_packets(n, static_cast<uint32_t>(n));
    // The reference is libsodium's single-packet seal; every backend's single-packet seal must
    // agree with it, and every backend's batch with both.
    std::vector<Bytes> expected;
    for (const Packet& p : packets) expected.push_back(reference_seal(AeadBackend::Sodium, p));
    for (AeadBackend b : kBackends) {
      INFO("backend ", name(b), ", batch of ", n);
      for (size_t i = 0; i < n; ++i) CHECK(reference_seal(b, packets[i]) == expected[i]);

      Batch seals;
      for (const Packet& p : packets) seals.add_seal(plaintext(p), p.counter, keys()[p.key], p.in_place);
      seals.run(b);
      for (size_t i = 0; i < n; ++i) {
        INFO("seal job ", i, " len ", packets[i].len);
        CHECK(seals.jobs[i].ok);
        CHECK(seals.data[i].contents() == expected[i]);
      }

      // Opened in place where they were sealed out of place and vice versa.
      Batch opens;
      for (size_t i = 0; i < n; ++i)
        opens.add_open(seals.data[i].contents(), packets[i].counter, keys()[packets[i].key], !packets[i].in_place);
      opens.run(b);
      for (size_t i = 0; i < n; ++i) {
        INFO("open job ", i, " len ", packets[i].len);
        CHECK(opens.jobs[i].ok);
        CHECK(opens.opened(i) == plaintext(packets[i]));
      }
      ++batches;
    }
  }
  CHECK(batches == static_cast<int>(kBatchSizes.size() * kBackends.size()));
}

TEST_CASE("run_aead_jobs: seals and opens interleaved in one batch, every backend") {
  const auto packets = mixed_packets(65, 9);
  int cases = 0;
  for (AeadBackend b : kBackends) {
    INFO("backend ", name(b));
    Batch batch;
    for (size_t i = 0; i < packets.size(); ++i) {
      const Packet& p = packets[i];
      if (i % 2 == 0)
        batch.add_seal(plaintext(p), p.counter, keys()[p.key], p.in_place);
      else
        batch.add_open(reference_seal(AeadBackend::Sodium, p), p.counter, keys()[p.key], p.in_place);
    }
    batch.run(b);
    for (size_t i = 0; i < packets.size(); ++i) {
      INFO("job ", i);
      CHECK(batch.jobs[i].ok);
      if (i % 2 == 0)
        CHECK(batch.data[i].contents() == reference_seal(AeadBackend::Sodium, packets[i]));
      else
        CHECK(batch.opened(i) == plaintext(packets[i]));
      ++cases;
    }
  }
  CHECK(cases == 65 * static_cast<int>(kBackends.size()));
}

TEST_CASE("run_aead_jobs: forged packets in the middle of a batch are refused and zeroed, neighbours unaffected") {
  enum class Forgery { None, Tag, Ciphertext, Counter, Key };
  // Forged jobs sit between good ones, in place and out of place, with plaintexts from 1 byte
  // to 8 KiB (a forged job's plaintext must be non-empty for its zeroing to show).
  struct Forged {
    size_t at;
    Forgery how;
    size_t len;
  };
  const Forged forged[] = {
      {3, Forgery::Tag, 1420},        {4, Forgery::Tag, 1},          {9, Forgery::Ciphertext, 64},
      {10, Forgery::Ciphertext, 8192}, {16, Forgery::Counter, 65},    {17, Forgery::Counter, 17},
      {22, Forgery::Key, 1420},       {23, Forgery::Key, 15},         {30, Forgery::Tag, 0},
  };
  const size_t n = 40;
  int cases = 0;
  for (AeadBackend b : kBackends) {
    for (bool in_place : {true, false}) {
      INFO("backend ", name(b), in_place ? ", in place" : ", out of place");
      auto packets = mixed_packets(n, 5);
      std::vector<Forgery> how(n, Forgery::None);
      for (const Forged& f : forged) {
        how[f.at] = f.how;
        packets[f.at].len = f.len;
      }
      Batch batch;
      for (size_t i = 0; i < n; ++i) {
        const Packet& p = packets[i];
        Bytes sealed = reference_seal(AeadBackend::Sodium, p);
        uint64_t counter = p.counter;
        Key key = keys()[p.key];
        switch (how[i]) {
          case Forgery::None: break;
          case Forgery::Tag: sealed.back() ^= 0x01; break;
          case Forgery::Ciphertext: sealed[p.len / 2] ^= 0x80; break;
          case Forgery::Counter: counter += 1; break;
          case Forgery::Key: key = keys()[(p.key + 1) % kKeys]; break;
        }
        batch.add_open(sealed, counter, key, in_place == (i % 2 == 0), how[i] == Forgery::None);
      }
      batch.run(b);
      for (size_t i = 0; i < n; ++i) {
        INFO("job ", i, " len ", packets[i].len, " forgery ", static_cast<int>(how[i]));
        if (how[i] == Forgery::None) {
          CHECK(batch.jobs[i].ok);
          CHECK(batch.opened(i) == plaintext(packets[i]));
        } else {
          CHECK_FALSE(batch.jobs[i].ok);
          CHECK(all_zero(batch.data[i].region(), packets[i].len));
          ++cases;
        }
      }
    }
  }
  CHECK(cases == static_cast<int>(std::size(forged) * 2 * kBackends.size()));
}

TEST_CASE("run_aead_jobs: opens shorter than the tag fail and leave their neighbours alone, every backend") {
  int cases = 0;
  for (AeadBackend b : kBackends) {
    INFO("backend ", name(b));
    const auto packets = mixed_packets(2 * kAeadTagLen, 3);
    Batch batch;
    for (size_t i = 0; i < packets.size(); ++i) {
      const Packet& p = packets[i];
      if (i % 2 == 0)
        batch.add_open(pattern(i / 2, static_cast<uint32_t>(i)), p.counter, keys()[p.key], i % 4 == 0, false);
      else
        batch.add_open(reference_seal(AeadBackend::Sodium, p), p.counter, keys()[p.key], p.in_place);
    }
    batch.run(b);
    for (size_t i = 0; i < packets.size(); ++i) {
      INFO("job ", i);
      if (i % 2 == 0) {
        CHECK(batch.jobs[i].len < kAeadTagLen);
        CHECK_FALSE(batch.jobs[i].ok);
        ++cases;
      } else {
        CHECK(batch.jobs[i].ok);
        CHECK(batch.opened(i) == plaintext(packets[i]));
      }
    }
  }
  CHECK(cases == static_cast<int>(kAeadTagLen * kBackends.size()));
}

TEST_CASE("run_aead_jobs: an empty batch is a no-op, every backend") {
  for (AeadBackend b : kBackends) run_aead_jobs({}, b);
  // Then a batch on the same thread's state still works.
  const Packet p{100, 7, 2, true, 1};
  for (AeadBackend b : kBackends) {
    INFO("backend ", name(b));
    Batch batch;
    batch.add_seal(plaintext(p), p.counter, keys()[p.key], p.in_place);
    batch.run(b);
    CHECK(batch.jobs[0].ok);
    CHECK(batch.data[0].contents() == reference_seal(AeadBackend::Sodium, p));
  }
}

}  // namespace wg::crypto
