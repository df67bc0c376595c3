// The VRRP packet codec: Advertisement <-> wire bytes, with the receive validation of
// RFC 9568 §7.1 / RFC 3768 §7.1 that needs only the VRRP message (RFC-CHECKLIST §4.1–4.3).
// IP-layer checks (TTL, source address, VRID demultiplexing) belong to the socket adapter.
#include "vrrp/advertisement.h"

#include <stdexcept>
#include <string>
#include <utility>

#include "vrrp/checksum.h"
#include "vrrp/ipv6_payload.h"

namespace vipd::vrrp {
namespace {

constexpr std::uint8_t kTypeAdvertisement = 1;  // RFC 9568 §5.2.2
constexpr std::size_t kHeaderSize = 8;          // fixed fields before the address list
constexpr std::size_t kAuthDataSize = 8;        // RFC 3768 §5.3.10
constexpr std::size_t kChecksumOffset = 6;
constexpr std::int64_t kMaxV3Interval = 4095;  // 12 bits of centiseconds (RFC 9568 §5.2.7)

std::size_t address_size(Family family) { return family == Family::V4 ? 4 : 16; }

ChecksumMode other(ChecksumMode mode) {
  return mode == ChecksumMode::Rfc9568 ? ChecksumMode::PseudoHeader : ChecksumMode::Rfc9568;
}

/// The one's-complement sum of `message` in the given mode (RFC-CHECKLIST §4.2):
/// v2 — the message alone (RFC 3768 §5.3.8);
/// v3/IPv6 — with the RFC 8200 §8.1 pseudo-header, whatever the mode;
/// v3/IPv4 — the message alone (Rfc9568) or with the IPv4 pseudo-header (PseudoHeader).
OnesComplementSum vrrp_sum(std::span<const std::uint8_t> message, std::uint8_t version,
                           Family family, const IpEnvelope& envelope, ChecksumMode mode) {
  OnesComplementSum sum;
  if (version == 3) {
    if (family == Family::V6) {
      add_ipv6_pseudo_header(sum, envelope.source, envelope.destination,
                             static_cast<std::uint32_t>(message.size()));
    } else if (mode == ChecksumMode::PseudoHeader) {
      add_ipv4_pseudo_header(sum, envelope.source, envelope.destination,
                             static_cast<std::uint16_t>(message.size()));
    }
  }
  sum.add(message);
  return sum;
}

[[noreturn]] void precondition(const std::string& what) {
  throw std::invalid_argument("vrrp::encode: " + what);
}

DecodeResult drop(DropReason reason) {
  DecodeResult r;
  r.reason = reason;
  return r;
}

}  // namespace

std::string_view to_string(ChecksumMode mode) {
  switch (mode) {
    case ChecksumMode::Rfc9568:
      return "rfc9568";
    case ChecksumMode::PseudoHeader:
      return "pseudo-header";
  }
  return "unknown";
}

std::string_view to_string(DropReason reason) {
  switch (reason) {
    case DropReason::Short:
      return "short";
    case DropReason::BadVersion:
      return "bad_version";
    case DropReason::BadType:
      return "bad_type";
    case DropReason::BadChecksum:
      return "bad_checksum";
    case DropReason::ZeroInterval:
      return "zero_interval";
    case DropReason::ZeroAddressCount:
      return "zero_address_count";
    case DropReason::AddressFamily:
      return "address_family";
    case DropReason::AuthType:
      return "auth_type";
    case DropReason::AuthMismatch:
      return "auth_mismatch";
    case DropReason::Ttl:
      return "ttl";
    case DropReason::UnknownVrid:
      return "unknown_vrid";
    case DropReason::IntervalMismatch:
      return "interval_mismatch";
    case DropReason::AddressListMismatch:
      return "address_list_mismatch";
    case DropReason::NotAPeer:
      return "not_a_peer";
    case DropReason::WrongDestination:
      return "wrong_destination";
    case DropReason::AuthMissing:
      return "auth_missing";
    case DropReason::AuthMalformed:
      return "auth_malformed";
    case DropReason::AuthUnknownKey:
      return "auth_unknown_key";
    case DropReason::AuthBadHmac:
      return "auth_bad_hmac";
    case DropReason::AuthStale:
      return "auth_stale";
    case DropReason::AuthReplay:
      return "auth_replay";
    case DropReason::IntervalOutOfBounds:
      return "interval_out_of_bounds";
    case DropReason::SourceNotLinkLocal:
      return "source_not_link_local";
  }
  return "unknown";
}

std::vector<std::uint8_t> encode(const Advertisement& advert, const IpEnvelope& envelope,
                                 ChecksumMode mode) {
  const bool v2 = advert.version == 2;
  if (advert.version != 2 && advert.version != 3) precondition("version must be 2 or 3");
  if (advert.addresses.empty() || advert.addresses.size() > 255)
    precondition("1..255 addresses required");
  for (const auto& a : advert.addresses)
    if (a.family != advert.family) precondition("every address must be of the advert's family");
  if (envelope.source.family != advert.family || envelope.destination.family != advert.family)
    precondition("the IP envelope must be of the advert's family");

  const auto cs = advert.advert_interval.count();
  std::uint16_t interval_field = 0;
  if (v2) {
    // RFC 3768 §5.3.7: Adver Int is whole seconds, 8 bits.
    if (advert.family != Family::V4) precondition("VRRPv2 is IPv4 only");
    if (cs % 100 != 0 || cs < 100 || cs > std::int64_t{255} * 100)
      precondition("v2 interval must be whole seconds 1..255");
    if (advert.auth_type != AuthType::None && advert.auth_type != AuthType::SimplePassword)
      precondition("v2 auth type must be none or simple password");
    interval_field = static_cast<std::uint16_t>(cs / 100);
  } else {
    if (cs < 1 || cs > kMaxV3Interval) precondition("v3 interval must be 1..4095 centiseconds");
    interval_field = static_cast<std::uint16_t>(cs);
  }

  const std::size_t size = address_size(advert.family);
  std::vector<std::uint8_t> out;
  out.reserve(kHeaderSize + advert.addresses.size() * size + (v2 ? kAuthDataSize : 0));
  out.push_back(static_cast<std::uint8_t>((advert.version << 4) | kTypeAdvertisement));
  out.push_back(advert.vrid);
  out.push_back(advert.priority);
  out.push_back(static_cast<std::uint8_t>(advert.addresses.size()));
  if (v2) {
    out.push_back(static_cast<std::uint8_t>(advert.auth_type));
    out.push_back(static_cast<std::uint8_t>(interval_field));
  } else {
    // RFC 9568 §5.2.6: the 4 reserved bits are zero on transmit.
    out.push_back(static_cast<std::uint8_t>(interval_field >> 8));
    out.push_back(static_cast<std::uint8_t>(interval_field & 0xff));
  }
  out.push_back(0);  // checksum, filled in below
  out.push_back(0);
  for (const auto& a : advert.addresses)
    out.insert(out.end(), a.bytes.begin(), a.bytes.begin() + size);
  if (v2) {
    // RFC 3768 §5.3.10: with no authentication the data SHOULD be zero on transmit.
    if (advert.auth_type == AuthType::SimplePassword) {
      out.insert(out.end(), advert.auth_data.begin(), advert.auth_data.end());
    } else {
      out.insert(out.end(), kAuthDataSize, 0);
    }
  }

  const std::uint16_t checksum =
      vrrp_sum(out, advert.version, advert.family, envelope, mode).checksum();
  out[kChecksumOffset] = static_cast<std::uint8_t>(checksum >> 8);
  out[kChecksumOffset + 1] = static_cast<std::uint8_t>(checksum & 0xff);
  return out;
}

void checksum_whole_ipv6_payload(std::span<std::uint8_t> payload, const IpEnvelope& envelope) {
  if (payload.size() < kHeaderSize || envelope.source.family != Family::V6)
    precondition("checksum_whole_ipv6_payload: an IPv6 VRRPv3 payload");
  payload[kChecksumOffset] = 0;
  payload[kChecksumOffset + 1] = 0;
  const std::uint16_t checksum =
      vrrp_sum(payload, 3, Family::V6, envelope, ChecksumMode::Rfc9568).checksum();
  payload[kChecksumOffset] = static_cast<std::uint8_t>(checksum >> 8);
  payload[kChecksumOffset + 1] = static_cast<std::uint8_t>(checksum & 0xff);
}

DecodeResult decode(std::span<const std::uint8_t> bytes, const IpEnvelope& envelope,
                    const DecodeExpectations& expect) {
  // 1. The fixed header must be there before any field can be read.
  if (bytes.size() < kHeaderSize) return drop(DropReason::Short);

  // 2. Version == the configured one (RFC 9568 §7.1 bullet 3). Checked before the full length:
  //    a packet of the other version has another layout, and "bad_version" says more.
  const std::uint8_t version = bytes[0] >> 4;
  if (version != expect.version || (version != 2 && version != 3))
    return drop(DropReason::BadVersion);
  const bool v2 = version == 2;

  // 3. Type == 1 (RFC 9568 §5.2.2: other types MUST be discarded).
  if ((bytes[0] & 0x0f) != kTypeAdvertisement) return drop(DropReason::BadType);

  // 4. The complete message: 8 + count × address size (+ 8 octets of v2 authentication data).
  //    v2 always has the IPv4 layout; a v2 packet in an IPv6 envelope fails at step 8.
  //    Anything after the message is Ethernet minimum-frame padding and is ignored.
  const Family family = envelope.source.family;
  const std::size_t count = bytes[3];
  const std::size_t size = v2 ? 4 : address_size(family);
  const std::size_t length = kHeaderSize + count * size + (v2 ? kAuthDataSize : 0);
  if (bytes.size() < length) return drop(DropReason::Short);
  const auto message = bytes.first(length);

  // 5. Checksum over exactly the message, preferred mode first (RFC-CHECKLIST §4.2). Only
  //    v3/IPv4 has two modes; v2 and IPv6 have one and report the preferred mode, so the agent
  //    never counts a mode mismatch for them.
  ChecksumMode verified_with = expect.preferred_mode;
  const bool two_modes = !v2 && family == Family::V4;
  if (!vrrp_sum(message, version, family, envelope, verified_with).verifies()) {
    // IPv6 has no link padding inside the payload: bytes after the message (keepalived's
    // auth_hmac trailer) are part of it, and an IPv6 sender that lets the kernel checksum
    // (IPV6_CHECKSUM, keepalived) covers the whole payload, trailer included.
    if (!v2 && family == Family::V6 && bytes.size() > length &&
        vrrp_sum(bytes, version, family, envelope, verified_with).verifies()) {
      // verified over the whole payload: fall through
    } else if (!two_modes) {
      return drop(DropReason::BadChecksum);
    } else {
      verified_with = other(expect.preferred_mode);
      if (!vrrp_sum(message, version, family, envelope, verified_with).verifies())
        return drop(DropReason::BadChecksum);
    }
  }

  // 6. Interval != 0 (RFC 9568 erratum 8301). v3: the low 12 bits; the 4 reserved bits are
  //    ignored on receive (§5.2.6). v2: Adver Int in seconds.
  const std::int64_t interval_cs =
      v2 ? std::int64_t{bytes[5]} * 100 : ((std::int64_t{bytes[4]} & 0x0f) << 8) | bytes[5];
  if (interval_cs == 0) return drop(DropReason::ZeroInterval);

  // 7. Address count != 0 (erratum 8299).
  if (count == 0) return drop(DropReason::ZeroAddressCount);

  // 8. The list's family is the IP header's (RFC 9568 §5.2.9); v2 is IPv4 only (RFC 3768).
  if (envelope.destination.family != family || (v2 && family != Family::V4))
    return drop(DropReason::AddressFamily);

  Advertisement advert;
  advert.version = version;
  advert.vrid = bytes[1];
  advert.priority = bytes[2];
  advert.advert_interval = Centiseconds{interval_cs};
  advert.family = family;
  advert.addresses.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    const auto raw = message.subspan(kHeaderSize + i * size, size);
    IpAddress a;
    a.family = family;
    for (std::size_t j = 0; j < size; ++j) a.bytes[j] = raw[j];
    advert.addresses.push_back(a);
  }

  // 9. v2 authentication (RFC 3768 §5.3.6, §7.1): unknown types and types other than the
  //    configured one are discarded; a simple password must match all 8 octets. With no
  //    authentication the data is ignored (and reported as zeros).
  if (v2) {
    const std::uint8_t auth = bytes[4];
    if (auth != static_cast<std::uint8_t>(AuthType::None) &&
        auth != static_cast<std::uint8_t>(AuthType::SimplePassword))
      return drop(DropReason::AuthType);
    if (auth != static_cast<std::uint8_t>(expect.auth_type)) return drop(DropReason::AuthType);
    advert.auth_type = static_cast<AuthType>(auth);
    if (advert.auth_type == AuthType::SimplePassword) {
      const auto data = message.last(kAuthDataSize);
      for (std::size_t i = 0; i < kAuthDataSize; ++i) advert.auth_data[i] = data[i];
      if (advert.auth_data != expect.auth_data) return drop(DropReason::AuthMismatch);
    }
  }

  DecodeResult result;
  result.decoded = Decoded{std::move(advert), verified_with};
  return result;
}

}  // namespace vipd::vrrp
