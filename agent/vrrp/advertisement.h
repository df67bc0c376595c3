// VRRP advertisement: host-order value type and pure packet codec (RFC 9568 §5, RFC 3768 §5).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "vrrp/ip_address.h"
#include "vrrp/timers.h"

namespace vipd::vrrp {

/// How the VRRPv3 checksum over IPv4 is computed (RFC-CHECKLIST §4.2).
/// Rfc9568: over the VRRP message only (RFC 9568 §5.2.8, change 4).
/// PseudoHeader: VRRP message plus the IPv4 pseudo-header, as keepalived and FRR do by default.
/// VRRPv2 always uses the message-only checksum; IPv6 always uses the IPv6 pseudo-header.
enum class ChecksumMode : std::uint8_t { Rfc9568, PseudoHeader };

std::string_view to_string(ChecksumMode mode);

/// VRRPv2 authentication types (RFC 3768 §5.3.6). Only None and SimplePassword are supported.
enum class AuthType : std::uint8_t { None = 0, SimplePassword = 1, IpAh = 2 };

/// Why a received packet was discarded. The names (to_string) are the stable values of the
/// `reason` label of vipd_vrrp_packets_dropped_total: never rename one.
enum class DropReason : std::uint8_t {
  Short,                // truncated: fewer bytes than the header or the address list needs
  BadVersion,           // version is not the configured 2 or 3
  BadType,              // type != 1 (Advertisement)
  BadChecksum,          // checksum verifies in no accepted mode
  ZeroInterval,         // Max Advertise Interval == 0 (RFC 9568 erratum 8301)
  ZeroAddressCount,     // IPvX Addr Count == 0 (erratum 8299)
  AddressFamily,        // address family of the list does not match the IP header's
  AuthType,             // v2: auth type unknown or not the configured one
  AuthMismatch,         // v2: password differs
  Ttl,                  // IP TTL / Hop Limit != 255 (checked by the socket adapter)
  UnknownVrid,          // no instance with that VRID on the receiving interface
  IntervalMismatch,     // v2: advert interval differs from ours (RFC 3768 §7.1: MUST discard)
  AddressListMismatch,  // counted, but the packet is processed (RFC 9568 §7.1: MAY verify)
  NotAPeer,             // unicast mode: source not in unicast_peers
  WrongDestination,     // multicast in unicast mode or the reverse
  // auth_hmac (vrrp/auth_hmac.h): each failure its own reason; none changes any state.
  AuthMissing,          // enforce mode: no trailer
  AuthMalformed,        // trailer with an unknown ext_type or non-zero reserved bytes
  AuthUnknownKey,       // trailer's key id is not configured
  AuthBadHmac,          // HMAC does not verify
  AuthStale,            // time mode: sequence seconds outside the window of our clock
  AuthReplay,           // sequence not after the sender's last accepted one
  IntervalOutOfBounds,  // v3 interval outside the learnable range around ours (not learned)
  SourceNotLinkLocal,   // IPv6 multicast advert whose source is not link-local (RFC 9568 §5.1.2.1)
};
inline constexpr std::size_t kDropReasonCount = 23;

/// Stable short name, e.g. "bad_checksum".
std::string_view to_string(DropReason reason);

/// One VRRP advertisement in host order, version-independent.
struct Advertisement {
  std::uint8_t version = 3;  // 2 or 3
  std::uint8_t vrid = 0;
  std::uint8_t priority = 0;
  /// v3: Max Advertise Interval (12 bits of centiseconds). v2: Adver Int seconds × 100.
  Centiseconds advert_interval{100};
  Family family = Family::V4;
  std::vector<IpAddress> addresses;
  // VRRPv2 only (RFC 3768 §5.3.6, §5.3.10).
  AuthType auth_type = AuthType::None;
  std::array<std::uint8_t, 8> auth_data{};

  friend bool operator==(const Advertisement&, const Advertisement&) = default;
};

/// The IP-layer facts the checksum needs: source and destination of the packet.
struct IpEnvelope {
  IpAddress source;
  IpAddress destination;
};

/// Encodes to wire bytes (the VRRP message only, no IP header). The v3 checksum is computed in
/// `mode`; v2 ignores the mode. Preconditions (checked, throw std::invalid_argument): version 2 or
/// 3; v3 interval 1..4095 cs; v2 interval a whole number of seconds 1..255; v2 is IPv4 only;
/// 1..255 addresses, all of `family`; v2 auth type None or SimplePassword; both envelope
/// addresses of `family`. v2 with AuthType::None sends zero authentication data.
std::vector<std::uint8_t> encode(const Advertisement& advert, const IpEnvelope& envelope,
                                 ChecksumMode mode);

/// What the receiver expects; everything else is learnt from the packet.
struct DecodeExpectations {
  std::uint8_t version = 3;
  ChecksumMode preferred_mode = ChecksumMode::Rfc9568;
  // VRRPv2 authentication the local instance is configured with.
  AuthType auth_type = AuthType::None;
  std::array<std::uint8_t, 8> auth_data{};
};

struct Decoded {
  Advertisement advert;
  /// Which checksum mode verified. For v3/IPv4 this may differ from the preferred mode: the
  /// agent accepts the packet and counts the mismatch so the operator sees it. v2 and IPv6 have
  /// one checksum form only and report the preferred mode (there is no mismatch to count).
  ChecksumMode verified_with = ChecksumMode::Rfc9568;
};

struct DecodeResult {
  std::optional<Decoded> decoded;  // set when the packet is valid
  DropReason reason{};             // meaningful when decoded is empty
  [[nodiscard]] bool ok() const { return decoded.has_value(); }
};

/// Decodes and validates a VRRP message (the bytes after the IP header) per RFC-CHECKLIST
/// §4.1–4.3, in this order: length of the fixed 8-byte header, version, type, length of the whole
/// message (8 + count × address size, + 8 for v2), checksum, interval, address count, family,
/// v2 authentication. The address size comes from the envelope's family (v2: always 4). Trailing
/// bytes (Ethernet padding) are ignored: the checksum covers exactly the message. Reserved bits
/// are ignored; v2 authentication data is reported as zeros when the type is None.
DecodeResult decode(std::span<const std::uint8_t> bytes, const IpEnvelope& envelope,
                    const DecodeExpectations& expect);

}  // namespace vipd::vrrp
