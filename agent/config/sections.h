// Internal to the config loader: the readers of the [agent], [[check]] and [[instance]] sections
// (one *_section.cpp each) and the cross-section relations (relations.cpp).
#pragma once

#include <vector>

#include "config/reader.h"

namespace vipd::config::detail {

/// Per-check facts the instance readers need (parallel to Config::checks).
struct CheckMeta {
  SourcePos name_pos;
  bool tracked = false;
};

/// Reads the [agent] table (defaults when absent).
void read_agent(const toml::table& root, Config& cfg, Diags& diags);
/// Reads every [[check]] into cfg.checks (only the valid ones) and check_meta.
void read_checks(const toml::array& arr, Config& cfg, std::vector<CheckMeta>& check_meta,
                 Diags& diags);
/// Reads every [[instance]]; resolves `track` against cfg.checks and marks them tracked.
void read_instances(const toml::array& arr, Config& cfg, std::vector<CheckMeta>& check_meta,
                    Diags& diags);
/// Route mode (issue 16): reads `route = { table, protocol }` into `in.route`, checks that every
/// VIP is a host route, and warns about VRRP-only keys that have no effect (route_section.cpp).
void read_route_mode(TableReader& r, Instance& in, Diags& diags);
/// Reads every [[group]] (after the instances: members must name one).
void read_groups(const toml::array& arr, Config& cfg, Diags& diags);
/// Reads an [[instance]]'s `auth` table (auth_section.cpp) into in.auth; needs version,
/// advert_interval and auth_pass read first.
void read_auth(TableReader& parent, Instance& in, Diags& diags);
/// Whole-file relationships that are left after both sections are read.
void validate_relations(const Config& cfg, const std::vector<CheckMeta>& check_meta, Diags& diags);

}  // namespace vipd::config::detail
