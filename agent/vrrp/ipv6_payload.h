// The VRRPv3 checksum over a whole IPv6 payload (RFC 8200 §8.1): what an IPv6 receiver verifies
// when the payload carries more than the VRRP message (keepalived's auth_hmac trailer).
#pragma once

#include <cstdint>
#include <span>

#include "vrrp/advertisement.h"

namespace vipd::vrrp {

/// Rewrites the checksum (bytes 6–7) of an IPv6 VRRPv3 payload over the whole payload with the
/// IPv6 pseudo-header whose length is the payload's, as keepalived's kernel checksum
/// (IPV6_CHECKSUM) computes and verifies it for a signed advert. decode() accepts this form too.
/// Throws std::invalid_argument for a payload shorter than the VRRP header or a non-IPv6
/// envelope.
void checksum_whole_ipv6_payload(std::span<std::uint8_t> payload, const IpEnvelope& envelope);

}  // namespace vipd::vrrp
