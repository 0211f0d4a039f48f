// tools/keeper.hpp — the part of the teardown that needs the privileges wgrouter started with,
// done by a small process forked before the drop (io/privileges.hpp): the PreDown and PostDown
// hooks and resolvconf (they may need any capability: `iptables -D` wants CAP_NET_RAW, a
// resolvconf write wants root's files), and, when the daemon runs as another user, removing
// its UAPI socket from the root-owned /var/run/wireguard.
//
// The keeper holds no descriptor but its end of a socket pair, ignores the signals that stop the
// daemon (the teardown asks it), and does only these fixed things when asked: a compromised
// daemon can make it run the file's own hooks early, nothing else. When the daemon dies without
// asking, it only removes the socket.
#pragma once
#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>

namespace wg::tools {

class Keeper {
 public:
  struct Tasks {
    // Run in the keeper with the network namespace the teardown happens in (-1: its own).
    std::function<void(int netns_fd)> pre_down;   // PreDown hooks
    // resolvconf -d, then the PostDown hooks when `hooks` (not when `up` failed).
    std::function<void(int netns_fd, bool hooks)> post_down;
    std::string socket_path;                      // removed at the end if still the one made at start
  };

  // Forks the keeper (call while the process has one thread). nullopt when fork fails.
  static std::optional<Keeper> start(Tasks tasks);

  Keeper(Keeper&& o) noexcept;
  Keeper& operator=(Keeper&& o) noexcept;
  Keeper(const Keeper&) = delete;
  ~Keeper();  // without finish(): the keeper removes the socket only

  // Runs the PreDown task in the keeper and waits for it. false when the keeper is gone.
  bool pre_down(int netns_fd);
  enum class End { Quietly, Undo, UndoAndHooks };
  // Runs the PostDown task (Undo: without the hooks), removes the socket, and waits for the
  // keeper to end. false when the keeper was gone.
  bool finish(End end, int netns_fd);

 private:
  Keeper(pid_t pid, int fd) : pid_(pid), fd_(fd) {}
  bool ask(char what, int netns_fd);
  void reap();

  pid_t pid_ = -1;
  int fd_ = -1;
};

}  // namespace wg::tools
