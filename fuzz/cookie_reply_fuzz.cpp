// fuzz/cookie_reply_fuzz.cpp — Device::receive on the initiator (a handshake in flight, mac1
// sent) with inputs shaped as cookie replies (type 3 forced; optionally a valid receiver index).
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace wg::fuzzing;
  World& w = world();
  Bytes msg;
  const uint8_t ctrl = shape(w, kA, MessageType::CookieReply, {data, size}, msg);
  const RxResult r = receive_checked(w, kA, msg, w.addr(kB));
  if (framing_verdict(msg) == Drop::None && (ctrl & kFixIndex))
    check(r.drop != Drop::UnknownIndex, "cookie reply with a valid receiver index was UnknownIndex");
  if (r.kind == RxKind::CookieReply) check(w.peer(kA).cookie.has_cookie(w.pr->clock.now), "accepted cookie not held");
  return 0;
}
