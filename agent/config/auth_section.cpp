// Reads [[instance]] auth = { type = "hmac-sha256", ... } (issue 12: keepalived >= 2.4.2
// auth_hmac). Keys come from `hex`, a `file` or a systemd `credential`; their bytes never appear
// in a diagnostic, a log line, /status or metrics.
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <set>

#include "config/sections.h"

namespace vipd::config::detail {
namespace {

using vrrp::auth::kMaxKeySize;
using vrrp::auth::kMinKeySize;

/// Hex digits (upper or lower case, no separators) to bytes. Empty `error` on success; the
/// error never quotes the input (it is a secret).
std::vector<std::uint8_t> from_hex(std::string_view text, std::string& error) {
  std::vector<std::uint8_t> out;
  if (text.size() % 2 != 0) {
    error = "an odd number of hex digits (" + std::to_string(text.size()) + ")";
    return {};
  }
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < text.size(); i += 2) {
    const int hi = digit(text[i]);
    const int lo = digit(text[i + 1]);
    if (hi < 0 || lo < 0) {
      error = "a character that is not a hex digit at position " +
              std::to_string(hi < 0 ? i + 1 : i + 2);
      return {};
    }
    out.push_back(static_cast<std::uint8_t>(hi * 16 + lo));
  }
  return out;
}

/// A key file as keepalived reads it: "hex:<digits>" or the raw bytes, one trailing CR/LF
/// stripped.
std::vector<std::uint8_t> read_key_file(const std::string& path, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot read key file " + path + ": " + std::strerror(errno);
    return {};
  }
  std::string text{std::istreambuf_iterator<char>(in), {}};
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (text.rfind("hex:", 0) == 0) {
    std::string why;
    auto bytes = from_hex(std::string_view(text).substr(4), why);
    if (!why.empty()) error = "key file " + path + " starts with 'hex:' but has " + why;
    return bytes;
  }
  return {text.begin(), text.end()};
}

void read_key(const toml::node& node, std::size_t index, Instance& in, std::set<int>& ids,
              Diags& diags) {
  const auto* tbl = node.as_table();
  if (!tbl) {
    diags.error(diags.pos(node),
                "auth.keys[" + std::to_string(index) +
                    "] must be a table, e.g. { id = 1, file = \"/etc/vipd/key1\" }");
    return;
  }
  TableReader r(*tbl, "auth.keys[" + std::to_string(index) + "]", diags);
  r.reject_unknown({"id", "hex", "file", "credential"});
  vrrp::auth::Key key;
  if (!r.integer_as("id", 1, 255, key.id, true)) return;
  if (!ids.insert(key.id).second) {
    diags.error(r.pos_of("id"), "auth key id " + std::to_string(key.id) + " is defined twice");
    return;
  }
  const int sources = int{r.has("hex")} + int{r.has("file")} + int{r.has("credential")};
  if (sources != 1) {
    diags.error(r.pos(), "auth key " + std::to_string(key.id) +
                             " needs exactly one of 'hex', 'file' or 'credential'");
    return;
  }
  std::string text;
  std::string error;
  SourcePos where;
  if (r.string("hex", text)) {
    where = r.pos_of("hex");
    key.bytes = from_hex(text, error);
    if (!error.empty()) error = "auth key " + std::to_string(key.id) + ": 'hex' has " + error;
  } else if (r.string("file", text) || r.string("credential", text)) {
    std::string path = text;
    if (r.has("credential")) {
      // systemd LoadCredential=/SetCredentialEncrypted=: the unit passes $CREDENTIALS_DIRECTORY.
      where = r.pos_of("credential");
      const char* dir = std::getenv("CREDENTIALS_DIRECTORY");
      if (text.empty() || text.find('/') != std::string::npos) {
        diags.error(where, "auth key " + std::to_string(key.id) +
                               ": 'credential' is a credential name (no '/'), as in the unit's "
                               "LoadCredential=NAME:PATH");
        return;
      }
      if (dir == nullptr || *dir == '\0') {
        diags.error(where, "auth key " + std::to_string(key.id) + ": credential '" + text +
                               "' needs $CREDENTIALS_DIRECTORY (set by systemd for a unit with "
                               "LoadCredential=" +
                               text + ":/path/to/key)");
        return;
      }
      path = std::string(dir) + "/" + text;
    } else {
      where = r.pos_of("file");
      struct stat st {};
      // Readable by anyone but its owner and group: a VRRP key is the VIP's only defence.
      if (::stat(path.c_str(), &st) == 0 && (st.st_mode & (S_IROTH | S_IWOTH)) != 0)
        diags.warning(where, "auth key file " + path + " is accessible to other users (mode " +
                                 std::to_string((st.st_mode >> 6) & 7) +
                                 std::to_string((st.st_mode >> 3) & 7) +
                                 std::to_string(st.st_mode & 7) + "); chmod 600 it");
    }
    key.bytes = read_key_file(path, error);
    if (!error.empty()) error = "auth key " + std::to_string(key.id) + ": " + error;
  } else {
    return;  // a wrong type, already reported
  }
  if (error.empty() && (key.bytes.size() < kMinKeySize || key.bytes.size() > kMaxKeySize))
    error = "auth key " + std::to_string(key.id) + " is " + std::to_string(key.bytes.size()) +
            " bytes; keys are 32 to 64 bytes (keepalived's bounds; e.g. `openssl rand -hex 32`)";
  if (!error.empty()) {
    diags.error(where, error);
    return;
  }
  in.auth->keys.push_back(std::move(key));
}

}  // namespace

void read_auth(TableReader& parent, Instance& in, Diags& diags) {
  const auto* n = parent.node("auth");
  if (!n) return;
  const auto* tbl = n->as_table();
  if (!tbl) {
    diags.error(diags.pos(*n),
                "'auth' must be a table, e.g. { type = \"hmac-sha256\", "
                "active_key = 1, keys = [ { id = 1, file = \"/etc/vipd/key1\" } ] }");
    return;
  }
  TableReader r(*tbl, "auth", diags);
  r.reject_unknown({"type", "active_key", "anti_replay", "window", "mode", "keys"});
  in.auth.emplace();
  auto& policy = *in.auth;
  std::string text;
  if (r.string("type", text, true) && text != "hmac-sha256")
    diags.error(r.pos_of("type"), "invalid auth type \"" + text +
                                      "\": the only type is "
                                      "\"hmac-sha256\" (keepalived's auth_hmac)" +
                                      did_you_mean(text, {"hmac-sha256"}));
  if (r.string("mode", text)) {
    static const std::vector<std::string_view> kModes = {"enforce", "permissive", "receive-only"};
    if (text == "enforce") {
      policy.mode = vrrp::auth::Mode::Enforce;
    } else if (text == "permissive") {
      policy.mode = vrrp::auth::Mode::Permissive;
    } else if (text == "receive-only") {
      policy.mode = vrrp::auth::Mode::ReceiveOnly;
    } else {
      diags.error(r.pos_of("mode"), "invalid auth mode \"" + text +
                                        "\": expected \"enforce\", \"permissive\" or "
                                        "\"receive-only\"" +
                                        did_you_mean(text, kModes));
    }
  }
  if (r.string("anti_replay", text)) {
    if (text == "time") {
      policy.anti_replay = vrrp::auth::AntiReplay::Time;
    } else if (text == "monotonic") {
      policy.anti_replay = vrrp::auth::AntiReplay::Monotonic;
    } else {
      diags.error(r.pos_of("anti_replay"), "invalid anti_replay \"" + text +
                                               "\": expected \"time\" or \"monotonic\"" +
                                               did_you_mean(text, {"time", "monotonic"}));
    }
  }
  // keepalived's time_window: default max(3 × advert_interval, 5 s), 1..300 whole seconds.
  const auto three = (3 * in.advert_interval.count() + 999) / 1000;
  policy.window =
      std::chrono::seconds(std::min<std::int64_t>(std::max<std::int64_t>(three, 5), 300));
  Millis window{0};
  if (r.duration("window", Millis{1000}, Millis{300'000}, window)) {
    if (window.count() % 1000 != 0)
      diags.error(r.pos_of("window"),
                  "auth window is in whole seconds (1s..300s), as keepalived's "
                  "time_window");
    else
      policy.window = std::chrono::seconds(window.count() / 1000);
    if (policy.anti_replay == vrrp::auth::AntiReplay::Monotonic)
      diags.warning(r.pos_of("window"),
                    "auth window has no effect with anti_replay = \"monotonic\"");
  }
  std::set<int> ids;
  if (const auto* keys = r.node("keys")) {
    if (const auto* arr = keys->as_array()) {
      for (std::size_t i = 0; i < arr->size(); ++i) read_key(*arr->get(i), i, in, ids, diags);
      if (arr->empty()) diags.error(r.pos_of("keys"), "auth needs at least one key");
    } else {
      r.type_error(*keys, "keys", "an array of tables");
    }
  } else {
    diags.error(r.pos(),
                "auth needs 'keys', e.g. keys = [ { id = 1, file = \"/etc/vipd/key1\" } ]");
  }
  // No default, as in keepalived: signing with a key the operator did not name is a surprise.
  if (r.integer_as("active_key", 1, 255, policy.active_key, true) &&
      !ids.contains(policy.active_key))
    diags.error(r.pos_of("active_key"),
                "active_key " + std::to_string(policy.active_key) + " names no key in 'keys'");
  if (!in.auth_pass.empty())
    diags.error(r.pos(), "auth and auth_pass exclude each other (auth_hmac sends auth type 0)");
}

}  // namespace vipd::config::detail
