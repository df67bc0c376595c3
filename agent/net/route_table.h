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
  NetlinkRouteTable(std::uint32_t table, std::uint8_t protocol, bool add_first = false);
  ~NetlinkRouteTable() override;
  NetlinkRouteTable(const NetlinkRouteTable&) = delete;
  NetlinkRouteTable& operator=(const NetlinkRouteTable&) = delete;

  /// IPv4 and IPv6 key a route by (table, prefix, tos, metric): NLM_F_REPLACE can only replace a
  /// route with the same metric. A new metric is therefore sent as RTM_DELROUTE (old metric)
  /// followed by RTM_NEWROUTE (new metric) in ONE datagram: the kernel applies them back to
  /// back, and a routing daemon drains both notifications before it acts and sees a replacement.
  /// The order is measured, not guessed (FRR 8.4, docs/route-mode.md): add-new-then-delete-old
  /// — in one datagram or two — makes zebra withdraw the imported prefix ("Rx route DEL" in
  /// bgpd) and never re-announce the surviving route, so the VIP vanishes from BGP; delete-
  /// then-add in one datagram gives bgpd a single "Rx route ADD" with the new metric (0 DELs over
  /// 11 changes). Between the two messages the kernel table is empty for microseconds; nothing
  /// forwards by it (the node answers through its `local` route). With `add_first` (route
  /// replace = "add-first") the order is reversed: BIRD's kernel protocol keeps both metrics it
  /// learns and exports the survivor without a withdrawal, while delete-first makes it send a
  /// withdrawal and the new MED back to back (measured, docs/route-mode.md).
  app::RouteOpResult install(const vrrp::IpPrefix& vip, std::uint32_t metric,
                             std::optional<std::uint32_t> replaces) override;
  app::RouteOpResult withdraw(const vrrp::IpPrefix& vip, std::uint32_t metric) override;
  std::size_t sweep(std::span<const vrrp::IpPrefix> keep_routes,
                    std::span<const vrrp::IpPrefix> keep_local) override;
  app::RouteOpResult add_local(const vrrp::IpPrefix& vip) override;
  app::RouteOpResult remove_local(const vrrp::IpPrefix& vip) override;
  std::vector<std::uint32_t> installed(const vrrp::IpPrefix& vip) override;

 private:
  std::uint32_t table_;
  std::uint8_t protocol_;
  bool add_first_ = false;
  int lo_ = 1;
  std::uint32_t seq_ = 1;
  struct nl_sock* requests_ = nullptr;
  struct nl_sock* dumps_ = nullptr;
};

}  // namespace vipd::net
