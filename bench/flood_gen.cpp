// bench/flood_gen.cpp — the packet generator bench/flood runs in its attacker namespace: WireGuard
// handshake initiations with a valid MAC1 for the victim's key, data messages with random receiver
// indices, or random garbage, from forged sources, at a set rate, through a raw packet socket.
//
// Frames (Ethernet + IPv4/IPv6 + UDP, checksums correct) are built once into a pool and sent in
// batches with sendmmsg on an AF_PACKET socket that bypasses the qdisc, so the per-packet cost is
// the kernel's, not ours. Each pass over the pool moves every frame's UDP source port by one (an
// incremental checksum update, RFC 1624): no (address, port) repeats for 65 536 passes, and the
// MAC1, which covers only the WireGuard message, stays valid.
//
// Usage: flood_gen --ifname IF --dst-mac MAC --dst ADDR --port N --mode init|data|garbage|mix
//                  [--pubkey B64 (init, mix)] [--sources v6|v6-64|v4] [--rate N/s (0 = as fast as
//                  possible)] [--secs S] [--pool N] [--batch N] [--seed N]
// Prints "flood_gen: sending ..." once the pool is built and one result line when done (after
// --secs, or at SIGINT/SIGTERM): sent, errors, seconds and the rate reached.
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>
#include <random>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "core/cookie.hpp"
#include "core/messages.hpp"
#include "crypto/blake2s.hpp"
#include "crypto/encoding.hpp"

namespace {

using namespace wg::core;

enum class Mode { Init, Data, Garbage, Mix };
// v6: one source in each /64 of 2001:db8:f100::/48 (frame i in subnet i mod 65536);
// v6-64: every source inside 2001:db8:f100::/64; v4: the 254 hosts of 198.51.100.0/24.
enum class Sources { V6, V6Single64, V4 };

struct Options {
  std::string ifname, dst_mac, dst, pubkey;
  uint16_t port = 0;
  Mode mode = Mode::Init;
  Sources sources = Sources::V6;
  uint64_t rate = 50000;
  double secs = 5;
  size_t pool = 65536;
  unsigned batch = 64;
  uint64_t seed = 0;
};

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "flood_gen: %s%s%s\n", what, errno ? ": " : "", errno ? std::strerror(errno) : "");
  std::exit(1);
}

// xoshiro256** seeded by splitmix64: cheap, and a flood needs variety, not secrecy.
class Rand {
 public:
  explicit Rand(uint64_t seed) {
    for (auto& w : s_) {
      seed += 0x9e3779b97f4a7c15;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
      z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
      w = z ^ (z >> 31);
    }
  }
  uint64_t next() {
    const uint64_t r = rotl(s_[1] * 5, 7) * 9, t = s_[1] << 17;
    s_[2] ^= s_[0], s_[3] ^= s_[1], s_[1] ^= s_[2], s_[0] ^= s_[3], s_[2] ^= t, s_[3] = rotl(s_[3], 45);
    return r;
  }
  // Uniform enough in [lo, hi] for sizes and ports.
  uint64_t between(uint64_t lo, uint64_t hi) { return lo + next() % (hi - lo + 1); }
  void fill(uint8_t* p, size_t n) {
    for (size_t i = 0; i < n; i += 8) {
      const uint64_t r = next();
      std::memcpy(p + i, &r, std::min<size_t>(8, n - i));
    }
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

// --- checksums (RFC 1071 sum, RFC 1624 update) ---

uint32_t sum16(const uint8_t* p, size_t n, uint32_t acc = 0) {
  for (; n > 1; p += 2, n -= 2) acc += uint32_t(p[0]) << 8 | p[1];
  if (n) acc += uint32_t(p[0]) << 8;
  return acc;
}
uint16_t fold(uint32_t acc) {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return static_cast<uint16_t>(acc);
}
void put16(uint8_t* p, uint16_t v) { p[0] = uint8_t(v >> 8), p[1] = uint8_t(v); }
uint16_t get16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }

// A UDP checksum of zero means "none" (IPv4) or is invalid (IPv6): ones' complement -0 instead.
uint16_t udp_csum_value(uint32_t acc) {
  const uint16_t c = static_cast<uint16_t>(~fold(acc));
  return c ? c : 0xffff;
}

// HC' = ~(~HC + ~m + m') when the 16-bit word m becomes m'.
void csum_replace(uint8_t* csum, uint16_t from, uint16_t to) {
  const uint32_t acc = uint32_t(static_cast<uint16_t>(~get16(csum))) + static_cast<uint16_t>(~from) + to;
  const uint16_t c = static_cast<uint16_t>(~fold(acc));
  put16(csum, c ? c : 0xffff);
}

// --- the pool ---

inline constexpr size_t kEth = 14, kIp4 = 20, kIp6 = 40, kUdp = 8;

struct Pool {
  std::vector<uint8_t> bytes;       // frames back to back
  std::vector<uint32_t> offset;     // frame i starts at bytes[offset[i]]
  std::vector<uint16_t> len;
  size_t udp_at = 0;                // UDP header's offset inside every frame
  size_t distinct_sources = 0;
};

struct Link {
  int ifindex;
  uint8_t mac[6];
  unsigned mtu;
};

Link link_of(int fd, const std::string& ifname) {
  Link l{};
  ifreq ifr{};
  if (ifname.size() >= IFNAMSIZ) die("interface name too long");
  std::memcpy(ifr.ifr_name, ifname.c_str(), ifname.size());
  if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0) die("SIOCGIFINDEX");
  l.ifindex = ifr.ifr_ifindex;
  if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) die("SIOCGIFHWADDR");
  std::memcpy(l.mac, ifr.ifr_hwaddr.sa_data, 6);
  if (ioctl(fd, SIOCGIFMTU, &ifr) < 0) die("SIOCGIFMTU");
  l.mtu = static_cast<unsigned>(ifr.ifr_mtu);
  return l;
}

bool parse_mac(const std::string& s, uint8_t out[6]) {
  unsigned b[6];
  if (std::sscanf(s.c_str(), "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6) return false;
  for (int i = 0; i < 6; ++i) out[i] = static_cast<uint8_t>(b[i]);
  return true;
}

// The WireGuard message (the UDP payload) of one frame; returns its length.
size_t make_message(Mode kind, uint8_t* m, size_t max_len, const uint8_t mac1_key[32], Rand& rnd) {
  switch (kind) {
    case Mode::Init: {
      // Random sender index, ephemeral, encrypted static and timestamp: the victim spends a DH
      // (and an AEAD that fails) on each one it does not answer with a cookie. MAC2 stays zero.
      std::memset(m, 0, initiation::kLen);
      store_le32(m, header_of(MessageType::Initiation));
      rnd.fill(m + initiation::kSender, initiation::kMac1 - initiation::kSender);
      wg::crypto::blake2s(std::span(m + initiation::kMac1, kMacLen), std::span<const uint8_t>(m, initiation::kMac1),
                          std::span<const uint8_t>(mac1_key, 32));
      return initiation::kLen;
    }
    case Mode::Data: {
      const size_t n = rnd.between(data::kMinLen, std::min<size_t>(1500, max_len));
      rnd.fill(m, n);
      store_le32(m, header_of(MessageType::Data));
      return n;
    }
    case Mode::Garbage: {
      // Half the type bytes name a real message type and half the time the reserved bytes are
      // zero, so some garbage gets past the type check into the length checks.
      const size_t n = rnd.between(1, std::min<size_t>(1500, max_len));
      rnd.fill(m, n);
      const uint64_t r = rnd.next();
      if (r & 1) m[0] = static_cast<uint8_t>(1 + (r >> 8) % 4);
      if (r & 2) std::memset(m + 1, 0, std::min<size_t>(3, n - 1));
      return n;
    }
    case Mode::Mix: break;
  }
  return 0;
}

Pool build_pool(const Options& o, const Link& link, const uint8_t dst_mac[6], Rand& rnd) {
  const bool v6 = o.sources != Sources::V4;
  const size_t ip_len = v6 ? kIp6 : kIp4;
  const size_t hdr = kEth + ip_len + kUdp;
  if (link.mtu < ip_len + kUdp + initiation::kLen) die("interface MTU too small for an initiation");
  const size_t max_msg = link.mtu - ip_len - kUdp;

  uint8_t dst_addr[16];
  if (inet_pton(v6 ? AF_INET6 : AF_INET, o.dst.c_str(), dst_addr) != 1)
    die(v6 ? "--dst is not an IPv6 address (the sources are IPv6)" : "--dst is not an IPv4 address");
  uint8_t mac1_key[32] = {};
  if (o.mode == Mode::Init || o.mode == Mode::Mix) {
    PublicKey victim;
    if (!wg::crypto::key_from_base64(victim.data(), o.pubkey)) die("--pubkey is not a base64 WireGuard key");
    derive_label_key(mac1_key, kLabelMac1, victim);
  }

  Pool p;
  p.udp_at = kEth + ip_len;
  p.offset.reserve(o.pool);
  p.len.reserve(o.pool);
  std::unordered_set<std::string> sources;
  std::vector<uint8_t> f(hdr + max_msg);
  for (size_t i = 0; i < o.pool; ++i) {
    Mode kind = o.mode;
    if (kind == Mode::Mix) kind = static_cast<Mode>(rnd.next() % 3);
    const size_t msg = make_message(kind, f.data() + hdr, max_msg, mac1_key, rnd);
    uint8_t* const eth = f.data();
    uint8_t* const ip = eth + kEth;
    uint8_t* const udp = ip + ip_len;
    std::memcpy(eth, dst_mac, 6);
    std::memcpy(eth + 6, link.mac, 6);
    put16(eth + 12, v6 ? ETH_P_IPV6 : ETH_P_IP);

    uint8_t src[16] = {};
    if (o.sources == Sources::V6) {
      // 2001:db8:f100:SUBNET:random interface id, SUBNET = i mod 65536: one per /64.
      const uint8_t pre[6] = {0x20, 0x01, 0x0d, 0xb8, 0xf1, 0x00};
      std::memcpy(src, pre, 6);
      put16(src + 6, static_cast<uint16_t>(i));
      rnd.fill(src + 8, 8);
    } else if (o.sources == Sources::V6Single64) {
      const uint8_t pre[8] = {0x20, 0x01, 0x0d, 0xb8, 0xf1, 0x00, 0, 0};
      std::memcpy(src, pre, 8);
      rnd.fill(src + 8, 8);
    } else {
      const uint8_t pre[3] = {198, 51, 100};
      std::memcpy(src, pre, 3);
      src[3] = static_cast<uint8_t>(1 + i % 254);
    }
    sources.emplace(reinterpret_cast<const char*>(src), v6 ? 16 : 4);

    const uint16_t udp_len = static_cast<uint16_t>(kUdp + msg);
    if (v6) {
      std::memset(ip, 0, kIp6);
      ip[0] = 0x60;
      put16(ip + 4, udp_len);
      ip[6] = IPPROTO_UDP;
      ip[7] = 64;
      std::memcpy(ip + 8, src, 16);
      std::memcpy(ip + 24, dst_addr, 16);
    } else {
      std::memset(ip, 0, kIp4);
      ip[0] = 0x45;
      put16(ip + 2, static_cast<uint16_t>(kIp4 + udp_len));
      put16(ip + 4, static_cast<uint16_t>(rnd.next()));
      ip[8] = 64;
      ip[9] = IPPROTO_UDP;
      std::memcpy(ip + 12, src, 4);
      std::memcpy(ip + 16, dst_addr, 4);
      put16(ip + 10, static_cast<uint16_t>(~fold(sum16(ip, kIp4))));
    }
    put16(udp, static_cast<uint16_t>(rnd.between(1024, 65535)));
    put16(udp + 2, o.port);
    put16(udp + 4, udp_len);
    put16(udp + 6, 0);
    // Pseudo-header: source, destination, protocol, UDP length; then the datagram.
    uint32_t acc = v6 ? sum16(ip + 8, 32) : sum16(ip + 12, 8);
    acc += IPPROTO_UDP + udp_len;
    put16(udp + 6, udp_csum_value(sum16(udp, udp_len, acc)));

    const size_t flen = hdr + msg;
    p.offset.push_back(static_cast<uint32_t>(p.bytes.size()));
    p.len.push_back(static_cast<uint16_t>(flen));
    p.bytes.insert(p.bytes.end(), f.data(), f.data() + flen);
  }
  p.distinct_sources = sources.size();
  return p;
}

double now_s() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

void sleep_until(double t) {
  timespec ts;
  ts.tv_sec = static_cast<time_t>(t);
  ts.tv_nsec = static_cast<long>((t - double(ts.tv_sec)) * 1e9);
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR && !g_stop) {
  }
}

const char* mode_name(Mode m) {
  constexpr const char* names[] = {"init", "data", "garbage", "mix"};
  return names[static_cast<int>(m)];
}
const char* sources_name(Sources s) {
  constexpr const char* names[] = {"v6", "v6-64", "v4"};
  return names[static_cast<int>(s)];
}

[[noreturn]] void usage() {
  std::fputs(
      "usage: flood_gen --ifname IF --dst-mac MAC --dst ADDR --port N --mode init|data|garbage|mix\n"
      "                 [--pubkey B64] [--sources v6|v6-64|v4] [--rate N (0: unpaced)] [--secs S]\n"
      "                 [--pool N] [--batch N] [--seed N]\n",
      stderr);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (i + 1 >= argc) usage();
    const std::string v = argv[++i];
    if (a == "--ifname") o.ifname = v;
    else if (a == "--dst-mac") o.dst_mac = v;
    else if (a == "--dst") o.dst = v;
    else if (a == "--port") o.port = static_cast<uint16_t>(std::stoul(v));
    else if (a == "--pubkey") o.pubkey = v;
    else if (a == "--rate") o.rate = std::stoull(v);
    else if (a == "--secs") o.secs = std::stod(v);
    else if (a == "--pool") o.pool = std::stoul(v);
    else if (a == "--batch") o.batch = static_cast<unsigned>(std::stoul(v));
    else if (a == "--seed") o.seed = std::stoull(v);
    else if (a == "--mode") {
      if (v == "init") o.mode = Mode::Init;
      else if (v == "data") o.mode = Mode::Data;
      else if (v == "garbage") o.mode = Mode::Garbage;
      else if (v == "mix") o.mode = Mode::Mix;
      else usage();
    } else if (a == "--sources") {
      if (v == "v6") o.sources = Sources::V6;
      else if (v == "v6-64") o.sources = Sources::V6Single64;
      else if (v == "v4") o.sources = Sources::V4;
      else usage();
    } else usage();
  }
  if (o.ifname.empty() || o.dst_mac.empty() || o.dst.empty() || !o.port || o.pool == 0 || o.batch == 0 ||
      o.batch > 1024 || o.pool > 1u << 20 || !(o.secs > 0))
    usage();
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  try {
    o = parse(argc, argv);
  } catch (const std::exception&) {  // a number that does not parse (std::stoul and friends)
    usage();
  }
  uint8_t dst_mac[6];
  if (!parse_mac(o.dst_mac, dst_mac)) usage();

  const int fd = socket(AF_PACKET, SOCK_RAW, 0);  // protocol 0: we send only, nothing is queued to us
  if (fd < 0) die("socket(AF_PACKET)");
  const Link link = link_of(fd, o.ifname);
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_ifindex = link.ifindex;
  if (bind(fd, reinterpret_cast<sockaddr*>(&sll), sizeof(sll)) < 0) die("bind");
  // Straight to the driver: the qdisc would only add a lock and a queue to what we measure.
  const int one = 1;
  if (setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)) < 0) die("PACKET_QDISC_BYPASS");
  const int sndbuf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));

  Rand rnd(o.seed ? o.seed : std::random_device{}() ^ (uint64_t(std::random_device{}()) << 32));
  Pool pool = build_pool(o, link, dst_mac, rnd);

  std::vector<iovec> iov(o.batch);
  std::vector<mmsghdr> msgs(o.batch);
  for (unsigned k = 0; k < o.batch; ++k) {
    msgs[k] = {};
    msgs[k].msg_hdr.msg_iov = &iov[k];
    msgs[k].msg_hdr.msg_iovlen = 1;
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  std::printf("flood_gen: sending mode=%s sources=%s pool=%zu distinct_sources=%zu dst=%s port=%u target=%llu/s\n",
              mode_name(o.mode), sources_name(o.sources), o.pool, pool.distinct_sources, o.dst.c_str(), o.port,
              static_cast<unsigned long long>(o.rate));
  std::fflush(stdout);

  uint64_t sent = 0, errors = 0;
  size_t next = 0;
  const double start = now_s();
  double t = start;
  while (!g_stop && t - start < o.secs) {
    // Token pacing: what is due by now at --rate, at most one batch at a time.
    uint64_t want = o.batch;
    if (o.rate) {
      const auto due = static_cast<uint64_t>((t - start) * double(o.rate)) + 1;
      if (due <= sent) {
        sleep_until(start + double(sent + std::min<uint64_t>(o.batch, o.rate / 1000 + 1)) / double(o.rate));
        t = now_s();
        continue;
      }
      want = std::min<uint64_t>(o.batch, due - sent);
    }
    for (unsigned k = 0; k < want; ++k) {
      if (next == pool.offset.size()) {
        // A new pass: every frame's source port moves by one, checksum updated in place.
        next = 0;
        for (size_t i = 0; i < pool.offset.size(); ++i) {
          uint8_t* udp = pool.bytes.data() + pool.offset[i] + pool.udp_at;
          const uint16_t from = get16(udp), to = static_cast<uint16_t>(from == 65535 ? 1024 : from + 1);
          put16(udp, to);
          csum_replace(udp + 6, from, to);
        }
      }
      iov[k].iov_base = pool.bytes.data() + pool.offset[next];
      iov[k].iov_len = pool.len[next];
      ++next;
    }
    const int n = sendmmsg(fd, msgs.data(), static_cast<unsigned>(want), 0);
    if (n < 0) {
      if (errno != EINTR) ++errors;
      // A full device queue (ENOBUFS) is the fastest rate here: yield instead of spinning on it.
      if (errno == ENOBUFS) sched_yield();
    } else {
      sent += static_cast<uint64_t>(n);
      if (static_cast<uint64_t>(n) < want) ++errors;
    }
    t = now_s();
  }
  const double secs = t - start;
  std::printf("flood_gen: done mode=%s sources=%s sent=%llu errors=%llu secs=%.3f rate=%.0f/s target=%llu/s\n",
              mode_name(o.mode), sources_name(o.sources), static_cast<unsigned long long>(sent),
              static_cast<unsigned long long>(errors), secs, secs > 0 ? double(sent) / secs : 0.0,
              static_cast<unsigned long long>(o.rate));
  close(fd);
  return 0;
}
