// fuzz/gateway_fuzz.cpp — Gateway (core/gateway, core/flow_table, core/packet) with the seed
// configuration, fed a sequence of frames from the ports and packets from the tunnel and the
// TUN with the clock moving between them; the input format and the invariants checked on every
// packet the gateway sends are in gateway_common.hpp. Each input runs on a fresh gateway.
#include <cstdlib>
#include <new>

#include "gateway_common.hpp"

// Each fresh Gateway allocates its scratch buffers (kScratchBuffers x kScratchSize = 256 KiB)
// in one block. Under ASan a block that large is a fresh mmap every time, and the page faults
// kept the target at ~500 exec/s. So the non-aligned global new/delete (all of them, so that
// every pair matches) go to malloc/free, except that this one block is kept and handed out
// again. ASan still checks every malloc'd block; it no longer tells new from malloc.
namespace {
constexpr size_t kScratchBytes = wg::core::Gateway::kScratchBuffers * wg::core::Gateway::kScratchSize;
void* scratch_block = nullptr;
bool scratch_block_in_use = false;

void* allocate(size_t n) noexcept {
  if (n == kScratchBytes && !scratch_block_in_use) {
    if (!scratch_block) scratch_block = std::malloc(n);
    if (scratch_block) {
      scratch_block_in_use = true;
      return scratch_block;
    }
  }
  return std::malloc(n ? n : 1);
}
void release(void* p) noexcept {
  if (p && p == scratch_block) {
    scratch_block_in_use = false;
    return;
  }
  std::free(p);
}
void* allocate_or_throw(size_t n) {
  if (void* p = allocate(n)) return p;
  throw std::bad_alloc();
}
}  // namespace

void* operator new(size_t n) { return allocate_or_throw(n); }
void* operator new[](size_t n) { return allocate_or_throw(n); }
void* operator new(size_t n, const std::nothrow_t&) noexcept { return allocate(n); }
void* operator new[](size_t n, const std::nothrow_t&) noexcept { return allocate(n); }
void operator delete(void* p) noexcept { release(p); }
void operator delete[](void* p) noexcept { release(p); }
void operator delete(void* p, size_t) noexcept { release(p); }
void operator delete[](void* p, size_t) noexcept { release(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { release(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { release(p); }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)wg::fuzzing::gateway::run(data, size);
  return 0;
}
