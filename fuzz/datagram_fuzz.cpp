// fuzz/datagram_fuzz.cpp — any bytes as one UDP datagram, unshaped, to both devices of the
// world (each gets its own copy), from the peer's address, a roamed IPv4 one or an IPv6 one.
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace wg::fuzzing;
  for (int at : {kB, kA}) {
    World& w = world();
    const Endpoint from[3] = {w.addr(1 - at), Endpoint::v4(203, 0, 113, 9, 40000),
                              Endpoint::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7}, 51820)};
    Bytes msg(data, data + size);
    receive_checked(w, at, msg, from[size % 3]);
  }
  return 0;
}
