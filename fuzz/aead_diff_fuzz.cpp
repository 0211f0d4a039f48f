// fuzz/aead_diff_fuzz.cpp — the three ChaCha20-Poly1305 backends against each other through
// run_aead_jobs (crypto/aead.hpp): the input describes a batch (1-64 jobs, mixed keys,
// counters, sizes 0-65535, in place or not); every backend must seal it to the same bytes,
// every backend must open every backend's output to the plaintext, and one flipped byte chosen
// by the input must make every backend refuse that job (zeroed plaintext) and only that one.
//
// Input (bytes past the end read as zero, so any input is a batch):
//   0      jobs - 1 (mod 64)
//   1      the job whose sealed bytes get a flipped byte (mod jobs)
//   2..3   the flipped byte's offset in that job's ciphertext + tag (big-endian, mod its length)
//   4      the XOR mask (0 becomes 1)
//   5      seed of the key table (kKeys keys)
//   then 5 bytes per job:
//     flags  bit 0 seal in place, bit 1 open in place, bits 2-3 key, bit 4 sets the counter's
//            high 48 bits (counters near 2^64), bits 5-7 plaintext seed
//     s0 s1  size: s0 bits 7-6 pick the range (0: 0-127, 1: 0-2047, 2: 0-16383, 3: 65280-65535)
//     c0 c1  the counter's low 16 bits (little-endian)
// The plaintexts come from a generator, so a small input makes large packets; the batch's
// plaintexts are capped at kMaxTotal bytes (later jobs shrink) to keep runs fast, and every
// buffer is reused from one input to the next.
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "crypto/aead.hpp"
#include "crypto/secure.hpp"

namespace {

using namespace wg::crypto;

constexpr AeadBackend kBackends[] = {AeadBackend::Sodium, AeadBackend::OpenSsl, AeadBackend::IpsecMb};
constexpr size_t kNumBackends = std::size(kBackends);
constexpr size_t kMaxJobs = 64;
constexpr size_t kKeys = 4;
constexpr size_t kHeader = 6;
constexpr size_t kPerJob = 5;
constexpr size_t kMaxTotal = 512 * 1024;
// Canary bytes between the jobs' regions in one arena: ASan sees the arena as one allocation,
// so a write past a job's region into the next is caught here instead.
constexpr size_t kGap = 16;
constexpr uint8_t kCanary = 0xa5;

[[noreturn]] void fail(const char* what, AeadBackend b, size_t job) {
  std::fprintf(stderr, "aead_diff: %s (backend %s, job %zu)\n", what, std::string(name(b)).c_str(), job);
  std::fflush(stderr);
  __builtin_trap();
}

struct Input {
  std::span<const uint8_t> bytes;
  uint8_t at(size_t i) const { return i < bytes.size() ? bytes[i] : 0; }
};

struct Desc {
  size_t len;
  uint64_t counter;
  size_t key;
  bool seal_in_place, open_in_place;
  uint8_t seed;
  size_t off;  // of the job's region in every arena
};

// Deterministic bytes (xorshift), so sizes need not be paid for in input bytes.
void generate(uint8_t* p, size_t n, uint32_t seed) {
  uint32_t x = seed * 2654435761u | 1;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    p[i] = static_cast<uint8_t>(x);
  }
}

size_t size_of(uint8_t s0, uint8_t s1) {
  const size_t low = static_cast<size_t>(s0 & 0x3f) << 8 | s1;
  switch (s0 >> 6) {
    case 0: return s1 & 0x7f;
    case 1: return low % 2048;
    case 2: return low;
    default: return 65535 - s1;
  }
}

// One arena per role, grown to the largest batch seen and then reused.
struct Arenas {
  std::vector<uint8_t> plain;                  // the plaintexts
  std::vector<uint8_t> sealed[kNumBackends];   // each backend's ciphertext + tag
  std::vector<uint8_t> work;                   // in-place copies and open outputs
  std::vector<AeadJob> jobs;
};

void fill_canaries(std::vector<uint8_t>& arena, size_t size) {
  if (arena.size() < size) arena.resize(size);
  std::memset(arena.data(), kCanary, size);
}

// Every byte of the arena outside [off, off + n) of each job is still the canary.
void check_gaps(const std::vector<uint8_t>& arena, const std::vector<Desc>& jobs, size_t end,
                size_t (*region)(const Desc&), AeadBackend b) {
  size_t pos = 0;
  for (size_t i = 0; i <= jobs.size(); ++i) {
    const size_t stop = i < jobs.size() ? jobs[i].off : end;
    for (; pos < stop; ++pos)
      if (arena[pos] != kCanary) fail("a byte outside every job's region was written", b, i);
    if (i < jobs.size()) pos = jobs[i].off + region(jobs[i]);
  }
}

size_t sealed_len(const Desc& d) { return d.len + kAeadTagLen; }

void check_keys_wiped(const std::vector<AeadJob>& jobs, AeadBackend b) {
  for (size_t i = 0; i < jobs.size(); ++i)
    if (!is_zero_ct(jobs[i].key.data(), jobs[i].key.size())) fail("key not wiped", b, i);
}

// Opens the ciphertexts at `from` (one job per Desc) on backend b into arenas.work; the job
// `forged` (if any) must fail with zeroed plaintext, every other one must give the plaintext.
void open_all(Arenas& a, const std::vector<Desc>& ds, size_t end, const std::vector<uint8_t>& from,
              const std::array<uint8_t, 32>* keys, AeadBackend b, size_t forged) {
  fill_canaries(a.work, end);
  a.jobs.clear();
  for (const Desc& d : ds) {
    AeadJob j;
    j.data = a.work.data() + d.off;
    if (d.open_in_place)
      std::memcpy(j.data, from.data() + d.off, sealed_len(d));
    else
      j.src = from.data() + d.off;
    j.len = sealed_len(d);
    j.counter = d.counter;
    j.key = keys[d.key];
    j.seal = false;
    a.jobs.push_back(j);
  }
  // Each result starts as the opposite of the expected one: the runner must write it.
  for (size_t i = 0; i < ds.size(); ++i) a.jobs[i].ok = i == forged;
  run_aead_jobs(a.jobs, b);
  check_keys_wiped(a.jobs, b);
  for (size_t i = 0; i < ds.size(); ++i) {
    const Desc& d = ds[i];
    const uint8_t* out = a.work.data() + d.off;
    if (i == forged) {
      if (a.jobs[i].ok) fail("a flipped byte was accepted", b, i);
      for (size_t k = 0; k < d.len; ++k)
        if (out[k] != 0) fail("a refused job's plaintext was not zeroed", b, i);
      continue;
    }
    if (!a.jobs[i].ok) fail("open of an authentic packet failed", b, i);
    if (std::memcmp(out, a.plain.data() + d.off, d.len) != 0) fail("opened plaintext differs", b, i);
  }
  // An in-place open leaves the tag's bytes as they were; out of place, only len bytes are written.
  check_gaps(a.work, ds, end, [](const Desc& d) { return d.open_in_place ? sealed_len(d) : d.len; }, b);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Arenas a;
  static std::vector<Desc> ds;
  init();
  const Input in{{data, size}};

  const size_t n = 1 + in.at(0) % kMaxJobs;
  std::array<uint8_t, 32> keys[kKeys];
  for (size_t k = 0; k < kKeys; ++k) generate(keys[k].data(), keys[k].size(), in.at(5) * 8u + k + 1);

  ds.clear();
  size_t total = 0, end = 0;
  for (size_t i = 0; i < n; ++i) {
    const size_t p = kHeader + i * kPerJob;
    const uint8_t flags = in.at(p), s0 = in.at(p + 1), s1 = in.at(p + 2);
    Desc d;
    d.len = size_of(s0, s1);
    if (total + d.len > kMaxTotal) d.len %= 2048;
    total += d.len;
    d.counter = uint64_t{in.at(p + 3)} | uint64_t{in.at(p + 4)} << 8;
    if (flags & 0x10) d.counter |= ~uint64_t{0} << 16;
    d.key = (flags >> 2) % kKeys;
    d.seal_in_place = flags & 1;
    d.open_in_place = flags & 2;
    d.seed = flags >> 5;
    d.off = end + kGap;
    end = d.off + sealed_len(d);
    ds.push_back(d);
  }
  end += kGap;

  fill_canaries(a.plain, end);
  for (size_t i = 0; i < n; ++i) generate(a.plain.data() + ds[i].off, ds[i].len, ds[i].seed * 977u + i * 7u + 1);

  // Seal on every backend.
  for (size_t bi = 0; bi < kNumBackends; ++bi) {
    const AeadBackend b = kBackends[bi];
    std::vector<uint8_t>& out = a.sealed[bi];
    fill_canaries(out, end);
    a.jobs.clear();
    for (const Desc& d : ds) {
      AeadJob j;
      j.data = out.data() + d.off;
      if (d.seal_in_place)
        std::memcpy(j.data, a.plain.data() + d.off, d.len);
      else
        j.src = a.plain.data() + d.off;
      j.len = d.len;
      j.counter = d.counter;
      j.key = keys[d.key];
      j.seal = true;
      a.jobs.push_back(j);
    }
    run_aead_jobs(a.jobs, b);
    check_keys_wiped(a.jobs, b);
    for (size_t i = 0; i < n; ++i)
      if (!a.jobs[i].ok) fail("seal failed", b, i);
    check_gaps(out, ds, end, sealed_len, b);
    if (bi > 0)
      for (size_t i = 0; i < n; ++i)
        if (std::memcmp(out.data() + ds[i].off, a.sealed[0].data() + ds[i].off, sealed_len(ds[i])) != 0)
          fail("ciphertext + tag differ from libsodium's", b, i);
  }
  // The plaintexts were only read.
  check_gaps(a.plain, ds, end, [](const Desc& d) { return d.len; }, kBackends[0]);

  // Every backend opens every backend's output.
  for (size_t from = 0; from < kNumBackends; ++from)
    for (AeadBackend b : kBackends) open_all(a, ds, end, a.sealed[from], keys, b, n);

  // One flipped byte: that job is refused on every backend, its neighbours are not.
  const size_t victim = in.at(1) % n;
  const size_t where = ds[victim].off + (size_t{in.at(2)} << 8 | in.at(3)) % sealed_len(ds[victim]);
  const uint8_t mask = in.at(4) ? in.at(4) : 1;
  a.sealed[0][where] ^= mask;
  for (AeadBackend b : kBackends) open_all(a, ds, end, a.sealed[0], keys, b, victim);
  return 0;
}
