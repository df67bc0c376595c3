// What a SIGHUP reload may apply in place and what needs a restart (DESIGN.md §3, operations.md
// "SIGHUP"): the rules the agent and each instance follow when a new configuration is loaded.
#pragma once

#include <vector>

#include "config/config.h"

namespace vipd::app {

/// True when `next` differs from the running `current` only in keys an instance applies in place
/// on SIGHUP (priority, track, notify, garp, reset_connections; source positions never count) and
/// keeps its role (owner or not): it then keeps its state and VIPs. Anything else needs a restart.
bool soft_change_only(const config::Instance& current, const config::Instance& next);
/// True when two [[check]] lists define the same checks in the same order (source positions never
/// count): the running check runner, and what it knows, can stay.
bool same_checks(const std::vector<config::Check>& a, const std::vector<config::Check>& b);

}  // namespace vipd::app
