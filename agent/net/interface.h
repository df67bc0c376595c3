// Interface facts the agent needs (index, MAC, primary IPv4, link state), read through netlink.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vrrp/ip_address.h"

namespace vipd::net {

struct InterfaceInfo {
  std::string name;
  int index = 0;
  std::array<std::uint8_t, 6> mac{};
  bool admin_up = false;
  bool carrier = false;  // IFF_LOWER_UP / IFF_RUNNING: the link is usable
  /// The interface's primary IPv4 address (the first non-secondary one), excluding `exclude`
  /// addresses such as our own VIPs. Empty when the interface has none.
  std::optional<vrrp::IpAddress> primary_v4;
  [[nodiscard]] bool usable() const { return admin_up && carrier; }
};

/// Looks an interface up by name. Returns nullopt (and sets `error` to an actionable sentence)
/// when it does not exist. `exclude` lists addresses never to choose as primary (the VIPs).
std::optional<InterfaceInfo> lookup_interface(const std::string& name, std::string& error,
                                              const std::vector<vrrp::IpAddress>& exclude = {});

/// Capability check for clear start-up errors (DESIGN.md: "a missing capability gets a clear,
/// actionable error"). True when the effective set has the capability.
bool has_capability(int cap);

}  // namespace vipd::net
