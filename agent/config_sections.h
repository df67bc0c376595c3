// Internal to the config loader: the readers of the [[check]] and [[instance]] sections.
#pragma once

#include <vector>

#include "config_detail.h"

namespace vipd::config::detail {

/// Per-check facts the instance readers need (parallel to Config::checks).
struct CheckMeta {
  SourcePos name_pos;
  bool tracked = false;
};

/// Reads every [[check]] into cfg.checks (only the valid ones) and check_meta.
void read_checks(const toml::array& arr, Config& cfg, std::vector<CheckMeta>& check_meta,
                 Diags& diags);
/// Reads every [[instance]]; resolves `track` against cfg.checks and marks them tracked.
void read_instances(const toml::array& arr, Config& cfg, std::vector<CheckMeta>& check_meta,
                    Diags& diags);
/// Whole-file relationships that are left after both sections are read.
void validate_relations(const Config& cfg, const std::vector<CheckMeta>& check_meta, Diags& diags);

}  // namespace vipd::config::detail
