// io/stream_out.hpp — the output side of the loop's stream connections (the UAPI socket, the
// metrics endpoint): what is pending goes out as far as the socket takes it, never blocking.
#pragma once
#include <errno.h>
#include <sys/socket.h>

#include <string>

namespace wg::io {

// Sends the front of `out` on a non-blocking stream socket until it is empty or the socket is
// full, and erases what went; `moved` says whether anything did. false: the connection is dead
// (an error other than EAGAIN or EINTR).
inline bool send_pending(int fd, std::string& out, bool& moved) {
  size_t off = 0;
  bool alive = true;
  while (off < out.size()) {
    const ssize_t n = ::send(fd, out.data() + off, out.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    alive = false;
    break;
  }
  moved = off > 0;
  if (moved) out.erase(0, off);
  return alive;
}

}  // namespace wg::io
