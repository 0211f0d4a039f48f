// core/prefix.cpp — text form of prefixes.
#include "core/prefix.hpp"

#include <arpa/inet.h>

#include <charconv>

namespace wg::core {

std::optional<Prefix> parse_prefix(std::string_view text, bool* host_bits) {
  if (text.find('\0') != std::string_view::npos) return std::nullopt;  // inet_pton would stop there
  const size_t slash = text.find('/');
  const std::string addr(text.substr(0, slash));
  uint8_t buf[16] = {};
  Family f;
  if (addr.find(':') != std::string::npos) {
    if (inet_pton(AF_INET6, addr.c_str(), buf) != 1) return std::nullopt;
    f = Family::V6;
  } else {
    if (inet_pton(AF_INET, addr.c_str(), buf) != 1) return std::nullopt;
    f = Family::V4;
  }
  unsigned len = Prefix::max_len(f);
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) return std::nullopt;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), len);
    if (ec != std::errc() || end != digits.data() + digits.size() || len > Prefix::max_len(f)) return std::nullopt;
  }
  if (host_bits) *host_bits = Prefix::has_host_bits(f, buf, static_cast<uint8_t>(len));
  return Prefix::make(f, buf, static_cast<uint8_t>(len));
}

std::string to_string(const Prefix& p) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(p.family == Family::V4 ? AF_INET : AF_INET6, p.addr.data(), buf, sizeof(buf));
  return std::string(buf) + "/" + std::to_string(p.len);
}

}  // namespace wg::core
