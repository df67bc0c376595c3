// Reads and validates the [agent] section of vipd.toml.
#include <unistd.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/sections.h"

namespace vipd::config::detail {
namespace {

std::string default_node_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "vipd";
  return buf;
}

}  // namespace

void read_agent(const toml::table& root, Config& cfg, Diags& diags) {
  cfg.agent.node_name = default_node_name();
  const auto* n = root.get("agent");
  if (!n) return;
  const auto* tbl = n->as_table();
  if (!tbl) {
    diags.error(diags.pos(*n),
                "'agent' must be a table ([agent]), not " + std::string(type_phrase(n->type())));
    return;
  }
  TableReader r(*tbl, "[agent]", diags);
  r.reject_unknown(
      {"node_name", "api_listen", "log_level", "api_token_file", "state_dir", "realtime_priority"});
  // SCHED_RR priorities are 1..99 (sched(7)); 0 turns real-time scheduling off.
  r.integer_as("realtime_priority", 0, 99, cfg.agent.realtime_priority);
  std::string node_name;
  if (r.string("node_name", node_name)) {
    if (node_name.empty()) {
      diags.error(r.pos_of("node_name"),
                  "'node_name' must not be empty (omit it to use the "
                  "host name)");
    } else {
      cfg.agent.node_name = node_name;
    }
  }
  std::string listen;
  if (r.string("api_listen", listen)) {
    const auto problem = listen.empty() ? std::string() : validate_host_port(listen);
    if (!problem.empty()) {
      diags.error(r.pos_of("api_listen"), "invalid api_listen \"" + listen + "\": " + problem +
                                              " (e.g. \"127.0.0.1:9555\"; \"\" disables the "
                                              "listener)");
    } else {
      cfg.agent.api_listen = listen;
    }
  }
  for (const auto& [key, field] : {std::pair{"api_token_file", &cfg.agent.api_token_file},
                                   {"state_dir", &cfg.agent.state_dir}}) {
    std::string path;
    if (!r.string(key, path)) continue;
    if (!path.empty() && path.front() != '/')
      diags.error(r.pos_of(key), "'" + std::string(key) + "' must be an absolute path");
    else
      *field = path;
  }
  std::string level;
  if (r.string("log_level", level)) {
    static const std::vector<std::string_view> kLevels = {"trace", "debug", "info", "warn",
                                                          "error"};
    if (std::find(kLevels.begin(), kLevels.end(), level) == kLevels.end()) {
      diags.error(r.pos_of("log_level"), "invalid log_level \"" + level +
                                             "\": expected trace, debug, info, warn or error" +
                                             did_you_mean(level, kLevels));
    } else {
      cfg.agent.log_level = level;
    }
  }
}

}  // namespace vipd::config::detail
