// [[instance]] auth = { type = "hmac-sha256", ... } and checksum = "auto": values, defaults, every
// diagnostic, and that no diagnostic ever quotes a key.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "config/config.h"

using vipd::config::Diagnostic;
using vipd::config::LoadResult;
namespace auth = vipd::vrrp::auth;

namespace {

const std::string kHex32 = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

LoadResult load(const std::string& auth_line, const std::string& extra = "") {
  return vipd::config::load_string(
      "[[instance]]\nname = \"web\"\ninterface = \"eth0\"\nvrid = 51\n"
      "vips = [\"198.18.0.100/24\"]\n" +
          extra + auth_line + "\n",
      "t.toml");
}

std::string all(const LoadResult& r) {
  std::string out;
  for (const auto& d : r.diagnostics) out += d.format() + "\n";
  return out;
}

bool mentions(const LoadResult& r, const std::string& text,
              Diagnostic::Severity s = Diagnostic::Severity::Error) {
  return std::any_of(r.diagnostics.begin(), r.diagnostics.end(), [&](const Diagnostic& d) {
    return d.severity == s && d.message.find(text) != std::string::npos;
  });
}

struct TempFile {
  std::string path;
  TempFile(const std::string& content, mode_t mode) {
    char tmpl[] = "/tmp/tru-key-XXXXXX";
    const int fd = ::mkstemp(tmpl);
    REQUIRE(fd >= 0);
    REQUIRE(::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()));
    ::fchmod(fd, mode);
    ::close(fd);
    path = tmpl;
  }
  ~TempFile() { std::filesystem::remove(path); }
};

}  // namespace

TEST_CASE("config auth: the issue's shape loads into a policy", "[config][auth]") {
  TempFile key2("hex:" + std::string(128, 'a') + "\n", 0600);  // 64 bytes of 0xaa
  const auto r = load(
      "auth = { type = \"hmac-sha256\", active_key = 1, anti_replay = \"time\", "
      "window = \"3s\", mode = \"permissive\", keys = [ { id = 1, hex = \"" +
      kHex32 + "\" }, { id = 2, file = \"" + key2.path + "\" } ] }");
  INFO(all(r));
  REQUIRE(r.ok());
  CHECK(r.diagnostics.empty());
  const auto& a = r.config->instances.at(0).auth;
  REQUIRE(a);
  CHECK(a->mode == auth::Mode::Permissive);
  CHECK(a->anti_replay == auth::AntiReplay::Time);
  CHECK(a->window == std::chrono::seconds(3));
  CHECK(a->active_key == 1);
  REQUIRE(a->keys.size() == 2);
  CHECK(a->keys[0].bytes.size() == 32);
  CHECK(a->keys[0].bytes[31] == 0x1f);
  CHECK(a->keys[1].bytes == std::vector<std::uint8_t>(64, 0xaa));
}

TEST_CASE("config auth: defaults — enforce, time, window max(3 x interval, 5 s)",
          "[config][auth]") {
  auto r = load("auth = { type = \"hmac-sha256\", active_key = 1, keys = [ { id = 1, hex = \"" +
                kHex32 + "\" } ] }");
  REQUIRE(r.ok());
  auto a = *r.config->instances.at(0).auth;
  CHECK(a.mode == auth::Mode::Enforce);
  CHECK(a.anti_replay == auth::AntiReplay::Time);
  CHECK(a.window == std::chrono::seconds(5));
  r = load("auth = { type = \"hmac-sha256\", active_key = 1, keys = [ { id = 1, hex = \"" + kHex32 +
               "\" } ] }",
           "advert_interval = \"4s\"\n");
  REQUIRE(r.ok());
  CHECK(r.config->instances.at(0).auth->window == std::chrono::seconds(12));
  CHECK_FALSE(load("").config->instances.at(0).auth);
}

TEST_CASE("config auth: a raw-bytes key file (keepalived's ASCII form) and a systemd credential",
          "[config][auth]") {
  TempFile ascii(std::string(40, 'k') + "\r\n", 0600);
  auto r = load("auth = { type = \"hmac-sha256\", active_key = 3, keys = [ { id = 3, file = \"" +
                ascii.path + "\" } ] }");
  INFO(all(r));
  REQUIRE(r.ok());
  CHECK(r.config->instances.at(0).auth->keys.at(0).bytes == std::vector<std::uint8_t>(40, 'k'));

  const auto dir = std::filesystem::path(ascii.path).parent_path().string();
  const auto name = std::filesystem::path(ascii.path).filename().string();
  ::setenv("CREDENTIALS_DIRECTORY", dir.c_str(), 1);
  r = load("auth = { type = \"hmac-sha256\", active_key = 3, keys = [ { id = 3, credential = \"" +
           name + "\" } ] }");
  ::unsetenv("CREDENTIALS_DIRECTORY");
  INFO(all(r));
  REQUIRE(r.ok());
  CHECK(r.config->instances.at(0).auth->keys.at(0).bytes.size() == 40);
  r = load("auth = { type = \"hmac-sha256\", active_key = 3, keys = [ { id = 3, credential = \"" +
           name + "\" } ] }");
  CHECK(mentions(r, "needs $CREDENTIALS_DIRECTORY"));
}

TEST_CASE("config auth: a key file readable by others is a warning naming the file, not the key",
          "[config][auth]") {
  TempFile loose("hex:" + kHex32, 0644);
  const auto r =
      load("auth = { type = \"hmac-sha256\", active_key = 1, keys = [ { id = 1, file = \"" +
           loose.path + "\" } ] }");
  INFO(all(r));
  REQUIRE(r.ok());
  CHECK(mentions(r, "accessible to other users (mode 644)", Diagnostic::Severity::Warning));
  CHECK(mentions(r, loose.path, Diagnostic::Severity::Warning));
  CHECK(all(r).find(kHex32) == std::string::npos);
}

TEST_CASE("config auth: every mistake is reported, and no message quotes key material",
          "[config][auth]") {
  const std::string short_hex = kHex32.substr(0, 62);   // 31 bytes
  const std::string bad_hex = "zz" + kHex32.substr(2);  // not hex
  const std::string long_hex = kHex32 + kHex32 + "00";  // 65 bytes
  struct Case {
    std::string auth;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"auth = { type = \"hmac-md5\", active_key = 1, keys = [ { id = 1, hex = \"" + kHex32 +
           "\" } ] }",
       "invalid auth type \"hmac-md5\""},
      {"auth = { type = \"hmac-sha256\", active_key = 1, keys = [ { id = 1, hex = \"" + short_hex +
           "\" } ] }",
       "auth key 1 is 31 bytes; keys are 32 to 64 bytes"},
      {"auth = { type = \"hmac-sha256\", active_key = 1, keys = [ { id = 1, hex = \"" + long_hex +
           "\" } ] }",
       "auth key 1 is 65 bytes"},
      {"auth = { type = \"hmac-sha256\", active_key = 1, keys = [ { id = 1, hex = \"" + bad_hex +
           "\" } ] }",
       "not a hex digit at position 1"},
      {"auth = { type = \"hmac-sha256\", active_key = 2, keys = [ { id = 1, hex = \"" + kHex32 +
           "\" } ] }",
       "active_key 2 names no key"},
      {"auth = { type = \"hmac-sha256\", keys = [ { id = 1, hex = \"" + kHex32 + "\" } ] }",
       "active_key"},
      {"auth = { type = \"hmac-sha256\", active_key = 1, keys = [ { id = 1, hex = \"" + kHex32 +
           "\" }, { id = 1, hex = \"" + kHex32 + "\" } ] }",
       "auth key id 1 is defined twice"},
      {"auth = { type = \"hmac-sha256\", active_key = 1, keys = [ { id = 1 } ] }",
       "needs exactly one of 'hex', 'file' or 'credential'"},
      {"auth = { type = \"hmac-sha256\", active_key = 1, mode = \"enforc\", keys = [ { id = 1, hex "
       "= \"" +
           kHex32 + "\" } ] }",
       "did you mean 'enforce'"},
      {"auth = { type = \"hmac-sha256\", active_key = 1, anti_replay = \"counter\", keys = [ { id "
       "= 1, hex = \"" +
           kHex32 + "\" } ] }",
       "invalid anti_replay"},
      {"auth = { type = \"hmac-sha256\", active_key = 1, window = \"1500ms\", keys = [ { id = 1, "
       "hex = \"" +
           kHex32 + "\" } ] }",
       "whole seconds"},
      {"auth = { type = \"hmac-sha256\", active_key = 1, keys = [ { id = 1, file = "
       "\"/nonexistent/tru-key\" } ] }",
       "cannot read key file /nonexistent/tru-key"},
      {"auth = { type = \"hmac-sha256\", active_key = 1, key = [] }", "did you mean 'keys'"},
  };
  for (const auto& c : cases) {
    INFO(c.auth);
    const auto r = load(c.auth);
    INFO(all(r));
    CHECK_FALSE(r.ok());
    CHECK(mentions(r, c.message));
    for (const auto& secret : {kHex32, short_hex, bad_hex, long_hex})
      CHECK(all(r).find(secret) == std::string::npos);
  }
}

TEST_CASE("config: checksum = \"auto\" is accepted; explicit modes stay", "[config][auth]") {
  auto r = load("checksum = \"auto\"");
  REQUIRE(r.ok());
  CHECK(r.config->instances.at(0).checksum_auto);
  r = load("checksum = \"pseudo-header\"");
  REQUIRE(r.ok());
  CHECK_FALSE(r.config->instances.at(0).checksum_auto);
  CHECK(r.config->instances.at(0).checksum == vipd::vrrp::ChecksumMode::PseudoHeader);
  r = load("checksum = \"atuo\"");
  CHECK(mentions(r, "did you mean 'auto'"));
}

TEST_CASE("config: the issue 12 bounds — learn_interval_factor and lower_priority_answer_interval",
          "[config][issue-12]") {
  auto r = load("");
  REQUIRE(r.ok());
  CHECK(r.config->instances.front().learn_interval_factor == 4);
  CHECK_FALSE(r.config->instances.front().lower_priority_answer_interval.has_value());
  r = load("lower_priority_answer_interval = \"0ms\"\nlearn_interval_factor = 0");
  REQUIRE(r.ok());
  CHECK(r.config->instances.front().lower_priority_answer_interval == std::chrono::milliseconds{0});
  CHECK(r.config->instances.front().learn_interval_factor == 0);
  r = load("lower_priority_answer_interval = 5");
  CHECK_FALSE(r.ok());
  CHECK(mentions(r, "write \"5s\""));
  r = load("lower_priority_answer_interval = \"2h\"");
  CHECK_FALSE(r.ok());
}
