// tests/tools/no_io_uring.cpp — `no_io_uring eperm|enosys PROGRAM [ARGS...]`: runs PROGRAM the
// way a container runtime's default seccomp profile would let it run as far as io_uring goes:
// io_uring_setup, io_uring_enter and io_uring_register fail with EPERM (Docker's and Podman's
// profiles) or ENOSYS (a profile that lists only what it allows, or a kernel without
// io_uring). Everything else is allowed. Sets no_new_privs (a filter needs it without
// CAP_SYS_ADMIN) and execs PROGRAM; the filter stays for it and everything it starts.
// Test-only (tests/netns/seccomp_test.sh); libseccomp builds the filter.
#include <errno.h>
#include <seccomp.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string_view>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fputs("usage: no_io_uring eperm|enosys PROGRAM [ARGS...]\n", stderr);
    return 2;
  }
  const std::string_view mode = argv[1];
  int err;
  if (mode == "eperm")
    err = EPERM;
  else if (mode == "enosys")
    err = ENOSYS;
  else {
    std::fprintf(stderr, "no_io_uring: `%s': want eperm or enosys\n", argv[1]);
    return 2;
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    std::perror("no_io_uring: PR_SET_NO_NEW_PRIVS");
    return 1;
  }
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (!ctx) {
    std::fputs("no_io_uring: seccomp_init failed\n", stderr);
    return 1;
  }
  for (const char* name : {"io_uring_setup", "io_uring_enter", "io_uring_register"}) {
    const int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) {
      std::fprintf(stderr, "no_io_uring: libseccomp does not know %s\n", name);
      return 1;
    }
    if (const int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(static_cast<uint32_t>(err)), nr, 0); rc != 0) {
      std::fprintf(stderr, "no_io_uring: rule for %s: %s\n", name, std::strerror(-rc));
      return 1;
    }
  }
  if (const int rc = seccomp_load(ctx); rc != 0) {
    std::fprintf(stderr, "no_io_uring: seccomp_load: %s\n", std::strerror(-rc));
    return 1;
  }
  seccomp_release(ctx);
  execvp(argv[2], argv + 2);
  std::fprintf(stderr, "no_io_uring: %s: %s\n", argv[2], std::strerror(errno));
  return 127;
}
