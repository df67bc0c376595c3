// Internal to `vipd import` (import/*.cpp): the conversion context and TOML helpers.
#pragma once

#include <cerrno>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "import/keepalived_conf.h"

namespace vipd::import::detail {

/// One output TOML line and the keepalived statement it came from (for error positions).
struct Line {
  std::string text;
  const Stmt* src = nullptr;
};

struct CheckDef {
  std::string name;
  const Stmt* src = nullptr;
  std::vector<Line> lines;  // after `name = ...`
  int weight = 0;           // the definition's weight, used when a track entry gives none
};

struct Notify {
  std::string generic, master, backup, fault;
  [[nodiscard]] bool any() const {
    return !generic.empty() || !master.empty() || !backup.empty() || !fault.empty();
  }
};

struct Ctx {
  std::vector<Note> notes;
  std::vector<CheckDef> checks;
  void add(Note::Kind k, const Stmt& s, std::string m) {
    notes.push_back({k, s.file, s.line, std::move(m)});
  }
  void note(const Stmt& s, std::string m) { add(Note::Kind::Note, s, std::move(m)); }
  void warning(const Stmt& s, std::string m) { add(Note::Kind::Warning, s, std::move(m)); }
  void error(const Stmt& s, std::string m) { add(Note::Kind::Error, s, std::move(m)); }
  /// args[i] as an integer in [min, max]; an error note otherwise.
  std::optional<long> integer(const Stmt& s, std::size_t i, long min, long max);
  /// args[i] as (fractional) seconds; an error note otherwise.
  std::optional<double> seconds(const Stmt& s, std::size_t i);
};

std::string toml_string(const std::string& s);
std::string toml_array(const std::vector<std::string>& v);
/// 1 -> "1s", 0.1 -> "100ms".
std::string duration(double seconds);
/// An absolute path for a program name (searched in the usual sbin/bin directories).
std::string resolve_program(const std::string& name, Ctx& ctx, const Stmt& at);
/// A vrrp_script's `script` -> argv (a shell for shell syntax), with notes on better checks.
std::vector<std::string> script_argv(const std::string& script, Ctx& ctx, const Stmt& at);

void convert_script(const Stmt& def, Ctx& ctx);
void convert_track_process(const Stmt& def, Ctx& ctx);
void convert_track_file(const Stmt& def, Ctx& ctx);
/// keepalived notify scripts -> one vipd notify argv (`kind`: "INSTANCE" or "GROUP").
std::optional<std::vector<std::string>> notify_argv(const Notify& n, const char* kind);

}  // namespace vipd::import::detail
