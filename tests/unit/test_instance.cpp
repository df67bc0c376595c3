// In-process tests of the layer above the core (issue 11): an Instance driven with adverts and
// check results against recording fakes of its ports — no root, no sockets, a manual clock.
#include <catch2/catch.hpp>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "app/connection_reset.h"
#include "app/instance.h"
#include "app/ports.h"
#include "vrrp/admission.h"

namespace {

using namespace std::chrono_literals;
using vipd::app::Instance;
using vipd::vrrp::IpAddress;
using vipd::vrrp::IpPrefix;
using vipd::vrrp::State;

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

/// Everything the fakes saw, in order: "add", "remove", "announce", "advert N".
struct Journal {
  std::vector<std::string> lines;
  [[nodiscard]] std::ptrdiff_t index(const std::string& line) const {
    for (std::size_t i = 0; i < lines.size(); ++i)
      if (lines[i] == line) return static_cast<std::ptrdiff_t>(i);
    return -1;
  }
  [[nodiscard]] bool has(const std::string& line) const { return index(line) >= 0; }
};

class FakeScheduler final : public vipd::app::Scheduler {
 public:
  [[nodiscard]] vipd::vrrp::TimePoint clock() const override { return now_; }
  TimerId add_timer(vipd::vrrp::TimePoint deadline, Callback cb) override {
    timers_[++next_] = {deadline, std::move(cb)};
    return next_;
  }
  void cancel_timer(TimerId id) override { timers_.erase(id); }
  void post(Callback cb) override {
    std::lock_guard lock(mutex_);
    posted_.push_back(std::move(cb));
    wake_.notify_all();
  }
  /// Moves the clock forward, running every timer that falls due, in deadline order.
  void advance(vipd::vrrp::Duration d) {
    const auto end = now_ + d;
    for (;;) {
      auto due = timers_.end();
      for (auto it = timers_.begin(); it != timers_.end(); ++it)
        if (it->second.first <= end &&
            (due == timers_.end() || it->second.first < due->second.first))
          due = it;
      if (due == timers_.end()) break;
      now_ = std::max(now_, due->second.first);
      auto cb = std::move(due->second.second);
      timers_.erase(due);
      cb();
    }
    now_ = end;
  }
  /// Waits (real time) for work posted from another thread, then runs it on this thread.
  bool run_posted(std::chrono::milliseconds wait) {
    std::vector<Callback> work;
    {
      std::unique_lock lock(mutex_);
      if (!wake_.wait_for(lock, wait, [this] { return !posted_.empty(); })) return false;
      work.swap(posted_);
    }
    for (auto& cb : work) cb();
    return true;
  }

 private:
  vipd::vrrp::TimePoint now_{vipd::vrrp::Duration{1'000'000'000}};
  std::map<TimerId, std::pair<vipd::vrrp::TimePoint, Callback>> timers_;
  TimerId next_ = 0;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<Callback> posted_;
};

class RecordingChannel final : public vipd::app::AdvertChannel {
 public:
  explicit RecordingChannel(Journal& j) : journal_(j) {}
  int send(std::span<const std::uint8_t> message, const IpAddress& source,
           const IpAddress& destination) override {
    const auto r = vipd::vrrp::decode(message, {source, destination}, {});
    REQUIRE(r.ok());
    journal_.lines.push_back("advert " + std::to_string(r.decoded->advert.priority));
    return 0;
  }
  std::optional<vipd::vrrp::Datagram> receive() override { return std::nullopt; }
  [[nodiscard]] int fd() const override { return -1; }

 private:
  Journal& journal_;
};

class RecordingTable final : public vipd::app::VipTable {
 public:
  explicit RecordingTable(Journal& j) : journal_(j) {}
  std::vector<vipd::app::VipOpResult> add(int ifindex, std::span<const IpPrefix> vips) override {
    journal_.lines.emplace_back("add");
    return apply(ifindex, vips, true);
  }
  std::vector<vipd::app::VipOpResult> remove(int ifindex, std::span<const IpPrefix> vips) override {
    journal_.lines.emplace_back("remove");
    return apply(ifindex, vips, false);
  }
  std::vector<bool> present(int ifindex, std::span<const IpPrefix> vips) override {
    return vipd::app::present_in(held, ifindex, vips);
  }
  vipd::app::AddressSet addresses() override { return held; }
  vipd::app::AddressSet held;

 private:
  std::vector<vipd::app::VipOpResult> apply(int ifindex, std::span<const IpPrefix> vips, bool add) {
    std::vector<vipd::app::VipOpResult> out;
    for (const auto& v : vips) {
      const bool changed = add ? held.insert({ifindex, v}).second : held.erase({ifindex, v}) > 0;
      out.push_back({v, true, changed, ""});
    }
    return out;
  }
  Journal& journal_;
};

class RecordingAnnouncer final : public vipd::app::Announcer {
 public:
  explicit RecordingAnnouncer(Journal& j) : journal_(j) {}
  int announce(std::span<const IpAddress> vips) override {
    journal_.lines.emplace_back("announce");
    return static_cast<int>(vips.size()) * 2;
  }

 private:
  Journal& journal_;
};

/// One instance on a fake interface, with its fakes.
struct Rig {
  Journal journal;
  FakeScheduler sched;
  RecordingTable table{journal};
  vipd::app::Link link;
  vipd::app::AgentStats agent_stats;
  std::unique_ptr<vipd::app::ResetWorker> resets;
  std::unique_ptr<Instance> inst;

  explicit Rig(vipd::config::Instance cfg, vipd::app::ResetConnections reset = nullptr) {
    link.facts.name = "eth0";
    link.facts.index = 7;
    link.facts.primary_v4 = ip("198.18.0.1");
    link.usable = true;
    link.channel = std::make_unique<RecordingChannel>(journal);
    link.announcer = std::make_unique<RecordingAnnouncer>(journal);
    if (reset) resets = std::make_unique<vipd::app::ResetWorker>(sched, std::move(reset));
    inst =
        std::make_unique<Instance>(std::move(cfg), link, sched, table, agent_stats, resets.get());
  }
  /// A valid advert from `from` with `priority`, admitted by the core as the agent would.
  void hear(const char* from, std::uint8_t priority) {
    vipd::vrrp::Advertisement adv;
    adv.vrid = inst->config().vrid;
    adv.priority = priority;
    adv.advert_interval = vipd::vrrp::Centiseconds{100};
    adv.addresses = {inst->config().vips.front().address};
    vipd::vrrp::Datagram d;
    d.source = ip(from);
    d.destination = ip("224.0.0.18");
    d.ttl = 255;
    d.payload = vipd::vrrp::encode(adv, {d.source, d.destination}, inst->config().checksum);
    const vipd::vrrp::Receiver* receivers[] = {&inst->receiver()};
    const auto admission = vipd::vrrp::admit(d, {}, receivers);
    REQUIRE(admission.accepted());
    inst->receive(admission, d.source);
  }
  [[nodiscard]] State state() const { return inst->machine().state(); }
  [[nodiscard]] bool holds_vip() const { return !table.held.empty(); }
  /// Starts as BACKUP under a master at 198.18.0.2, then takes over when it resigns.
  void become_master() {
    inst->start();
    hear("198.18.0.2", 200);
    REQUIRE(state() == State::Backup);
    journal.lines.clear();
    hear("198.18.0.2", 0);
    sched.advance(1s);
    REQUIRE(state() == State::Master);
  }
};

vipd::config::Instance web() {
  vipd::config::Instance c;
  c.name = "web";
  c.interface = "eth0";
  c.vrid = 51;
  c.priority = 100;
  c.vips = {*IpPrefix::parse("198.18.0.100/24")};
  c.garp.second_burst_after = 0ms;
  return c;
}

vipd::vrrp::Weighted weights(std::uint8_t effective, std::optional<std::string> fault = {}) {
  vipd::vrrp::Weighted w;
  w.effective = effective;
  w.fault = std::move(fault);
  return w;
}

}  // namespace

TEST_CASE("a takeover adds the VIPs, then announces them, then sends the first advert",
          "[instance][make-before-break]") {
  Rig rig(web());
  rig.become_master();
  const auto add = rig.journal.index("add");
  const auto announce = rig.journal.index("announce");
  const auto advert = rig.journal.index("advert 100");
  REQUIRE(add >= 0);
  REQUIRE(announce >= 0);
  REQUIRE(advert >= 0);
  CHECK(add < announce);
  CHECK(announce < advert);
  CHECK(rig.holds_vip());
  // The master resigned with priority 0 a second ago: the takeover is a failover, measured.
  CHECK(rig.inst->stats().failovers == 1);
  CHECK(rig.inst->stats().last_failover_seconds > 0);
}

TEST_CASE("a failed vital check sends priority 0 first and releases the VIPs after a new master",
          "[instance][fault]") {
  auto cfg = web();
  cfg.reset_connections = false;
  Rig rig(cfg);
  rig.become_master();
  rig.journal.lines.clear();
  rig.inst->apply_weights(weights(100, "nginx"));
  CHECK(rig.state() == State::Fault);
  CHECK(rig.inst->fault() == "check nginx failed");
  REQUIRE(rig.journal.has("advert 0"));
  // Make-before-break: the VIPs stay until another router is heard as master.
  CHECK(rig.holds_vip());
  CHECK_FALSE(rig.journal.has("remove"));
  rig.hear("198.18.0.2", 90);
  REQUIRE(rig.journal.has("remove"));
  CHECK(rig.journal.index("advert 0") < rig.journal.index("remove"));
  CHECK_FALSE(rig.holds_vip());
}

TEST_CASE("a soft reload keeps the state and the VIPs", "[instance][reload]") {
  Rig rig(web());
  rig.become_master();
  rig.journal.lines.clear();
  auto next = web();
  next.priority = 150;
  next.garp.repeat = 2;
  REQUIRE(rig.inst->can_update(next));
  REQUIRE(rig.inst->update(next));
  rig.sched.advance(3s);
  CHECK(rig.state() == State::Master);
  CHECK(rig.holds_vip());
  CHECK_FALSE(rig.journal.has("remove"));
  CHECK_FALSE(rig.journal.has("add"));
  CHECK(rig.inst->config().priority == 150);
  // A change of VRID is no soft change: the agent restarts the instance instead.
  auto other = web();
  other.vrid = 52;
  CHECK_FALSE(rig.inst->can_update(other));
}

TEST_CASE("a release waits for its connection reset, but not longer than the deadline",
          "[instance][reset]") {
  std::promise<void> unblock;
  auto released = unblock.get_future().share();
  std::atomic<int> calls{0};
  Rig rig(web(), [&calls, released](std::span<const IpAddress>) {
    ++calls;
    released.wait();  // a reset that hangs until the test lets it go
    return vipd::app::ResetResult{};
  });
  rig.become_master();
  rig.journal.lines.clear();
  rig.inst->set_drained(true, "test");
  rig.hear("198.18.0.2", 90);  // another master: the drained node releases
  // The reset runs; the VIPs stay while it does (its RSTs need the addresses).
  CHECK_FALSE(rig.journal.has("remove"));
  rig.sched.advance(vipd::app::VipHolder::kResetDeadline - 1ms);
  CHECK_FALSE(rig.journal.has("remove"));
  rig.sched.advance(2ms);
  CHECK(rig.journal.has("remove"));
  CHECK_FALSE(rig.holds_vip());
  // The worker thread picks the job up on its own time: wait for it (real time, bounded).
  for (int i = 0; i < 200 && calls == 0; ++i) std::this_thread::sleep_for(10ms);
  CHECK(calls == 1);
  unblock.set_value();
  // The late result is counted but removes nothing twice.
  REQUIRE(rig.sched.run_posted(2s));
  std::size_t removes = 0;
  for (const auto& l : rig.journal.lines) removes += l == "remove";
  CHECK(removes == 1);
}

TEST_CASE("a prompt connection reset removes the VIPs as soon as it reports", "[instance][reset]") {
  Rig rig(web(), [](std::span<const IpAddress> addrs) {
    vipd::app::ResetResult r;
    r.matched = r.reset = addrs.size() * 3;
    return r;
  });
  rig.become_master();
  rig.journal.lines.clear();
  rig.inst->set_drained(true, "test");
  rig.hear("198.18.0.2", 90);
  REQUIRE(rig.sched.run_posted(2s));
  CHECK(rig.journal.has("remove"));
  CHECK(rig.inst->stats().connections_reset == 3);
}

TEST_CASE("drain resigns with priority 0 and keeps the VIPs until a new master; undrain restores",
          "[instance][drain]") {
  auto cfg = web();
  cfg.reset_connections = false;
  Rig rig(cfg);
  rig.become_master();
  rig.journal.lines.clear();
  rig.inst->set_drained(true, "maintenance");
  CHECK(rig.journal.has("advert 0"));
  CHECK(rig.inst->machine().drained());
  CHECK(rig.holds_vip());
  rig.hear("198.18.0.2", 90);
  CHECK(rig.state() == State::Backup);
  CHECK_FALSE(rig.holds_vip());
  // Drained, it does not preempt a lower-priority master.
  rig.sched.advance(5s);
  rig.hear("198.18.0.2", 90);
  CHECK(rig.state() == State::Backup);
  rig.inst->set_drained(false, "done");
  CHECK_FALSE(rig.inst->machine().drained());
  rig.hear("198.18.0.2", 90);  // preempt: our 100 beats 90
  rig.sched.advance(3s);
  CHECK(rig.state() == State::Master);
  CHECK(rig.holds_vip());
}

TEST_CASE("an adapter that throws is counted and shown, the instance goes to FAULT and retries",
          "[instance][robustness]") {
  class ThrowingTable final : public vipd::app::VipTable {
   public:
    std::vector<vipd::app::VipOpResult> add(int, std::span<const IpPrefix>) override {
      throw std::runtime_error("netlink socket closed");
    }
    std::vector<vipd::app::VipOpResult> remove(int, std::span<const IpPrefix> v) override {
      return std::vector<vipd::app::VipOpResult>(v.size());
    }
    std::vector<bool> present(int, std::span<const IpPrefix> v) override {
      return std::vector<bool>(v.size());
    }
    vipd::app::AddressSet addresses() override { return {}; }
  };
  Rig rig(web());
  ThrowingTable table;
  rig.inst = std::make_unique<Instance>(web(), rig.link, rig.sched, table, rig.agent_stats);
  rig.inst->start();
  REQUIRE_NOTHROW(rig.sched.advance(5s));
  CHECK(rig.inst->stats().action_failures >= 1);
  bool shown = false;
  for (const auto& w : rig.inst->warnings())
    shown |= w.find("netlink socket closed") != std::string::npos;
  CHECK(shown);
  CHECK(rig.journal.has("advert 100"));  // the next actions still ran
  // Issue 15: it cannot hold the VIPs, so it resigns (priority 0) into FAULT ...
  CHECK(rig.state() == State::Fault);
  CHECK(rig.journal.has("advert 0"));
  REQUIRE(rig.inst->fault());
  CHECK(rig.inst->fault()->find("netlink socket closed") != std::string::npos);
  // ... and tries again after the retry delay (and fails again: FAULT again, still running).
  const auto failures = rig.inst->stats().action_failures;
  REQUIRE_NOTHROW(rig.sched.advance(20s));
  CHECK(rig.inst->stats().action_failures > failures);
  CHECK(rig.state() == State::Fault);
}

TEST_CASE("an action that fails once leaves FAULT after the retry delay",
          "[instance][robustness]") {
  class FlakyTable final : public vipd::app::VipTable {
   public:
    int failures_left = 1;
    std::vector<vipd::app::VipOpResult> add(int, std::span<const IpPrefix> v) override {
      if (failures_left-- > 0) throw std::runtime_error("transient");
      std::vector<vipd::app::VipOpResult> out(v.size());
      for (auto& r : out) r.ok = true;
      return out;
    }
    std::vector<vipd::app::VipOpResult> remove(int, std::span<const IpPrefix> v) override {
      std::vector<vipd::app::VipOpResult> out(v.size());
      for (auto& r : out) r.ok = true;
      return out;
    }
    std::vector<bool> present(int, std::span<const IpPrefix> v) override {
      return std::vector<bool>(v.size());
    }
    vipd::app::AddressSet addresses() override { return {}; }
  };
  Rig rig(web());
  FlakyTable table;
  rig.inst = std::make_unique<Instance>(web(), rig.link, rig.sched, table, rig.agent_stats);
  rig.inst->start();
  rig.sched.advance(4s);
  CHECK(rig.state() == State::Fault);
  rig.sched.advance(10s);
  CHECK(rig.state() == State::Master);
  CHECK_FALSE(rig.inst->fault());
}

TEST_CASE("a VIP removed by someone else while MASTER is put back and announced",
          "[instance][repair]") {
  Rig rig(web());
  rig.become_master();
  rig.journal.lines.clear();
  const auto vip = rig.inst->config().vips.front();
  rig.table.held.clear();
  rig.inst->vip_removed(vip);
  CHECK(rig.holds_vip());
  CHECK(rig.journal.has("announce"));
  CHECK(rig.inst->stats().vip_readded == 1);
  CHECK(rig.agent_stats.vip_operations[static_cast<std::size_t>(vipd::app::VipOp::Readd)][0] == 1);
}

TEST_CASE("after the interface comes back under a new index, the VIPs go to the new index",
          "[instance][repair]") {
  Rig rig(web());
  rig.become_master();
  rig.link.facts.index = 9;  // the interface vanished and was created again
  rig.table.held.clear();
  rig.inst->vip_removed(rig.inst->config().vips.front());
  CHECK(rig.table.held.count({9, rig.inst->config().vips.front()}) == 1);
  CHECK(rig.table.held.count({7, rig.inst->config().vips.front()}) == 0);
}
