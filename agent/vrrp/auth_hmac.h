// Authenticated adverts: the keepalived >= 2.4.2 `auth_hmac` trailer (draft-cassen-vrrp-auth-hmac),
// its codec, signing and verification. Pure: HMAC-SHA256 is injected (agent/net/hmac_sha256.h).
//
// Wire format (../shared/vectors/keepalived-auth-hmac/README.md): 28 bytes right after the VRRP
// message (v2: after the 8 auth-data bytes), not counted in the address count, not covered by
// the IPv4 VRRP checksum (IPv6: the kernel's checksum covers it):
//   ext_type(1)=1 | key_id(1) | reserved(2)=0 | sec(4) | subsec(2) | ctr(2) | HMAC-SHA256[0..16)
// The HMAC covers a 20-byte pseudo-header {family 4|6, version, vrid, 0, source (16)}, the
// message with its checksum read as zero, the trailer's first 12 bytes and 16 zero bytes.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "vrrp/advertisement.h"
#include "vrrp/auth_replay.h"
#include "vrrp/ip_address.h"

namespace vipd::vrrp::auth {

inline constexpr std::size_t kTrailerSize = 28;
inline constexpr std::size_t kTrailerHeadSize = 12;  // everything before the HMAC
inline constexpr std::size_t kMacSize = 16;          // HMAC-SHA256 truncated to 128 bits
inline constexpr std::uint8_t kExtTypeHmacSha256 = 1;
inline constexpr std::size_t kMinKeySize = 32;  // keepalived's bounds (vrrp_parser.c)
inline constexpr std::size_t kMaxKeySize = 64;

using Digest = std::array<std::uint8_t, 32>;

/// HMAC-SHA256 (RFC 2104), supplied by an adapter: the core has no cryptography of its own.
class HmacSha256 {
 public:
  virtual ~HmacSha256() = default;
  [[nodiscard]] virtual Digest compute(std::span<const std::uint8_t> key,
                                       std::span<const std::uint8_t> data) const = 0;
};

/// How a rollout proceeds (keepalived's modes): receive-only → permissive → enforce.
enum class Mode : std::uint8_t {
  Enforce,      // sign; drop adverts without a trailer
  Permissive,   // sign; accept adverts without a trailer
  ReceiveOnly,  // do not sign; accept adverts without a trailer
};
std::string_view to_string(Mode mode);

/// A shared secret. Its bytes never leave the process: nothing prints a Key.
struct Key {
  std::uint8_t id = 0;              // 1..255
  std::vector<std::uint8_t> bytes;  // 32..64
  friend bool operator==(const Key&, const Key&) = default;
};

/// One instance's authentication settings (config section `auth`).
struct Policy {
  Mode mode = Mode::Enforce;
  AntiReplay anti_replay = AntiReplay::Time;
  std::chrono::seconds window{5};  // time mode: accepted |now - sec| and replay-mark lifetime
  std::uint8_t active_key = 0;     // the key id used when signing
  std::vector<Key> keys;
  [[nodiscard]] const Key* find(std::uint8_t id) const;
  [[nodiscard]] bool signs() const { return mode != Mode::ReceiveOnly; }
  friend bool operator==(const Policy&, const Policy&) = default;
};

/// The trailer's fields in host order.
struct Trailer {
  std::uint8_t ext_type = kExtTypeHmacSha256;
  std::uint8_t key_id = 0;
  std::uint16_t reserved = 0;
  Sequence sequence = 0;  // sec << 32 | subsec << 16 | ctr
  std::array<std::uint8_t, kMacSize> mac{};
};

std::array<std::uint8_t, kTrailerSize> encode_trailer(const Trailer& trailer);
Trailer decode_trailer(std::span<const std::uint8_t, kTrailerSize> bytes);

/// What binds an advert to its sender: the HMAC's pseudo-header fields.
struct Binding {
  std::uint8_t version = 3;  // the instance's (already checked equal to the packet's)
  std::uint8_t vrid = 0;     // the instance's
  IpAddress source;          // sender: our source address; receiver: the packet's source
};

/// The exact bytes the HMAC is computed over (exposed for the golden-frame tests).
std::vector<std::uint8_t> hmac_input(std::span<const std::uint8_t> message, const Binding& binding,
                                     std::span<const std::uint8_t, kTrailerHeadSize> head);

/// The 28-byte trailer to append to `message` (a complete encoded VRRP message).
std::array<std::uint8_t, kTrailerSize> sign(std::span<const std::uint8_t> message,
                                            const Binding& binding, const Key& key,
                                            Sequence sequence, const HmacSha256& hmac);

/// Length of the VRRP message in `payload` from its own header (v2: 8 + 4n + 8; v3: 8 + n ×
/// address size of `family`); nullopt when not even the fixed header is there.
std::optional<std::size_t> message_length(std::span<const std::uint8_t> payload, Family family);

/// The verdict on one received payload.
struct Verdict {
  /// Set: drop the packet for this reason (no state changes). Empty: pass `message` on to decode.
  std::optional<DropReason> drop;
  /// The VRRP message without the trailer (the whole payload when there is none).
  std::span<const std::uint8_t> message;
  bool authenticated = false;  // a trailer was present and verified
};

/// Receive processing, in keepalived's order (vrrp.c vrrp_auth_ext_verify): a trailer is
/// recognised only when the payload is exactly the message + 28 bytes. No trailer: drop
/// auth_missing in enforce, pass unverified otherwise. A trailer is checked in every mode:
/// ext_type/reserved (auth_malformed), time window in time mode (auth_stale, before the HMAC:
/// cheap), key id (auth_unknown_key; any configured key, not only the active one), HMAC in
/// constant time (auth_bad_hmac), then the sequence against `replay` (auth_replay). The replay
/// mark moves only when everything verified. Payloads that are not a VRRP message of
/// `binding.version` pass through untouched so decode reports the real reason (short, version).
Verdict verify(std::span<const std::uint8_t> payload, Family family, const Binding& binding,
               const Policy& policy, ReplayTable& replay, WallTime now, const HmacSha256& hmac);

}  // namespace vipd::vrrp::auth
