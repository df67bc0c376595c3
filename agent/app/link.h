// The live interface instances run on, shared by every instance on it: its facts and its ports.
#pragma once

#include <memory>

#include <map>
#include <string>
#include <utility>

#include "app/ports.h"

namespace vipd::app {

/// A link is one address family on one interface: an IPv4 and an IPv6 instance with the same
/// VRID on one interface are two virtual routers (RFC 9568 §1), each family with its own channel.
struct Link {
  vrrp::Family family = vrrp::Family::V4;
  InterfaceFacts facts;                    // name, index, MAC, primary IPv4 as last read
  bool usable = true;                      // admin up with carrier, as last reported
  std::unique_ptr<AdvertChannel> channel;  // null while the interface is away
  std::unique_ptr<Announcer> announcer;
  /// This node's advert source on the link (unless unicast_src says otherwise): the primary
  /// IPv4 address, or the IPv6 link-local address (RFC 9568 §5.1.2.1).
  [[nodiscard]] std::optional<vrrp::IpAddress> own_source() const {
    return family == vrrp::Family::V4 ? facts.primary_v4 : facts.link_local_v6;
  }
  const vrrp::auth::HmacSha256* hmac = nullptr;  // Platform::hmac(), for auth_hmac
};

/// (interface name, family)
using LinkKey = std::pair<std::string, vrrp::Family>;
using Links = std::map<LinkKey, std::unique_ptr<Link>>;

}  // namespace vipd::app
