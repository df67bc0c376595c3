// Route mode (issue 16): the kernel route metric (and so the BGP MED the host's routing daemon
// announces) derived from an instance's effective priority.
#pragma once

#include <cstdint>

namespace vipd::vrrp {

/// metric = 256 − effective priority: a higher priority gives a lower metric, and BGP prefers the
/// lower MED, so the router sends the VIP's traffic to the highest-priority healthy node exactly
/// as VRRP would elect it. Priority 254 → metric 2, 150 → 106, 1 → 255; an owner (255) → 1.
/// Never 0: some daemons treat metric 0 as "unset". Equal priorities give equal metrics (ECMP
/// where the router allows multipath).
constexpr std::uint32_t route_metric(std::uint8_t effective_priority) {
  return 256U - effective_priority;
}

}  // namespace vipd::vrrp
