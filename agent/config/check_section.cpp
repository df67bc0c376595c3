// Reads and validates the [[check]] sections of vipd.toml.
#include <algorithm>
#include <array>
#include <map>
#include <utility>

#include "config/sections.h"

namespace vipd::config {
namespace detail {
namespace {

struct TypeInfo {
  std::string_view name;
  CheckType type;
  std::vector<std::string_view> keys;  // keys only this type accepts
  bool has_timeout;  // http, tcp, exec: the probe's bound; pid: the reload grace (docs/checks.md)
};

const std::vector<TypeInfo>& check_types() {
  static const std::vector<TypeInfo> kTypes = {
      {"http", CheckType::Http, {"url", "expect_status", "expect_body", "tls_verify"}, true},
      {"pid", CheckType::Pid, {"pidfile"}, true},
      {"tcp", CheckType::Tcp, {"address"}, true},
      {"exec", CheckType::Exec, {"command"}, true},
      {"file", CheckType::File, {"path"}, false},
      {"link", CheckType::Link, {"interface"}, false},
  };
  return kTypes;
}

const std::vector<std::string_view> kCommonKeys = {"name",    "type", "interval",
                                                   "timeout", "rise", "fall"};

constexpr Millis kMinInterval{10};
constexpr Millis kMaxInterval{3'600'000};
constexpr Millis kDefaultTimeoutCap{1000};

/// Unknown keys, with "does not apply" for keys that belong to another check type.
void reject_unknown_check_keys(const toml::table& tbl, const TypeInfo* info, Diags& diags) {
  std::vector<std::string_view> allowed = kCommonKeys;
  std::vector<std::string_view> all = kCommonKeys;
  for (const auto& t : check_types()) {
    all.insert(all.end(), t.keys.begin(), t.keys.end());
    if (info == nullptr || info == &t) allowed.insert(allowed.end(), t.keys.begin(), t.keys.end());
  }
  for (const auto& [k, v] : tbl) {
    const std::string_view name = k.str();
    if (std::find(allowed.begin(), allowed.end(), name) != allowed.end()) continue;
    const auto owner =
        std::find_if(check_types().begin(), check_types().end(), [&](const TypeInfo& t) {
          return std::find(t.keys.begin(), t.keys.end(), name) != t.keys.end();
        });
    if (owner != check_types().end() && info != nullptr) {
      diags.error(diags.pos(k.source()), "key '" + std::string(name) +
                                             "' does not apply to checks of type '" +
                                             std::string(info->name) + "' (it belongs to '" +
                                             std::string(owner->name) + "' checks)");
    } else {
      diags.error(diags.pos(k.source()), "unknown key '" + std::string(name) + "' in [[check]]" +
                                             did_you_mean(name, allowed));
    }
  }
}

bool require_absolute(TableReader& r, std::string_view key, const std::string& value,
                      Diags& diags) {
  if (!value.empty() && value.front() == '/') return true;
  diags.error(r.pos_of(key),
              "'" + std::string(key) + "' must be an absolute path, got \"" + value + "\"");
  return false;
}

void read_http(TableReader& r, Check& c, Diags& diags) {
  if (r.string("url", c.url, true)) {
    const bool http = c.url.rfind("http://", 0) == 0;
    const bool https = c.url.rfind("https://", 0) == 0;
    const auto host_start = http ? 7U : 8U;
    if ((!http && !https) || c.url.size() <= host_start || c.url[host_start] == '/') {
      diags.error(r.pos_of("url"),
                  "invalid url \"" + c.url + "\": expected http://HOST[:PORT]/PATH or https://...");
    }
  }
  if (const auto* n = r.node("expect_status")) {
    const auto* arr = n->as_array();
    if (!arr) {
      std::string hint;
      if (const auto* i = n->as_integer()) hint = " (write [" + std::to_string(i->get()) + "])";
      diags.error(diags.pos(*n), "'expect_status' must be an array of integers, not " +
                                     std::string(type_phrase(n->type())) + hint);
    } else if (arr->empty()) {
      diags.error(diags.pos(*n), "'expect_status' must list at least one status code");
    } else {
      std::vector<int> codes;
      for (std::size_t i = 0; i < arr->size(); ++i) {
        const auto& el = *arr->get(i);
        const auto* v = el.as_integer();
        if (!v) {
          diags.error(diags.pos(el), "'expect_status[" + std::to_string(i) +
                                         "]' must be an integer, not " +
                                         std::string(type_phrase(el.type())));
        } else if (v->get() < 100 || v->get() > 599) {
          diags.error(diags.pos(el), "'expect_status[" + std::to_string(i) +
                                         "]' must be an HTTP status code 100..599, got " +
                                         std::to_string(v->get()));
        } else {
          codes.push_back(static_cast<int>(v->get()));
        }
      }
      if (codes.size() == arr->size()) c.expect_status = std::move(codes);
    }
  }
  r.string("expect_body", c.expect_body);
  r.boolean("tls_verify", c.tls_verify);
}

void read_type_keys(TableReader& r, Check& c, Diags& diags) {
  switch (c.type) {
    case CheckType::Http:
      read_http(r, c, diags);
      break;
    case CheckType::Pid:
      if (r.string("pidfile", c.pidfile, true)) require_absolute(r, "pidfile", c.pidfile, diags);
      break;
    case CheckType::Tcp:
      if (r.string("address", c.address, true)) {
        const auto problem = validate_host_port(c.address);
        if (!problem.empty()) {
          diags.error(r.pos_of("address"), "invalid address \"" + c.address + "\": " + problem +
                                               " (e.g. \"127.0.0.1:8080\")");
        }
      }
      break;
    case CheckType::Exec: {
      std::vector<SourcePos> where;
      if (r.string_array("command", c.command, &where, true)) {
        if (c.command.empty()) {
          diags.error(r.pos_of("command"), "'command' must name a program: [\"/path\", args...]");
        } else if (c.command.front().empty() || c.command.front().front() != '/') {
          diags.error(where.front(),
                      "command[0] must be an absolute path (argv is executed "
                      "directly: no shell, no PATH search), got \"" +
                          c.command.front() + "\"");
        }
      }
      break;
    }
    case CheckType::File:
      if (r.string("path", c.path, true)) require_absolute(r, "path", c.path, diags);
      break;
    case CheckType::Link:
      if (r.string("interface", c.interface, true)) {
        const auto problem = validate_interface_name(c.interface);
        if (!problem.empty()) {
          diags.error(r.pos_of("interface"),
                      "invalid interface name \"" + c.interface + "\": " + problem);
        }
      }
      break;
  }
}

}  // namespace

void read_checks(const toml::array& arr, Config& cfg, std::vector<CheckMeta>& check_meta,
                 Diags& diags) {
  std::map<std::string, SourcePos, std::less<>> seen;
  for (std::size_t i = 0; i < arr.size(); ++i) {
    const auto& node = *arr.get(i);
    const auto* tbl = node.as_table();
    if (!tbl) {
      diags.error(diags.pos(node), "'check[" + std::to_string(i) + "]' must be a table, not " +
                                       std::string(type_phrase(node.type())));
      continue;
    }
    TableReader r(*tbl, "[[check]]", diags);
    Check c;
    c.pos = r.pos();
    bool named = r.string("name", c.name, true);
    if (named && c.name.empty()) {
      diags.error(r.pos_of("name"), "check 'name' must not be empty");
      named = false;
    }
    if (named) {
      if (const auto it = seen.find(c.name); it != seen.end()) {
        diags.error(r.pos_of("name"), "duplicate check name '" + c.name +
                                          "' (first defined at line " +
                                          std::to_string(it->second.line) + ")");
        named = false;
      } else {
        seen.emplace(c.name, r.pos_of("name"));
      }
    }
    const TypeInfo* info = nullptr;
    std::string type;
    if (r.string("type", type, true)) {
      const auto it = std::find_if(check_types().begin(), check_types().end(),
                                   [&](const TypeInfo& t) { return t.name == type; });
      if (it == check_types().end()) {
        std::vector<std::string_view> names;
        for (const auto& t : check_types()) names.push_back(t.name);
        diags.error(r.pos_of("type"), "unknown check type \"" + type +
                                          "\": expected http, pid, tcp, exec, file or link" +
                                          did_you_mean(type, names));
      } else {
        info = &*it;
        c.type = info->type;
      }
    }
    reject_unknown_check_keys(*tbl, info, diags);
    r.duration("interval", kMinInterval, kMaxInterval, c.interval);
    // Default timeout: the interval, at most 1 s (a probe never outlives its period).
    c.timeout = std::min(c.interval, kDefaultTimeoutCap);
    const bool timeout_set = r.duration("timeout", kMinInterval, kMaxInterval, c.timeout);
    r.integer_as("rise", 1, 100, c.rise);
    r.integer_as("fall", 1, 100, c.fall);
    if (info != nullptr) {
      read_type_keys(r, c, diags);
      if (r.has("timeout") && !info->has_timeout) {
        diags.warning(r.pos_of("timeout"), "'timeout' has no effect on checks of type '" +
                                               std::string(info->name) + "'");
      } else if (timeout_set && c.timeout >= c.interval && c.type != CheckType::Pid) {
        diags.warning(r.pos_of("timeout"),
                      "check '" + c.name + "': timeout (" + format_duration(c.timeout) +
                          ") is not shorter than interval (" + format_duration(c.interval) +
                          "): a slow probe delays the next one");
      }
    }
    if (named) {
      cfg.checks.push_back(std::move(c));
      check_meta.push_back(CheckMeta{r.pos_of("name"), false});
    }
  }
}

}  // namespace detail

std::string_view to_string(CheckType type) {
  for (const auto& t : detail::check_types())
    if (t.type == type) return t.name;
  return "?";
}

}  // namespace vipd::config
