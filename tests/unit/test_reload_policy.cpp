// Tests for the SIGHUP reload policy: which instance changes apply in place, when the check runner
// can stay.
#include <catch2/catch.hpp>

#include "app/reload_policy.h"
#include "config/config.h"

using vipd::config::Millis;

TEST_CASE("config: which instance changes a SIGHUP applies in place", "[config][reload]") {
  vipd::config::Instance current;
  current.name = "web";
  current.interface = "eth0";
  current.vrid = 51;
  current.priority = 100;
  current.vips = {*vipd::vrrp::IpPrefix::parse("198.18.0.100/24")};

  auto next = current;
  next.priority = 120;
  next.track = {{"nginx-http", -60, {"t.toml", 12, 3}}};
  next.notify = {"/usr/local/bin/notify"};
  next.garp.repeat = 3;
  next.reset_connections = false;  // read at each release, so it applies at the next one
  next.pos = {"t.toml", 40, 1};
  // auth_hmac key rotation and rollout modes apply in place (docs/authentication.md).
  next.auth = vipd::vrrp::auth::Policy{};
  next.auth->active_key = 2;
  next.auth->keys = {{2, std::vector<std::uint8_t>(32, 7)}};
  next.learn_interval_factor = 8;
  CHECK(vipd::app::soft_change_only(current, next));

  SECTION("every other key needs a restart, including the extensions") {
    auto changed = current;
    SECTION("make_before_break") { changed.make_before_break = false; }
    SECTION("fast_preempt") { changed.fast_preempt = false; }
    SECTION("vrid") { changed.vrid = 52; }
    SECTION("advert_interval") { changed.advert_interval = Millis{100}; }
    SECTION("vips") { changed.vips.push_back(*vipd::vrrp::IpPrefix::parse("198.18.0.101/24")); }
    SECTION("checksum") { changed.checksum = vipd::vrrp::ChecksumMode::PseudoHeader; }
    SECTION("checksum auto") { changed.checksum_auto = !changed.checksum_auto; }
    CHECK_FALSE(vipd::app::soft_change_only(current, changed));
  }
  SECTION("becoming the address owner changes the role") {
    auto owner = current;
    owner.priority = 255;
    CHECK_FALSE(vipd::app::soft_change_only(current, owner));
  }
}

TEST_CASE("config: check lists compare by definition, not by where they are written",
          "[config][reload]") {
  vipd::config::Check http;
  http.name = "nginx-http";
  http.url = "http://127.0.0.1/healthz";
  http.pos = {"t.toml", 10, 1};
  auto moved = http;
  moved.pos = {"t.toml", 30, 1};
  CHECK(vipd::app::same_checks({http}, {moved}));
  auto slower = http;
  slower.interval = Millis{2000};
  CHECK_FALSE(vipd::app::same_checks({http}, {slower}));
  CHECK_FALSE(vipd::app::same_checks({http}, {http, moved}));
}
