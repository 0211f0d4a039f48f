// core/messages.hpp — every WireGuard wire format and protocol constant in one place
// (whitepaper §5.4 and §6; the same values as the kernel's messages.h).
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "core/env.hpp"

namespace wg::core {

// --- Noise and WireGuard strings (whitepaper §5.4) ---
inline constexpr std::string_view kConstruction = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
inline constexpr std::string_view kIdentifier = "WireGuard v1 zx2c4 Jason@zx2c4.com";
inline constexpr std::string_view kLabelMac1 = "mac1----";
inline constexpr std::string_view kLabelCookie = "cookie--";

// --- sizes ---
inline constexpr size_t kKeyLen = 32;
inline constexpr size_t kHashLen = 32;
inline constexpr size_t kTagLen = 16;
inline constexpr size_t kMacLen = 16;
inline constexpr size_t kCookieLen = 16;
inline constexpr size_t kTimestampLen = 12;
inline constexpr size_t kCookieNonceLen = 24;
inline constexpr size_t kPaddingMultiple = 16;

enum class MessageType : uint8_t { Initiation = 1, Response = 2, CookieReply = 3, Data = 4 };

// Byte offsets; all integers little-endian. Header = type byte + 3 reserved zero bytes.
namespace initiation {
inline constexpr size_t kSender = 4, kEphemeral = 8, kStatic = 40, kTimestamp = 88, kMac1 = 116, kMac2 = 132;
inline constexpr size_t kLen = 148;
}  // namespace initiation
namespace response {
inline constexpr size_t kSender = 4, kReceiver = 8, kEphemeral = 12, kEmpty = 44, kMac1 = 60, kMac2 = 76;
inline constexpr size_t kLen = 92;
}  // namespace response
namespace cookie_reply {
inline constexpr size_t kReceiver = 4, kNonce = 8, kCookie = 32;
inline constexpr size_t kLen = 64;
}  // namespace cookie_reply
namespace data {
inline constexpr size_t kReceiver = 4, kCounter = 8, kPayload = 16;
inline constexpr size_t kHeaderLen = 16;
inline constexpr size_t kMinLen = kHeaderLen + kTagLen;  // a keepalive
}  // namespace data

// Largest control message (initiation); outboxes size their slots by it.
inline constexpr size_t kMaxControlLen = initiation::kLen;

// --- limits and timers (whitepaper §6, PROTOCOL.md §1.7) ---
inline constexpr uint64_t kRekeyAfterMessages = uint64_t{1} << 60;
inline constexpr uint64_t kRejectAfterMessages = ~uint64_t{0} - (uint64_t{1} << 13);  // 2^64 - 2^13 - 1
inline constexpr Duration kRekeyAfterTime = std::chrono::seconds(120);
inline constexpr Duration kRejectAfterTime = std::chrono::seconds(180);
inline constexpr Duration kRekeyAttemptTime = std::chrono::seconds(90);
inline constexpr Duration kRekeyTimeout = std::chrono::seconds(5);
inline constexpr Duration kKeepaliveTimeout = std::chrono::seconds(10);
inline constexpr Duration kCookieSecretMaxAge = std::chrono::seconds(120);
inline constexpr Duration kCookieSecretLatency = std::chrono::seconds(5);
inline constexpr Duration kZeroKeyMaterialAfter = 3 * kRejectAfterTime;  // 540 s
inline constexpr Duration kRekeyJitterMax = std::chrono::milliseconds(334);
inline constexpr Duration kInitiationMinInterval = std::chrono::milliseconds(20);  // 50 per second
inline constexpr Duration kUnderLoadHold = std::chrono::seconds(1);
inline constexpr int kMaxTimerHandshakes = 18;  // 90 s / 5 s
inline constexpr size_t kMaxStagedPackets = 128;
// Handshake messages waiting in the caller's queue at or above which the device is under load.
inline constexpr size_t kUnderLoadQueueLen = 128;
// Below this, the receive path reports a device under load by itself: handshake messages per
// 1/8 s slice (1024 per second, the same order as the queue threshold above).
inline constexpr uint32_t kUnderLoadPerSlice = 128;
// Under load, what the device does for sources that are not a configured peer's endpoint is
// bounded for the whole device, so a flood from forged sources costs a bounded share of a core
// however fast it comes (the kernel bounds it by its handshake queue; this is the same idea
// without a queue): cookie replies (a BLAKE2s, an XChaCha20-Poly1305 seal and a send, ~2-3 µs)
// and handshakes past the cookie check (DH work, ~100 µs). A peer's own address is answered
// first and limited per source instead, so a peer that starts over from where it was gets its
// cookie at once, whatever the flood.
inline constexpr uint32_t kCookieRepliesPerSecond = 10000;
inline constexpr uint32_t kCookieReplyBurst = 1000;
inline constexpr uint32_t kHandshakesPerSecond = 1000;
inline constexpr uint32_t kHandshakeBurst = 100;

// --- little-endian helpers on raw bytes (no alignment assumed) ---
inline uint32_t load_le32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
inline uint64_t load_le64(const uint8_t* p) { return uint64_t(load_le32(p)) | uint64_t(load_le32(p + 4)) << 32; }
inline void store_le32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline void store_le64(uint8_t* p, uint64_t v) {
  store_le32(p, static_cast<uint32_t>(v));
  store_le32(p + 4, static_cast<uint32_t>(v >> 32));
}

// The first four bytes compared as one LE32, as the kernel and wireguard-go do: a non-zero
// reserved byte makes the type unknown.
inline uint32_t message_header(const uint8_t* p) { return load_le32(p); }
inline constexpr uint32_t header_of(MessageType t) { return static_cast<uint32_t>(t); }

}  // namespace wg::core
