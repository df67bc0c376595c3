// `vipd import keepalived.conf`: converts keepalived's VRRP configuration to a vipd TOML file
// (docs/migrating-from-keepalived.md#vipd-import).
#pragma once

#include <string>
#include <vector>

#include "import/keepalived_conf.h"

namespace vipd::import {

struct ImportResult {
  std::string toml;         // the vipd configuration (what could be carried over)
  std::vector<Note> notes;  // FILE:LINE notes, warnings and errors, in source order
  /// True when nothing was refused: every error note means something was not carried over,
  /// and the TOML passed vipd's own validation.
  [[nodiscard]] bool complete() const;
};

/// Converts parsed statements. `validate`: run the result through vipd's config loader and
/// report its errors at the keepalived line that produced the offending TOML line.
ImportResult convert(const std::vector<Stmt>& stmts, bool validate = true);
/// parse_file + convert.
ImportResult import_file(const std::string& path);

}  // namespace vipd::import
