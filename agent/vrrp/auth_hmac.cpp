// The keepalived >= 2.4.2 auth_hmac trailer: codec, signing and receive verification.
#include "vrrp/auth_hmac.h"

#include <algorithm>

namespace vipd::vrrp::auth {
namespace {

constexpr std::size_t kPseudoHeaderSize = 20;
constexpr std::size_t kChecksumOffset = 6;  // the VRRP checksum field, read as zero

void put_u16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v & 0xff);
}

std::uint16_t get_u16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((std::uint16_t{p[0]} << 8) | p[1]);
}

/// Compares two MACs in time independent of where they differ (no early exit).
bool equal_constant_time(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
  if (a.size() != b.size()) return false;
  std::uint8_t diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff = static_cast<std::uint8_t>(diff | (a[i] ^ b[i]));
  return diff == 0;
}

std::array<std::uint8_t, kMacSize> mac_of(std::span<const std::uint8_t> message,
                                          const Binding& binding, const Key& key,
                                          std::span<const std::uint8_t, kTrailerHeadSize> head,
                                          const HmacSha256& hmac) {
  const Digest digest = hmac.compute(key.bytes, hmac_input(message, binding, head));
  std::array<std::uint8_t, kMacSize> mac{};
  std::copy_n(digest.begin(), kMacSize, mac.begin());
  return mac;
}

Verdict pass(std::span<const std::uint8_t> message) {
  return Verdict{std::nullopt, message, false};
}

Verdict reject(DropReason reason, std::span<const std::uint8_t> message) {
  return Verdict{reason, message, false};
}

}  // namespace

std::string_view to_string(Mode mode) {
  switch (mode) {
    case Mode::Enforce:
      return "enforce";
    case Mode::Permissive:
      return "permissive";
    case Mode::ReceiveOnly:
      return "receive-only";
  }
  return "unknown";
}

const Key* Policy::find(std::uint8_t id) const {
  const auto it = std::find_if(keys.begin(), keys.end(), [id](const Key& k) { return k.id == id; });
  return it == keys.end() ? nullptr : &*it;
}

std::array<std::uint8_t, kTrailerSize> encode_trailer(const Trailer& t) {
  std::array<std::uint8_t, kTrailerSize> out{};
  out[0] = t.ext_type;
  out[1] = t.key_id;
  put_u16(&out[2], t.reserved);
  for (int i = 0; i < 8; ++i) out[4 + i] = static_cast<std::uint8_t>(t.sequence >> (56 - 8 * i));
  std::copy(t.mac.begin(), t.mac.end(), out.begin() + kTrailerHeadSize);
  return out;
}

Trailer decode_trailer(std::span<const std::uint8_t, kTrailerSize> bytes) {
  Trailer t;
  t.ext_type = bytes[0];
  t.key_id = bytes[1];
  t.reserved = get_u16(&bytes[2]);
  t.sequence = 0;
  for (int i = 0; i < 8; ++i) t.sequence = (t.sequence << 8) | bytes[4 + i];
  std::copy_n(bytes.begin() + kTrailerHeadSize, kMacSize, t.mac.begin());
  return t;
}

std::vector<std::uint8_t> hmac_input(std::span<const std::uint8_t> message, const Binding& binding,
                                     std::span<const std::uint8_t, kTrailerHeadSize> head) {
  std::vector<std::uint8_t> in;
  in.reserve(kPseudoHeaderSize + message.size() + kTrailerSize);
  // The pseudo-header: family as 4 or 6 (not AF_*), version, vrid, zero, the source in 16 bytes
  // (IPv4: 4 bytes then 12 zeros).
  in.push_back(binding.source.family == Family::V4 ? 4 : 6);
  in.push_back(binding.version);
  in.push_back(binding.vrid);
  in.push_back(0);
  in.insert(in.end(), binding.source.bytes.begin(), binding.source.bytes.end());
  const std::size_t at = in.size();
  in.insert(in.end(), message.begin(), message.end());
  if (message.size() >= kChecksumOffset + 2) {
    in[at + kChecksumOffset] = 0;
    in[at + kChecksumOffset + 1] = 0;
  }
  in.insert(in.end(), head.begin(), head.end());
  in.insert(in.end(), kMacSize, 0);  // the HMAC field itself, read as zero
  return in;
}

std::array<std::uint8_t, kTrailerSize> sign(std::span<const std::uint8_t> message,
                                            const Binding& binding, const Key& key,
                                            Sequence sequence, const HmacSha256& hmac) {
  Trailer t;
  t.key_id = key.id;
  t.sequence = sequence;
  auto bytes = encode_trailer(t);
  t.mac = mac_of(message, binding, key, std::span(bytes).first<kTrailerHeadSize>(), hmac);
  std::copy(t.mac.begin(), t.mac.end(), bytes.begin() + kTrailerHeadSize);
  return bytes;
}

std::optional<std::size_t> message_length(std::span<const std::uint8_t> payload, Family family) {
  if (payload.size() < 8) return std::nullopt;
  const std::size_t count = payload[3];
  if ((payload[0] >> 4) == 2) return 8 + 4 * count + 8;  // RFC 3768 §5.1: + 8 auth-data octets
  return 8 + count * (family == Family::V4 ? 4 : 16);
}

Verdict verify(std::span<const std::uint8_t> payload, Family family, const Binding& binding,
               const Policy& policy, ReplayTable& replay, WallTime now, const HmacSha256& hmac) {
  const auto length = message_length(payload, family);
  // Not a message of our version at all: decode says why (short, bad_version).
  if (!length || (payload[0] >> 4) != binding.version) return pass(payload);
  if (payload.size() != *length + kTrailerSize) {
    // No trailer. keepalived recognises one only at exactly message + 28 bytes.
    if (policy.mode == Mode::Enforce) return reject(DropReason::AuthMissing, payload);
    return pass(payload);
  }
  const auto message = payload.first(*length);
  const auto raw = payload.subspan(*length).first<kTrailerSize>();
  const Trailer t = decode_trailer(raw);
  if (t.ext_type != kExtTypeHmacSha256 || t.reserved != 0)
    return reject(DropReason::AuthMalformed, message);
  // Before the HMAC: a cheap filter against floods of old frames.
  if (policy.anti_replay == AntiReplay::Time &&
      outside_window(sequence_seconds(t.sequence), now, policy.window))
    return reject(DropReason::AuthStale, message);
  const Key* key = policy.find(t.key_id);
  if (key == nullptr) return reject(DropReason::AuthUnknownKey, message);
  const auto expected = mac_of(message, binding, *key, raw.first<kTrailerHeadSize>(), hmac);
  if (!equal_constant_time(expected, t.mac)) return reject(DropReason::AuthBadHmac, message);
  if (replay.is_replay(binding.source, t.sequence, now, policy.anti_replay, policy.window))
    return reject(DropReason::AuthReplay, message);
  replay.accept(binding.source, t.sequence);
  return Verdict{std::nullopt, message, true};
}

}  // namespace vipd::vrrp::auth
