// In-process tests of the layer above the core (issue 11): an Instance driven with adverts and
// check results against recording fakes of its ports — no root, no sockets, a manual clock.
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "app/connection_reset.h"
#include "app/group.h"
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
  std::optional<IpAddress> last_source;  // of the last advert sent
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
    journal_.last_source = source;
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

TEST_CASE(
    "an IPv6 instance without a link-local address waits in FAULT, starts when one appears and "
    "follows a changed one",
    "[instance][ipv6]") {
  auto cfg = web();
  cfg.family = vipd::vrrp::Family::V6;
  cfg.vips = {*IpPrefix::parse("2001:db8::100/64")};
  Rig rig(web());
  rig.link.family = vipd::vrrp::Family::V6;
  rig.link.facts.primary_v4.reset();
  rig.link.facts.link_local_v6.reset();  // e.g. IPv6 disabled on the interface at start
  rig.inst = std::make_unique<Instance>(cfg, rig.link, rig.sched, rig.table, rig.agent_stats);
  REQUIRE(rig.inst->own_fault());
  CHECK(rig.inst->own_fault()->find("no IPv6 link-local address") != std::string::npos);
  rig.inst->start();
  CHECK(rig.state() == State::Fault);
  REQUIRE(rig.inst->fault());
  CHECK(rig.inst->fault()->find("no IPv6 link-local address") != std::string::npos);
  rig.sched.advance(5s);
  CHECK(rig.state() == State::Fault);
  CHECK_FALSE(rig.journal.has("advert 100"));  // nothing sent without a source
  // The link is (again) up, but the link-local address is not there yet: still FAULT.
  rig.inst->link_changed(true, "interface eth0 is up");
  CHECK(rig.state() == State::Fault);

  // It appears (RTM_NEWADDR): the instance starts, and sends from it.
  rig.link.facts.link_local_v6 = ip("fe80::1");
  rig.inst->source_changed();
  CHECK_FALSE(rig.inst->fault());
  CHECK(rig.state() == State::Backup);
  rig.sched.advance(5s);
  CHECK(rig.state() == State::Master);
  CHECK(rig.journal.has("advert 100"));
  CHECK(rig.journal.last_source == ip("fe80::1"));
  CHECK(rig.inst->machine().params().primary_address == ip("fe80::1"));

  // Replaced by another one: the MASTER stays MASTER and uses the new one.
  rig.link.facts.link_local_v6 = ip("fe80::2");
  rig.inst->source_changed();
  CHECK(rig.state() == State::Master);
  rig.sched.advance(1s);
  CHECK(rig.journal.last_source == ip("fe80::2"));
  CHECK(rig.inst->machine().params().primary_address == ip("fe80::2"));
  CHECK(rig.inst->machine().master().address == ip("fe80::2"));

  // Gone (deleted) while the link is up: FAULT again, with the reason.
  rig.link.facts.link_local_v6.reset();
  rig.inst->source_changed();
  CHECK(rig.state() == State::Fault);
  CHECK(rig.inst->fault()->find("no IPv6 link-local address") != std::string::npos);
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

// --- Sync groups ([[group]], issue 14): the GroupCoordinator over two real Instances ----------

namespace {

/// Two instances on two interfaces (outside eth0, inside eth1) sharing a clock and a VIP table,
/// in one sync group "edge".
struct GroupRig {
  FakeScheduler sched;
  Journal outside_journal;
  Journal inside_journal;
  RecordingTable table{outside_journal};
  vipd::app::Link outside_link;
  vipd::app::Link inside_link;
  vipd::app::AgentStats agent_stats;
  std::unique_ptr<Instance> outside;
  std::unique_ptr<Instance> inside;
  std::unique_ptr<vipd::app::GroupCoordinator> group;

  explicit GroupRig(std::vector<std::string> notify = {}) {
    auto wire = [](vipd::app::Link& link, Journal& j, const char* name, int index,
                   const char* primary) {
      link.facts.name = name;
      link.facts.index = index;
      link.facts.primary_v4 = ip(primary);
      link.usable = true;
      link.channel = std::make_unique<RecordingChannel>(j);
      link.announcer = std::make_unique<RecordingAnnouncer>(j);
    };
    wire(outside_link, outside_journal, "eth0", 7, "198.18.0.1");
    wire(inside_link, inside_journal, "eth1", 8, "198.18.1.1");
    auto out_cfg = web();
    out_cfg.name = "outside";
    out_cfg.reset_connections = false;
    auto in_cfg = web();
    in_cfg.name = "inside";
    in_cfg.interface = "eth1";
    in_cfg.vrid = 52;
    in_cfg.reset_connections = false;
    in_cfg.vips = {*IpPrefix::parse("198.18.1.100/24")};
    outside = std::make_unique<Instance>(out_cfg, outside_link, sched, table, agent_stats);
    inside = std::make_unique<Instance>(in_cfg, inside_link, sched, table, agent_stats);
    vipd::config::Group g;
    g.name = "edge";
    g.instances = {"outside", "inside"};
    g.notify = std::move(notify);
    group = std::make_unique<vipd::app::GroupCoordinator>(g, sched);
    group->set_members({outside.get(), inside.get()});
  }
  /// An admitted advert for `inst` from `from`.
  void hear(Instance& inst, const char* from, std::uint8_t priority) {
    vipd::vrrp::Advertisement adv;
    adv.vrid = inst.config().vrid;
    adv.priority = priority;
    adv.advert_interval = vipd::vrrp::Centiseconds{100};
    adv.addresses = {inst.config().vips.front().address};
    vipd::vrrp::Datagram d;
    d.source = ip(from);
    d.destination = ip("224.0.0.18");
    d.ttl = 255;
    d.payload = vipd::vrrp::encode(adv, {d.source, d.destination}, inst.config().checksum);
    const vipd::vrrp::Receiver* receivers[] = {&inst.receiver()};
    const auto admission = vipd::vrrp::admit(d, {}, receivers);
    REQUIRE(admission.accepted());
    inst.receive(admission, d.source);
  }
  /// Both members start, nobody else is there: both become MASTER on their own timers.
  void both_master() {
    group->sync_faults();
    outside->start();
    inside->start();
    sched.advance(5s);
    REQUIRE(outside->machine().state() == State::Master);
    REQUIRE(inside->machine().state() == State::Master);
  }
  [[nodiscard]] bool holds(int ifindex) const {
    return std::any_of(table.held.begin(), table.held.end(),
                       [&](const auto& a) { return a.first == ifindex; });
  }
};

}  // namespace

TEST_CASE("group state: FAULT if any member is, MASTER/BACKUP if all are, else INIT or SPLIT",
          "[group]") {
  using vipd::app::group_state_of;
  using vipd::app::GroupState;
  CHECK(group_state_of({State::Master, State::Master}) == GroupState::Master);
  CHECK(group_state_of({State::Backup, State::Backup}) == GroupState::Backup);
  CHECK(group_state_of({State::Master, State::Fault}) == GroupState::Fault);
  CHECK(group_state_of({State::Init, State::Backup}) == GroupState::Init);
  CHECK(group_state_of({State::Master, State::Backup}) == GroupState::Split);
  CHECK(group_state_of({}) == GroupState::Init);
}

TEST_CASE("group: a member whose link goes down takes every member to FAULT, and back together",
          "[group]") {
  GroupRig rig;
  rig.both_master();
  CHECK(rig.group->state() == vipd::app::GroupState::Master);
  rig.outside_journal.lines.clear();

  // The inside link fails on this node: the inside member faults on its own...
  rig.inside_link.usable = false;
  rig.inside->link_changed(false, "interface eth1 lost its carrier");
  rig.group->sync_faults();
  // ...and the outside member follows: it resigns with priority 0 at once, so the peer takes
  // the outside VIP too (keepalived: one member in FAULT, all in FAULT).
  CHECK(rig.inside->machine().state() == State::Fault);
  CHECK(rig.outside->machine().state() == State::Fault);
  CHECK(rig.outside_journal.has("advert 0"));
  REQUIRE(rig.outside->fault().has_value());
  CHECK(rig.outside->fault()->find("member inside is in fault") != std::string::npos);
  CHECK_FALSE(rig.outside->own_fault().has_value());
  CHECK(rig.group->state() == vipd::app::GroupState::Fault);
  CHECK(rig.group->faulty_member() == "inside");
  CHECK_FALSE(rig.holds(8));  // link down: released at once
  // The outside VIP is held until the peer is heard as master (make-before-break), then goes.
  rig.hear(*rig.outside, "198.18.0.2", 100);
  CHECK_FALSE(rig.holds(7));

  // The link comes back: both leave FAULT together, as BACKUP under the peer.
  rig.inside_link.usable = true;
  rig.inside->link_changed(true, "interface eth1 is up");
  rig.group->sync_faults();
  CHECK(rig.inside->machine().state() == State::Backup);
  CHECK(rig.outside->machine().state() == State::Backup);
  CHECK(rig.group->state() == vipd::app::GroupState::Backup);
  CHECK_FALSE(rig.group->faulty_member().has_value());
  CHECK(rig.group->transitions().at("FAULT") == 1);
}

TEST_CASE("group: a vital check failing on one member faults the other member too", "[group]") {
  GroupRig rig;
  rig.both_master();
  rig.outside->apply_weights(weights(100, "nginx"));
  rig.group->sync_faults();
  CHECK(rig.outside->machine().state() == State::Fault);
  CHECK(rig.inside->machine().state() == State::Fault);
  CHECK(rig.inside_journal.has("advert 0"));
  rig.outside->apply_weights(weights(100));
  rig.group->sync_faults();
  CHECK(rig.outside->machine().state() == State::Backup);
  CHECK(rig.inside->machine().state() == State::Backup);
}

TEST_CASE("group: a member whose interface is down at start-up starts the whole group in FAULT",
          "[group]") {
  GroupRig rig;
  rig.inside_link.usable = false;
  rig.group->sync_faults();
  rig.outside->start();
  rig.inside->start();
  rig.sched.advance(5s);
  CHECK(rig.outside->machine().state() == State::Fault);
  CHECK(rig.inside->machine().state() == State::Fault);
  CHECK(rig.table.held.empty());
}

TEST_CASE("group: members that stay split are reported, a passing split is not", "[group]") {
  GroupRig rig;
  rig.both_master();
  // A peer with a higher priority on the inside only: inside goes BACKUP, outside stays MASTER.
  rig.hear(*rig.inside, "198.18.1.2", 200);
  CHECK(rig.group->state() == vipd::app::GroupState::Split);
  CHECK(rig.group->warnings().empty());
  // It keeps hearing the peer for longer than a failover takes: a condition in /status.
  for (int i = 0; i < 60; ++i) {
    rig.sched.advance(100ms);
    rig.hear(*rig.inside, "198.18.1.2", 200);
  }
  REQUIRE(rig.group->warnings().size() == 1);
  CHECK(rig.group->warnings()[0].find("sync group edge is split") != std::string::npos);
}

TEST_CASE("group: the notify hook runs on the group's transitions with its name and state",
          "[group][notify]") {
  const auto dir =
      std::filesystem::temp_directory_path() / ("vipd-group-notify-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto out = (dir / "calls").string();
  GroupRig rig({"/bin/sh", "-c", "echo \"$0 $1\" >> " + out});
  rig.both_master();
  rig.inside_link.usable = false;
  rig.inside->link_changed(false, "interface eth1 is down");
  rig.group->sync_faults();
  std::string text;
  // The hooks run detached and concurrently: wait for all three lines, in any order.
  for (int i = 0; i < 300 && std::count(text.begin(), text.end(), '\n') < 3; ++i) {
    std::this_thread::sleep_for(10ms);
    std::ifstream f(out);
    std::stringstream ss;
    ss << f.rdbuf();
    text = ss.str();
  }
  std::filesystem::remove_all(dir);
  // BACKUP and MASTER on the way up, FAULT when a member's link fails; never SPLIT or INIT.
  CHECK(std::count(text.begin(), text.end(), '\n') == 3);
  CHECK(text.find("edge BACKUP\n") != std::string::npos);
  CHECK(text.find("edge MASTER\n") != std::string::npos);
  CHECK(text.find("edge FAULT\n") != std::string::npos);
  CHECK(text.find("SPLIT") == std::string::npos);
}

TEST_CASE("group: every member weighs the union of the members' tracked checks", "[group]") {
  auto r = vipd::config::load_string(R"(
[[instance]]
name = "outside"
interface = "eth0"
vrid = 51
priority = 100
vips = ["198.18.0.100/24"]
track = [ { check = "http", weight = -60 }, { check = "pid", weight = 0 } ]
[[instance]]
name = "inside"
interface = "eth1"
vrid = 52
priority = 100
vips = ["198.18.1.100/24"]
track = [ { check = "link", weight = 0 }, { check = "http", weight = -10 } ]
[[check]]
name = "http"
type = "http"
url = "http://127.0.0.1/healthz"
[[check]]
name = "pid"
type = "pid"
pidfile = "/run/nginx.pid"
[[check]]
name = "link"
type = "link"
interface = "eth1"
[[group]]
name = "edge"
instances = ["outside", "inside"]
)",
                                     "group.toml");
  REQUIRE(r.ok());
  for (const auto& d : r.diagnostics) CHECK(d.message.find("group") == std::string::npos);
  const auto tracks = vipd::app::group_tracks(*r.config, r.config->groups[0]);
  REQUIRE(tracks.size() == 3);
  CHECK(tracks[0].check == "http");
  CHECK(tracks[0].weight == -60);  // the first member's weight wins
  CHECK(tracks[1].check == "pid");
  CHECK(tracks[2].check == "link");
}

TEST_CASE("group: when one member takes over, the members still BACKUP follow it at once",
          "[group]") {
  GroupRig rig;
  rig.group->sync_faults();
  rig.outside->start();
  rig.inside->start();
  rig.hear(*rig.outside, "198.18.0.2", 200);
  rig.hear(*rig.inside, "198.18.1.2", 200);
  REQUIRE(rig.group->state() == vipd::app::GroupState::Backup);
  // The peer's outside member resigns; its inside member says nothing (its link died, say).
  rig.hear(*rig.outside, "198.18.0.2", 0);
  rig.sched.advance(1s);  // Skew_Time of the outside member
  REQUIRE(rig.outside->machine().state() == State::Master);
  // The inside member follows on the next turn, not after its own Master_Down_Interval.
  CHECK(rig.inside->machine().state() == State::Master);
  CHECK(rig.inside->last_transition().reason == vipd::vrrp::Reason::Group);
  CHECK(rig.inside->last_transition().explanation.find("member outside became MASTER") !=
        std::string::npos);
  CHECK(rig.holds(8));
  CHECK(rig.group->state() == vipd::app::GroupState::Master);
}
