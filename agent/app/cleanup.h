// `vipd cleanup`: remove this configuration's VIPs from their interfaces. The systemd unit runs it
// after vipd stops for any reason (ExecStopPost), so a VIP never outlives a killed vipd while the
// peer takes over (issue 13).
#pragma once

#include <iosfwd>

#include "app/ports.h"
#include "config/config.h"

namespace vipd::app {

/// Removes every configured VIP that is on its instance's interface; prints one line per VIP
/// removed to `out` and each failure to `err`. Exit code: 0 when nothing configured is left on
/// an interface (an absent interface counts as clean), 1 when a removal failed.
int cleanup_vips(const config::Config& config, Platform& platform, std::ostream& out,
                 std::ostream& err);

/// Route mode: removes every route of a route-mode instance's protocol from its table, and the
/// `local` routes of that protocol (all vipd's: the protocol number is vipd's own), so a node
/// whose vipd died stops being announced by its routing daemon. Same output and exit code rules.
int cleanup_routes(const config::Config& config, Platform& platform, std::ostream& out,
                   std::ostream& err);

}  // namespace vipd::app
