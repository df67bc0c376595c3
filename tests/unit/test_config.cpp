// Tests for the vipd.toml loader: the full model, every diagnostic with its position, durations.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <string>

#include "config/config.h"

using vipd::config::Diagnostic;
using vipd::config::LoadResult;
using vipd::config::Millis;
using vipd::config::parse_duration;

namespace {

LoadResult load(const std::string& text) { return vipd::config::load_string(text, "t.toml"); }

std::string dump(const LoadResult& r) {
  std::string out;
  for (const auto& d : r.diagnostics) out += "  " + d.format() + "\n";
  return out;
}

std::size_t count(const LoadResult& r, Diagnostic::Severity s) {
  return static_cast<std::size_t>(
      std::count_if(r.diagnostics.begin(), r.diagnostics.end(),
                    [&](const Diagnostic& d) { return d.severity == s; }));
}

bool has(const LoadResult& r, std::uint32_t line, std::uint32_t col, const std::string& text,
         Diagnostic::Severity s = Diagnostic::Severity::Error) {
  return std::any_of(r.diagnostics.begin(), r.diagnostics.end(), [&](const Diagnostic& d) {
    return d.severity == s && d.pos.line == line && d.pos.column == col &&
           d.message.find(text) != std::string::npos;
  });
}

// A valid instance whose extra lines start at line 6.
std::string inst(const std::string& extra) {
  return "[[instance]]\nname = \"web\"\ninterface = \"eth0\"\nvrid = 51\n"
         "vips = [\"198.18.0.100/24\"]\n" +
         extra;
}

// A valid http check whose extra lines start at line 5.
std::string http_check(const std::string& extra) {
  return "[[check]]\nname = \"c\"\ntype = \"http\"\nurl = \"http://127.0.0.1/\"\n" + extra;
}

constexpr auto kError = Diagnostic::Severity::Error;
constexpr auto kWarning = Diagnostic::Severity::Warning;

}  // namespace

TEST_CASE("config: the DESIGN.md example loads with the right values", "[config]") {
  const auto r = load(R"(
[agent]
node_name = "web-a"
api_listen = "127.0.0.1:9555"
log_level = "debug"

[[instance]]
name = "web"
interface = "eth0"
vrid = 51
priority = 100
version = 3
advert_interval = "1s"
group_size = 0
preempt = true
preempt_delay = "0s"
vips = ["198.18.0.100/24"]
unicast_peers = []
unicast_src = ""
checksum = "pseudo-header"
auth_pass = ""
garp = { repeat = 3, interval = "20ms", second_burst_after = "4s", refresh = "60s" }
track = [ { check = "nginx-http", weight = -60 }, { check = "nginx-pid", weight = 0 } ]
notify = ["/etc/vipd/on-change.sh", "--verbose"]

[[check]]
name = "nginx-http"
type = "http"
url = "http://127.0.0.1/healthz"
expect_status = [200, 204]
expect_body = "ok"
interval = "200ms"
timeout = "100ms"
rise = 2
fall = 3

[[check]]
name = "nginx-pid"
type = "pid"
pidfile = "/run/nginx.pid"
)");
  INFO(dump(r));
  REQUIRE(r.ok());
  REQUIRE(r.diagnostics.empty());
  const auto& c = *r.config;
  CHECK(c.path == "t.toml");
  CHECK(c.agent.node_name == "web-a");
  CHECK(c.agent.api_listen == "127.0.0.1:9555");
  CHECK(c.agent.log_level == "debug");
  REQUIRE(c.instances.size() == 1);
  const auto& in = c.instances[0];
  CHECK(in.name == "web");
  CHECK(in.interface == "eth0");
  CHECK(in.vrid == 51);
  CHECK(in.priority == 100);
  CHECK(in.version == 3);
  CHECK(in.advert_interval == Millis{1000});
  CHECK(in.group_size == 0);
  CHECK(in.preempt);
  CHECK(in.fast_preempt);
  CHECK(in.preempt_delay == Millis{0});
  REQUIRE(in.vips.size() == 1);
  CHECK(in.vips[0].to_string() == "198.18.0.100/24");
  CHECK(in.family == vipd::vrrp::Family::V4);
  CHECK(in.unicast_peers.empty());
  CHECK(!in.unicast_src.has_value());
  CHECK(in.checksum == vipd::vrrp::ChecksumMode::PseudoHeader);
  CHECK(in.auth_pass.empty());
  CHECK(in.garp.repeat == 3);
  CHECK(in.garp.interval == Millis{20});
  CHECK(in.garp.second_burst_after == Millis{4000});
  CHECK(in.garp.refresh == Millis{60000});
  REQUIRE(in.track.size() == 2);
  CHECK(in.track[0].check == "nginx-http");
  CHECK(in.track[0].weight == -60);
  CHECK(in.track[0].pos.line == 23);
  CHECK(in.track[1].check == "nginx-pid");
  CHECK(in.track[1].weight == 0);
  CHECK(in.notify == std::vector<std::string>{"/etc/vipd/on-change.sh", "--verbose"});
  CHECK(in.pos.line == 7);
  REQUIRE(c.checks.size() == 2);
  const auto& http = c.checks[0];
  CHECK(http.name == "nginx-http");
  CHECK(http.type == vipd::config::CheckType::Http);
  CHECK(http.url == "http://127.0.0.1/healthz");
  CHECK(http.expect_status == std::vector<int>{200, 204});
  CHECK(http.expect_body == "ok");
  CHECK(http.tls_verify);
  CHECK(http.interval == Millis{200});
  CHECK(http.timeout == Millis{100});
  CHECK(http.rise == 2);
  CHECK(http.fall == 3);
  CHECK(http.pos.line == 26);
  const auto& pid = c.checks[1];
  CHECK(pid.type == vipd::config::CheckType::Pid);
  CHECK(pid.pidfile == "/run/nginx.pid");
  CHECK(pid.interval == Millis{1000});
  CHECK(pid.rise == 1);
  CHECK(pid.fall == 1);
}

TEST_CASE("config: defaults", "[config]") {
  const auto r = load(
      "[[instance]]\nname = \"v6\"\ninterface = \"eth0\"\nvrid = 7\n"
      "vips = [\"2001:db8::100/64\"]\nunicast_peers = [\"2001:db8::2\"]\nfast_preempt = false\n"
      "[instance.garp]\nrepeat = 2\n"
      "[[check]]\nname = \"h\"\ntype = \"http\"\nurl = \"https://x/\"\n"
      "interval = \"300ms\"\n");
  INFO(dump(r));
  REQUIRE(r.ok());
  const auto& in = r.config->instances.at(0);
  CHECK(!r.config->agent.node_name.empty());
  CHECK(r.config->agent.api_listen == "127.0.0.1:9555");
  CHECK(r.config->agent.log_level == "info");
  CHECK(r.config->agent.realtime_priority == 10);
  CHECK(in.priority == 100);
  CHECK(in.version == 3);
  CHECK(in.advert_interval == Millis{1000});
  CHECK(in.family == vipd::vrrp::Family::V6);
  CHECK(!in.fast_preempt);
  CHECK(in.preempt);
  CHECK(in.make_before_break);
  CHECK(in.reset_connections);
  CHECK(in.checksum == vipd::vrrp::ChecksumMode::Rfc9568);
  CHECK(in.garp.repeat == 2);  // from the [instance.garp] sub-table
  CHECK(in.garp.interval == Millis{10});
  CHECK(in.garp.second_burst_after == Millis{5000});
  CHECK(in.garp.refresh == Millis{0});
  const auto& c = r.config->checks.at(0);
  CHECK(c.expect_status == std::vector<int>{200});
  CHECK(c.timeout == Millis{300});  // default timeout: the interval, at most 1s
  // The check is not tracked: a warning, not an error.
  CHECK(has(r, 11, 8, "check 'h' is not tracked", kWarning));
}

TEST_CASE("config: reset_connections is a boolean, on by default", "[config]") {
  const auto off = load(inst("reset_connections = false\n"));
  INFO(dump(off));
  REQUIRE(off.ok());
  CHECK_FALSE(off.config->instances.at(0).reset_connections);
  const auto on = load(inst(""));
  REQUIRE(on.ok());
  CHECK(on.config->instances.at(0).reset_connections);
}

TEST_CASE("config: realtime_priority takes 0 (off) through 99", "[config]") {
  for (const int prio : {0, 1, 99}) {
    const auto r = load("[agent]\nrealtime_priority = " + std::to_string(prio) + "\n" + inst(""));
    INFO(dump(r));
    REQUIRE(r.ok());
    CHECK(r.config->agent.realtime_priority == prio);
  }
}

TEST_CASE("config: the packaged example loads with no diagnostics", "[config]") {
  const auto r = vipd::config::load_file(
      std::filesystem::path(VIPD_FIXTURES "/../../packaging/vipd.example.toml").lexically_normal());
  INFO(dump(r));
  REQUIRE(r.ok());
  CHECK(r.diagnostics.empty());
  CHECK(r.config->instances.size() == 1);
  CHECK(r.config->checks.size() == 6);
}

TEST_CASE("config: broken configs report the exact position and message", "[config]") {
  struct Case {
    std::string text;
    std::uint32_t line;
    std::uint32_t col;
    std::string message;
    Diagnostic::Severity severity = kError;
  };
  const std::vector<Case> cases = {
      // Types: toml++ does not flag them, the loader does.
      {"[[instance]]\nname = \"web\"\ninterface = \"eth0\"\nvrid = \"51\"\nvips = []\n", 4, 8,
       "'vrid' must be an integer, not a string"},
      {inst("preempt = \"yes\"\n"), 6, 11, "'preempt' must be a boolean"},
      {inst("reset_connections = 1\n"), 6, 21,
       "'reset_connections' must be a boolean (true or false), not an integer"},
      {inst("priority = 1.5\n"), 6, 12, "'priority' must be an integer, not a floating-point"},
      {"[[instance]]\nname = \"web\"\ninterface = \"eth0\"\nvrid = 1\nvips = \"198.18.0.1/24\"\n",
       5, 8, "'vips' must be an array of strings, not a string (write [\"198.18.0.1/24\"])"},
      {inst("notify = \"/bin/x\"\n"), 6, 10, "not a string (write [\"/bin/x\"])"},
      {inst("track = { check = \"x\" }\n"), 6, 9, "'track' must be an array of tables"},
      {inst("garp = 5\n"), 6, 8, "'garp' must be a table"},
      {"instance = 3\n", 1, 12, "'instance' must be an array of tables ([[instance]])"},
      {"agent = \"x\"\n", 1, 9, "'agent' must be a table"},
      // Ranges.
      {inst("priority = 0\n"), 6, 12, "'priority' must be 1..255, got 0"},
      {inst("priority = 300\n"), 6, 12, "'priority' must be 1..255, got 300"},
      {inst("version = 4\n"), 6, 11, "'version' must be 2..3, got 4"},
      {inst("group_size = -1\n"), 6, 14, "'group_size' must be 0..255"},
      {"[[instance]]\nname = \"web\"\ninterface = \"eth0\"\nvrid = 0\nvips = [\"198.18.0.1/24\"]\n",
       4, 8, "'vrid' must be 1..255, got 0"},
      // Unknown keys.
      {inst("vird = 5\n"), 6, 1, "unknown key 'vird' in [[instance]] (did you mean 'vrid'?)"},
      {inst("preemt = true\n"), 6, 1, "(did you mean 'preempt'?)"},
      {inst("advert-interval = \"1s\"\n"), 6, 1, "(did you mean 'advert_interval'?)"},
      {inst("bogus = 1\n"), 6, 1, "unknown key 'bogus' in [[instance]]"},
      {inst("garp = { repaet = 3 }\n"), 6, 10, "unknown key 'repaet' in garp (did you mean"},
      {"[agent]\nlog_levle = \"info\"\n", 2, 1, "(did you mean 'log_level'?)"},
      {"[agnet]\n", 1, 2, "unknown key 'agnet' in the top-level table (did you mean 'agent'?)"},
      // Missing keys: reported at the table.
      {"[[instance]]\nname = \"web\"\nvrid = 1\nvips = [\"198.18.0.1/24\"]\n", 1, 1,
       "missing required key 'interface' in [[instance]]"},
      {"\n[[check]]\nname = \"c\"\ntype = \"pid\"\n", 2, 1,
       "missing required key 'pidfile' in [[check]]"},
      // Durations.
      {inst("advert_interval = 1\n"), 6, 19,
       "'advert_interval' must be a duration string with a unit, not an integer (write \"1s\")"},
      {inst("advert_interval = 0.5\n"), 6, 19, "(write \"0.5s\")"},
      {inst("advert_interval = \"1x\"\n"), 6, 19, "invalid duration \"1x\" for 'advert_interval'"},
      {inst("preempt_delay = \"250us\"\n"), 6, 17, "not a whole number of milliseconds"},
      // VRRP timers.
      {inst("advert_interval = \"15ms\"\n"), 6, 19, "is not a multiple of 10ms"},
      {inst("advert_interval = \"5ms\"\n"), 6, 19, "out of range for VRRPv3 (10ms..40.95s)"},
      {inst("advert_interval = \"41s\"\n"), 6, 19, "out of range for VRRPv3"},
      {inst("version = 2\nadvert_interval = \"500ms\"\n"), 7, 19,
       "is sub-second, but VRRPv2 advertises in whole seconds"},
      {inst("version = 2\nadvert_interval = \"1.5s\"\n"), 7, 19, "not a whole number of seconds"},
      {inst("version = 2\nadvert_interval = \"256s\"\n"), 7, 19, "out of range for VRRPv2"},
      // Addresses.
      {"[[instance]]\nname = \"web\"\ninterface = \"eth0\"\nvrid = 1\n"
       "vips = [\"198.18.0.1/24\", \"2001:db8::1/64\"]\n",
       5, 26, "VIP 2001:db8::1/64 is IPv6 but this instance's first VIP is IPv4"},
      {"[[instance]]\nname = \"web\"\ninterface = \"eth0\"\nvrid = 1\nvips = [\"198.18.0.1\"]\n", 5,
       9, "missing prefix length (write \"198.18.0.1/24\""},
      {"[[instance]]\nname = \"web\"\ninterface = \"eth0\"\nvrid = 1\nvips = [\"nope/24\"]\n", 5, 9,
       "invalid VIP \"nope/24\""},
      {"[[instance]]\nname = \"web\"\ninterface = \"eth0\"\nvrid = 1\nvips = []\n", 5, 8,
       "'vips' must list at least one address"},
      {inst("unicast_peers = [\"2001:db8::2\"]\n"), 6, 18,
       "unicast peer 2001:db8::2 is IPv6 but this instance's VIPs are IPv4"},
      {inst("unicast_peers = [\"198.18.0.2/24\"]\n"), 6, 18, "invalid unicast peer"},
      {inst("unicast_src = \"198.18.0.1\"\n"), 6, 15, "unicast_src has no effect without",
       kWarning},
      {"[[instance]]\nname = \"web\"\ninterface = \"averyveryverylongname\"\nvrid = 1\n"
       "vips = [\"198.18.0.1/24\"]\n",
       3, 13, "invalid interface name \"averyveryverylongname\": longer than 15 bytes"},
      {"[agent]\napi_listen = \"127.0.0.1\"\n", 2, 14, "invalid api_listen"},
      {"[agent]\nrealtime_priority = 100\n", 2, 21, "'realtime_priority' must be 0..99, got 100"},
      {"[agent]\nrealtime_priority = -1\n", 2, 21, "'realtime_priority' must be 0..99, got -1"},
      {"[agent]\nrealtime_priority = \"10\"\n", 2, 21,
       "'realtime_priority' must be an integer, not a string"},
      {"[agent]\nrealtime_priorty = 10\n", 2, 1, "(did you mean 'realtime_priority'?)"},
      // Version-specific options.
      {inst("auth_pass = \"secret\"\n"), 6, 13, "auth_pass is VRRPv2-only"},
      {inst("version = 2\nauth_pass = \"123456789\"\n"), 7, 13, "auth_pass is 9 bytes"},
      {inst("version = 2\nchecksum = \"pseudo-header\"\n"), 7, 12,
       "'checksum' has no effect with version = 2", kWarning},
      {inst("checksum = \"rfc9586\"\n"), 6, 12, "(did you mean 'rfc9568'?)"},
      {"[[instance]]\nname = \"web\"\ninterface = \"eth0\"\nvrid = 1\nversion = 2\n"
       "vips = [\"2001:db8::1/64\"]\n",
       5, 11, "VRRPv2 (RFC 3768) is IPv4-only"},
      // GARP.
      {inst("garp = { repeat = 0 }\n"), 6, 19, "'repeat' must be 1..100, got 0"},
      {inst("garp = { refresh = \"100ms\" }\n"), 6, 20, "is below 1s"},
      {inst("garp = { repeat = 10, interval = \"1s\", second_burst_after = \"2s\" }\n"), 6, 61,
       "starts before the first burst ends", kWarning},
      // Tracking and notify.
      {inst("notify = [\"on-change.sh\"]\n"), 6, 11, "notify[0] must be an absolute path"},
      {inst("preempt = false\npreempt_delay = \"5s\"\n"), 7, 17, "no effect with preempt = false",
       kWarning},
      {inst("unicast_peers = [\"198.18.0.2\", \"198.18.0.3\"]\ngroup_size = 2\n"), 7, 14,
       "group_size = 2 but unicast_peers lists 2 peer(s)", kWarning},
      // Checks.
      {inst("address_mismatch = \"drop\"\n"), 6, 20,
       "invalid address_mismatch \"drop\": expected \"process\" or \"ignore\""},
      {http_check("interval = \"5ms\"\n"), 5, 12,
       "'interval' must be between 10ms and 1h, got 5ms"},
      {http_check("rise = 0\n"), 5, 8, "'rise' must be 1..100, got 0"},
      {http_check("pidfile = \"/run/x.pid\"\n"), 5, 1,
       "key 'pidfile' does not apply to checks of type 'http' (it belongs to 'pid' checks)"},
      {http_check("expect_status = 200\n"), 5, 17, "(write [200])"},
      {http_check("expect_status = [700]\n"), 5, 18, "must be an HTTP status code 100..599"},
      {http_check("timeout = \"2s\"\n"), 5, 11, "timeout (2s) is not shorter than interval (1s)",
       kWarning},
      {http_check("urll = \"x\"\n"), 5, 1, "(did you mean 'url'?)"},
      {"[[check]]\nname = \"c\"\ntype = \"htpp\"\n", 3, 8,
       "unknown check type \"htpp\": expected http, pid, tcp, exec, file or link (did you mean "
       "'http'?)"},
      {"[[check]]\nname = \"c\"\ntype = \"http\"\nurl = \"ftp://x/\"\n", 4, 7, "invalid url"},
      {"[[check]]\nname = \"c\"\ntype = \"exec\"\ncommand = [\"check.sh\"]\n", 4, 12,
       "command[0] must be an absolute path"},
      {"[[check]]\nname = \"c\"\ntype = \"tcp\"\naddress = \"127.0.0.1\"\n", 4, 11,
       "invalid address \"127.0.0.1\""},
      {"[[check]]\nname = \"c\"\ntype = \"file\"\npath = \"relative\"\n", 4, 8,
       "'path' must be an absolute path"},
      {"[[check]]\nname = \"c\"\ntype = \"file\"\npath = \"/p\"\ntimeout = \"1s\"\n", 5, 11,
       "'timeout' has no effect on checks of type 'file'", kWarning},
      // Syntax.
      {"[[instance]]\nname = web\n", 2, 8, "TOML syntax error"},
  };
  for (const auto& c : cases) {
    const auto r = load(c.text);
    INFO(c.text);
    INFO(dump(r));
    CHECK(has(r, c.line, c.col, c.message, c.severity));
    if (c.severity == kError) CHECK(!r.ok());
  }
}

TEST_CASE("config: a pid check's timeout is its reload grace, longer than interval allowed",
          "[config]") {
  const auto r = load(
      "[[check]]\nname = \"c\"\ntype = \"pid\"\npidfile = \"/p\"\ninterval = \"1s\"\n"
      "timeout = \"2s\"\n");
  INFO(dump(r));
  REQUIRE(r.ok());
  for (const auto& d : r.diagnostics) CHECK(d.message.find("timeout") == std::string::npos);
  REQUIRE(r.config->checks.size() == 1);
  CHECK(r.config->checks[0].timeout == std::chrono::milliseconds(2000));
}

TEST_CASE("config: a file with several errors reports all of them, sorted", "[config]") {
  const auto r = load(R"([agent]
log_level = "verbose"

[[instance]]
name = "web"
interface = "eth0"
vrid = 300
priority = "high"
vips = ["198.18.0.100/24"]
advert_interval = "1.5s"
version = 2
track = [{ check = "nope", weight = -10 }]

[[check]]
name = "c"
type = "pid"
)");
  INFO(dump(r));
  CHECK(!r.ok());
  CHECK(has(r, 2, 13, "invalid log_level \"verbose\""));
  CHECK(has(r, 7, 8, "'vrid' must be 1..255, got 300"));
  CHECK(has(r, 8, 12, "'priority' must be an integer, not a string"));
  CHECK(has(r, 10, 19, "not a whole number of seconds"));
  CHECK(has(r, 12, 20, "track refers to check 'nope', which no [[check]] defines"));
  CHECK(has(r, 14, 1, "missing required key 'pidfile' in [[check]]"));
  CHECK(count(r, kError) == 6);
  for (std::size_t i = 1; i < r.diagnostics.size(); ++i) {
    CHECK(r.diagnostics[i - 1].pos.line <= r.diagnostics[i].pos.line);
  }
}

TEST_CASE("config: duplicate VRID on one interface", "[config]") {
  const std::string base =
      "[[instance]]\nname = \"a\"\ninterface = \"eth0\"\nvrid = 51\nvips = [\"198.18.0.1/24\"]\n";
  SECTION("same interface, same family: error at the second VRID") {
    const auto r = load(base +
                        "[[instance]]\nname = \"b\"\ninterface = \"eth0\"\nvrid = 51\n"
                        "vips = [\"198.18.0.2/24\"]\n");
    INFO(dump(r));
    CHECK(
        has(r, 9, 8, "VRID 51 (IPv4) is already used on interface eth0 by instance 'a' (line 4)"));
    CHECK(count(r, kError) == 1);
  }
  SECTION("another interface is fine") {
    const auto r = load(base +
                        "[[instance]]\nname = \"b\"\ninterface = \"eth1\"\nvrid = 51\n"
                        "vips = [\"198.18.0.2/24\"]\n");
    INFO(dump(r));
    CHECK(r.ok());
  }
  SECTION("IPv4 and IPv6 virtual routers may share a VRID") {
    const auto r = load(base +
                        "[[instance]]\nname = \"b\"\ninterface = \"eth0\"\nvrid = 51\n"
                        "vips = [\"2001:db8::1/64\"]\n");
    INFO(dump(r));
    CHECK(r.ok());
  }
  SECTION("duplicate names and VIPs") {
    const auto r = load(base +
                        "[[instance]]\nname = \"a\"\ninterface = \"eth1\"\nvrid = 52\n"
                        "vips = [\"198.18.0.1/24\"]\n");
    INFO(dump(r));
    CHECK(has(r, 7, 8, "duplicate instance name 'a' (first defined at line 2)"));
    CHECK(has(r, 10, 9, "VIP 198.18.0.1 is already configured in instance 'a'"));
  }
}

TEST_CASE("config: tracking", "[config]") {
  const std::string checks =
      "[[check]]\nname = \"nginx-pid\"\ntype = \"pid\"\npidfile = \"/run/nginx.pid\"\n"
      "[[check]]\nname = \"slow\"\ntype = \"http\"\nurl = \"http://127.0.0.1/\"\n"
      "interval = \"1s\"\nfall = 5\n";  // lines 1..10; the instance starts at 11
  const auto instance = [](const std::string& track, const std::string& extra = "") {
    return "[[instance]]\nname = \"web\"\ninterface = \"eth0\"\nvrid = 51\n"
           "vips = [\"198.18.0.100/24\"]\n" +
           extra + "track = " + track + "\n";
  };
  SECTION("a missing check, with a suggestion") {
    const auto r = load(checks + instance("[{ check = \"nginx-pdi\", weight = 0 }]"));
    INFO(dump(r));
    CHECK(has(r, 16, 20,
              "track refers to check 'nginx-pdi', which no [[check]] defines (did you mean "
              "'nginx-pid'?)"));
  }
  SECTION("check interval x fall longer than master-down: warning") {
    const auto r = load(checks + instance("[{ check = \"slow\", weight = -50 }, "
                                          "{ check = \"nginx-pid\" }]"));
    INFO(dump(r));
    REQUIRE(r.ok());
    // 3 x 1s + (256 - 100) x 1s / 256 = 3.609s < 5 x 1s
    CHECK(has(r, 16, 20,
              "check 'slow' needs up to 5s (interval 1s x fall 5) to notice a failure, longer "
              "than instance 'web''s master-down interval (3.609s)",
              kWarning));
    CHECK(count(r, kWarning) == 1);
  }
  SECTION("the owner is not weighted: warning") {
    const auto r = load(checks + instance("[{ check = \"nginx-pid\" }]", "priority = 255\n"));
    INFO(dump(r));
    REQUIRE(r.ok());
    CHECK(has(r, 17, 9, "priority 255 (address owner) is never weighted", kWarning));
  }
  SECTION("a check tracked twice, entries that are not tables, weight range") {
    const auto r = load(checks + instance("[{ check = \"nginx-pid\" }, { check = \"nginx-pid\" }, "
                                          "\"slow\", { check = \"slow\", weight = 300 }]"));
    INFO(dump(r));
    CHECK(has(r, 16, 45, "check 'nginx-pid' is tracked twice"));
    CHECK(has(r, 16, 60, "'track[2]' must be a table"));
    CHECK(has(r, 16, 95, "'weight' must be -254..254, got 300"));
  }
  SECTION("no suggestion for a very short name") {
    // 'x' is one edit away from the check 'y': still no suggestion.
    const auto r = load(checks + "[[check]]\nname = \"y\"\ntype = \"pid\"\npidfile = \"/p\"\n" +
                        instance("[{ check = \"x\" }]"));
    INFO(dump(r));
    CHECK(has(r, 20, 20, "track refers to check 'x', which no [[check]] defines"));
    for (const auto& d : r.diagnostics) CHECK(d.message.find("did you mean") == std::string::npos);
  }
  SECTION("duplicate check names") {
    const auto r = load(checks + "[[check]]\nname = \"slow\"\ntype = \"pid\"\npidfile = \"/p\"\n");
    INFO(dump(r));
    CHECK(has(r, 12, 8, "duplicate check name 'slow' (first defined at line 6)"));
  }
}

TEST_CASE("config: missing file and syntax errors", "[config]") {
  const auto r = vipd::config::load_file("/nonexistent/vipd.toml");
  REQUIRE(r.diagnostics.size() == 1);
  CHECK(!r.ok());
  CHECK(r.diagnostics[0].format() ==
        "/nonexistent/vipd.toml: error: cannot read configuration file: No such file or "
        "directory");
  const auto s = load("[[instance]]\nvrid = 1\nvrid = 2\n");
  REQUIRE(s.diagnostics.size() == 1);
  CHECK(s.diagnostics[0].format().rfind("t.toml:3:", 0) == 0);
  CHECK(s.diagnostics[0].message.find("TOML syntax error") != std::string::npos);
}

TEST_CASE("config: Diagnostic::format", "[config]") {
  Diagnostic d{Diagnostic::Severity::Error, {"/etc/vipd/vipd.toml", 4, 8}, "bad"};
  CHECK(d.format() == "/etc/vipd/vipd.toml:4:8: error: bad");
  d.severity = Diagnostic::Severity::Warning;
  CHECK(d.format() == "/etc/vipd/vipd.toml:4:8: warning: bad");
}

TEST_CASE("config: durations", "[config]") {
  struct Case {
    const char* text;
    std::optional<long> ms;
  };
  const std::vector<Case> cases = {
      {"10ms", 10},
      {"1.5s", 1500},
      {"2m", 120000},
      {"1h", 3600000},
      {"0s", 0},
      {"0ms", 0},
      {"1000us", 1},
      {"1.001s", 1001},
      {"40.95s", 40950},
      {"0.01s", 10},
      {"250us", std::nullopt},
      {"0.5ms", std::nullopt},
      {"0.0001s", std::nullopt},
      {"1", std::nullopt},
      {"s", std::nullopt},
      {"", std::nullopt},
      {".5s", std::nullopt},
      {"1.s", std::nullopt},
      {"-1s", std::nullopt},
      {"1 s", std::nullopt},
      {"1S", std::nullopt},
      {"1sec", std::nullopt},
      {"999999999999h", std::nullopt},
      {"1.0000000001s", std::nullopt},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    const auto d = parse_duration(c.text);
    if (c.ms) {
      REQUIRE(d.has_value());
      CHECK(d->count() == *c.ms);
    } else {
      CHECK(!d.has_value());
    }
  }
}

// ---------------------------------------------------------------------------------------------
// [[group]] (sync groups, issue 14)

namespace {
std::string two_instances() {
  return "[[instance]]\nname = \"outside\"\ninterface = \"eth0\"\nvrid = 51\n"
         "vips = [\"198.18.0.100/24\"]\n\n"  // lines 1-5
         "[[instance]]\nname = \"inside\"\ninterface = \"eth1\"\nvrid = 52\n"
         "vips = [\"198.18.1.100/24\"]\n\n";  // lines 7-11, 12 empty
}
}  // namespace

TEST_CASE("config: [[group]] names its member instances", "[config][group]") {
  const auto r = load(two_instances() +
                      "[[group]]\nname = \"edge\"\ninstances = [\"outside\", \"inside\"]\n"
                      "notify = [\"/etc/vipd/group.sh\", \"x\"]\n");
  INFO(dump(r));
  REQUIRE(r.ok());
  REQUIRE(r.config->groups.size() == 1);
  const auto& g = r.config->groups[0];
  CHECK(g.name == "edge");
  CHECK(g.instances == std::vector<std::string>{"outside", "inside"});
  CHECK(g.notify == std::vector<std::string>{"/etc/vipd/group.sh", "x"});
  CHECK(g.pos.line == 13);
}

TEST_CASE("config: [[group]] errors carry their position", "[config][group]") {
  struct Case {
    std::string text;
    std::uint32_t line, col;
    std::string message;
    Diagnostic::Severity severity = kError;
  };
  const std::vector<Case> cases = {
      {"[[group]]\nname = \"g\"\ninstances = [\"outsde\", \"inside\"]\n", 15, 14,
       "group 'g' names instance 'outsde', which no [[instance]] defines (did you mean "
       "'outside'?)"},
      {"[[group]]\nname = \"g\"\ninstances = [\"outside\"]\n[[group]]\nname = \"h\"\n"
       "instances = [\"inside\", \"outside\"]\n",
       18, 24, "instance 'outside' is already in group 'g'"},
      {"[[group]]\nname = \"g\"\ninstances = [\"outside\"]\n[[group]]\nname = \"g\"\n"
       "instances = [\"inside\"]\n",
       17, 8, "group 'g' is defined twice (first on line 14)"},
      {"[[group]]\nname = \"g\"\ninstances = []\n", 15, 13, "group 'g' lists no instances"},
      {"[[group]]\nname = \"g\"\n", 13, 1, "instances"},
      {"[[group]]\nname = \"g h\"\ninstances = [\"inside\"]\n", 14, 8,
       "group name \"g h\" must be 1..64"},
      {"[[group]]\nname = \"g\"\ninstances = [\"inside\"]\nnotify = [\"group.sh\"]\n", 16, 11,
       "notify[0] must be an absolute path"},
      {"[[group]]\nname = \"g\"\ninstances = [\"inside\"]\nmembers = 1\n", 16, 1,
       "unknown key 'members'"},
      {"[[group]]\nname = \"g\"\ninstances = [\"inside\"]\n", 15, 13, "group 'g' has one instance",
       kWarning},
  };
  for (const auto& c : cases) {
    const auto r = load(two_instances() + c.text);
    INFO(c.text);
    INFO(dump(r));
    CHECK(has(r, c.line, c.col, c.message, c.severity));
    if (c.severity == kError) CHECK(!r.ok());
  }
  const auto r = load("group = 1\n" + two_instances());
  INFO(dump(r));
  CHECK(has(r, 1, 9, "'group' must be an array of tables"));
}
