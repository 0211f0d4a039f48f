// fuzz/data_fuzz.cpp — Device::receive on the responder (an established session) with inputs
// shaped as transport data (type 4 forced; optionally a valid receiver index), reaching the
// keypair lookup, replay window, AEAD and inner-packet checks.
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace wg::fuzzing;
  World& w = world();
  Bytes msg;
  const uint8_t ctrl = shape(w, kB, MessageType::Data, {data, size}, msg);
  const uint64_t greatest = w.peer(kB).keypairs.current->replay.greatest();
  const RxResult r = receive_checked(w, kB, msg, w.addr(kA));
  const bool framed = framing_verdict(msg) == Drop::None;
  // b holds no handshake, so every index it hands out belongs to a session.
  if (framed && (ctrl & kFixIndex)) check(r.drop != Drop::UnknownIndex, "data on a live session's index was UnknownIndex");
  if (r.drop == Drop::DataDecrypt || r.drop == Drop::UnknownIndex)
    check(w.peer(kB).keypairs.current->replay.greatest() == greatest, "a rejected packet moved the replay window");
  return 0;
}
