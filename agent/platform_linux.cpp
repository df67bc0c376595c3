// LinuxPlatform (platform_linux.h): agent/net's adapters behind the app's ports.
#include "platform_linux.h"

#include <algorithm>

#include "net/connection_resetter.h"
#include "net/garp.h"
#include "net/hmac_sha256.h"
#include "net/interface.h"
#include "net/netlink_watcher.h"
#include "net/route_table.h"
#include "net/unsolicited_na.h"
#include "net/vip_manager.h"
#include "net/vrrp_socket.h"
#include "net/vrrp_socket6.h"

namespace vipd {
namespace {

/// The netlink watcher behind the Watcher port (its link events become InterfaceFacts).
class NetlinkWatcherPort final : public app::Watcher {
 public:
  explicit NetlinkWatcherPort(Handlers handlers)
      : watcher_(net::NetlinkWatcher::Handlers{
            [on_link = std::move(handlers.on_link)](const net::LinkEvent& e) {
              app::InterfaceFacts facts;
              facts.name = e.name;
              facts.index = e.ifindex;
              facts.exists = e.exists;
              facts.admin_up = e.admin_up;
              facts.carrier = e.carrier;
              on_link(facts);
            },
            std::move(handlers.on_address), std::move(handlers.on_resync)}) {}
  [[nodiscard]] int fd() const override { return watcher_.fd(); }
  void dispatch() override { watcher_.dispatch(); }

 private:
  net::NetlinkWatcher watcher_;
};

/// Gratuitous ARP for IPv4 VIPs, unsolicited neighbour advertisements for IPv6 ones. The NA
/// socket opens at the first IPv6 announcement, so a host without IPv6 runs IPv4 as before.
class FamilyAnnouncer final : public app::Announcer {
 public:
  explicit FamilyAnnouncer(const app::InterfaceFacts& link)
      : index_(link.index), mac_(link.mac), garp_(link.index, link.mac) {}
  int announce(std::span<const vrrp::IpAddress> vips) override {
    int sent = garp_.announce(vips);
    if (std::any_of(vips.begin(), vips.end(),
                    [](const auto& v) { return v.family == vrrp::Family::V6; })) {
      if (!na_) na_ = std::make_unique<net::UnsolicitedNaSender>(index_, mac_);
      sent += na_->announce(vips);
    }
    return sent;
  }

 private:
  int index_;
  std::array<std::uint8_t, 6> mac_;
  net::GarpSender garp_;
  std::unique_ptr<net::UnsolicitedNaSender> na_;
};

}  // namespace

bool LinuxPlatform::has_capability(int cap) const { return net::has_capability(cap); }

std::optional<app::InterfaceFacts> LinuxPlatform::lookup_interface(
    const std::string& name, std::string& error, const std::vector<vrrp::IpAddress>& exclude) {
  return net::lookup_interface(name, error, exclude);
}

std::unique_ptr<app::VipTable> LinuxPlatform::vip_table() {
  return std::make_unique<net::VipManager>();
}

std::unique_ptr<app::AdvertChannel> LinuxPlatform::advert_channel(const app::InterfaceFacts& link,
                                                                  vrrp::IpAddress source) {
  if (source.family == vrrp::Family::V6)
    return std::make_unique<net::VrrpSocket6>(link.name, link.index);
  return std::make_unique<net::VrrpSocket>(link.name, link.index, source);
}

std::unique_ptr<app::Announcer> LinuxPlatform::announcer(const app::InterfaceFacts& link) {
  return std::make_unique<FamilyAnnouncer>(link);
}

std::unique_ptr<app::Watcher> LinuxPlatform::watcher(app::Watcher::Handlers handlers) {
  return std::make_unique<NetlinkWatcherPort>(std::move(handlers));
}

app::ResetConnections LinuxPlatform::reset_connections() { return net::reset_connections; }

std::unique_ptr<app::RouteTable> LinuxPlatform::route_table(std::uint32_t table,
                                                            std::uint8_t protocol, bool add_first) {
  return std::make_unique<net::NetlinkRouteTable>(table, protocol, add_first);
}

const vrrp::auth::HmacSha256* LinuxPlatform::hmac() const {
  static const net::OpenSslHmacSha256 kHmac;  // stateless libcrypto HMAC-SHA256
  return &kHmac;
}

}  // namespace vipd
