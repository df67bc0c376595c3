// RFC timer arithmetic: Skew_Time and Master_Down_Interval (RFC-CHECKLIST §4.4).
#include <catch2/catch.hpp>

#include "vrrp/timers.h"

using namespace vipd::vrrp;
using namespace std::chrono_literals;

TEST_CASE(
    "v3 Skew_Time is ((256 - Priority) x Master_Adver_Interval) / 256 [RFC-CHECKLIST 4.4 Skew_Time "
    "v3]",
    "[timers][rfc-4.4]") {
  struct Row {
    int priority;
    Centiseconds interval;
    Duration skew;
  };
  const Row rows[] = {
      {100, Centiseconds{100}, Duration{609375}},  // 156/256 s
      {255, Centiseconds{100}, Duration{3906}},    // 1/256 s, truncated toward zero
      {1, Centiseconds{100}, Duration{996093}},    // 255/256 s
      {254, Centiseconds{100}, Duration{7812}},
      {100, Centiseconds{1}, Duration{6093}},        // 10 ms interval: 156 x 10000 / 256
      {200, Centiseconds{4095}, Duration{8957812}},  // 56 x 40.95 s / 256
  };
  for (const Row& r : rows) {
    CAPTURE(r.priority, r.interval.count());
    CHECK(skew_time(r.priority, r.interval) == r.skew);
  }
}

TEST_CASE(
    "v2 Skew_Time is (256 - Priority) / 256 s with centisecond precision like FRR [RFC-CHECKLIST "
    "4.4 Skew_Time v2]",
    "[timers][rfc-4.4]") {
  // The v2 formula ignores the interval: it is the v3 one at 1 s. Truncating to whole seconds
  // (the RFC's integer arithmetic) would make it 0 for every priority.
  CHECK(skew_time(100, Centiseconds{300}, 2) == Duration{609375});
  CHECK(skew_time(100, Centiseconds{100}, 2) == Duration{609375});
  CHECK(skew_time(254, Centiseconds{500}, 2) == Duration{7812});
  CHECK(skew_time(1, Centiseconds{100}, 2) == Duration{996093});
}

TEST_CASE(
    "Master_Down_Interval = 3 x Master_Adver_Interval + Skew_Time, 3.609375 s example "
    "[RFC-CHECKLIST 4.4 Master_Down_Interval]",
    "[timers][rfc-4.4]") {
  struct Row {
    int version;
    int priority;
    Centiseconds interval;
    Duration down;
  };
  const Row rows[] = {
      {3, 100, Centiseconds{100}, Duration{3609375}},  // the RFC-CHECKLIST example
      {2, 100, Centiseconds{100}, Duration{3609375}},
      {3, 200, Centiseconds{100}, Duration{3218750}},
      {3, 100, Centiseconds{10}, Duration{360937}},    // 100 ms interval: 300 ms + 60.9375 ms
      {2, 100, Centiseconds{300}, Duration{9609375}},  // v2 3 s local interval, 1 s-based skew
      {3, 255, Centiseconds{100}, Duration{3003906}},
  };
  for (const Row& r : rows) {
    CAPTURE(r.version, r.priority, r.interval.count());
    CHECK(master_down_interval(r.priority, r.interval, r.version) == r.down);
  }
  STATIC_REQUIRE(master_down_interval(100, Centiseconds{100}) == 3609375us);
}

TEST_CASE(
    "higher priority has a shorter Skew_Time, so the best backup answers first [RFC-CHECKLIST 4.4 "
    "Skew_Time v3]",
    "[timers][rfc-4.4]") {
  for (int p = 1; p < 255; ++p) {
    CAPTURE(p);
    CHECK(skew_time(p + 1, Centiseconds{100}) < skew_time(p, Centiseconds{100}));
    CHECK(master_down_interval(p + 1, Centiseconds{100}) <
          master_down_interval(p, Centiseconds{100}));
  }
}
