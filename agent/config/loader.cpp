// vipd.toml loader: parses with toml++, hands each section of DESIGN.md §3 to its reader
// (*_section.cpp), then the cross-section relations (relations.cpp), and reports every problem
// with its FILE:LINE:COL.
#include "config/config.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "config/ascii_guard.h"
#include "config/reader.h"
#include "config/sections.h"

namespace vipd::config {
namespace {

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
  top.reject_unknown({"agent", "instance", "check", "group"});
  detail::read_agent(root, cfg, diags);
  // Checks first, so that instances can resolve their `track` entries.
  std::vector<detail::CheckMeta> check_meta;
  if (const auto* arr = array_of_tables(root, "check", diags)) {
    detail::read_checks(*arr, cfg, check_meta, diags);
  }
  if (const auto* arr = array_of_tables(root, "instance", diags)) {
    detail::read_instances(*arr, cfg, check_meta, diags);
  }
  if (const auto* arr = array_of_tables(root, "group", diags)) {
    detail::read_groups(*arr, cfg, diags);
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
  if (const auto at = non_ascii_outside_strings(text)) {
    diags.error(SourcePos{std::string(name), at->line, at->column},
                "a non-ASCII character outside a string or comment (TOML allows them only "
                "inside quotes)");
    LoadResult refused;
    refused.diagnostics = diags.take();
    return refused;
  }
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
