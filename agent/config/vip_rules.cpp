// VIP address rules (see vip_rules.h).
#include "config/vip_rules.h"

#include <algorithm>

namespace vipd::config {
namespace {

/// True when every host bit (those past `length`) equals `one`.
bool host_bits_all(const vrrp::IpAddress& a, unsigned length, bool one) {
  const unsigned bits = static_cast<unsigned>(a.size()) * 8;
  for (unsigned b = length; b < bits; ++b) {
    const bool set = (a.bytes[b / 8] >> (7 - b % 8)) & 1;
    if (set != one) return false;
  }
  return true;
}

std::string subnet_of(const vrrp::IpPrefix& p) {
  vrrp::IpAddress net = p.address;
  for (unsigned b = p.length; b < net.size() * 8; ++b)
    net.bytes[b / 8] &= static_cast<std::uint8_t>(~(1u << (7 - b % 8)));
  return vrrp::IpPrefix{net, p.length}.to_string();
}

}  // namespace

std::optional<std::string> vip_unusable(const vrrp::IpPrefix& vip) {
  const auto& a = vip.address;
  if (a.is_unspecified()) return "is the unspecified address";
  if (a.is_multicast()) return "is a multicast address";
  if (a.family == vrrp::Family::V4) {
    const std::uint32_t h = a.v4_host_order();
    if (h == 0xffffffffu) return "is the limited broadcast address";
    if ((h >> 24) == 127) return "is a loopback address (127.0.0.0/8)";
    if ((h >> 24) == 0) return "is in 0.0.0.0/8 (\"this network\", not a host address)";
    if ((h >> 16) == 0xa9fe) return "is an IPv4 link-local address (169.254.0.0/16)";
    if ((h >> 28) == 0xf) return "is in 240.0.0.0/4 (reserved)";
    if (vip.length <= 30 && host_bits_all(a, vip.length, false))
      return "is the network address of " + subnet_of(vip) + " (no host has it)";
    if (vip.length <= 30 && host_bits_all(a, vip.length, true))
      return "is the broadcast address of " + subnet_of(vip);
    return std::nullopt;
  }
  static constexpr std::array<std::uint8_t, 16> kLoopback{0, 0, 0, 0, 0, 0, 0, 0,
                                                          0, 0, 0, 0, 0, 0, 0, 1};
  if (a.bytes == kLoopback) return "is the loopback address ::1";
  if (std::all_of(a.bytes.begin(), a.bytes.begin() + 10, [](auto b) { return b == 0; }) &&
      a.bytes[10] == 0xff && a.bytes[11] == 0xff)
    return "is an IPv4-mapped IPv6 address (write the IPv4 address in an IPv4 instance)";
  if (vip.length <= 126 && host_bits_all(a, vip.length, false))
    return "is the Subnet-Router anycast address of " + subnet_of(vip) + " (no host has it)";
  return std::nullopt;
}

}  // namespace vipd::config
