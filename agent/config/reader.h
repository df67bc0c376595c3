// Internal to the config loader: diagnostics sink, typed table reader, duration and name helpers.
// Not a public header: only agent/config/*.cpp include it (it pulls in toml++).
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace vipd::config::detail {

/// Collects diagnostics for one file.
class Diags {
 public:
  explicit Diags(std::string file) : file_(std::move(file)) {}
  [[nodiscard]] SourcePos pos(const toml::node& node) const;
  [[nodiscard]] SourcePos pos(const toml::source_region& region) const;
  [[nodiscard]] SourcePos file_pos() const { return SourcePos{file_, 0, 0}; }
  void error(SourcePos pos, std::string message);
  void warning(SourcePos pos, std::string message);
  [[nodiscard]] bool has_errors() const;
  [[nodiscard]] const std::string& file() const { return file_; }
  /// Diagnostics sorted by position (file-level ones first), stable otherwise.
  [[nodiscard]] std::vector<Diagnostic> take();

 private:
  std::string file_;
  std::vector<Diagnostic> list_;
};

/// "vrid", "integer" ... : "an integer", "a string" for messages.
std::string_view type_phrase(toml::node_type type);

/// Optimal-string-alignment edit distance, case-insensitive.
std::size_t edit_distance(std::string_view a, std::string_view b);
/// The closest candidate if it is close enough to be a plausible typo, else empty.
std::string suggest(std::string_view word, const std::vector<std::string_view>& candidates);
/// " (did you mean 'X'?)" or "".
std::string did_you_mean(std::string_view word, const std::vector<std::string_view>& candidates);

/// parse_duration with a reason for the failure (for the diagnostic).
struct DurationResult {
  std::optional<Millis> value;
  std::string error;  // set when value is empty
};
DurationResult parse_duration_detailed(std::string_view text);
/// 1500 -> "1.5s", 200 -> "200ms", 2000 -> "2s".
std::string format_duration(Millis d);

/// "HOST:PORT" with HOST an IPv4 address, a host name or "[IPv6]"; empty string when valid,
/// otherwise what is wrong.
std::string validate_host_port(std::string_view text);
/// A Linux interface name: 1..15 bytes, no '/', ':' or whitespace. Empty when valid.
std::string validate_interface_name(std::string_view text);

/// Reads typed values from one TOML table and reports wrong types, ranges and missing keys.
/// Every getter leaves `out` untouched when the key is absent or invalid.
class TableReader {
 public:
  /// `context` names the table in messages: "[agent]", "[[instance]]", "garp", ...
  TableReader(const toml::table& table, std::string context, Diags& diags)
      : table_(table), context_(std::move(context)), diags_(diags) {}

  [[nodiscard]] const toml::table& table() const { return table_; }
  [[nodiscard]] SourcePos pos() const { return diags_.pos(table_); }
  [[nodiscard]] const toml::node* node(std::string_view key) const { return table_.get(key); }
  /// Position of the key's value, or of the table when the key is absent.
  [[nodiscard]] SourcePos pos_of(std::string_view key) const;
  [[nodiscard]] bool has(std::string_view key) const { return table_.contains(key); }

  /// Reports "missing required key" at the table when absent. Returns presence.
  bool require(std::string_view key);

  bool string(std::string_view key, std::string& out, bool required = false);
  bool boolean(std::string_view key, bool& out);
  bool integer(std::string_view key, std::int64_t min, std::int64_t max, std::int64_t& out,
               bool required = false);
  template <typename T>
  bool integer_as(std::string_view key, std::int64_t min, std::int64_t max, T& out,
                  bool required = false) {
    std::int64_t v = 0;
    if (!integer(key, min, max, v, required)) return false;
    out = static_cast<T>(v);
    return true;
  }
  bool duration(std::string_view key, Millis min, Millis max, Millis& out, bool required = false);
  /// An array whose elements are all strings; element errors are reported at each element.
  bool string_array(std::string_view key, std::vector<std::string>& out,
                    std::vector<SourcePos>* positions = nullptr, bool required = false);

  /// Reports every key not in `allowed`, with a "did you mean" from `allowed`.
  void reject_unknown(const std::vector<std::string_view>& allowed);

  /// The type-mismatch message for `key`: "'vrid' must be an integer, not a string".
  void type_error(const toml::node& node, std::string_view key, std::string_view expected);

 private:
  const toml::table& table_;
  std::string context_;
  Diags& diags_;
};

}  // namespace vipd::config::detail
