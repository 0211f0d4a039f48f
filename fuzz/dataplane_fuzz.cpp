// fuzz/dataplane_fuzz.cpp — two whole data planes, A and B, peers of each other, driven by a
// sequence of operations: tagged TUN and port traffic (IPv4/IPv6, TCP/UDP/ICMP, TSO
// super-packets), ND/ARP, a wire that delivers, drops, duplicates, reorders, corrupts and
// truncates, crafted handshake messages, time, load, AllowedIPs and peer changes, raw bytes.
// The world, the input format and the invariants are in dataplane_world.hpp.
//
// Speed: each input builds a fresh world (the same one every time: fixed keys, a fixed clock,
// the RNG of dataplane_world.hpp), so a finding reproduces from its input alone. What would
// make that slow is X25519 (two keys, two peers, and every handshake); the world's ephemeral
// keys come from a pool of six, so the same few scalar multiplications recur, and this file
// stands in for libsodium's two X25519 entry points with a memo in front of the real ones
// (found with dlsym(RTLD_NEXT)). A pure function memoised: the handshake code runs whole, only
// the curve arithmetic is looked up; a point the fuzzer made up is computed for real.
// The other cost is memory: a data plane reserves a few MB up front (batch-sized job and
// datagram arrays), and ASan maps, fills, unmaps and releases every such block anew, which is
// most of a run in system time. So blocks of kBigBlock bytes and more are kept when deleted and
// handed out again for the same size (ASan still sees them as allocated, so an access after
// such a delete goes unnoticed; bounds stay checked, the size is exact). And ASan's quarantine
// is kept small (__asan_default_options; ASAN_OPTIONS still overrides it): freed memory is
// reused within a few inputs instead of fresh pages being faulted in for every allocation.
#include <dlfcn.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <new>

#include "aead_choice.hpp"
#include "dataplane_world.hpp"

namespace {

using ScalarMult = int (*)(unsigned char*, const unsigned char*, const unsigned char*);
using ScalarMultBase = int (*)(unsigned char*, const unsigned char*);

template <class F>
F real(const char* name) {
  void* f = dlsym(RTLD_NEXT, name);
  if (!f) {
    std::fprintf(stderr, "dataplane_fuzz: no %s behind the memo\n", name);
    std::abort();
  }
  return reinterpret_cast<F>(f);
}

struct Product {
  std::array<unsigned char, 32> q;
  int rc;
};
// Bounded: past this many products every new one is computed and not kept.
constexpr size_t kMemoMax = 1 << 14;
std::map<std::array<unsigned char, 64>, Product> memo;

int memoised(unsigned char* q, const unsigned char* n, const unsigned char* p, bool base) {
  std::array<unsigned char, 64> key{};
  std::memcpy(key.data(), n, 32);
  if (!base) std::memcpy(key.data() + 32, p, 32);
  else key[32] = 9;  // the base point's u-coordinate, which no caller passes as p this way
  if (const auto it = memo.find(key); it != memo.end()) {
    std::memcpy(q, it->second.q.data(), 32);
    return it->second.rc;
  }
  static const auto mult = real<ScalarMult>("crypto_scalarmult_curve25519");
  static const auto mult_base = real<ScalarMultBase>("crypto_scalarmult_curve25519_base");
  const int rc = base ? mult_base(q, n) : mult(q, n, p);
  if (memo.size() < kMemoMax) {
    Product r{{}, rc};
    std::memcpy(r.q.data(), q, 32);
    memo.emplace(key, r);
  }
  return rc;
}

// --- large blocks, kept for the next input ---

constexpr size_t kBigBlock = size_t{16} << 10;
struct Block {
  void* p;
  size_t n;
  bool used;
};
// Plain storage: the operators below must not allocate through themselves.
constexpr size_t kBlocksMax = 256;
Block blocks[kBlocksMax];
size_t block_count = 0;

void* big_new(size_t n) {
  for (size_t i = 0; i < block_count; ++i)
    if (!blocks[i].used && blocks[i].n == n) {
      blocks[i].used = true;
      // As ASan does with a fresh block: a recognisable pattern, not what the last input left.
      std::memset(blocks[i].p, 0xbe, std::min<size_t>(n, 4096));
      return blocks[i].p;
    }
  void* p = std::malloc(n);
  if (!p) throw std::bad_alloc();
  if (block_count < kBlocksMax) blocks[block_count++] = {p, n, true};
  return p;
}
// True when p is a kept block (now free for the next new of its size).
bool big_delete(void* p) {
  for (size_t i = 0; i < block_count; ++i)
    if (blocks[i].p == p) {
      blocks[i].used = false;
      return true;
    }
  return false;
}

}  // namespace

void* operator new(size_t n) {
  if (n >= kBigBlock) return big_new(n);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t n) { return operator new(n); }
// Every form that pairs with the plain deletes below (std::get_temporary_buffer uses nothrow).
void* operator new(size_t n, const std::nothrow_t&) noexcept {
  try {
    return operator new(n);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](size_t n, const std::nothrow_t&) noexcept { return operator new(n, std::nothrow); }
void operator delete(void* p, const std::nothrow_t&) noexcept { operator delete(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { operator delete(p); }
void operator delete(void* p) noexcept {
  if (p && !big_delete(p)) std::free(p);
}
void operator delete[](void* p) noexcept { operator delete(p); }
void operator delete(void* p, size_t) noexcept { operator delete(p); }
void operator delete[](void* p, size_t) noexcept { operator delete(p); }

extern "C" int crypto_scalarmult_curve25519(unsigned char* q, const unsigned char* n, const unsigned char* p) {
  return memoised(q, n, p, false);
}
extern "C" int crypto_scalarmult_curve25519_base(unsigned char* q, const unsigned char* n) {
  return memoised(q, n, nullptr, true);
}

extern "C" const char* __asan_default_options() { return "quarantine_size_mb=16:malloc_context_size=10"; }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  wg::fuzzing::dpw::World w;
  wg::fuzzing::dpw::run(w, data, size);
  return 0;
}
