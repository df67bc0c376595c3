// LinuxPlatform (platform_linux.h): agent/net's adapters behind the app's ports.
#include "platform_linux.h"

#include "net/connection_resetter.h"
#include "net/garp.h"
#include "net/interface.h"
#include "net/netlink_watcher.h"
#include "net/route_table.h"
#include "net/vip_manager.h"
#include "net/vrrp_socket.h"

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
  return std::make_unique<net::VrrpSocket>(link.name, link.index, source);
}

std::unique_ptr<app::Announcer> LinuxPlatform::announcer(const app::InterfaceFacts& link) {
  return std::make_unique<net::GarpSender>(link.index, link.mac);
}

std::unique_ptr<app::Watcher> LinuxPlatform::watcher(app::Watcher::Handlers handlers) {
  return std::make_unique<NetlinkWatcherPort>(std::move(handlers));
}

app::ResetConnections LinuxPlatform::reset_connections() { return net::reset_connections; }

std::unique_ptr<app::RouteTable> LinuxPlatform::route_table(std::uint32_t table,
                                                            std::uint8_t protocol) {
  return std::make_unique<net::NetlinkRouteTable>(table, protocol);
}

}  // namespace vipd
