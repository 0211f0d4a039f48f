// fuzz/dataplane_fuzz.cpp — two whole data planes, A and B, peers of each other, driven by a
// sequence of operations: tagged TUN and port traffic (IPv4/IPv6, TCP/UDP/ICMP, TSO
// super-packets), ND/ARP, a wire that delivers, drops, duplicates, reorders, corrupts and
// truncates, crafted handshake messages, time, load, AllowedIPs and peer changes, raw bytes.
// The world, the input format and the invariants are in dataplane_world.hpp.
//
// Speed: each input builds a fresh world (the same one every time: fixed keys, a fixed clock,
// the RNG of dataplane_world.hpp), so a finding reproduces from its input alone. What would
// make that slow is X25519 (two keys, two peers, and every handshake); the world's ephemeral
// keys come from a pool of six, so the same few scalar multiplications recur, and the fuzz
// build's X25519 keeps recent results (fuzz/x25519_memo.cpp).
// The other cost is memory: a data plane reserves a few MB up front (batch-sized job and
// datagram arrays), and ASan maps, fills, unmaps and releases every such block anew, which is
// most of a run in system time. So blocks of kBigBlock bytes and more are kept when deleted and
// handed out again for the same size (ASan still sees them as allocated, so an access after
// such a delete goes unnoticed; bounds stay checked, the size is exact). And ASan's quarantine
// is kept small (__asan_default_options; ASAN_OPTIONS still overrides it): freed memory is
// reused within a few inputs instead of fresh pages being faulted in for every allocation.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include <sanitizer/allocator_interface.h>

#include "aead_choice.hpp"
#include "dataplane_world.hpp"

namespace {

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

// The allocator hooks are left out of coverage: they run for every new and delete, and their
// loops would otherwise be most of an input's time and a stream of meaningless features.
#define WG_NO_COVERAGE __attribute__((no_sanitize("coverage")))

WG_NO_COVERAGE void* big_new(size_t n) {
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
// True when p is a kept block (now free for the next new of its size). Only blocks of
// kBigBlock bytes and more are kept, and ASan knows every block's size, so the others skip
// the search.
WG_NO_COVERAGE bool big_delete(void* p) {
  if (__sanitizer_get_allocated_size(p) < kBigBlock) return false;
  for (size_t i = 0; i < block_count; ++i)
    if (blocks[i].p == p) {
      blocks[i].used = false;
      return true;
    }
  return false;
}

}  // namespace

WG_NO_COVERAGE void* operator new(size_t n) {
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
WG_NO_COVERAGE void operator delete(void* p) noexcept {
  if (p && !big_delete(p)) std::free(p);
}
void operator delete[](void* p) noexcept { operator delete(p); }
void operator delete(void* p, size_t) noexcept { operator delete(p); }
void operator delete[](void* p, size_t) noexcept { operator delete(p); }

extern "C" const char* __asan_default_options() { return "quarantine_size_mb=16:malloc_context_size=10"; }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  wg::fuzzing::dpw::World w;
  wg::fuzzing::dpw::run(w, data, size);
  return 0;
}
