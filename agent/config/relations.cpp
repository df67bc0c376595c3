// The rules that span sections of vipd.toml, checked after every section is read.
#include <vector>

#include "config/sections.h"

namespace vipd::config::detail {

void validate_relations(const Config& cfg, const std::vector<CheckMeta>& check_meta, Diags& diags) {
  for (std::size_t i = 0; i < cfg.checks.size(); ++i) {
    if (!check_meta[i].tracked && !cfg.instances.empty()) {
      diags.warning(check_meta[i].name_pos, "check '" + cfg.checks[i].name +
                                                "' is not tracked by any instance (it runs, "
                                                "but changes no priority)");
    }
  }
}

}  // namespace vipd::config::detail
