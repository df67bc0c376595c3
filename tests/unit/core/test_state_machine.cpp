// The pure VRRP state machine, event by event (RFC-CHECKLIST §4.4, §4.5; DESIGN.md §4).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "vrrp/state_machine.h"

using namespace vipd::vrrp;
using namespace std::chrono_literals;

namespace {

const IpAddress kSelf = IpAddress::v4(0xC612000B);   // 198.18.0.11
const IpAddress kPeer = IpAddress::v4(0xC612000C);   // 198.18.0.12 (higher address)
const IpAddress kLower = IpAddress::v4(0xC612000A);  // 198.18.0.10 (lower address)
const IpAddress kVip = IpAddress::v4(0xC6120064);    // 198.18.0.100
const TimePoint t0{std::chrono::seconds{1000}};

InstanceParams params(std::uint8_t priority = 100) {
  InstanceParams p;
  p.vrid = 7;
  p.priority = priority;
  p.primary_address = kSelf;
  p.vips = {kVip};
  p.fast_preempt = false;
  return p;
}

event::AdvertReceived advert(std::uint8_t priority, IpAddress source = kPeer,
                             Centiseconds interval = Centiseconds{100}, std::uint8_t version = 3) {
  Advertisement a;
  a.version = version;
  a.vrid = 7;
  a.priority = priority;
  a.advert_interval = interval;
  a.addresses = {kVip};
  return {a, source};
}

template <class T>
std::vector<T> all(const Actions& actions) {
  std::vector<T> found;
  for (const Action& a : actions) {
    if (const T* t = std::get_if<T>(&a)) found.push_back(*t);
  }
  return found;
}

template <class T>
bool has(const Actions& actions) {
  return !all<T>(actions).empty();
}

const action::StateChanged& changed(const Actions& actions) {
  static action::StateChanged none{};
  for (const Action& a : actions) {
    if (const auto* s = std::get_if<action::StateChanged>(&a)) return *s;
  }
  FAIL("no StateChanged action");
  return none;
}

std::optional<TimePoint> armed(const Actions& actions, Timer timer) {
  std::optional<TimePoint> deadline;
  for (const auto& a : all<action::ArmTimer>(actions)) {
    if (a.timer == timer) deadline = a.deadline;
  }
  return deadline;
}

// A compact signature of the action list, so a test can assert the exact order.
std::string shape(const Actions& actions) {
  std::string s;
  for (const Action& a : actions) {
    if (!s.empty()) s += ' ';
    std::visit(
        [&](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, action::SendAdvert>) {
            s += "send(" + std::to_string(x.priority) + ")";
          } else if constexpr (std::is_same_v<T, action::ArmTimer>) {
            s += x.timer == Timer::Adver     ? "arm(adver)"
                 : x.timer == Timer::Release ? "arm(release)"
                                             : "arm(down)";
          } else if constexpr (std::is_same_v<T, action::CancelTimer>) {
            s += x.timer == Timer::Adver     ? "cancel(adver)"
                 : x.timer == Timer::Release ? "cancel(release)"
                                             : "cancel(down)";
          } else if constexpr (std::is_same_v<T, action::AcquireVips>) {
            s += "acquire";
          } else if constexpr (std::is_same_v<T, action::ReleaseVips>) {
            s += "release";
          } else if constexpr (std::is_same_v<T, action::Announce>) {
            s += x.why == action::Announce::Why::BecameMaster ? "announce" : "reannounce";
          } else if constexpr (std::is_same_v<T, action::StateChanged>) {
            s += "state(" + std::string(to_string(x.to)) + ")";
          } else {
            s += "notice(" + x.key + ")";
          }
        },
        a);
  }
  return s;
}

// A backup that has heard one advert from kPeer (priority `peer`) at t0.
StateMachine backup_hearing(InstanceParams p, std::uint8_t peer = 150) {
  StateMachine sm(std::move(p));
  sm.handle(event::Startup{}, t0);
  sm.handle(advert(peer), t0);
  return sm;
}

// A master: started at t0 and won by Master_Down expiry.
StateMachine master(InstanceParams p) {
  StateMachine sm(std::move(p));
  sm.handle(event::Startup{}, t0);
  sm.handle(event::MasterDownTimerExpired{}, t0 + sm.master_down_interval());
  REQUIRE(sm.state() == State::Master);
  return sm;
}

// A master whose check failed at kFaultAt (FAULT), then heard kPeer advertise `peer` 1 ms later.
const TimePoint kFaultAt = t0 + 9s;
StateMachine faulted_hearing(InstanceParams p, std::uint8_t peer) {
  StateMachine sm = master(std::move(p));
  sm.handle(event::FaultRaised{Reason::Fault, "check nginx-pid failed"}, kFaultAt);
  sm.handle(advert(peer), kFaultAt + 1ms);
  REQUIRE(sm.state() == State::Fault);
  return sm;
}

}  // namespace

// --- Initialize ------------------------------------------------------------------------------

TEST_CASE(
    "non-owner starts as Backup with Master_Down_Timer armed [RFC-CHECKLIST 4.5 Initialize + "
    "Startup]",
    "[fsm][rfc-4.5]") {
  StateMachine sm(params(100));
  const Actions out = sm.handle(event::Startup{}, t0);
  CHECK(shape(out) == "arm(down) state(BACKUP)");
  CHECK(armed(out, Timer::MasterDown) == t0 + 3609375us);
  CHECK(sm.state() == State::Backup);
  CHECK(sm.master_adver_interval() == Centiseconds{100});
  CHECK(changed(out).reason == Reason::Startup);
  CHECK(changed(out).from == State::Init);
  CHECK(sm.since() == t0);
}

TEST_CASE(
    "owner sends an advert, announces, arms Adver_Timer and is master at once [RFC-CHECKLIST 4.5 "
    "Initialize + Startup owner]",
    "[fsm][rfc-4.5]") {
  StateMachine sm(params(255));
  const Actions out = sm.handle(event::Startup{}, t0);
  CHECK(shape(out) == "acquire announce send(255) arm(adver) state(MASTER)");
  CHECK(armed(out, Timer::Adver) == t0 + 1s);
  CHECK(sm.state() == State::Master);
  CHECK(sm.master().address == kSelf);
  CHECK(sm.master().priority == 255);
}

TEST_CASE("startup while a fault is raised goes to FAULT [DESIGN.md §4 Fault]", "[fsm][fault]") {
  StateMachine sm(params(100));
  CHECK(sm.handle(event::FaultRaised{Reason::LinkDown, "eth0 down"}, t0).empty());
  CHECK(sm.state() == State::Init);
  const Actions out = sm.handle(event::Startup{}, t0);
  CHECK(shape(out) == "state(FAULT)");
  CHECK(changed(out).reason == Reason::LinkDown);
  CHECK(sm.in_fault());
}

// --- Backup ----------------------------------------------------------------------------------

TEST_CASE(
    "backup becomes master when Master_Down fires [RFC-CHECKLIST 4.5 Backup Master_Down fires]",
    "[fsm][rfc-4.5]") {
  StateMachine sm = backup_hearing(params(100), 150);
  const TimePoint fire = t0 + sm.master_down_interval();
  const Actions out = sm.handle(event::MasterDownTimerExpired{}, fire);
  CHECK(shape(out) == "acquire announce send(100) arm(adver) state(MASTER)");
  CHECK(armed(out, Timer::Adver) == fire + 1s);
  CHECK(changed(out).reason == Reason::MasterDown);
  CHECK(changed(out).explanation ==
        "master-down timer expired (no advert from 198.18.0.12 for 3.61s)");
  CHECK(sm.last_explanation() == changed(out).explanation);
  CHECK(sm.last_reason() == Reason::MasterDown);
  CHECK(sm.since() == fire);
  CHECK(sm.master().address == kSelf);
}

TEST_CASE("backup sets Master_Down to Skew_Time on priority 0 [RFC-CHECKLIST 4.5 Backup prio 0]",
          "[fsm][rfc-4.5]") {
  StateMachine sm = backup_hearing(params(100), 150);
  const TimePoint at = t0 + 500ms;
  const Actions out = sm.handle(advert(0), at);
  CHECK(shape(out) == "arm(down)");
  CHECK(armed(out, Timer::MasterDown) == at + 609375us);
  const Actions fired = sm.handle(event::MasterDownTimerExpired{}, at + 609375us);
  CHECK(changed(fired).reason == Reason::PriorityZero);
  CHECK(sm.state() == State::Master);
}

TEST_CASE(
    "backup resets its timer or discards by preempt mode and priority [RFC-CHECKLIST 4.5 Backup "
    "!Preempt || prio >= local]",
    "[fsm][rfc-4.5]") {
  struct Row {
    bool preempt;
    std::uint8_t advert_priority;
    bool resets;  // false: discarded, the timer keeps running
  };
  const Row rows[] = {
      {true, 150, true},  {true, 100, true},  {true, 99, false},
      {false, 150, true}, {false, 100, true}, {false, 1, true},
  };
  for (const Row& r : rows) {
    CAPTURE(r.preempt, int{r.advert_priority});
    InstanceParams p = params(100);
    p.preempt = r.preempt;
    StateMachine sm(p);
    sm.handle(event::Startup{}, t0);
    const TimePoint at = t0 + 1s;
    const Actions out = sm.handle(advert(r.advert_priority), at);
    if (r.resets) {
      CHECK(armed(out, Timer::MasterDown) == at + sm.master_down_interval());
    } else {
      CHECK(out.empty());
    }
    CHECK(sm.state() == State::Backup);
  }
}

TEST_CASE(
    "backup discarding a lower advert takes over when the timer runs out, reason preempt "
    "[RFC-CHECKLIST 4.5 Backup otherwise discard]",
    "[fsm][rfc-4.5]") {
  StateMachine sm = backup_hearing(params(100), 150);
  const TimePoint deadline = t0 + sm.master_down_interval();
  CHECK(sm.handle(advert(50), t0 + 1s).empty());  // weighted down: discarded
  CHECK(sm.handle(event::MasterDownTimerExpired{}, deadline - 1us).empty());  // stale/early
  const Actions out = sm.handle(event::MasterDownTimerExpired{}, deadline);
  CHECK(changed(out).reason == Reason::Preempt);
  CHECK(changed(out).explanation == "preempting master 198.18.0.12 (priority 50 < our 100)");
}

TEST_CASE(
    "backup adopts a v3 interval and recomputes Skew_Time and Master_Down_Interval [RFC-CHECKLIST "
    "4.4 On accepting an advert]",
    "[fsm][rfc-4.4]") {
  StateMachine sm(params(100));
  sm.handle(event::Startup{}, t0);
  const Actions out = sm.handle(advert(150, kPeer, Centiseconds{200}), t0 + 1s);
  CHECK(shape(out) == "notice(interval_adopted) arm(down)");
  CHECK(sm.master_adver_interval() == Centiseconds{200});
  CHECK(sm.skew_time() == 1218750us);
  CHECK(sm.master_down_interval() == 7218750us);
  CHECK(armed(out, Timer::MasterDown) == t0 + 1s + 7218750us);
  // Same interval again: no notice.
  CHECK(shape(sm.handle(advert(150, kPeer, Centiseconds{200}), t0 + 3s)) == "arm(down)");
}

TEST_CASE(
    "v2 Master_Down uses the local interval and the v2 Skew_Time [RFC-CHECKLIST 4.4 "
    "Master_Down_Interval v2]",
    "[fsm][rfc-4.4]") {
  InstanceParams p = params(100);
  p.version = 2;
  p.advert_interval = Centiseconds{300};
  StateMachine sm(p);
  const Actions start = sm.handle(event::Startup{}, t0);
  CHECK(armed(start, Timer::MasterDown) == t0 + 9609375us);
  const Actions out = sm.handle(advert(150, kPeer, Centiseconds{300}, 2), t0 + 1s);
  CHECK(shape(out) == "arm(down)");
  CHECK(sm.skew_time() == 609375us);
  CHECK(armed(out, Timer::MasterDown) == t0 + 1s + 9609375us);
}

TEST_CASE(
    "fast preempt sets Master_Down to min(remaining, Skew_Time) on a lower advert [DESIGN.md §4 "
    "fast preempt]",
    "[fsm][design-4]") {
  InstanceParams p = params(100);
  p.fast_preempt = true;
  StateMachine sm = backup_hearing(p, 150);
  const TimePoint at = t0 + 1s;
  const Actions out = sm.handle(advert(50), at);
  CHECK(armed(out, Timer::MasterDown) == at + 609375us);
  // A second lower advert must not push the deadline out again.
  CHECK(sm.handle(advert(50), at + 100ms).empty());
  const Actions fired = sm.handle(event::MasterDownTimerExpired{}, at + 609375us);
  CHECK(changed(fired).reason == Reason::Preempt);
  // Remaining time already below Skew_Time: left alone.
  StateMachine late = backup_hearing(p, 150);
  CHECK(late.handle(advert(50), t0 + 3500ms).empty());
}

TEST_CASE(
    "preempt_delay treats lower adverts like no-preempt until it has passed [RFC-CHECKLIST 4.5 "
    "Preempt delay]",
    "[fsm][rfc-4.5]") {
  InstanceParams p = params(100);
  p.preempt_delay = 10s;
  StateMachine sm(p);
  sm.handle(event::Startup{}, t0);
  const Actions early = sm.handle(advert(50), t0 + 9s);
  CHECK(armed(early, Timer::MasterDown) == t0 + 9s + sm.master_down_interval());
  CHECK(sm.handle(advert(50), t0 + 10s).empty());  // delay over: discarded, we will preempt
}

TEST_CASE(
    "two-node group takes over at once on priority 0 and on a lower advert [DESIGN.md §4 two-node "
    "fast takeover]",
    "[fsm][design-4]") {
  InstanceParams p = params(100);
  p.group_size = 2;
  {
    StateMachine sm = backup_hearing(p, 150);
    const Actions out = sm.handle(advert(0), t0 + 1s);
    CHECK(shape(out) == "cancel(down) acquire announce send(100) arm(adver) state(MASTER)");
    CHECK(changed(out).reason == Reason::PriorityZero);
  }
  {
    StateMachine sm = backup_hearing(p, 150);
    const Actions out = sm.handle(advert(50), t0 + 1s);
    CHECK(sm.state() == State::Master);
    CHECK(changed(out).reason == Reason::Preempt);
  }
  {
    p.preempt = false;  // no preempt: a lower master stays master
    StateMachine sm = backup_hearing(p, 150);
    CHECK(shape(sm.handle(advert(50), t0 + 1s)) == "arm(down)");
    CHECK(sm.state() == State::Backup);
  }
}

TEST_CASE(
    "backup shutdown cancels the timer and goes to Initialize [RFC-CHECKLIST 4.5 Backup Shutdown]",
    "[fsm][rfc-4.5]") {
  StateMachine sm = backup_hearing(params(100));
  const Actions out = sm.handle(event::Shutdown{}, t0 + 1s);
  CHECK(shape(out) == "cancel(down) state(INIT)");
  CHECK(changed(out).reason == Reason::Shutdown);
}

// --- Master ----------------------------------------------------------------------------------

TEST_CASE(
    "master sends an advert and re-arms when Adver_Timer fires [RFC-CHECKLIST 4.5 Active "
    "Adver_Timer fires]",
    "[fsm][rfc-4.5]") {
  StateMachine sm(params(255));
  sm.handle(event::Startup{}, t0);
  const Actions out = sm.handle(event::AdverTimerExpired{}, t0 + 1s);
  CHECK(shape(out) == "send(255) arm(adver)");
  CHECK(armed(out, Timer::Adver) == t0 + 2s);
  CHECK(sm.master().last_seen == t0 + 1s);
}

TEST_CASE(
    "master shutdown cancels timers, sends priority 0, releases the VIPs [RFC-CHECKLIST 4.5 Active "
    "Shutdown]",
    "[fsm][rfc-4.5]") {
  StateMachine sm = master(params(100));
  const Actions out = sm.handle(event::Shutdown{}, t0 + 10s);
  CHECK(shape(out) == "cancel(adver) cancel(down) send(0) release state(INIT)");
  CHECK(sm.state() == State::Init);
  CHECK_FALSE(sm.master().address);
}

TEST_CASE(
    "master answers a priority-0 advert at once and resets Adver_Timer [RFC-CHECKLIST 4.5 Active "
    "prio 0]",
    "[fsm][rfc-4.5]") {
  StateMachine sm = master(params(100));
  const TimePoint at = t0 + 4s;
  const Actions out = sm.handle(advert(0), at);
  CHECK(shape(out) == "send(100) arm(adver)");
  CHECK(armed(out, Timer::Adver) == at + 1s);
}

TEST_CASE(
    "master steps down on a better advert, tie broken by unsigned address; preempt not consulted "
    "[RFC-CHECKLIST 4.5 Active higher priority]",
    "[fsm][rfc-4.5]") {
  struct Row {
    const char* what;
    std::uint8_t priority;
    IpAddress source;
    bool preempt;
    bool steps_down;
  };
  const Row rows[] = {
      {"higher priority", 150, kLower, true, true},
      {"higher priority, preempt off", 150, kLower, false, true},
      {"equal priority, higher address", 100, kPeer, true, true},
      {"equal priority, lower address", 100, kLower, true, false},
      {"lower priority, higher address", 99, kPeer, true, false},
      {"equal, 198.18.0.200 > 198.18.0.11 numerically", 100, IpAddress::v4(0xC61200C8), true, true},
  };
  for (const Row& r : rows) {
    CAPTURE(r.what);
    InstanceParams p = params(100);
    p.preempt = r.preempt;
    StateMachine sm = master(p);
    const TimePoint at = t0 + 5s;
    const Actions out = sm.handle(advert(r.priority, r.source, Centiseconds{50}), at);
    if (r.steps_down) {
      // Then its own advert, repeated (the uneven-heal repeat, tested below).
      CHECK(shape(out) == "cancel(adver) release arm(down) state(BACKUP) send(100) arm(adver)");
      CHECK(changed(out).reason == Reason::HigherPriority);
      CHECK(sm.master_adver_interval() == Centiseconds{50});  // the received interval
      CHECK(armed(out, Timer::MasterDown) == at + master_down_interval(100, Centiseconds{50}));
      CHECK(sm.master().address == r.source);
    } else {
      // RFC 9568 change 5: discard and advertise at once; re-GARP (split brain healed).
      CHECK(shape(out) == "send(100) reannounce notice(lower_priority_advert)");
      CHECK(sm.state() == State::Master);
    }
  }
}

TEST_CASE(
    "tie-break compares addresses as unsigned integers in network byte order [RFC-CHECKLIST 4.5 "
    "Active tie-break]",
    "[fsm][rfc-4.5]") {
  // 128.0.0.1 > 127.255.255.255 unsigned (a signed compare would invert it); 10.0.0.2 > 9.x
  // (a string compare would invert it).
  struct Row {
    IpAddress self, peer;
  };
  const Row rows[] = {
      {*IpAddress::parse("127.255.255.255"), *IpAddress::parse("128.0.0.1")},
      {*IpAddress::parse("9.255.255.255"), *IpAddress::parse("10.0.0.2")},
      {*IpAddress::parse("2001:db8::9"), *IpAddress::parse("2001:db8::10")},
  };
  for (const Row& r : rows) {
    CAPTURE(r.self.to_string(), r.peer.to_string());
    InstanceParams p = params(100);
    p.primary_address = r.self;
    StateMachine low = master(p);
    low.handle(advert(100, r.peer), t0 + 5s);
    CHECK(low.state() == State::Backup);
    p.primary_address = r.peer;
    StateMachine high = master(p);
    high.handle(advert(100, r.self), t0 + 5s);
    CHECK(high.state() == State::Master);
  }
}

TEST_CASE(
    "the owner always preempts and logs another owner [RFC-CHECKLIST 4.5 owner always preempts]",
    "[fsm][rfc-4.5]") {
  InstanceParams p = params(255);
  p.preempt = false;
  StateMachine sm(p);
  sm.handle(event::Startup{}, t0);  // master at once, whatever Preempt_Mode says
  CHECK(sm.state() == State::Master);
  CHECK(shape(sm.handle(advert(254), t0 + 1s)) ==
        "send(255) reannounce notice(lower_priority_advert)");
  const Actions dup = sm.handle(advert(255, kLower), t0 + 2s);
  CHECK(has<action::Notice>(dup));
  CHECK(all<action::Notice>(dup).front().key == "duplicate_owner");
  CHECK(sm.state() == State::Master);  // lower address: we win the election
  sm.handle(advert(255, kPeer), t0 + 3s);
  CHECK(sm.state() == State::Backup);  // erratum 8298: processed, higher address wins
}

// --- Priority changes (never a restart) -----------------------------------------------------

TEST_CASE(
    "priority change updates Skew_Time without a transition; master advertises it next [DESIGN.md "
    "§4 PriorityChanged]",
    "[fsm][priority]") {
  StateMachine backup = backup_hearing(params(100));
  // No transition; the running Master_Down_Timer (armed at t0 on hearing the master) is moved to
  // where priority 200 would have put it.
  const Actions changed_out = backup.handle(event::PriorityChanged{200}, t0 + 1s);
  CHECK(shape(changed_out) == "arm(down)");
  CHECK(armed(changed_out, Timer::MasterDown) == t0 + master_down_interval(200, Centiseconds{100}));
  CHECK(backup.effective_priority() == 200);
  CHECK(backup.skew_time() == 218750us);
  CHECK(armed(backup.handle(advert(250), t0 + 2s), Timer::MasterDown) ==
        t0 + 2s + master_down_interval(200, Centiseconds{100}));

  StateMachine m = master(params(100));
  // The master advertises the new priority at once; the advert timer keeps its schedule.
  CHECK(shape(m.handle(event::PriorityChanged{40}, t0 + 5s)) == "send(40)");
  CHECK(m.handle(event::PriorityChanged{40, false}, t0 + 5s).empty());  // unchanged: nothing
  CHECK(m.state() == State::Master);
  const Actions next = m.handle(event::AdverTimerExpired{}, t0 + 4609375us);
  CHECK(all<action::SendAdvert>(next).front().priority == 40);

  StateMachine owner(params(255));
  owner.handle(event::PriorityChanged{40}, t0);
  CHECK(owner.effective_priority() == 255);  // the owner is never weighted
}

// --- Fault -----------------------------------------------------------------------------------

TEST_CASE(
    "fault from master resigns with priority 0 and releases the VIPs [DESIGN.md §4 Fault, "
    "RFC-CHECKLIST 4.6 priority 0]",
    "[fsm][fault]") {
  InstanceParams p = params(100);
  p.make_before_break = false;  // the RFC behaviour
  StateMachine sm = master(p);
  const Actions out =
      sm.handle(event::FaultRaised{Reason::Fault, "check nginx-pid failed"}, t0 + 9s);
  CHECK(shape(out) == "send(0) cancel(adver) cancel(down) release state(FAULT)");
  CHECK(changed(out).reason == Reason::Fault);
  CHECK(changed(out).explanation == "check nginx-pid failed");
  CHECK(sm.in_fault());
}

TEST_CASE(
    "fault from backup cancels the timer; in fault adverts and timers are ignored [DESIGN.md §4 "
    "Fault]",
    "[fsm][fault]") {
  StateMachine sm = backup_hearing(params(100));
  const Actions out = sm.handle(event::FaultRaised{Reason::LinkDown, "eth0 down"}, t0 + 1s);
  CHECK(shape(out) == "cancel(down) state(FAULT)");
  CHECK(sm.handle(advert(50, kLower), t0 + 2s).empty());
  CHECK(sm.master().address == kLower);  // the view is still recorded for /status
  CHECK(sm.handle(event::MasterDownTimerExpired{}, t0 + 60s).empty());
  CHECK(sm.handle(event::AdverTimerExpired{}, t0 + 60s).empty());
  CHECK(sm.handle(event::PriorityChanged{120}, t0 + 61s).empty());
  CHECK(sm.state() == State::Fault);

  const Actions back = sm.handle(event::FaultCleared{"eth0 up"}, t0 + 70s);
  CHECK(shape(back) == "arm(down) state(BACKUP)");
  CHECK(armed(back, Timer::MasterDown) == t0 + 70s + sm.master_down_interval());
  CHECK(changed(back).reason == Reason::FaultCleared);
  CHECK_FALSE(sm.in_fault());
}

TEST_CASE("owner leaves fault straight to master [DESIGN.md §4 Fault, RFC-CHECKLIST 4.5 owner]",
          "[fsm][fault]") {
  StateMachine sm(params(255));
  sm.handle(event::Startup{}, t0);
  sm.handle(event::FaultRaised{Reason::Fault, "check nginx-pid failed"}, t0 + 1s);
  const Actions out = sm.handle(event::FaultCleared{"check nginx-pid ok"}, t0 + 2s);
  // The owner kept its VIPs through the fault (make-before-break) and never drops them here.
  CHECK(shape(out) == "cancel(release) acquire announce send(255) arm(adver) state(MASTER)");
  CHECK_FALSE(has<action::ReleaseVips>(out));
  CHECK(changed(out).reason == Reason::FaultCleared);
}

// --- Timers that arrive late or stale ---------------------------------------------------------

TEST_CASE("stale timer expiries are ignored [RFC-CHECKLIST 4.4 timer firing late]",
          "[fsm][rfc-4.4]") {
  StateMachine sm = backup_hearing(params(100));
  // The expiry for the t0 deadline was queued, then an advert re-armed the timer: ignore it.
  sm.handle(advert(150), t0 + 3s);
  CHECK(sm.handle(event::MasterDownTimerExpired{}, t0 + 3609375us).empty());
  CHECK(sm.handle(event::AdverTimerExpired{}, t0 + 10s).empty());  // not master: not armed
  CHECK(sm.state() == State::Backup);

  StateMachine m = master(params(100));
  CHECK(m.handle(event::MasterDownTimerExpired{}, t0 + 100s).empty());  // master: not armed
  m.handle(advert(0), t0 + 4s);                                         // re-arms Adver to t0 + 5 s
  CHECK(m.handle(event::AdverTimerExpired{}, t0 + 4609375us).empty());
}

TEST_CASE("a timer firing late is reported [RFC-CHECKLIST 4.4 timer firing late]",
          "[fsm][rfc-4.4]") {
  StateMachine sm = backup_hearing(params(100));
  const Actions out = sm.handle(event::MasterDownTimerExpired{}, t0 + 3609375us + 2s);
  REQUIRE(has<action::Notice>(out));
  CHECK(all<action::Notice>(out).front().key == "timer_late");
  CHECK(all<action::Notice>(out).front().level == action::Notice::Level::Warning);
}

// --- Odds and ends ------------------------------------------------------------------------------

TEST_CASE("our own advert looped back is ignored", "[fsm]") {
  StateMachine m = master(params(100));
  CHECK(m.handle(advert(100, kSelf), t0 + 5s).empty());
}

TEST_CASE(
    "an address-list mismatch is reported and the advert still processed [RFC-CHECKLIST 4.3 "
    "address list mismatch]",
    "[fsm][rfc-4.3]") {
  StateMachine sm(params(100));
  sm.handle(event::Startup{}, t0);
  event::AdvertReceived a = advert(150);
  a.advert.addresses = {IpAddress::v4(0xC6120065)};
  const Actions out = sm.handle(a, t0 + 1s);
  CHECK(shape(out) == "notice(address_list_mismatch) arm(down)");
}

TEST_CASE("state and reason names are the stable /status and metric values", "[fsm]") {
  CHECK(to_string(State::Init) == "INIT");
  CHECK(to_string(State::Backup) == "BACKUP");
  CHECK(to_string(State::Master) == "MASTER");
  CHECK(to_string(State::Fault) == "FAULT");
  const std::pair<Reason, const char*> reasons[] = {
      {Reason::Startup, "startup"},
      {Reason::MasterDown, "master_down"},
      {Reason::PriorityZero, "priority_zero"},
      {Reason::HigherPriority, "higher_priority"},
      {Reason::Preempt, "preempt"},
      {Reason::Fault, "fault"},
      {Reason::LinkDown, "link_down"},
      {Reason::FaultCleared, "fault_cleared"},
      {Reason::Shutdown, "shutdown"},
      {Reason::Drain, "drain"},
      {Reason::Group, "group"},
  };
  for (const auto& [reason, name] : reasons) CHECK(to_string(reason) == name);
}

// --- Extensions: make-before-break, drain, two-node group guard, priority re-arm ---------------

TEST_CASE(
    "make-before-break: a faulted master keeps the VIPs until the new master is heard "
    "[DESIGN.md §4 extension, issue Performance]",
    "[fsm][mbb]") {
  StateMachine sm = master(params(100));
  const TimePoint t = t0 + 9s;
  const Actions out = sm.handle(event::FaultRaised{Reason::Fault, "check nginx-pid failed"}, t);
  CHECK(shape(out) == "send(0) cancel(adver) cancel(down) arm(release) state(FAULT)");
  CHECK(armed(out, Timer::Release) == t + sm.master_down_interval());
  CHECK(sm.holding_vips());
  CHECK(changed(out).explanation.find("make-before-break") != std::string::npos);
  // A priority-0 advert is not a new master: keep holding.
  CHECK_FALSE(has<action::ReleaseVips>(sm.handle(advert(0), t + 1ms)));
  // The backup took over: its advert releases the VIPs at once.
  const Actions handover = sm.handle(advert(100), t + 2ms);
  CHECK(shape(handover) == "notice(released_after_handover) cancel(release) release");
  CHECK_FALSE(sm.holding_vips());
  CHECK(sm.state() == State::Fault);
  // The release timer, now stale, does nothing.
  CHECK(sm.handle(event::ReleaseTimerExpired{}, t + 10s).empty());
}

TEST_CASE("make-before-break: released after Master_Down_Interval when nobody takes over",
          "[fsm][mbb]") {
  StateMachine sm = master(params(100));
  const TimePoint t = t0 + 9s;
  sm.handle(event::FaultRaised{Reason::Fault, "check nginx-pid failed"}, t);
  CHECK(sm.handle(event::ReleaseTimerExpired{}, t + 1s).empty());  // early: stale
  const Actions out = sm.handle(event::ReleaseTimerExpired{}, t + sm.master_down_interval());
  CHECK(shape(out) == "notice(released_without_handover) cancel(release) release");
}

TEST_CASE("make-before-break does not apply to link loss, and clears with the fault",
          "[fsm][mbb]") {
  StateMachine link = master(params(100));
  const Actions out = link.handle(event::FaultRaised{Reason::LinkDown, "eth0 down"}, t0 + 9s);
  CHECK(shape(out) == "send(0) cancel(adver) cancel(down) release state(FAULT)");

  StateMachine sm = master(params(100));
  sm.handle(event::FaultRaised{Reason::Fault, "check nginx-pid failed"}, t0 + 9s);
  const Actions back = sm.handle(event::FaultCleared{"check nginx-pid ok"}, t0 + 9s + 50ms);
  CHECK(shape(back) == "cancel(release) release arm(down) state(BACKUP)");
  StateMachine down = master(params(100));
  down.handle(event::FaultRaised{Reason::Fault, "check nginx-pid failed"}, t0 + 9s);
  CHECK(shape(down.handle(event::Shutdown{}, t0 + 10s)) == "cancel(release) release state(INIT)");
}

TEST_CASE("drain: the master advertises 0, keeps the VIPs, hands over when a peer is master",
          "[fsm][drain]") {
  StateMachine sm = master(params(100));
  const TimePoint t = t0 + 9s;
  const Actions out = sm.handle(event::DrainRequested{"drain requested"}, t);
  CHECK(shape(out) == "send(0) arm(adver) notice(drain)");
  CHECK(sm.state() == State::Master);
  CHECK(sm.drained());
  // Every advert while drained says 0.
  CHECK(shape(sm.handle(event::AdverTimerExpired{}, t + 1s)) == "send(0) arm(adver)");
  // The peer's first advert as master: release, BACKUP, reason drain.
  const Actions handover = sm.handle(advert(50, kLower), t + 1s + 2ms);
  CHECK(shape(handover) == "cancel(adver) release arm(down) state(BACKUP)");
  CHECK(changed(handover).reason == Reason::Drain);
  // Drained backup: never preempts a lower master, ranks itself priority 1.
  CHECK(sm.skew_time() == skew_time(1, Centiseconds{100}));
  const Actions lower = sm.handle(advert(50, kLower), t + 2s);
  CHECK(shape(lower) == "arm(down)");
  // Undrain: normal again; the next lower advert is preempted (after the running timer).
  sm.handle(event::DrainCancelled{"undrain"}, t + 3s);
  CHECK_FALSE(sm.drained());
  CHECK(sm.skew_time() == skew_time(100, Centiseconds{100}));
}

TEST_CASE("drain: a drained backup takes over only when everyone is silent, then hands back",
          "[fsm][drain]") {
  InstanceParams p = params(100);
  p.group_size = 2;
  StateMachine sm = backup_hearing(p, 150);
  sm.handle(event::DrainRequested{"drain"}, t0 + 1s);
  // The master resigns (priority 0): a drained backup does not answer it.
  const Actions zero = sm.handle(advert(0), t0 + 2s);
  CHECK(sm.state() == State::Backup);
  CHECK(armed(zero, Timer::MasterDown) == t0 + 2s + sm.master_down_interval());
  // Silence: it takes over (availability first), advertising 0 so any peer takes back at once.
  const Actions take =
      sm.handle(event::MasterDownTimerExpired{}, t0 + 2s + sm.master_down_interval());
  CHECK(sm.state() == State::Master);
  CHECK(all<action::SendAdvert>(take).front().priority == 0);
}

TEST_CASE(
    "group_size = 2 falls back to RFC timing when a third router is heard "
    "[DESIGN.md §4 two-node takeover guard]",
    "[fsm][two-node]") {
  InstanceParams p = params(100);
  p.group_size = 2;
  StateMachine sm = backup_hearing(p, 150);
  CHECK(sm.two_node_active());
  const Actions third = sm.handle(advert(120, kLower), t0 + 1s);
  CHECK(shape(third).find("notice(group_size_exceeded)") != std::string::npos);
  CHECK_FALSE(sm.two_node_active());
  CHECK(sm.peers_seen().size() == 2);
  // Now a priority-0 advert arms Skew_Time instead of taking over at once.
  const Actions zero = sm.handle(advert(0), t0 + 2s);
  CHECK(sm.state() == State::Backup);
  CHECK(armed(zero, Timer::MasterDown) == t0 + 2s + sm.skew_time());
}

TEST_CASE("a backup's running Master_Down_Timer follows a priority change", "[fsm][priority]") {
  // Cold start: checks down (priority 40), then up (100) before the timer fires. The deadline must
  // be the one priority 100 would have given, so the better backup still answers first.
  StateMachine sm(params(100));
  sm.handle(event::PriorityChanged{40}, t0);
  const Actions start = sm.handle(event::Startup{}, t0);
  CHECK(armed(start, Timer::MasterDown) == t0 + master_down_interval(40, Centiseconds{100}));
  const Actions up = sm.handle(event::PriorityChanged{100}, t0 + 50ms);
  CHECK(armed(up, Timer::MasterDown) == t0 + master_down_interval(100, Centiseconds{100}));
  // No change, no action.
  CHECK(sm.handle(event::PriorityChanged{100}, t0 + 60ms).empty());
}

// --- Preempt back on recovery: act on the master's last advert, not its next one --------------

TEST_CASE(
    "recovery: a two-node backup whose fault clears preempts the known lower master at once "
    "[DESIGN.md §4, issue Health checks: preempt back]",
    "[fsm][preempt][two-node]") {
  InstanceParams p = params(150);
  p.group_size = 2;
  StateMachine sm = faulted_hearing(p, 100);  // the peer took over; heard while in FAULT
  const TimePoint t = kFaultAt;
  // nginx is back 0.7 s later, long before the peer's next advert (1 s interval).
  const Actions back = sm.handle(event::FaultCleared{"check nginx-pid ok"}, t + 700ms);
  CHECK(sm.state() == State::Master);
  CHECK(shape(back) ==
        "arm(down) state(BACKUP) cancel(down) acquire announce send(150) arm(adver) "
        "state(MASTER)");
  const auto states = all<action::StateChanged>(back);
  REQUIRE(states.size() == 2);
  CHECK(states[1].reason == Reason::Preempt);
  CHECK(states[1].explanation.find("from its advert 0.70s ago") != std::string::npos);
}

TEST_CASE("recovery: with fast preempt in a larger group the known lower master costs Skew_Time",
          "[fsm][preempt]") {
  InstanceParams p = params(150);
  p.fast_preempt = true;
  StateMachine sm = faulted_hearing(p, 100);
  const TimePoint t = kFaultAt;
  const Actions back = sm.handle(event::FaultCleared{"check nginx-pid ok"}, t + 700ms);
  CHECK(sm.state() == State::Backup);
  CHECK(armed(back, Timer::MasterDown) == t + 700ms + sm.skew_time());
  const Actions take = sm.handle(event::MasterDownTimerExpired{}, t + 700ms + sm.skew_time());
  CHECK(sm.state() == State::Master);
  CHECK(changed(take).reason == Reason::Preempt);
}

TEST_CASE(
    "recovery: no early preempt on a stale, higher, resigned or unknown master, or without "
    "preempt",
    "[fsm][preempt]") {
  auto faulted = [](InstanceParams p, std::uint8_t peer, Duration heard_before_clear) {
    p.group_size = 2;
    StateMachine sm = faulted_hearing(p, peer);
    const TimePoint clear = kFaultAt + 1ms + heard_before_clear;
    const Actions back = sm.handle(event::FaultCleared{"check ok"}, clear);
    CHECK(sm.state() == State::Backup);
    CHECK(armed(back, Timer::MasterDown) == clear + sm.master_down_interval());
  };
  SECTION("stale: older than Master_Down_Interval") {
    faulted(params(150), 100, master_down_interval(150, Centiseconds{100}) + 1ms);
  }
  SECTION("the master ranks higher") { faulted(params(150), 200, 100ms); }
  SECTION("equal priority never preempts") { faulted(params(150), 150, 100ms); }
  SECTION("the master resigned") { faulted(params(150), 0, 100ms); }
  SECTION("preempt off") {
    InstanceParams p = params(150);
    p.preempt = false;
    faulted(p, 100, 100ms);
  }
  SECTION("nobody heard") {
    InstanceParams p = params(150);
    p.group_size = 2;
    StateMachine sm(p);
    sm.handle(event::FaultRaised{Reason::Fault, "check failed"}, t0);
    sm.handle(event::Startup{}, t0);
    sm.handle(event::FaultCleared{"check ok"}, t0 + 1s);
    CHECK(sm.state() == State::Backup);
  }
}

TEST_CASE("recovery: a backup whose priority rises above the known master preempts it",
          "[fsm][preempt][priority]") {
  InstanceParams p = params(150);
  p.group_size = 2;
  StateMachine sm(p);
  sm.handle(event::PriorityChanged{90}, t0);  // negative weight: nginx down at start
  sm.handle(event::Startup{}, t0);
  sm.handle(advert(100), t0 + 10ms);  // the peer is master at 100 > 90: we stay backup
  REQUIRE(sm.state() == State::Backup);
  // A lower priority than the master's changes nothing.
  CHECK_FALSE(has<action::StateChanged>(sm.handle(event::PriorityChanged{95}, t0 + 300ms)));
  // nginx is back: 150 > 100, and the advert is 0.49 s old.
  const Actions up = sm.handle(event::PriorityChanged{150}, t0 + 500ms);
  CHECK(sm.state() == State::Master);
  CHECK(changed(up).reason == Reason::Preempt);
}

// --- Issue 12: bounds and the uneven partition heal -------------------------------------------

TEST_CASE("a master answers lower-priority adverts at most once per advert interval [issue 12]",
          "[fsm][issue-12]") {
  StateMachine sm = master(params(100));  // Advertisement_Interval 1 s
  const TimePoint at = t0 + 10s;
  CHECK(shape(sm.handle(advert(50, kLower), at)) ==
        "send(100) reannounce notice(lower_priority_advert)");
  // A flood within the interval: nothing sent, each one counted.
  for (int i = 1; i <= 100; ++i) {
    CHECK(sm.handle(advert(50, kLower), at + std::chrono::milliseconds{i * 9}).empty());
  }
  CHECK(sm.answers_suppressed() == 100);
  CHECK(sm.state() == State::Master);
  // One interval after the last answer, the next one is answered again.
  CHECK(shape(sm.handle(advert(50, kLower), at + 1s)) ==
        "send(100) reannounce notice(lower_priority_advert)");
  CHECK(sm.answers_suppressed() == 100);
  // The scheduled adverts are not throttled.
  const Actions tick = sm.handle(event::AdverTimerExpired{}, at + 1s + 1ms);
  CHECK(shape(tick).find("send(100)") != std::string::npos);
  // A higher advert is never throttled: the master steps down.
  sm.handle(advert(150, kPeer), at + 1s + 2ms);
  CHECK(sm.state() == State::Backup);
}

TEST_CASE("lower_priority_answer_interval sets the throttle; zero answers every advert [issue 12]",
          "[fsm][issue-12]") {
  auto p = params(100);  // Advertisement_Interval 1 s
  p.lower_answer_interval = std::chrono::milliseconds{250};
  StateMachine sm = master(p);
  const TimePoint at = t0 + 10s;
  CHECK(shape(sm.handle(advert(50, kLower), at)).find("send(100)") != std::string::npos);
  CHECK(sm.handle(advert(50, kLower), at + 249ms).empty());
  CHECK(shape(sm.handle(advert(50, kLower), at + 250ms)).find("send(100)") != std::string::npos);
  CHECK(sm.answers_suppressed() == 1);

  p.lower_answer_interval = Duration{0};
  StateMachine every = master(p);
  for (int i = 0; i < 5; ++i) {
    CHECK(shape(every.handle(advert(50, kLower), at + std::chrono::milliseconds{i}))
              .find("send(100)") != std::string::npos);
  }
  CHECK(every.answers_suppressed() == 0);
}

TEST_CASE(
    "a master yielding to a higher priority repeats its own advert for one Master_Down_Interval, "
    "at least 2 s [issue 12 uneven heal]",
    "[fsm][issue-12]") {
  StateMachine sm = master(params(100));  // interval 1 s: repeats every 100 ms
  CHECK(sm.yield_repeat_period() == std::chrono::milliseconds{100});
  const TimePoint at = t0 + 10s;
  const Actions yielded = sm.handle(advert(150, kPeer), at);
  REQUIRE(sm.state() == State::Backup);
  CHECK(sm.repeating_after_yield());
  CHECK(all<action::SendAdvert>(yielded).back().priority == 100);
  CHECK(armed(yielded, Timer::Adver) == at + 100ms);
  CHECK(sm.master().address == kPeer);  // our repeats do not make us the master in /status
  const Duration mdi = sm.master_down_interval();
  int sent = 1;
  TimePoint t = at + 100ms;
  while (sm.repeating_after_yield()) {
    const Actions out = sm.handle(event::AdverTimerExpired{}, t);
    for (const auto& s : all<action::SendAdvert>(out)) {
      CHECK(s.priority == 100);
      ++sent;
    }
    // The winner's adverts keep the Backup a Backup; the repeats go on regardless.
    sm.handle(advert(150, kPeer), t + 1ms);
    CHECK(sm.state() == State::Backup);
    t += 100ms;
    REQUIRE(t < at + mdi + 1s);
  }
  // One at once and one every 100 ms until Master_Down_Interval has passed, then silence.
  CHECK(sent == static_cast<int>(mdi / 100ms) + 1);
  // At 100 ms adverts (Master_Down_Interval 0.36 s) the repeats last 2 s, every 100 ms.
  InstanceParams fast = params(100);
  fast.advert_interval = Centiseconds{10};
  StateMachine quick = master(fast);
  quick.handle(advert(150, kPeer, Centiseconds{10}), at);
  REQUIRE(quick.repeating_after_yield());
  int repeats = 0;
  for (TimePoint u = at + 100ms; quick.repeating_after_yield(); u += 100ms) {
    repeats += static_cast<int>(
        all<action::SendAdvert>(quick.handle(event::AdverTimerExpired{}, u)).size());
    REQUIRE(u < at + 5s);
  }
  CHECK(repeats == 19);  // at 0.1 s … 1.9 s; the one at 2.0 s ends the repeats
  CHECK(sm.handle(event::AdverTimerExpired{}, t + 1s).empty());
  CHECK(sm.master().address == kPeer);
}

TEST_CASE("the yield repeat stops on fault, shutdown and a takeover [issue 12 uneven heal]",
          "[fsm][issue-12]") {
  {
    StateMachine sm = master(params(100));
    sm.handle(advert(150, kPeer), t0 + 10s);
    const Actions out = sm.handle(event::FaultRaised{Reason::Fault, "check failed"}, t0 + 10100ms);
    CHECK(shape(out) == "cancel(down) cancel(adver) state(FAULT)");
    CHECK_FALSE(sm.repeating_after_yield());
    CHECK(sm.handle(event::AdverTimerExpired{}, t0 + 10200ms).empty());
  }
  {
    StateMachine sm = master(params(100));
    sm.handle(advert(150, kPeer), t0 + 10s);
    const Actions out = sm.handle(event::Shutdown{}, t0 + 10100ms);
    CHECK(shape(out) == "cancel(down) cancel(adver) state(INIT)");
  }
  {
    StateMachine sm = master(params(100));
    sm.handle(advert(150, kPeer), t0 + 10s);
    sm.handle(advert(0, kPeer), t0 + 10100ms);  // the winner resigns
    sm.handle(event::MasterDownTimerExpired{}, t0 + 10100ms + sm.skew_time());
    REQUIRE(sm.state() == State::Master);
    CHECK_FALSE(sm.repeating_after_yield());
    // The adver timer is the master's again: one scheduled advert per interval.
    const Actions tick = sm.handle(event::AdverTimerExpired{}, t0 + 11100ms + sm.skew_time());
    CHECK(shape(tick) == "send(100) arm(adver)");
  }
  {
    // A drain while repeating ends the repeats (a drained router advertises nothing of its own).
    StateMachine sm = master(params(100));
    sm.handle(advert(150, kPeer), t0 + 10s);
    sm.handle(event::DrainRequested{"drain"}, t0 + 10050ms);
    CHECK(sm.handle(event::AdverTimerExpired{}, t0 + 10100ms).empty());
    CHECK_FALSE(sm.repeating_after_yield());
  }
}

TEST_CASE(
    "a backup ignores a lower advert from a router other than its live master: a yielding "
    "router's repeats move no third router [issue 12 uneven heal]",
    "[fsm][issue-12]") {
  InstanceParams p = params(120);
  p.fast_preempt = true;
  StateMachine sm = backup_hearing(p, 150);  // master kPeer at 150
  const auto deadline = t0 + sm.master_down_interval();
  // The yielding router (100 < our 120 < the master's 150) repeats its advert.
  CHECK(sm.handle(advert(100, kLower), t0 + 100ms).empty());
  CHECK(sm.master().address == kPeer);
  CHECK(sm.master().priority == 150);
  // No fast preempt from it: the master's next advert simply re-arms the full interval.
  const Actions next = sm.handle(advert(150), t0 + 1s);
  CHECK(armed(next, Timer::MasterDown) == t0 + 1s + sm.master_down_interval());
  CHECK(deadline < t0 + 1s + sm.master_down_interval());
  // Once the master is stale (silent for Master_Down_Interval), a lower router is heard again.
  sm.handle(advert(100, kLower), t0 + 1s + sm.master_down_interval() + 1ms);
  CHECK(sm.master().address == kLower);
  // The master's own lower advert (its check failed) still triggers fast preempt.
  StateMachine own = backup_hearing(p, 150);
  const Actions drop = own.handle(advert(110), t0 + 1s);
  CHECK(armed(drop, Timer::MasterDown) == t0 + 1s + own.skew_time());
}
