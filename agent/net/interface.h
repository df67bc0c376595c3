// Interface facts the agent needs (index, MAC, primary IPv4, link state), read through netlink.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "app/capability.h"
#include "app/ports.h"
#include "vrrp/ip_address.h"

namespace vipd::net {

/// Index, MAC, link state and primary IPv4 (the first non-secondary address, excluding `exclude`
/// addresses such as our own VIPs): the app's InterfaceFacts.
using InterfaceInfo = app::InterfaceFacts;

/// Looks an interface up by name. Returns nullopt (and sets `error` to an actionable sentence)
/// when it does not exist. `exclude` lists addresses never to choose as primary (the VIPs).
std::optional<InterfaceInfo> lookup_interface(const std::string& name, std::string& error,
                                              const std::vector<vrrp::IpAddress>& exclude = {});

/// Capability check for clear start-up errors (DESIGN.md: "a missing capability gets a clear,
/// actionable error"). True when the effective set has the capability.
using app::has_capability;

}  // namespace vipd::net
