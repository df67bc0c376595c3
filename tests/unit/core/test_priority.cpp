// Priority weighting (DESIGN.md §1.2 and §3, STYLE.md rule 5): keepalived's weight semantics.
#include <catch2/catch.hpp>

#include <vector>

#include "vrrp/priority.h"

using namespace vipd::vrrp;

TEST_CASE(
    "weigh adds positive weights while up and negative weights while down [DESIGN.md §1.2 "
    "weighting]",
    "[priority]") {
  struct Row {
    const char* what;
    std::uint8_t base;
    std::vector<TrackedCheck> checks;
    int delta;
    int effective;
  };
  const std::vector<Row> rows = {
      {"no checks", 100, {}, 0, 100},
      {"positive up", 100, {{"http", 20, true}}, 0, 120},
      {"positive down", 100, {{"http", 20, false}}, 0, 100},
      {"negative up", 100, {{"http", -30, true}}, 0, 100},
      {"negative down", 100, {{"http", -30, false}}, 0, 70},
      {"mixed", 100, {{"a", 10, true}, {"b", -50, false}, {"c", 5, false}}, 0, 60},
      {"clamped high", 200, {{"a", 100, true}}, 0, 254},
      {"clamped low", 10, {{"a", -100, false}}, 0, 1},
      {"delta added", 100, {{"a", 10, true}}, -15, 95},
      {"delta before clamp", 250, {}, 10, 254},
      {"delta after weights", 200, {{"a", 100, true}}, -60, 240},  // 300 - 60, not 254 - 60
      {"owner never weighted", 255, {{"a", -100, false}}, -50, 255},
  };
  for (const Row& r : rows) {
    CAPTURE(r.what);
    const Weighted w = weigh(r.base, r.checks, r.delta);
    CHECK(int{w.effective} == r.effective);
    CHECK_FALSE(w.fault);
  }
}

TEST_CASE("a weight-0 check that is down means FAULT and names the check [DESIGN.md §1.2 weight 0]",
          "[priority]") {
  const std::vector<TrackedCheck> checks = {
      {"nginx-http", 0, true}, {"nginx-pid", 0, false}, {"link", 0, false}};
  const Weighted w = weigh(100, checks);
  REQUIRE(w.fault);
  CHECK(*w.fault == "nginx-pid");
  const Weighted owner = weigh(255, checks);
  REQUIRE(owner.fault);  // the owner is never weighted, but a vital check still faults it
  CHECK(owner.effective == 255);
  CHECK_FALSE(weigh(100, std::vector<TrackedCheck>{{"nginx-pid", 0, true}}).fault);
}

TEST_CASE("weigh reports each check's contribution for /status [DESIGN.md §1.2 weighting]",
          "[priority]") {
  const std::vector<TrackedCheck> checks = {{"a", 10, true}, {"b", -20, false}, {"c", -5, true}};
  const Weighted w = weigh(100, checks);
  REQUIRE(w.contributions.size() == 3);
  CHECK(w.contributions[0].check == "a");
  CHECK(w.contributions[0].applied == 10);
  CHECK(w.contributions[1].applied == -20);
  CHECK(w.contributions[2].applied == 0);
  CHECK(w.contributions[1].weight == -20);
  CHECK_FALSE(w.contributions[1].up);
  CHECK(w.effective == 90);
}

TEST_CASE(
    "file checks: value times weight, and weight 0 with a non-zero value means FAULT "
    "[keepalived track_file]",
    "[priority][file]") {
  using vipd::vrrp::TrackedFile;
  const std::vector<TrackedCheck> none;
  const std::vector<TrackedFile> weighted = {{"maint", -10, true, 3}};
  const Weighted w = weigh(100, none, 0, weighted);
  CHECK(w.effective == 70);
  REQUIRE(w.contributions.size() == 1);
  CHECK(w.contributions[0].applied == -30);
  CHECK_FALSE(w.fault);

  const std::vector<TrackedFile> vital = {{"knob", 0, true, 1}};
  CHECK(weigh(100, none, 0, vital).fault == "knob");
  const std::vector<TrackedFile> vital_zero = {{"knob", 0, true, 0}};
  CHECK_FALSE(weigh(100, none, 0, vital_zero).fault);
  const std::vector<TrackedFile> unreadable = {{"knob", 0, false, 0}};
  CHECK(weigh(100, none, 0, unreadable).fault == "knob");

  // File contributions come after the other checks.
  const std::vector<TrackedCheck> one = {{"http", 20, true}};
  const Weighted both = weigh(100, one, 0, weighted);
  REQUIRE(both.contributions.size() == 2);
  CHECK(both.contributions[0].check == "http");
  CHECK(both.contributions[1].check == "maint");
  CHECK(both.effective == 90);
}

TEST_CASE("the address owner shows zero applied for every check, file checks included",
          "[priority][owner]") {
  using vipd::vrrp::TrackedFile;
  const std::vector<TrackedCheck> checks = {{"http", 20, true}, {"down", -30, false}};
  const std::vector<TrackedFile> files = {{"maint", 5, true, 4}};
  const Weighted w = weigh(255, checks, 0, files);
  CHECK(w.effective == 255);
  REQUIRE(w.contributions.size() == 3);
  for (const auto& c : w.contributions) CHECK(c.applied == 0);
}
