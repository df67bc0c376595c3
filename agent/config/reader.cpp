// Config loader building blocks: diagnostics, typed TOML getters, durations, "did you mean".
#include <algorithm>
#include <cctype>
#include <charconv>

#include "config/reader.h"
#include "vrrp/ip_address.h"

namespace vipd::config {

std::string Diagnostic::format() const {
  std::string out = pos.file;
  if (pos.line != 0) {
    out += ':' + std::to_string(pos.line) + ':' + std::to_string(pos.column);
  }
  out += severity == Severity::Error ? ": error: " : ": warning: ";
  out += message;
  return out;
}

std::optional<Millis> parse_duration(std::string_view text) {
  return detail::parse_duration_detailed(text).value;
}

namespace detail {

SourcePos Diags::pos(const toml::source_region& region) const {
  return SourcePos{file_, region.begin.line, region.begin.column};
}

SourcePos Diags::pos(const toml::node& node) const { return pos(node.source()); }

void Diags::error(SourcePos pos, std::string message) {
  list_.push_back(Diagnostic{Diagnostic::Severity::Error, std::move(pos), std::move(message)});
}

void Diags::warning(SourcePos pos, std::string message) {
  list_.push_back(Diagnostic{Diagnostic::Severity::Warning, std::move(pos), std::move(message)});
}

bool Diags::has_errors() const {
  return std::any_of(list_.begin(), list_.end(),
                     [](const Diagnostic& d) { return d.severity == Diagnostic::Severity::Error; });
}

std::vector<Diagnostic> Diags::take() {
  std::stable_sort(list_.begin(), list_.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::pair(a.pos.line, a.pos.column) < std::pair(b.pos.line, b.pos.column);
  });
  return std::move(list_);
}

std::string_view type_phrase(toml::node_type type) {
  switch (type) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a floating-point number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  const auto lower = [](char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  };
  const std::size_t n = a.size();
  const std::size_t m = b.size();
  std::vector<std::vector<std::size_t>> d(n + 1, std::vector<std::size_t>(m + 1));
  for (std::size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= n; ++i) {
    for (std::size_t j = 1; j <= m; ++j) {
      const std::size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
          lower(a[i - 2]) == lower(b[j - 1])) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);  // transposition
      }
    }
  }
  return d[n][m];
}

std::string suggest(std::string_view word, const std::vector<std::string_view>& candidates) {
  // Plausible typo: at most 1 edit for 3..4 characters, 2 for 5+, 3 for 10+; none for 1..2
  // characters (any word is one or two edits away from them).
  const std::size_t limit = word.size() >= 10 ? 3 : word.size() >= 5 ? 2 : word.size() >= 3 ? 1 : 0;
  if (limit == 0) return {};
  std::string_view best;
  std::size_t best_distance = limit + 1;
  for (const auto candidate : candidates) {
    // The distance is at least the difference in length: skip candidates that cannot be within
    // the limit, so a 4 MB value costs no 4 MB x N table (issue 13: 3.4 s and 386 MB).
    const std::size_t gap = word.size() > candidate.size() ? word.size() - candidate.size()
                                                           : candidate.size() - word.size();
    if (gap > limit) continue;
    const std::size_t dist = edit_distance(word, candidate);
    if (dist < best_distance) {
      best_distance = dist;
      best = candidate;
    }
  }
  return std::string(best);
}

std::string did_you_mean(std::string_view word, const std::vector<std::string_view>& candidates) {
  const auto s = suggest(word, candidates);
  return s.empty() ? std::string() : " (did you mean '" + s + "'?)";
}

namespace {

constexpr std::string_view kDurationForm =
    "expected a number followed by a unit (us, ms, s, m, h), e.g. \"200ms\" or \"1.5s\"";

bool is_digit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

DurationResult parse_duration_detailed(std::string_view text) {
  std::size_t i = 0;
  std::uint64_t whole = 0;
  std::size_t whole_digits = 0;
  while (i < text.size() && is_digit(text[i])) {
    if (++whole_digits > 12) return {std::nullopt, "duration is too large"};
    whole = whole * 10 + static_cast<std::uint64_t>(text[i] - '0');
    ++i;
  }
  std::uint64_t frac = 0;
  std::uint64_t scale = 1;  // 10^(fraction digits)
  std::size_t frac_digits = 0;
  if (i < text.size() && text[i] == '.') {
    ++i;
    while (i < text.size() && is_digit(text[i])) {
      if (++frac_digits > 9) return {std::nullopt, "too many decimal places"};
      frac = frac * 10 + static_cast<std::uint64_t>(text[i] - '0');
      scale *= 10;
      ++i;
    }
    if (frac_digits == 0) return {std::nullopt, std::string(kDurationForm)};
  }
  if (whole_digits == 0) return {std::nullopt, std::string(kDurationForm)};
  const std::string_view unit = text.substr(i);
  std::uint64_t unit_us = 0;
  if (unit == "us") {
    unit_us = 1;
  } else if (unit == "ms") {
    unit_us = 1'000;
  } else if (unit == "s") {
    unit_us = 1'000'000;
  } else if (unit == "m") {
    unit_us = 60'000'000;
  } else if (unit == "h") {
    unit_us = 3'600'000'000ULL;
  } else if (unit.empty()) {
    return {std::nullopt, "missing unit: " + std::string(kDurationForm)};
  } else {
    return {std::nullopt,
            "unknown unit '" + std::string(unit) + "': " + std::string(kDurationForm)};
  }
  std::uint64_t numerator = 0;  // value × scale
  std::uint64_t scaled_us = 0;  // value × scale in microseconds
  if (__builtin_mul_overflow(whole, scale, &numerator) ||
      __builtin_add_overflow(numerator, frac, &numerator) ||
      __builtin_mul_overflow(numerator, unit_us, &scaled_us)) {
    return {std::nullopt, "duration is too large"};
  }
  if (scaled_us % scale != 0 || (scaled_us / scale) % 1000 != 0) {
    return {std::nullopt, "not a whole number of milliseconds (timers have 1 ms resolution)"};
  }
  const std::uint64_t ms = scaled_us / scale / 1000;
  constexpr std::uint64_t kMaxMs = 365ULL * 24 * 3600 * 1000;
  if (ms > kMaxMs) return {std::nullopt, "duration is too large"};
  return {Millis(static_cast<Millis::rep>(ms)), {}};
}

std::string format_duration(Millis d) {
  const auto ms = d.count();
  if (ms == 0) return "0s";
  if (ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms % 60'000 == 0 && ms >= 60'000) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  if (ms < 1000) return std::to_string(ms) + "ms";
  std::string frac = std::to_string(ms % 1000);
  frac.insert(0, 3 - frac.size(), '0');
  while (!frac.empty() && frac.back() == '0') frac.pop_back();
  return std::to_string(ms / 1000) + "." + frac + "s";
}

std::string validate_host_port(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return "expected HOST:PORT";
  const auto host = text.substr(0, colon);
  const auto port_text = text.substr(colon + 1);
  unsigned port = 0;
  const auto* end = port_text.data() + port_text.size();
  const auto [p, ec] = std::from_chars(port_text.data(), end, port);
  if (port_text.empty() || ec != std::errc{} || p != end || port < 1 || port > 65535) {
    return "port must be 1..65535";
  }
  if (host.empty()) return "missing host before ':'";
  if (host.front() == '[') {
    if (host.back() != ']' || !vrrp::IpAddress::parse(host.substr(1, host.size() - 2)) ||
        host.find('.') != std::string_view::npos) {
      return "invalid IPv6 address in brackets";
    }
    return {};
  }
  if (host.find(':') != std::string_view::npos) return "write an IPv6 address as [ADDR]:PORT";
  for (const char c : host) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-') {
      return "invalid host name";
    }
  }
  return {};
}

std::string validate_interface_name(std::string_view text) {
  if (text.empty()) return "must not be empty";
  if (text.size() > 15) return "longer than 15 bytes (the kernel's IFNAMSIZ limit)";
  for (const char c : text) {
    if (c == '/' || c == ':' || std::isspace(static_cast<unsigned char>(c))) {
      return "must not contain '/', ':' or whitespace";
    }
  }
  if (text == "." || text == "..") return "is not a valid interface name";
  return {};
}

// --- TableReader -----------------------------------------------------------------------------

SourcePos TableReader::pos_of(std::string_view key) const {
  const auto* n = table_.get(key);
  return n ? diags_.pos(*n) : pos();
}

bool TableReader::require(std::string_view key) {
  if (table_.contains(key)) return true;
  diags_.error(pos(), "missing required key '" + std::string(key) + "' in " + context_);
  return false;
}

void TableReader::type_error(const toml::node& node, std::string_view key,
                             std::string_view expected) {
  diags_.error(diags_.pos(node), "'" + std::string(key) + "' must be " + std::string(expected) +
                                     ", not " + std::string(type_phrase(node.type())));
}

bool TableReader::string(std::string_view key, std::string& out, bool required) {
  const auto* n = table_.get(key);
  if (!n) return required ? require(key) : false;
  if (const auto* s = n->as_string()) {
    out = s->get();
    return true;
  }
  type_error(*n, key, "a string");
  return false;
}

bool TableReader::boolean(std::string_view key, bool& out) {
  const auto* n = table_.get(key);
  if (!n) return false;
  if (const auto* b = n->as_boolean()) {
    out = b->get();
    return true;
  }
  type_error(*n, key, "a boolean (true or false)");
  return false;
}

bool TableReader::integer(std::string_view key, std::int64_t min, std::int64_t max,
                          std::int64_t& out, bool required) {
  const auto* n = table_.get(key);
  if (!n) return required ? require(key) : false;
  const auto* i = n->as_integer();
  if (!i) {
    type_error(*n, key, "an integer");
    return false;
  }
  const std::int64_t v = i->get();
  if (v < min || v > max) {
    diags_.error(diags_.pos(*n), "'" + std::string(key) + "' must be " + std::to_string(min) +
                                     ".." + std::to_string(max) + ", got " + std::to_string(v));
    return false;
  }
  out = v;
  return true;
}

bool TableReader::duration(std::string_view key, Millis min, Millis max, Millis& out,
                           bool required) {
  const auto* n = table_.get(key);
  if (!n) return required ? require(key) : false;
  const auto* s = n->as_string();
  if (!s) {
    std::string hint;
    if (const auto* i = n->as_integer()) hint = " (write \"" + std::to_string(i->get()) + "s\")";
    if (const auto* f = n->as_floating_point()) {
      std::string num = std::to_string(f->get());
      while (num.size() > 1 && num.back() == '0') num.pop_back();
      if (!num.empty() && num.back() == '.') num.pop_back();
      hint = " (write \"" + num + "s\")";
    }
    diags_.error(diags_.pos(*n), "'" + std::string(key) +
                                     "' must be a duration string with a unit, not " +
                                     std::string(type_phrase(n->type())) + hint);
    return false;
  }
  const auto parsed = parse_duration_detailed(s->get());
  if (!parsed.value) {
    diags_.error(diags_.pos(*n), "invalid duration \"" + s->get() + "\" for '" + std::string(key) +
                                     "': " + parsed.error);
    return false;
  }
  if (*parsed.value < min || *parsed.value > max) {
    diags_.error(diags_.pos(*n), "'" + std::string(key) + "' must be between " +
                                     format_duration(min) + " and " + format_duration(max) +
                                     ", got " + format_duration(*parsed.value));
    return false;
  }
  out = *parsed.value;
  return true;
}

bool TableReader::string_array(std::string_view key, std::vector<std::string>& out,
                               std::vector<SourcePos>* positions, bool required) {
  const auto* n = table_.get(key);
  if (!n) return required ? require(key) : false;
  const auto* arr = n->as_array();
  if (!arr) {
    std::string hint;
    if (const auto* s = n->as_string()) hint = " (write [\"" + s->get() + "\"])";
    diags_.error(diags_.pos(*n), "'" + std::string(key) + "' must be an array of strings, not " +
                                     std::string(type_phrase(n->type())) + hint);
    return false;
  }
  bool ok = true;
  std::vector<std::string> values;
  std::vector<SourcePos> where;
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const auto& el = *arr->get(i);
    if (const auto* s = el.as_string()) {
      values.push_back(s->get());
      where.push_back(diags_.pos(el));
    } else {
      diags_.error(diags_.pos(el), "'" + std::string(key) + "[" + std::to_string(i) +
                                       "]' must be a string, not " +
                                       std::string(type_phrase(el.type())));
      ok = false;
    }
  }
  if (!ok) return false;
  out = std::move(values);
  if (positions) *positions = std::move(where);
  return true;
}

void TableReader::reject_unknown(const std::vector<std::string_view>& allowed) {
  for (const auto& [k, v] : table_) {
    const std::string_view name = k.str();
    if (std::find(allowed.begin(), allowed.end(), name) != allowed.end()) continue;
    diags_.error(diags_.pos(k.source()), "unknown key '" + std::string(name) + "' in " + context_ +
                                             did_you_mean(name, allowed));
  }
}

}  // namespace detail
}  // namespace vipd::config
