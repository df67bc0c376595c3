// `vipd cleanup` (see cleanup.h).
#include "app/cleanup.h"

#include <ostream>

namespace vipd::app {

int cleanup_vips(const config::Config& config, Platform& platform, std::ostream& out,
                 std::ostream& err) {
  int rc = 0;
  std::size_t removed = 0;
  try {
    const auto vips = platform.vip_table();
    for (const auto& inst : config.instances) {
      std::string gone;
      const auto link = platform.lookup_interface(inst.interface, gone, {});
      if (!link) continue;  // the interface is gone: so are its addresses
      for (const auto& r : vips->remove(link->index, inst.vips)) {
        if (r.ok && r.changed) {
          ++removed;
          out << "instance " << inst.name << ": removed VIP " << r.vip.to_string() << " from "
              << inst.interface << "\n";
        } else if (!r.ok) {
          rc = 1;
          err << "instance " << inst.name << ": cannot remove VIP " << r.vip.to_string() << " from "
              << inst.interface << ": " << r.error << "\n";
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
