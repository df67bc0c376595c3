// The composition root's adapters: the Platform that builds agent/net's kernel adapters for the
// agent. The only place outside agent/net that knows them (main.cpp builds one LinuxPlatform).
#pragma once

#include "app/ports.h"

namespace vipd {

class LinuxPlatform final : public app::Platform {
 public:
  [[nodiscard]] bool has_capability(int cap) const override;
  std::optional<app::InterfaceFacts> lookup_interface(
      const std::string& name, std::string& error,
      const std::vector<vrrp::IpAddress>& exclude) override;
  std::unique_ptr<app::VipTable> vip_table() override;
  std::unique_ptr<app::AdvertChannel> advert_channel(const app::InterfaceFacts& link,
                                                     vrrp::IpAddress source) override;
  std::unique_ptr<app::Announcer> announcer(const app::InterfaceFacts& link) override;
  std::unique_ptr<app::Watcher> watcher(app::Watcher::Handlers handlers) override;
  app::ResetConnections reset_connections() override;
  std::unique_ptr<app::RouteTable> route_table(std::uint32_t table, std::uint8_t protocol,
                                               bool add_first) override;
  [[nodiscard]] const vrrp::auth::HmacSha256* hmac() const override;
};

}  // namespace vipd
