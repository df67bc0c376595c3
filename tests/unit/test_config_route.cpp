// Tests for route mode in vipd.toml (issue 16): the contract shape loads, every refusal names its
// position and why.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>

#include "config/config.h"

using vipd::config::Diagnostic;
using vipd::config::InstanceMode;
using vipd::config::LoadResult;

namespace {

LoadResult load(const std::string& text) { return vipd::config::load_string(text, "r.toml"); }

std::string dump(const LoadResult& r) {
  std::string out;
  for (const auto& d : r.diagnostics) out += "  " + d.format() + "\n";
  return out;
}

bool has(const LoadResult& r, std::uint32_t line, std::uint32_t col, const std::string& text,
         Diagnostic::Severity s = Diagnostic::Severity::Error) {
  return std::any_of(r.diagnostics.begin(), r.diagnostics.end(), [&](const Diagnostic& d) {
    return d.severity == s && d.pos.line == line && d.pos.column == col &&
           d.message.find(text) != std::string::npos;
  });
}

// A route-mode instance whose extra lines start at line 6 (the route table is on line 5).
std::string route_inst(const std::string& route, const std::string& extra = "",
                       const std::string& vips = "[\"198.19.0.100/32\"]") {
  return "[[instance]]\nname = \"web\"\nmode = \"route\"\nvips = " + vips + "\n" + route + "\n" +
         extra;
}

constexpr auto kWarning = Diagnostic::Severity::Warning;

}  // namespace

TEST_CASE("config route: the issue's shape loads without interface or vrid", "[config][route]") {
  const auto r = load(R"(
[[check]]
name = "nginx-pid"
type = "pid"
pidfile = "/run/nginx.pid"

[[check]]
name = "nginx-http"
type = "http"
url = "http://127.0.0.1/"

[[instance]]
name = "web"
mode = "route"                     # default "vrrp"
vips = ["198.19.0.100/32"]         # host routes
priority = 150
track = [ { check = "nginx-pid", weight = 0 }, { check = "nginx-http", weight = -60 } ]
route = { table = 198, protocol = 99 }
)");
  INFO(dump(r));
  REQUIRE(r.ok());
  REQUIRE(r.diagnostics.empty());
  const auto& in = r.config->instances.at(0);
  CHECK(in.mode == InstanceMode::Route);
  CHECK(in.route.table == 198);
  CHECK(in.route.protocol == 99);
  CHECK(in.priority == 150);
  CHECK(in.track.size() == 2);
  CHECK(in.interface.empty());
}

TEST_CASE("config route: mode defaults to vrrp, which still needs interface and vrid",
          "[config][route]") {
  const auto r = load("[[instance]]\nname = \"web\"\nvips = [\"198.18.0.100/24\"]\n");
  INFO(dump(r));
  CHECK_FALSE(r.ok());
  CHECK(has(r, 1, 1, "interface"));
  CHECK(has(r, 1, 1, "vrid"));
}

TEST_CASE("config route: a bad mode names the choices", "[config][route]") {
  const auto r = load(
      "[[instance]]\nname = \"web\"\nmode = \"rout\"\ninterface = \"eth0\"\nvrid = 1\n"
      "vips = [\"198.18.0.100/24\"]\n");
  INFO(dump(r));
  CHECK(has(r, 3, 8, "invalid mode \"rout\": expected \"vrrp\" (default) or \"route\""));
  CHECK(has(r, 3, 8, "did you mean 'route'"));
}

TEST_CASE("config route: route mode needs the route table", "[config][route]") {
  const auto r = load(route_inst(""));
  INFO(dump(r));
  CHECK_FALSE(r.ok());
  CHECK(has(r, 1, 1, "needs 'route = { table = N, protocol = P }'"));
}

TEST_CASE("config route: 'route' in vrrp mode is an error", "[config][route]") {
  const auto r = load(
      "[[instance]]\nname = \"web\"\ninterface = \"eth0\"\nvrid = 1\n"
      "vips = [\"198.18.0.100/24\"]\nroute = { table = 198, protocol = 99 }\n");
  INFO(dump(r));
  CHECK(has(r, 6, 9, "'route' applies only to mode = \"route\""));
}

TEST_CASE("config route: VIPs must be host routes", "[config][route]") {
  const auto r =
      load(route_inst("route = { table = 198, protocol = 99 }", "", "[\"198.19.0.100/24\"]"));
  INFO(dump(r));
  CHECK_FALSE(r.ok());
  CHECK(has(r, 4, 8, "must be a host route in route mode (write \"198.19.0.100/32\")"));
  const auto v6 =
      load(route_inst("route = { table = 198, protocol = 99 }", "", "[\"2001:db8::10/64\"]"));
  CHECK(has(v6, 4, 8, "write \"2001:db8::10/128\""));
  const auto ok6 =
      load(route_inst("route = { table = 198, protocol = 99 }", "", "[\"2001:db8::10/128\"]"));
  INFO(dump(ok6));
  CHECK(ok6.ok());
}

TEST_CASE("config route: table range and the kernel's own tables", "[config][route]") {
  const auto zero = load(route_inst("route = { table = 0, protocol = 99 }"));
  CHECK(has(zero, 5, 19, "'table' must be 1..4294967294, got 0"));
  const auto max = load(route_inst("route = { table = 4294967295, protocol = 99 }"));
  CHECK(has(max, 5, 19, "must be 1..4294967294"));
  const auto big = load(route_inst("route = { table = 4294967294, protocol = 99 }"));
  INFO(dump(big));
  CHECK(big.ok());
  CHECK(big.config->instances.at(0).route.table == 4294967294U);
  const auto main = load(route_inst("route = { table = 254, protocol = 99 }"));
  CHECK(has(main, 5, 19, "route table 254 is the kernel's 'main' table"));
  const auto local = load(route_inst("route = { table = 255, protocol = 99 }"));
  CHECK(has(local, 5, 19, "'local' table"));
  const auto def = load(route_inst("route = { table = 253, protocol = 99 }"));
  CHECK(has(def, 5, 19, "'default' table"));
  const auto missing = load(route_inst("route = { protocol = 99 }"));
  CHECK_FALSE(missing.ok());
  const auto type = load(route_inst("route = { table = \"198\", protocol = 99 }"));
  CHECK(has(type, 5, 19, "must be an integer"));
}

TEST_CASE("config route: protocols zebra or BIRD own, or the kernel's, are refused with why",
          "[config][route]") {
  for (const int p : {186, 198, 11, 196}) {
    const auto r =
        load(route_inst("route = { table = 198, protocol = " + std::to_string(p) + " }"));
    INFO(dump(r));
    CHECK(has(r, 5, 35, "zebra ignores kernel routes with its own protocol numbers"));
  }
  const auto bird = load(route_inst("route = { table = 198, protocol = 12 }"));
  CHECK(has(bird, 5, 35, "BIRD's own protocol"));
  for (const int p : {0, 2, 4}) {
    const auto r =
        load(route_inst("route = { table = 198, protocol = " + std::to_string(p) + " }"));
    CHECK(has(r, 5, 35, "reserved by the kernel"));
  }
  const auto high = load(route_inst("route = { table = 198, protocol = 256 }"));
  CHECK(has(high, 5, 35, "must be 0..255"));
  const auto ok = load(route_inst("route = { table = 198, protocol = 99 }"));
  CHECK(ok.ok());
}

TEST_CASE("config route: unknown keys in route, and VRRP keys that have no effect",
          "[config][route]") {
  const auto r = load(route_inst("route = { table = 198, protocol = 99, metric = 5 }",
                                 "vrid = 51\ninterface = \"eth0\"\n"));
  INFO(dump(r));
  CHECK_FALSE(r.ok());
  CHECK(has(r, 5, 39, "metric"));
  CHECK(has(r, 6, 8, "'vrid' has no effect in route mode", kWarning));
  CHECK(has(r, 7, 13, "'interface' has no effect in route mode", kWarning));
}

TEST_CASE("config route: a [[group]] naming a route-mode instance is refused with the fix",
          "[config][route]") {
  const auto r = load(route_inst("route = { table = 198, protocol = 99 }") + R"(
[[instance]]
name = "vrrp"
interface = "eth0"
vrid = 51
vips = ["198.18.0.100/24"]

[[group]]
name = "both"
instances = ["vrrp", "web"]
)");
  INFO(dump(r));
  CHECK_FALSE(r.ok());
  CHECK(has(r, 15, 22, "group 'both' names instance 'web', which is in route mode"));
  CHECK(has(r, 15, 22, "list them in one route-mode instance's vips"));
  // The VRRP member alone is not the problem.
  CHECK_FALSE(has(r, 15, 14, "route mode"));
}

TEST_CASE("config route: replace is delete-first (FRR) by default, add-first for BIRD",
          "[config][route]") {
  const auto def = load(route_inst("route = { table = 198, protocol = 99 }"));
  REQUIRE(def.ok());
  CHECK_FALSE(def.config->instances.at(0).route.add_first);
  const auto add =
      load(route_inst("route = { table = 198, protocol = 99, replace = \"add-first\" }"));
  INFO(dump(add));
  REQUIRE(add.ok());
  CHECK(add.config->instances.at(0).route.add_first);
  const auto del =
      load(route_inst("route = { table = 198, protocol = 99, replace = \"delete-first\" }"));
  REQUIRE(del.ok());
  CHECK_FALSE(del.config->instances.at(0).route.add_first);
  const auto bad = load(route_inst("route = { table = 198, protocol = 99, replace = \"add\" }"));
  INFO(dump(bad));
  CHECK_FALSE(bad.ok());
  CHECK(has(bad, 5, 49, "expected \"delete-first\" (default; FRR's zebra"));
}
