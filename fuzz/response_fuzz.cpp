// fuzz/response_fuzz.cpp — Device::receive on the initiator (a handshake in flight) with inputs
// shaped as handshake responses (type 2 forced; optionally a valid receiver index, a valid mac1,
// under load, see fuzz_common.hpp).
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace wg::fuzzing;
  World& w = world();
  Bytes msg;
  const uint8_t ctrl = shape(w, kA, MessageType::Response, {data, size}, msg);
  const RxResult r = receive_checked(w, kA, msg, w.addr(kB));
  const bool framed = framing_verdict(msg) == Drop::None;
  if (framed && (ctrl & kFixMac1)) check(r.drop != Drop::BadMac1, "response with a recomputed mac1 failed mac1");
  if (framed && (ctrl & kFixMac1) && (ctrl & kFixIndex) && !(ctrl & kUnderLoad))
    check(r.drop != Drop::UnknownIndex, "response with a valid receiver index was UnknownIndex");
  if (framed && (ctrl & kUnderLoad))
    check(r.drop == Drop::BadMac1 || r.drop == Drop::CookieSent || r.drop == Drop::RateLimited,
          "under load, a response without a valid mac2 got past the cookie check");
  return 0;
}
