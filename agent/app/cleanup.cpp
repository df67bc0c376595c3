// `vipd cleanup` (see cleanup.h).
#include "app/cleanup.h"

#include <net/if.h>

#include <ostream>

#include "net/vip_manager.h"

namespace vipd::app {

int cleanup_vips(const config::Config& config, std::ostream& out, std::ostream& err) {
  int rc = 0;
  std::size_t removed = 0;
  try {
    net::VipManager vips;
    for (const auto& inst : config.instances) {
      const unsigned ifindex = ::if_nametoindex(inst.interface.c_str());
      if (ifindex == 0) continue;  // the interface is gone: so are its addresses
      for (const auto& r : vips.remove(static_cast<int>(ifindex), inst.vips)) {
        if (r.ok && r.changed) {
          ++removed;
          out << "instance " << inst.name << ": removed VIP " << r.vip.to_string() << " from "
              << inst.interface << "\n";
        } else if (!r.ok) {
          rc = 1;
          err << "instance " << inst.name << ": cannot remove VIP " << r.vip.to_string()
              << " from " << inst.interface << ": " << r.error << "\n";
        }
      }
    }
  } catch (const std::exception& e) {
    err << "vipd cleanup: " << e.what() << "\n";
    return 1;
  }
  out << "vipd cleanup: " << removed << " VIP(s) removed\n";
  return rc;
}

}  // namespace vipd::app
