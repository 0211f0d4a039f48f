// tools/keys.cpp — `wgrouter genkey|genpsk|pubkey`, byte-for-byte like `wg genkey|genpsk|pubkey`.
// Same stdout, stderr and exit status as wireguard-tools (v1.0.20210914 was compared), with
// the program name `wgrouter` where `wg` prints its argv[0]:
//   - any argument after the subcommand: "Usage: wgrouter <subcommand>", exit 1; except that
//     `--help` or `-h` alone prints the help on stdout and exits 0 (`wg` has no help there);
//   - genkey/genpsk warn when stdout is a regular file with any "other" permission bit, then
//     print 32 random bytes in base64 (genkey clamps them, genpsk does not); write errors on
//     stdout are ignored, as `wg` ignores them;
//   - pubkey reads exactly 44 bytes, then accepts only NUL, space, \t \n \v \f \r until EOF
//     ("Trailing characters found after key" is checked before the key itself), then decodes
//     the key ("Key is not the correct length or format"), clamps it and prints X25519(k, 9).
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>

#include "crypto/encoding.hpp"
#include "crypto/random.hpp"
#include "crypto/secure.hpp"
#include "crypto/x25519.hpp"
#include "tools/commands.hpp"
#include "tools/usage.hpp"

namespace wg::tools {

namespace {

constexpr const char* kProgName = "wgrouter";

// stdio buffers for the two standard streams, so the key text that passes through them can be
// wiped afterwards instead of lingering in libc's heap.
char g_stdin_buf[BUFSIZ];
char g_stdout_buf[BUFSIZ];

void own_stdio_buffers() {
  std::setvbuf(stdin, g_stdin_buf, _IOFBF, sizeof g_stdin_buf);
  std::setvbuf(stdout, g_stdout_buf, _IOFBF, sizeof g_stdout_buf);
}

void wipe_stdio_buffers() {
  std::fflush(stdout);
  crypto::wipe(g_stdout_buf, sizeof g_stdout_buf);
  crypto::wipe(g_stdin_buf, sizeof g_stdin_buf);
}

int usage(const char* subcommand) {
  std::fprintf(stderr, "Usage: %s %s\n", kProgName, subcommand);
  return 1;
}

constexpr const char* kGenkeyHelp =
    "Usage: wgrouter genkey\n"
    "\n"
    "Prints a new random private key (32 bytes, clamped, base64) on stdout, as `wg genkey' does.\n"
    "Run it under umask 077: it warns when stdout is a file others can read.\n"
    "Example: umask 077; wgrouter genkey > private.key\n";
constexpr const char* kGenpskHelp =
    "Usage: wgrouter genpsk\n"
    "\n"
    "Prints a new random preshared key (32 bytes, base64) on stdout, as `wg genpsk' does.\n"
    "Run it under umask 077: it warns when stdout is a file others can read.\n";
constexpr const char* kPubkeyHelp =
    "Usage: wgrouter pubkey < private.key\n"
    "\n"
    "Reads a private key (base64) on stdin and prints its public key on stdout, as `wg pubkey'\n"
    "does. Example: wgrouter genkey | tee private.key | wgrouter pubkey > public.key\n";

// `wgrouter genkey --help`: the help, on stdout (tools/usage.hpp). nullopt when the command
// line is not a lone --help or -h.
std::optional<int> help(int argc, char** argv, const char* text) {
  if (argc != 2 || !is_help_option(argv[1])) return std::nullopt;
  return print_help(text);
}

// `wg`'s char_is_space plus NUL: what may follow the 44 key characters.
bool is_trailing_filler(int c) {
  return c == 0 || c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

void warn_if_world_accessible_stdout() {
  struct stat st {};
  if (::fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & S_IRWXO) != 0)
    std::fputs("Warning: writing to world accessible file.\nConsider setting the umask to 077 and trying again.\n",
               stderr);
}

int generate(int argc, char** argv, bool clamp) {
  if (const auto h = help(argc, argv, clamp ? kGenkeyHelp : kGenpskHelp)) return *h;
  if (argc != 1) return usage(argv[0]);
  crypto::init();
  warn_if_world_accessible_stdout();
  own_stdio_buffers();

  uint8_t key[crypto::kKeyLen];
  crypto::random_bytes(key);
  if (clamp) crypto::x25519_clamp(key);
  char text[crypto::kKeyBase64Len + 1];
  crypto::key_to_base64(text, key);
  crypto::wipe(key, sizeof key);
  std::puts(text);
  crypto::wipe(text, sizeof text);
  wipe_stdio_buffers();
  return 0;
}

}  // namespace

int cmd_genkey(int argc, char** argv) { return generate(argc, argv, /*clamp=*/true); }

int cmd_genpsk(int argc, char** argv) { return generate(argc, argv, /*clamp=*/false); }

int cmd_pubkey(int argc, char** argv) {
  if (const auto h = help(argc, argv, kPubkeyHelp)) return *h;
  if (argc != 1) return usage(argv[0]);
  crypto::init();
  own_stdio_buffers();

  char text[crypto::kKeyBase64Len + 1] = {};
  uint8_t priv[crypto::kKeyLen];
  uint8_t pub[crypto::kKeyLen];
  int rc = 0;
  if (std::fread(text, 1, crypto::kKeyBase64Len, stdin) != crypto::kKeyBase64Len) {
    std::fprintf(stderr, "%s: Key is not the correct length or format\n", kProgName);
    rc = 1;
  }
  while (rc == 0) {
    const int c = std::getc(stdin);
    if (c == EOF) break;
    if (is_trailing_filler(c)) continue;
    std::fprintf(stderr, "%s: Trailing characters found after key\n", kProgName);
    rc = 1;
  }
  if (rc == 0 && !crypto::key_from_base64(priv, {text, crypto::kKeyBase64Len})) {
    std::fprintf(stderr, "%s: Key is not the correct length or format\n", kProgName);
    rc = 1;
  }
  if (rc == 0) {
    crypto::x25519_clamp(priv);
    crypto::x25519_public(pub, priv);
    crypto::key_to_base64(text, pub);
    std::puts(text);
  }
  crypto::wipe(priv, sizeof priv);
  crypto::wipe(text, sizeof text);
  wipe_stdio_buffers();
  return rc;
}

}  // namespace wg::tools
