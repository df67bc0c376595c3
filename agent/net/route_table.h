// Route mode (issue 16): the RouteTable port over netlink (libnl-3 route objects, requests
// batched into one sendmsg so a metric change is make-before-break in one kernel visit).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "app/ports.h"
#include "vrrp/ip_address.h"

struct nl_sock;

namespace vipd::net {

/// The host routes of one (table, protocol): `VIP/32 dev lo proto P metric M table T`, plus the
/// VIP's `local VIP dev lo proto P table local`. Blocking calls; each waits for the kernel's ACKs
/// (microseconds) with a 5 s bound.
class NetlinkRouteTable final : public app::RouteTable {
 public:
  /// Opens two NETLINK_ROUTE sockets (requests, dumps); throws std::runtime_error on failure.
  NetlinkRouteTable(std::uint32_t table, std::uint8_t protocol);
  ~NetlinkRouteTable() override;
  NetlinkRouteTable(const NetlinkRouteTable&) = delete;
  NetlinkRouteTable& operator=(const NetlinkRouteTable&) = delete;

  /// IPv4 and IPv6 key a route by (table, prefix, tos, metric): NLM_F_REPLACE can only replace a
  /// route with the same metric. A new metric is therefore sent as RTM_NEWROUTE (new metric)
  /// followed by RTM_DELROUTE (old metric) in ONE datagram: the kernel applies both in one
  /// visit, the table never holds zero routes, and it holds two only between the two messages
  /// (a routing daemon reading the notifications gets both in one read).
  app::RouteOpResult install(const vrrp::IpPrefix& vip, std::uint32_t metric,
                             std::optional<std::uint32_t> replaces) override;
  app::RouteOpResult withdraw(const vrrp::IpPrefix& vip, std::uint32_t metric) override;
  std::size_t sweep(std::span<const vrrp::IpPrefix> keep_local) override;
  app::RouteOpResult add_local(const vrrp::IpPrefix& vip) override;
  app::RouteOpResult remove_local(const vrrp::IpPrefix& vip) override;
  std::vector<std::uint32_t> installed(const vrrp::IpPrefix& vip) override;

 private:
  std::uint32_t table_;
  std::uint8_t protocol_;
  int lo_ = 1;
  std::uint32_t seq_ = 1;
  struct nl_sock* requests_ = nullptr;
  struct nl_sock* dumps_ = nullptr;
};

}  // namespace vipd::net
