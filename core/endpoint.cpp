// core/endpoint.cpp — text form of endpoints.
#include "core/endpoint.hpp"

#include <arpa/inet.h>

namespace wg::core {

std::string to_string(const Endpoint& e) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (e.family == Family::V4) {
    inet_ntop(AF_INET, e.addr.data(), buf, sizeof(buf));
    return std::string(buf) + ":" + std::to_string(e.port);
  }
  if (e.family == Family::V6) {
    inet_ntop(AF_INET6, e.addr.data(), buf, sizeof(buf));
    std::string s = "[" + std::string(buf);
    if (e.scope_id) s += "%" + std::to_string(e.scope_id);
    return s + "]:" + std::to_string(e.port);
  }
  return {};
}

}  // namespace wg::core
