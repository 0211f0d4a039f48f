// fuzz/arp_fuzz.cpp — ARP payloads (after the Ethernet header): parse_arp must agree with the
// RFC 826 fields for Ethernet/IPv4, and what it returns must survive build_arp and parse back.
#include "packet_fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace wg::fuzzing::packets;
  const Bytes a(data, data + size);  // exactly sized, so ASan sees any overread
  check_arp(a);
  return 0;
}
