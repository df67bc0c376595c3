// Installs the kernel advert filter on each link (see advert_filters.h).
#include "app/advert_filters.h"

#include <cstring>

#include <spdlog/spdlog.h>

namespace vipd::app {

void install_advert_filters(const Links& links,
                            const std::vector<std::unique_ptr<Instance>>& instances) {
  for (const auto& [key, link] : links) {
    if (!link->channel) continue;
    std::vector<AcceptedAdvert> accepted;
    for (const auto& inst : instances)
      if (&inst->link() == link.get())
        accepted.push_back(
            {inst->config().version, inst->config().vrid, inst->config().unicast_peers});
    if (const int err = link->channel->accept_only(accepted); err != 0)
      spdlog::warn(
          "interface {}: cannot attach the kernel advert filter ({}): adverts for other VRIDs "
          "reach vipd and are dropped there",
          key.first, std::strerror(err));
  }
}

}  // namespace vipd::app
