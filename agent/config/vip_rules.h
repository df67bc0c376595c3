// Which addresses can be a VIP (issue 13): a unicast host address that another host can reach on
// the segment. `vipd check` and start-up refuse the rest at the VIP's FILE:LINE:COL.
#pragma once

#include <optional>
#include <string>

#include "vrrp/ip_address.h"

namespace vipd::config {

/// Why `vip` cannot be a VIP ("is a loopback address", "is the network address of
/// 198.18.1.0/24", ...), or nullopt when it can. Refused: multicast, unspecified, loopback,
/// IPv4 broadcast (limited and the subnet's), the subnet's network address (prefix ≤ /30; IPv6:
/// the Subnet-Router anycast address, prefix ≤ /126), IPv4 link-local (169.254.0.0/16), 0.0.0.0/8,
/// 240.0.0.0/4 (reserved), and IPv4-mapped IPv6 (::ffff:0:0/96). IPv6 link-local is allowed:
/// VRRPv3 over IPv6 lists a link-local virtual address first (RFC 9568 §5.2.9).
std::optional<std::string> vip_unusable(const vrrp::IpPrefix& vip);

}  // namespace vipd::config
