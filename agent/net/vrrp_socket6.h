// The IPv6 advert channel: a raw IPv6 protocol-112 socket bound to one interface (RFC 9568
// §5.1.2): adverts from the interface's link-local address to ff02::12 with hop limit 255.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "app/ports.h"
#include "vrrp/ip_address.h"

namespace vipd::net {

/// One raw IPv6 socket per interface (shared by the IPv6 instances on it). Joins ff02::12 on the
/// interface (MLD) and leaves it when destroyed; sends with hop limit 255 (multicast and unicast)
/// and traffic class 0xc0. The kernel does not compute the checksum (IPV6_CHECKSUM off): the
/// codec computes it over the RFC 8200 §8.1 pseudo-header, so the source must be known, and is
/// set per packet (IPV6_PKTINFO). Hop limit and destination are read per packet
/// (IPV6_RECVHOPLIMIT, IPV6_RECVPKTINFO) and reported, not checked: vrrp::admit decides.
class VrrpSocket6 final : public app::AdvertChannel {
 public:
  /// Throws std::system_error with an actionable message (e.g. "needs CAP_NET_RAW") on failure.
  VrrpSocket6(const std::string& interface, int ifindex);
  ~VrrpSocket6() override;
  VrrpSocket6(const VrrpSocket6&) = delete;
  VrrpSocket6& operator=(const VrrpSocket6&) = delete;

  [[nodiscard]] int fd() const override { return fd_; }
  /// The AdvertChannel port: attaches the kernel advert filter (net/advert_filter.h), IPv6 form.
  int accept_only(std::span<const app::AcceptedAdvert> accepted) override;
  /// Sends one VRRP message from `source` (the link-local address, or unicast_src) to
  /// `destination` (ff02::12 or a unicast peer). Returns 0 or an errno value.
  int send(std::span<const std::uint8_t> message, const vrrp::IpAddress& source,
           const vrrp::IpAddress& destination) override;
  /// Reads one datagram without blocking; nullopt when nothing is queued. An oversized datagram
  /// comes back with an empty payload (admitted as "short").
  std::optional<vrrp::Datagram> receive() override;

 private:
  int fd_ = -1;
  int ifindex_ = 0;
};

}  // namespace vipd::net
