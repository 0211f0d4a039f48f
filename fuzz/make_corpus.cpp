// fuzz/make_corpus.cpp — writes the seed corpus for every fuzz target: real messages made by
// the devices of the fuzz world (fuzz_common.hpp), each checked against a pristine world to
// get the outcome it is meant to reach. Usage: make_corpus OUT_DIR (e.g. fuzz/corpus).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "fuzz_common.hpp"

namespace {

using namespace wg::fuzzing;

struct Seed {
  std::string target;
  std::string name;
  Bytes bytes;
  int at;               // the device the target feeds
  MessageType type;     // the type the target forces
  RxKind kind;          // the outcome in a pristine world
  Drop drop = Drop::None;
};

std::vector<Seed> seeds;
int failures = 0;

void add(const std::string& target, const std::string& name, Bytes bytes, int at, MessageType t, RxKind kind,
         Drop drop = Drop::None) {
  seeds.push_back({target, name, std::move(bytes), at, t, kind, drop});
}

// a sends an inner packet that b never receives; returns the data message.
Bytes withheld_data(World& w, const Bytes& inner) {
  Pair& pr = *w.pr;
  Bytes buf(send_capacity(inner.size()));
  std::copy(inner.begin(), inner.end(), buf.begin() + data::kHeaderLen);
  const TxResult r = pr.dev[kA].send(pr.env(), pr.peer[kA], buf, inner.size(), pr.out[kA]);
  check(r.status == TxStatus::Sent, "make_corpus: a could not send");
  pr.out[kA].clear();
  return Bytes(r.datagram.begin(), r.datagram.end());
}

Bytes ipv4(size_t len, uint8_t fill, size_t claimed) {
  Bytes p(len, fill);
  Pair::write_ipv4(p, fill);
  p[2] = static_cast<uint8_t>(claimed >> 8);
  p[3] = static_cast<uint8_t>(claimed);
  return p;
}

Bytes ipv6(size_t len, uint8_t fill) {
  Bytes p(len, fill);
  std::fill(p.begin(), p.begin() + 40, 0);
  p[0] = 0x60;
  p[4] = static_cast<uint8_t>((len - 40) >> 8);
  p[5] = static_cast<uint8_t>(len - 40);
  p[6] = 59;  // no next header
  p[7] = 64;
  return p;
}

// The first message of type t that device `at` put in its outbox during one receive().
Bytes deliver_and_capture(World& w, int at, Bytes msg, MessageType t, const Endpoint& from) {
  Pair& pr = *w.pr;
  pr.out[at].clear();
  (void)pr.dev[at].receive(pr.env(), from, msg, pr.out[at]);
  for (size_t k = 0; k < pr.out[at].size(); ++k)
    if (pr.out[at][k].bytes[0] == static_cast<uint8_t>(t)) {
      auto b = pr.out[at][k].bytes;
      Bytes copy(b.begin(), b.end());
      pr.out[at].clear();
      return copy;
    }
  fail("make_corpus: expected message not produced");
}

Bytes with_ctrl(Bytes b, uint8_t ctrl) {
  b[0] = ctrl;
  return b;
}

void make_seeds() {
  auto w = make_world();

  // Initiations to b.
  add("initiation", "replayed_i1", w->i1, kB, MessageType::Initiation, RxKind::Dropped, Drop::TimestampReplay);
  add("initiation", "fresh_i3", w->i3, kB, MessageType::Initiation, RxKind::Handshake);
  add("initiation", "i3_under_load", with_ctrl(w->i3, kFixMac1 | kUnderLoad | 1), kB, MessageType::Initiation,
      RxKind::Dropped, Drop::CookieSent);
  {
    // A device b has never heard of.
    Device stranger;
    Outbox out;
    wg::testing::SeededRng rng(99);
    const wg::core::Env env{w->pr->clock.now, w->pr->clock.wall, rng};
    uint8_t key[32];
    rng.fill(key);
    stranger.set_private_key(env, key, out);
    const PeerId id = *stranger.add_peer(w->dev(kB).identity().public_key);
    stranger.set_endpoint(id, w->addr(kB));
    stranger.send_keepalive(env, id, out);
    check(out.size() == 1 && out[0].bytes.size() == initiation::kLen, "make_corpus: stranger sent no initiation");
    add("initiation", "unknown_peer", Bytes(out[0].bytes.begin(), out[0].bytes.end()), kB, MessageType::Initiation,
        RxKind::Dropped, Drop::UnknownPeer);
  }
  {
    Bytes junk(initiation::kLen);
    for (size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<uint8_t>(i * 37 + 11);
    add("initiation", "junk_valid_mac1", with_ctrl(junk, kFixMac1 | 1), kB, MessageType::Initiation, RxKind::Dropped,
        Drop::HandshakeDecrypt);
  }

  // Responses to a.
  {
    auto w2 = make_world();
    const Bytes r3 = deliver_and_capture(*w2, kB, w2->i3, MessageType::Response, w2->addr(kA));
    add("response", "answer_to_i3", r3, kA, MessageType::Response, RxKind::Handshake);
    add("response", "r3_under_load", with_ctrl(r3, kFixMac1 | kUnderLoad | 2), kA, MessageType::Response,
        RxKind::Dropped, Drop::CookieSent);
    add("datagram", "response", r3, kA, MessageType::Response, RxKind::Handshake);
  }
  add("response", "replayed_r1", w->r1, kA, MessageType::Response, RxKind::Dropped, Drop::HandshakeState);
  // r1's body on a's live handshake index (selector 0 = the handshake's), mac1 recomputed.
  add("response", "r1_on_handshake_index", with_ctrl(w->r1, kFixIndex | kFixMac1 | 2), kA, MessageType::Response,
      RxKind::Dropped, Drop::HandshakeDecrypt);

  // Cookie replies to a: b under load answers i3 (the mac1 a last sent) and i1 (an older one).
  for (const bool latest : {true, false}) {
    auto w2 = make_world();
    w2->dev(kB).note_handshake_backlog(w2->pr->clock.now, kUnderLoadQueueLen);
    const Bytes c = deliver_and_capture(*w2, kB, latest ? w2->i3 : w2->i1, MessageType::CookieReply, w2->addr(kA));
    if (latest) {
      add("cookie_reply", "answer_to_i3", c, kA, MessageType::CookieReply, RxKind::CookieReply);
      add("datagram", "cookie_reply", c, kA, MessageType::CookieReply, RxKind::CookieReply);
    } else {
      add("cookie_reply", "answer_to_i1", c, kA, MessageType::CookieReply, RxKind::Dropped, Drop::CookieDecrypt);
    }
  }

  // Data to b, sent by a after the world was made (counters b has not seen).
  {
    auto w2 = make_world();
    add("data", "replayed_d0", w->d0, kB, MessageType::Data, RxKind::Dropped, Drop::Replayed);
    add("data", "ipv4", withheld_data(*w2, ipv4(80, 0x22, 80)), kB, MessageType::Data, RxKind::Data);
    add("data", "keepalive", withheld_data(*w2, {}), kB, MessageType::Data, RxKind::Keepalive);
    add("data", "ipv6", withheld_data(*w2, ipv6(100, 0x33)), kB, MessageType::Data, RxKind::Data);
    add("data", "ipv4_1420", withheld_data(*w2, ipv4(1420, 0x44, 1420)), kB, MessageType::Data, RxKind::Data);
    add("data", "not_ip", withheld_data(*w2, Bytes(40, 0x00)), kB, MessageType::Data, RxKind::Dropped,
        Drop::BadInnerPacket);
    add("data", "inner_too_long", withheld_data(*w2, ipv4(60, 0x55, 600)), kB, MessageType::Data, RxKind::Dropped,
        Drop::InnerLength);
    add("datagram", "data", withheld_data(*w2, ipv4(64, 0x66, 64)), kB, MessageType::Data, RxKind::Data);
    add("datagram", "keepalive", withheld_data(*w2, {}), kB, MessageType::Data, RxKind::Keepalive);
  }
  add("datagram", "initiation", w->i3, kB, MessageType::Initiation, RxKind::Handshake);
  add("datagram", "replayed_initiation", w->i1, kB, MessageType::Initiation, RxKind::Dropped, Drop::TimestampReplay);
}

// Runs a seed the way its target does, against a pristine world.
void verify(const Seed& s) {
  auto w = make_world();
  Bytes msg;
  if (s.target == "datagram")
    msg = s.bytes;
  else
    shape(*w, s.at, s.type, s.bytes, msg);
  const RxResult r = receive_checked(*w, s.at, msg, w->addr(1 - s.at));
  const bool ok = r.kind == s.kind && r.drop == s.drop;
  std::printf("%-13s %-22s %4zu bytes  kind %d drop %-24s %s\n", s.target.c_str(), s.name.c_str(), s.bytes.size(),
              static_cast<int>(r.kind), std::string(drop_name(r.drop)).c_str(), ok ? "ok" : "UNEXPECTED");
  if (!ok) ++failures;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  make_seeds();
  for (const Seed& s : seeds) {
    verify(s);
    const auto dir = std::filesystem::path(argv[1]) / s.target;
    std::filesystem::create_directories(dir);
    std::ofstream f(dir / (s.name + ".bin"), std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(s.bytes.data()), static_cast<std::streamsize>(s.bytes.size()));
    if (!f) {
      std::fprintf(stderr, "cannot write %s\n", (dir / s.name).c_str());
      return 1;
    }
  }
  std::printf("%zu seeds, %d unexpected\n", seeds.size(), failures);
  return failures ? 1 : 0;
}
