// The Internet checksum (RFC 1071) and the IPv4/IPv6 pseudo-headers VRRP uses (RFC-CHECKLIST §4.2).
#pragma once

#include <cstdint>
#include <span>

#include "vrrp/ip_address.h"

namespace vipd::vrrp {

/// IP protocol number of VRRP (RFC 9568 §5.1.1.4, §5.1.2.3).
inline constexpr std::uint8_t kVrrpProtocol = 112;

/// A running one's-complement sum of 16-bit big-endian words. Feed whole messages in order; only
/// the last chunk may have an odd length (its final byte is padded with a zero octet, RFC 1071).
class OnesComplementSum {
 public:
  OnesComplementSum& add(std::span<const std::uint8_t> bytes);
  OnesComplementSum& add_u16(std::uint16_t word);
  OnesComplementSum& add_u32(std::uint32_t word);
  /// The folded 16-bit sum (not yet complemented).
  [[nodiscard]] std::uint16_t folded() const;
  /// The checksum to put on the wire: the one's complement of the folded sum.
  [[nodiscard]] std::uint16_t checksum() const { return static_cast<std::uint16_t>(~folded()); }
  /// True when the summed data (checksum field included) verifies: the folded sum is all ones.
  [[nodiscard]] bool verifies() const { return folded() == 0xffff; }

 private:
  std::uint64_t sum_ = 0;
};

/// Adds the IPv4 pseudo-header {src, dst, 0, protocol 112, length} (RFC 768 layout; what
/// keepalived and FRR include in the VRRPv3/IPv4 checksum by default). Uses the first 4 bytes of
/// each address.
void add_ipv4_pseudo_header(OnesComplementSum& sum, const IpAddress& source,
                            const IpAddress& destination, std::uint16_t length);

/// Adds the IPv6 pseudo-header of RFC 8200 §8.1: {src (16), dst (16), upper-layer length (32),
/// 3 zero octets, next header 112}.
void add_ipv6_pseudo_header(OnesComplementSum& sum, const IpAddress& source,
                            const IpAddress& destination, std::uint32_t length);

/// The Internet checksum of `bytes` alone (the VRRPv2 and RFC 9568 IPv4 checksum).
std::uint16_t internet_checksum(std::span<const std::uint8_t> bytes);

}  // namespace vipd::vrrp
