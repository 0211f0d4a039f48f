// bench/aead_bench.cpp — ChaCha20-Poly1305 seal/open per backend and size, one packet per call and
// in batches through run_aead_jobs; X25519 and kdf() (Google Benchmark).
// The batch benches count items (packets) as well as bytes, so ns/packet = 1e9 / items_per_second.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "crypto/aead.hpp"
#include "crypto/blake2s.hpp"
#include "crypto/x25519.hpp"

namespace wg::crypto {
namespace {

constexpr int64_t kSizes[] = {64, 1420, 8192};
constexpr int64_t kBatchSizes[] = {64, 256, 1420, 8192};
constexpr int64_t kBatches[] = {1, 8, 32, 64};

std::vector<uint8_t> filler(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 17);
  return v;
}

// Seals a packet of state.range(0) bytes with a fresh counter each iteration, as the data path does.
void bm_seal(benchmark::State& state, AeadBackend b) {
  const size_t len = static_cast<size_t>(state.range(0));
  const auto key = filler(32, 1);
  const auto msg = filler(len, 2);
  std::vector<uint8_t> out(len + kAeadTagLen);
  uint64_t counter = 0;
  for (auto _ : state) {
    if (!aead_seal(out.data(), msg.data(), len, nullptr, 0, counter++, key.data(), b)) {
      state.SkipWithError("seal failed");
      break;
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(len));
  state.SetLabel(std::string(name(b)));
}

// Opens the same authentic packet each iteration (tag verification + decryption).
void bm_open(benchmark::State& state, AeadBackend b) {
  const size_t len = static_cast<size_t>(state.range(0));
  const auto key = filler(32, 1);
  const auto msg = filler(len, 2);
  std::vector<uint8_t> sealed(len + kAeadTagLen), out(len);
  if (!aead_seal(sealed.data(), msg.data(), len, nullptr, 0, 7, key.data(), b)) {
    state.SkipWithError("seal failed");
    return;
  }
  for (auto _ : state) {
    if (!aead_open(out.data(), sealed.data(), sealed.size(), nullptr, 0, 7, key.data(), b)) {
      state.SkipWithError("open failed");
      break;
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(len));
  state.SetLabel(std::string(name(b)));
}

// A batch of state.range(1) packets of state.range(0) bytes per iteration through run_aead_jobs,
// built as the data path builds it: every job gets a fresh counter and its own copy of the key
// (which the runner wipes). Seals run in place; opens read the same authentic packets every
// iteration (out of place, so nothing has to be restored between iterations, as in bm_open).
void bm_batch(benchmark::State& state, AeadBackend b, bool seal) {
  const size_t len = static_cast<size_t>(state.range(0));
  const size_t n = static_cast<size_t>(state.range(1));
  const auto key_bytes = filler(32, 1);
  std::array<uint8_t, 32> key;
  std::copy(key_bytes.begin(), key_bytes.end(), key.begin());
  const size_t stride = len + kAeadTagLen;
  const auto msg = filler(len, 2);
  std::vector<uint8_t> sealed(n * stride), buf(n * stride);
  for (size_t i = 0; i < n; ++i) {
    if (!aead_seal(sealed.data() + i * stride, msg.data(), len, nullptr, 0, i, key.data(), b)) {
      state.SkipWithError("seal failed");
      return;
    }
  }
  std::vector<AeadJob> jobs(n);
  uint64_t counter = 0;
  for (auto _ : state) {
    for (size_t i = 0; i < n; ++i) {
      AeadJob& j = jobs[i];
      j.data = buf.data() + i * stride;
      j.src = seal ? nullptr : sealed.data() + i * stride;
      j.seal = seal;
      j.len = seal ? len : stride;
      j.counter = seal ? counter++ : i;
      j.key = key;
    }
    run_aead_jobs(jobs, b);
    if (!std::all_of(jobs.begin(), jobs.end(), [](const AeadJob& j) { return j.ok; })) {
      state.SkipWithError(seal ? "seal failed" : "open failed");
      break;
    }
    benchmark::DoNotOptimize(buf.data());
    benchmark::ClobberMemory();
  }
  const auto packets = static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(n);
  state.SetItemsProcessed(packets);
  state.SetBytesProcessed(packets * static_cast<int64_t>(len));
  state.SetLabel(std::string(name(b)));
}

void bm_batch_seal(benchmark::State& state, AeadBackend b) { bm_batch(state, b, true); }
void bm_batch_open(benchmark::State& state, AeadBackend b) { bm_batch(state, b, false); }

void bm_x25519_shared(benchmark::State& state) {
  auto priv = filler(32, 3);
  auto peer_priv = filler(32, 4);
  uint8_t peer_pub[32], out[32];
  x25519_public(peer_pub, peer_priv.data());
  for (auto _ : state) {
    if (!x25519(out, priv.data(), peer_pub)) {
      state.SkipWithError("x25519 failed");
      break;
    }
    benchmark::DoNotOptimize(out);
  }
}

// KDF3 over a 32-byte input: the psk step of the handshake, the most expensive KDF call.
void bm_kdf3(benchmark::State& state) {
  const auto ck = filler(32, 5);
  const auto input = filler(32, 6);
  uint8_t t1[32], t2[32], t3[32];
  for (auto _ : state) {
    kdf(ck.data(), input, t1, t2, t3);
    benchmark::DoNotOptimize(t1);
    benchmark::DoNotOptimize(t2);
    benchmark::DoNotOptimize(t3);
  }
}

// Every iteration is one packet or one primitive call, so a run is short at any min_time.
// No per-benchmark MinTime(): it would override --benchmark_min_time and append
// "/min_time:..." to every name.
void size_args(benchmark::internal::Benchmark* bm) {
  for (int64_t s : kSizes) bm->Arg(s);
}
void batch_args(benchmark::internal::Benchmark* bm) {
  bm->ArgNames({"size", "batch"});
  for (int64_t s : kBatchSizes)
    for (int64_t n : kBatches) bm->Args({s, n});
}

BENCHMARK_CAPTURE(bm_seal, sodium, AeadBackend::Sodium)->Apply(size_args);
BENCHMARK_CAPTURE(bm_seal, openssl, AeadBackend::OpenSsl)->Apply(size_args);
BENCHMARK_CAPTURE(bm_open, sodium, AeadBackend::Sodium)->Apply(size_args);
BENCHMARK_CAPTURE(bm_open, openssl, AeadBackend::OpenSsl)->Apply(size_args);
BENCHMARK_CAPTURE(bm_seal, ipsec_mb, AeadBackend::IpsecMb)->Apply(size_args);
BENCHMARK_CAPTURE(bm_open, ipsec_mb, AeadBackend::IpsecMb)->Apply(size_args);
BENCHMARK_CAPTURE(bm_batch_seal, sodium, AeadBackend::Sodium)->Apply(batch_args);
BENCHMARK_CAPTURE(bm_batch_seal, openssl, AeadBackend::OpenSsl)->Apply(batch_args);
BENCHMARK_CAPTURE(bm_batch_seal, ipsec_mb, AeadBackend::IpsecMb)->Apply(batch_args);
BENCHMARK_CAPTURE(bm_batch_open, sodium, AeadBackend::Sodium)->Apply(batch_args);
BENCHMARK_CAPTURE(bm_batch_open, openssl, AeadBackend::OpenSsl)->Apply(batch_args);
BENCHMARK_CAPTURE(bm_batch_open, ipsec_mb, AeadBackend::IpsecMb)->Apply(batch_args);
BENCHMARK(bm_x25519_shared);
BENCHMARK(bm_kdf3);

}  // namespace
}  // namespace wg::crypto
