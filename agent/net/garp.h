// Gratuitous ARP through AF_PACKET: both the request and the reply form (RFC 5227 §3, as MetalLB
// and keepalived send them), so every neighbour updates its cache entry for the VIP.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "app/ports.h"
#include "vrrp/ip_address.h"

namespace vipd::net {

/// The 28-byte ARP body of a gratuitous ARP for `vip` from `mac` (pure; tested with golden bytes).
/// Request form: op 1, sender = target = vip, target MAC zero. Reply form: op 2, target MAC = ours.
std::array<std::uint8_t, 28> garp_frame(const std::array<std::uint8_t, 6>& mac,
                                        const vrrp::IpAddress& vip, bool reply);

class GarpSender final : public app::Announcer {
 public:
  /// Throws std::system_error with an actionable message ("needs CAP_NET_RAW") on failure.
  GarpSender(int ifindex, std::array<std::uint8_t, 6> mac);
  ~GarpSender() override;
  GarpSender(const GarpSender&) = delete;
  GarpSender& operator=(const GarpSender&) = delete;

  /// Sends one request-form and one reply-form GARP for each IPv4 VIP (IPv6 VIPs are skipped:
  /// unsolicited NA arrives with IPv6). Returns the number of frames sent.
  int announce(std::span<const vrrp::IpAddress> vips) override;
  void set_mac(std::array<std::uint8_t, 6> mac) { mac_ = mac; }

 private:
  int fd_ = -1;
  int ifindex_ = 0;
  std::array<std::uint8_t, 6> mac_{};
};

}  // namespace vipd::net
