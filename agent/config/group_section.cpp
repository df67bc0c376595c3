// [[group]]: sync groups (keepalived's vrrp_sync_group). Members are [[instance]] names; an
// instance belongs to at most one group; notify is argv like an instance's.
#include <algorithm>
#include <cctype>
#include <map>
#include <string>
#include <vector>

#include "config/sections.h"

namespace vipd::config::detail {
namespace {

const std::vector<std::string_view> kGroupKeys = {"name", "instances", "notify"};

bool valid_name(const std::string& name) {
  return !name.empty() && name.size() <= 64 &&
         std::all_of(name.begin(), name.end(), [](unsigned char c) {
           return std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.';
         });
}

struct Seen {
  std::map<std::string, SourcePos> groups;    // group name -> where
  std::map<std::string, std::string> member;  // instance name -> its group
};

void read_group(const toml::table& tbl, Config& cfg, Seen& seen, Diags& diags) {
  TableReader r(tbl, "[[group]]", diags);
  r.reject_unknown(kGroupKeys);
  Group g;
  g.pos = r.pos();
  bool ok = r.string("name", g.name, true);
  if (ok && !valid_name(g.name)) {
    diags.error(r.pos_of("name"),
                "group name \"" + g.name + "\" must be 1..64 letters, digits, '-', '_' or '.'");
    ok = false;
  }
  if (ok) {
    if (const auto it = seen.groups.find(g.name); it != seen.groups.end()) {
      diags.error(r.pos_of("name"), "group '" + g.name + "' is defined twice (first on line " +
                                        std::to_string(it->second.line) + ")");
      ok = false;
    } else {
      seen.groups.emplace(g.name, r.pos_of("name"));
    }
  }
  std::vector<SourcePos> where;
  if (!r.string_array("instances", g.instances, &where, true)) ok = false;
  if (r.has("instances") && g.instances.empty() && where.empty()) {
    diags.error(r.pos_of("instances"), "group '" + g.name + "' lists no instances");
    ok = false;
  }
  std::vector<std::string_view> known;
  for (const auto& in : cfg.instances) known.push_back(in.name);
  for (std::size_t i = 0; i < g.instances.size() && i < where.size(); ++i) {
    const auto& m = g.instances[i];
    const auto in = std::find_if(cfg.instances.begin(), cfg.instances.end(),
                                 [&](const Instance& c) { return c.name == m; });
    if (in == cfg.instances.end()) {
      diags.error(where[i], "group '" + g.name + "' names instance '" + m +
                                "', which no [[instance]] defines" + did_you_mean(m, known));
      ok = false;
    } else if (in->mode == InstanceMode::Route) {
      // A sync group moves VRRP masterships together; a route-mode instance has none: each node
      // announces its own route and the router chooses, so "follow the master" means nothing.
      diags.error(where[i], "group '" + g.name + "' names instance '" + m +
                                "', which is in route mode: a [[group]] moves VRRP instances "
                                "together, and a route-mode instance has no master to follow. "
                                "Remove it from the group; to move several VIPs together in "
                                "route mode, list them in one route-mode instance's vips");
      ok = false;
    } else if (const auto it = seen.member.find(m); it != seen.member.end()) {
      diags.error(where[i], "instance '" + m + "' is already in group '" + it->second +
                                "' (an instance belongs to one group at most)");
      ok = false;
    } else {
      seen.member.emplace(m, g.name);
    }
  }
  if (ok && g.instances.size() == 1) {
    diags.warning(r.pos_of("instances"), "group '" + g.name +
                                             "' has one instance: it behaves as that instance "
                                             "alone");
  }
  std::vector<SourcePos> notify_at;
  if (r.string_array("notify", g.notify, &notify_at) && !g.notify.empty() &&
      (g.notify.front().empty() || g.notify.front().front() != '/')) {
    diags.error(notify_at.front(),
                "notify[0] must be an absolute path (argv is executed directly: no shell, no "
                "PATH search), got \"" +
                    g.notify.front() + "\"");
    ok = false;
  }
  if (ok) cfg.groups.push_back(std::move(g));
}

}  // namespace

void read_groups(const toml::array& arr, Config& cfg, Diags& diags) {
  Seen seen;
  for (std::size_t i = 0; i < arr.size(); ++i) {
    const auto& node = *arr.get(i);
    if (const auto* tbl = node.as_table()) {
      read_group(*tbl, cfg, seen, diags);
    } else {
      diags.error(diags.pos(node), "'group[" + std::to_string(i) + "]' must be a table, not " +
                                       std::string(type_phrase(node.type())));
    }
  }
}

}  // namespace vipd::config::detail
