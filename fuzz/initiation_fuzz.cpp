// fuzz/initiation_fuzz.cpp — Device::receive on the responder with inputs shaped as handshake
// initiations (type 1 forced; optionally a valid mac1 and/or under load, see fuzz_common.hpp).
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace wg::fuzzing;
  World& w = world();
  Bytes msg;
  const uint8_t ctrl = shape(w, kB, MessageType::Initiation, {data, size}, msg);
  const RxResult r = receive_checked(w, kB, msg, w.addr(kA));
  const bool framed = framing_verdict(msg) == Drop::None;
  if (framed && (ctrl & kFixMac1)) check(r.drop != Drop::BadMac1, "initiation with a recomputed mac1 failed mac1");
  if (framed && (ctrl & kUnderLoad))
    check(r.drop == Drop::BadMac1 || r.drop == Drop::CookieSent || r.drop == Drop::RateLimited,
          "under load, an initiation without a valid mac2 got past the cookie check");
  return 0;
}
