// Unsolicited neighbour advertisements (RFC 4861 §7.2.6), IPv6's gratuitous ARP: after taking
// over an IPv6 VIP, tell every node on the link (ff02::1) that the VIP's link-layer address is
// ours now, with the Override flag so that existing neighbour-cache entries are replaced.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "app/ports.h"
#include "vrrp/ip_address.h"

namespace vipd::net {

/// The 32-byte ICMPv6 Neighbor Advertisement for `target` from `mac` (pure; tested with golden
/// bytes): type 136, code 0, checksum 0 (the kernel computes it on an ICMPv6 raw socket), flags
/// Override only (R clear: the host is not an IPv6 router — a documented deviation from RFC 9568
/// §6.4.1, which assumes a router; S clear: unsolicited), the target, and the Target Link-Layer
/// Address option (type 2, length 1, the MAC).
std::array<std::uint8_t, 32> na_message(const std::array<std::uint8_t, 6>& mac,
                                        const vrrp::IpAddress& target);

/// Sends one unsolicited NA per IPv6 VIP to ff02::1 with hop limit 255 (RFC 4861 §7.1.2 makes a
/// receiver drop anything else), from the VIP itself (an address of the interface: added without
/// DAD, it is never tentative).
class UnsolicitedNaSender final : public app::Announcer {
 public:
  /// Throws std::system_error with an actionable message ("needs CAP_NET_RAW") on failure.
  UnsolicitedNaSender(int ifindex, std::array<std::uint8_t, 6> mac);
  ~UnsolicitedNaSender() override;
  UnsolicitedNaSender(const UnsolicitedNaSender&) = delete;
  UnsolicitedNaSender& operator=(const UnsolicitedNaSender&) = delete;

  /// One NA for each IPv6 VIP (IPv4 VIPs are skipped). Returns the number sent.
  int announce(std::span<const vrrp::IpAddress> vips) override;

 private:
  int fd_ = -1;
  int ifindex_ = 0;
  std::array<std::uint8_t, 6> mac_{};
};

}  // namespace vipd::net
