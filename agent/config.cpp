// vipd.toml loader: parses with toml++, reads every section of DESIGN.md §3, validates each value
// and the relationships between them, and reports every problem with its FILE:LINE:COL.
#include "config.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "config_detail.h"
#include "config_sections.h"

namespace vipd::config {
namespace {

std::string default_node_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "vipd";
  return buf;
}

void read_agent(const toml::table& root, Config& cfg, detail::Diags& diags) {
  cfg.agent.node_name = default_node_name();
  const auto* n = root.get("agent");
  if (!n) return;
  const auto* tbl = n->as_table();
  if (!tbl) {
    diags.error(diags.pos(*n), "'agent' must be a table ([agent]), not " +
                                   std::string(detail::type_phrase(n->type())));
    return;
  }
  detail::TableReader r(*tbl, "[agent]", diags);
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
    const auto problem = listen.empty() ? std::string() : detail::validate_host_port(listen);
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
                                             detail::did_you_mean(level, kLevels));
    } else {
      cfg.agent.log_level = level;
    }
  }
}

/// The array of tables under `key` ([[instance]] / [[check]]), or nullptr (reported).
const toml::array* array_of_tables(const toml::table& root, std::string_view key,
                                   detail::Diags& diags) {
  const auto* n = root.get(key);
  if (!n) return nullptr;
  const auto* arr = n->as_array();
  if (!arr) {
    diags.error(diags.pos(*n), "'" + std::string(key) + "' must be an array of tables ([[" +
                                   std::string(key) + "]]), not " +
                                   std::string(detail::type_phrase(n->type())));
    return nullptr;
  }
  return arr;
}

LoadResult load_table(const toml::table& root, std::string path, detail::Diags& diags) {
  Config cfg;
  cfg.path = std::move(path);
  detail::TableReader top(root, "the top-level table", diags);
  top.reject_unknown({"agent", "instance", "check"});
  read_agent(root, cfg, diags);
  // Checks first, so that instances can resolve their `track` entries.
  std::vector<detail::CheckMeta> check_meta;
  if (const auto* arr = array_of_tables(root, "check", diags)) {
    detail::read_checks(*arr, cfg, check_meta, diags);
  }
  if (const auto* arr = array_of_tables(root, "instance", diags)) {
    detail::read_instances(*arr, cfg, check_meta, diags);
  }
  if (cfg.instances.empty() && !root.contains("instance")) {
    diags.warning(diags.file_pos(), "no [[instance]] is configured: vipd will manage no address");
  }
  detail::validate_relations(cfg, check_meta, diags);
  LoadResult result;
  if (!diags.has_errors()) result.config = std::move(cfg);
  result.diagnostics = diags.take();
  return result;
}

}  // namespace

LoadResult load_string(std::string_view text, std::string_view name) {
  detail::Diags diags{std::string(name)};
  try {
    const toml::table root = toml::parse(text, name);
    return load_table(root, std::string(name), diags);
  } catch (const toml::parse_error& e) {
    diags.error(diags.pos(e.source()), "TOML syntax error: " + std::string(e.description()));
  } catch (const std::exception& e) {  // bad_alloc and the like: still never throw out
    diags.error(diags.file_pos(), std::string("cannot load configuration: ") + e.what());
  }
  LoadResult result;
  result.diagnostics = diags.take();
  return result;
}

LoadResult load_file(const std::filesystem::path& path) {
  const std::string name = path.string();
  std::error_code ec;
  const bool is_dir = std::filesystem::is_directory(path, ec);
  std::ifstream in;
  if (!is_dir) in.open(path, std::ios::binary);
  if (is_dir || !in) {
    const int err = errno;
    LoadResult result;
    std::string why = is_dir ? "is a directory" : std::strerror(err != 0 ? err : ENOENT);
    result.diagnostics.push_back(Diagnostic{Diagnostic::Severity::Error, SourcePos{name, 0, 0},
                                            "cannot read configuration file: " + why});
    return result;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    LoadResult result;
    result.diagnostics.push_back(Diagnostic{Diagnostic::Severity::Error, SourcePos{name, 0, 0},
                                            "cannot read configuration file: read error"});
    return result;
  }
  return load_string(text.str(), name);
}

}  // namespace vipd::config

namespace vipd::config {

bool soft_change_only(const Instance& current, const Instance& next) {
  Instance soft = current;
  soft.priority = next.priority;
  soft.track = next.track;
  soft.notify = next.notify;
  soft.garp = next.garp;
  soft.reset_connections = next.reset_connections;  // read at each release
  soft.pos = next.pos;
  // Going to or from 255 changes the role (the owner is not weighted and preempts): restart.
  return soft == next && (current.priority == 255) == (next.priority == 255);
}

bool same_checks(const std::vector<Check>& a, const std::vector<Check>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](Check x, const Check& y) {
    x.pos = y.pos;
    return x == y;
  });
}

}  // namespace vipd::config
