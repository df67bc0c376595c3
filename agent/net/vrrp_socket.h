// The advert channel: a raw IP protocol-112 socket bound to one interface (RFC 9568 §5.1).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "app/ports.h"
#include "vrrp/ip_address.h"

namespace vipd::net {

/// One received packet: the core's datagram (source, destination, TTL, ifindex, VRRP message).
using ReceivedPacket = vrrp::Datagram;

/// Parses an IPv4 datagram as a raw socket hands it over (IP header first) into `packet`'s
/// source, destination, ttl and payload. Bytes beyond the IP total length are ignored. Returns
/// false, leaving the payload empty, when the header is malformed or the datagram is shorter than
/// its total length. Pure; VrrpSocket::receive uses it.
bool parse_ipv4_datagram(std::span<const std::uint8_t> datagram, ReceivedPacket& packet);

/// One raw socket per interface (shared by all instances on it). Multicast mode joins
/// 224.0.0.18 on the interface; sends go out with TTL 255 and TOS 0xc0 (internetwork control).
/// Unicast mode sends to each peer and receives from anyone; the agent filters on the peer list.
/// IP_MULTICAST_LOOP is off, so the node does not hear its own multicast adverts.
class VrrpSocket final : public app::AdvertChannel {
 public:
  /// Throws std::system_error with an actionable message (e.g. "needs CAP_NET_RAW") on failure.
  VrrpSocket(const std::string& interface, int ifindex, vrrp::IpAddress source);
  ~VrrpSocket() override;
  VrrpSocket(const VrrpSocket&) = delete;
  VrrpSocket& operator=(const VrrpSocket&) = delete;

  [[nodiscard]] int fd() const override { return fd_; }
  /// The AdvertChannel port: attaches the kernel advert filter (net/advert_filter.h).
  int accept_only(std::span<const app::AcceptedAdvert> accepted) override;

  /// Sends `payload` (a VRRP message) to `destination` (224.0.0.18 or a unicast peer) with TTL
  /// 255 from `source`. Returns 0 or an errno value: ENETUNREACH when the interface is down or
  /// `source` is not (or no longer) an address of this host; EAGAIN when the send queue is full.
  int send(std::span<const std::uint8_t> payload, const vrrp::IpAddress& destination);

  /// Reads one packet without blocking; nullopt when nothing is queued (EAGAIN). Malformed IP
  /// headers come back with an empty payload so the caller can count them as "short".
  /// After fd() is readable, call until nullopt. TTL and source are reported, not checked: the
  /// caller discards TTL != 255 (RFC 9568 §7.1) and, in unicast mode, sources not in its peers.
  std::optional<ReceivedPacket> receive() override;
  /// The AdvertChannel port: send from `source` (set_source, then send).
  int send(std::span<const std::uint8_t> message, const vrrp::IpAddress& source,
           const vrrp::IpAddress& destination) override {
    set_source(source);
    return send(message, destination);
  }

  /// Changes the source address used for sending (the interface's primary changed).
  void set_source(vrrp::IpAddress source) { source_ = source; }

 private:
  int fd_ = -1;
  int ifindex_ = 0;
  vrrp::IpAddress source_;
};

}  // namespace vipd::net
