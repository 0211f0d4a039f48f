// io/output.cpp — the shared output queue and its failure policy (see output.hpp).
#include "io/output.hpp"

#include <errno.h>

namespace wg::io {

bool gso_refused(int err) { return err == EIO || err == EINVAL || err == EMSGSIZE || err == EOPNOTSUPP; }

bool gso_unusable(int err) { return err == EIO || err == EINVAL || err == EOPNOTSUPP; }

void Output::send_udp(const core::Endpoint& to, std::span<const iovec> datagrams) {
  if (datagrams.empty()) return;
  const size_t first = iov_.size();
  iov_.insert(iov_.end(), datagrams.begin(), datagrams.end());
  if (gso_ || datagrams.size() == 1) return add_message(to, first, datagrams.size());
  for (size_t i = 0; i < datagrams.size(); ++i) add_message(to, first + i, 1);
}

void Output::write(int fd, bool tun, std::span<const iovec> parts) {
  if (fd < 0 || parts.empty()) return;
  writes_.push_back({fd, tun, static_cast<uint32_t>(iov_.size()), static_cast<uint32_t>(parts.size())});
  iov_.insert(iov_.end(), parts.begin(), parts.end());
}

Output::Range Output::prepare() {
  size_t room = messages_.size();
  for (const Message& msg : messages_)
    if (msg.count > 1) room += msg.count;
  if (headers_.size() < room) {
    headers_.resize(room);
    names_.resize(room);
    control_.resize(room);
  }
  messages_.reserve(headers_.size());  // what failed() adds never moves the queue
  const size_t n = messages_.size();
  for (size_t m = 0; m < n; ++m) {
    const uint32_t count = messages_[m].count;
    if (socket(m) < 0) {
      counters_.udp_send_errors += count;
      continue;
    }
    build(m);
    if (count > 1) {
      ++counters_.udp_gso_sends;
      counters_.udp_gso_datagrams += count;
    }
  }
  return {0, n};
}

Output::Range Output::failed(size_t m, int err) {
  if (m >= messages_.size()) return {};
  Message& msg = messages_[m];
  // Only room for one split per queued message (see prepare): a second would be a misuse.
  if (msg.count > 1 && gso_refused(err) && messages_.size() + msg.count <= headers_.size()) {
    ++counters_.udp_gso_failures;
    // A datagram above the path MTU is this message's trouble, not the socket's: GSO stays on
    // unless that keeps happening.
    if (gso_unusable(err) || ++oversize_refusals_ >= kOversizeRefusalsMax) gso_ = false;
    const Message whole = msg;
    const size_t first = messages_.size();
    for (uint32_t i = 0; i < whole.count; ++i) {
      add_message(whole.to, whole.first + i, 1);
      build(messages_.size() - 1);
    }
    return {first, messages_.size()};
  }
  if (msg.to.has_local && err != EAGAIN) {
    stale_.push_back(msg.to);
    msg.to.clear_local();
    build(m);
    return {m, m + 1};
  }
  counters_.udp_send_errors += msg.count;
  return {};
}

void Output::clear() {
  messages_.clear();
  writes_.clear();
  iov_.clear();
}

void Output::add_message(const core::Endpoint& to, size_t first, size_t count) {
  messages_.push_back({to, static_cast<uint32_t>(first), static_cast<uint32_t>(count)});
}

// One datagram, or with several a UDP_SEGMENT message whose segment size is the first one's;
// the sticky source, when there is one, as PKTINFO.
void Output::build(size_t m) {
  const Message& msg = messages_[m];
  headers_[m] = {};
  msghdr& h = headers_[m].msg_hdr;
  h.msg_name = &names_[m];
  h.msg_namelen = to_sockaddr(msg.to, names_[m]);
  h.msg_iov = &iov_[msg.first];
  h.msg_iovlen = msg.count;
  uint8_t* control = control_[m].data();
  size_t len = put_pktinfo(msg.to, control);
  if (msg.count > 1) len += put_udp_segment(control + len, static_cast<uint16_t>(iov_[msg.first].iov_len));
  h.msg_control = len ? control : nullptr;
  h.msg_controllen = len;
}

}  // namespace wg::io
