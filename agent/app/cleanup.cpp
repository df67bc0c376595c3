// `vipd cleanup` (see cleanup.h).
#include "app/cleanup.h"

#include <ostream>
#include <set>
#include <utility>

namespace vipd::app {

int cleanup_vips(const config::Config& config, Platform& platform, std::ostream& out,
                 std::ostream& err) {
  int rc = 0;
  std::size_t removed = 0;
  try {
    const auto vips = platform.vip_table();
    const auto foreign = vips->foreign_addresses();
    for (const auto& inst : config.instances) {
      if (inst.mode == config::InstanceMode::Route) continue;  // cleanup_routes
      std::string gone;
      const auto link = platform.lookup_interface(inst.interface, gone, {});
      if (!link) continue;  // the interface is gone: so are its addresses
      // Only what vipd added: a configured VIP that is the node's own address stays.
      std::vector<vrrp::IpPrefix> ours;
      for (const auto& vip : inst.vips) {
        if (foreign.count({link->index, vip}) == 0) {
          ours.push_back(vip);
          continue;
        }
        err << "instance " << inst.name << ": " << vip.to_string() << " on "
            << inst.interface << " was not added by vipd (the node's own address?): left in place\n";
      }
      for (const auto& r : vips->remove(link->index, ours)) {
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

int cleanup_routes(const config::Config& config, Platform& platform, std::ostream& out,
                   std::ostream& err) {
  int rc = 0;
  std::size_t removed = 0;
  std::set<std::pair<std::uint32_t, std::uint8_t>> done;
  for (const auto& inst : config.instances) {
    if (inst.mode != config::InstanceMode::Route) continue;
    const auto key = std::pair(inst.route.table, inst.route.protocol);
    if (!done.insert(key).second) continue;
    // The protocol is vipd's own (the loader refuses the kernel's, FRR's and BIRD's numbers):
    // every route of it in the table, and every `local` route of it, was added by vipd.
    try {
      const auto n = platform.route_table(key.first, key.second)->sweep({}, {});
      removed += n;
      if (n > 0)
        out << "instance " << inst.name << ": removed " << n << " route(s) of protocol "
            << int{key.second} << " (table " << key.first << " and local routes)\n";
    } catch (const std::exception& e) {
      rc = 1;
      err << "instance " << inst.name << ": cannot remove the routes of protocol "
          << int{key.second} << " in table " << key.first << ": " << e.what() << "\n";
    }
  }
  if (!done.empty()) out << "vipd cleanup: " << removed << " route(s) removed\n";
  return rc;
}

}  // namespace vipd::app
