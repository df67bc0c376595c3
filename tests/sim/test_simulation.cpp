// Seeded simulation of 2–3 VRRP routers on a fake LAN (STYLE.md rule 10). Each property runs
// kSeeds random scenarios; a failure prints its seed, and the seed alone reproduces the run.
#include <catch2/catch.hpp>

#include <algorithm>
#include <numeric>

#include "sim_lan.h"

using namespace vipd::vrrp;
using namespace vipd::sim;
using namespace std::chrono_literals;

namespace {

constexpr std::uint32_t kSeeds = 200;
const TimePoint T0{};

struct Config {
  int nodes = 3;
  std::uint8_t version = 3;
  Centiseconds interval{100};
  bool preempt = true;
  bool fast_preempt = true;
  int group_size = 0;
  std::vector<std::uint8_t> priorities;
  std::vector<IpAddress> addresses;
};

int uniform(std::mt19937& rng, int lo, int hi) {
  return std::uniform_int_distribution<int>(lo, hi)(rng);
}
bool coin(std::mt19937& rng, double p = 0.5) { return std::bernoulli_distribution(p)(rng); }
Duration between(std::mt19937& rng, Duration lo, Duration hi) {
  return Duration{std::uniform_int_distribution<std::int64_t>(lo.count(), hi.count())(rng)};
}

// A random group: version, interval, distinct addresses; priorities `gap` apart at least.
Config random_config(std::mt19937& rng, int nodes, int gap = 1) {
  Config c;
  c.nodes = nodes;
  if (coin(rng, 0.25)) {
    c.version = 2;
    c.interval = Centiseconds{100};  // v2 intervals are whole seconds
  } else {
    const int intervals[] = {10, 50, 100};
    c.interval = Centiseconds{intervals[uniform(rng, 0, 2)]};
  }
  std::vector<int> octets(250);
  std::iota(octets.begin(), octets.end(), 2);
  std::shuffle(octets.begin(), octets.end(), rng);
  std::vector<int> slots((254 - 10) / gap);
  std::iota(slots.begin(), slots.end(), 0);
  std::shuffle(slots.begin(), slots.end(), rng);
  for (int i = 0; i < nodes; ++i) {
    c.addresses.push_back(IpAddress::v4(0xC6120000u + static_cast<std::uint32_t>(octets[i])));
    c.priorities.push_back(static_cast<std::uint8_t>(10 + slots[i] * gap));
  }
  return c;
}

InstanceParams instance(const Config& c, int i) {
  InstanceParams p;
  p.vrid = 51;
  p.version = c.version;
  p.priority = c.priorities[i];
  p.advert_interval = c.interval;
  p.preempt = c.preempt;
  p.fast_preempt = c.fast_preempt;
  p.group_size = c.group_size;
  p.primary_address = c.addresses[i];
  p.vips = {IpAddress::v4(0xC6120064)};
  return p;
}

void random_links(SimLan& lan, double max_loss) {
  for (int a = 0; a < lan.size(); ++a) {
    for (int b = 0; b < lan.size(); ++b) {
      if (a == b) continue;
      LinkKnobs& k = lan.link(a, b);
      k.loss = std::uniform_real_distribution<double>(0.0, max_loss)(lan.rng());
      k.delay = between(lan.rng(), 0us, 3ms);
      k.jitter = between(lan.rng(), 0us, 2ms);
    }
  }
}

void lossless(SimLan& lan) {
  for (int a = 0; a < lan.size(); ++a) {
    for (int b = 0; b < lan.size(); ++b) {
      if (a != b) lan.link(a, b).loss = 0;
    }
  }
}

// RFC 9568 §6.4.3: highest effective priority, ties to the highest primary address.
int best(const SimLan& lan, const std::vector<int>& among) {
  return *std::max_element(among.begin(), among.end(), [&](int a, int b) {
    const auto& x = lan.node(a);
    const auto& y = lan.node(b);
    return std::pair(x.effective_priority(), x.params().primary_address) <
           std::pair(y.effective_priority(), y.params().primary_address);
  });
}

std::vector<int> live(const SimLan& lan) {
  std::vector<int> v;
  for (int i = 0; i < lan.size(); ++i) {
    if (lan.alive(i)) v.push_back(i);
  }
  return v;
}

SimLan build(std::uint32_t seed, const Config& c) {
  SimLan lan(seed);
  for (int i = 0; i < c.nodes; ++i) lan.add_node(instance(c, i));
  return lan;
}

Duration worst_master_down(const Config& c) {
  return master_down_interval(1, c.interval, c.version);
}

// Exactly one live master, it is `expected`, and only it holds the VIPs.
void check_one_master(const SimLan& lan, int expected) {
  const std::vector<int> masters = lan.masters();
  REQUIRE(masters.size() == 1);
  CHECK(masters.front() == expected);
  CHECK(lan.vip_holders() == masters);
}

// A lossless group started within 2 s and left 15 s to settle: returns its master, which must be
// the best router and the only VIP holder.
int settle_lossless(SimLan& lan, const Config& c) {
  random_links(lan, 0.0);
  for (int i = 0; i < c.nodes; ++i) lan.start(i, T0 + between(lan.rng(), 0us, 2s));
  lan.run_until(T0 + 15s);
  const int master = best(lan, live(lan));
  check_one_master(lan, master);
  return master;
}

}  // namespace

TEST_CASE(
    "random groups converge to one master, the highest priority [RFC-CHECKLIST 4.5 Backup/Active "
    "election]",
    "[sim][rfc-4.5]") {
  for (std::uint32_t seed = 1; seed <= kSeeds; ++seed) {
    CAPTURE(seed);
    std::mt19937 rng(seed);
    Config c = random_config(rng, uniform(rng, 2, 3));
    c.fast_preempt = coin(rng);
    if (c.nodes == 2 && coin(rng)) c.group_size = 2;
    if (coin(rng, 0.1)) c.priorities[0] = 255;  // sometimes an address owner
    SimLan lan = build(seed, c);
    random_links(lan, 0.3);
    for (int i = 0; i < c.nodes; ++i) lan.start(i, T0 + between(lan.rng(), 0us, 5s));
    lan.run_until(T0 + 30s);  // lossy: transient double masters are allowed here
    lossless(lan);
    const TimePoint converged = T0 + 30s + 3 * worst_master_down(c);
    lan.run_until(converged);
    check_one_master(lan, best(lan, live(lan)));
    const std::size_t transitions = lan.transitions().size();
    lan.run_until(converged + 20s);
    CHECK(lan.transitions().size() == transitions);  // and it stays that way
  }
}

TEST_CASE(
    "equal priorities started together elect the highest address [RFC-CHECKLIST 4.5 Active "
    "tie-break]",
    "[sim][rfc-4.5]") {
  for (std::uint32_t seed = 1; seed <= kSeeds; ++seed) {
    CAPTURE(seed);
    std::mt19937 rng(seed);
    Config c = random_config(rng, uniform(rng, 2, 3));
    for (auto& p : c.priorities) p = c.priorities[0];
    SimLan lan = build(seed, c);
    random_links(lan, 0.0);
    for (int i = 0; i < c.nodes; ++i) lan.start(i, T0);
    lan.run_until(T0 + 2 * worst_master_down(c) + 1s);
    check_one_master(lan, best(lan, live(lan)));
  }
}

TEST_CASE(
    "without preempt a returning higher-priority node does not take over [RFC-CHECKLIST 4.5 Backup "
    "!Preempt_Mode]",
    "[sim][rfc-4.5]") {
  for (std::uint32_t seed = 1; seed <= kSeeds; ++seed) {
    CAPTURE(seed);
    std::mt19937 rng(seed);
    Config c = random_config(rng, uniform(rng, 2, 3));
    c.preempt = false;
    c.fast_preempt = coin(rng);
    if (c.nodes == 2 && coin(rng)) c.group_size = 2;
    SimLan lan = build(seed, c);
    random_links(lan, 0.0);
    std::vector<int> all(c.nodes);
    std::iota(all.begin(), all.end(), 0);
    const int high = best(lan, all);
    lan.start(high, T0);
    for (int i : all) {
      if (i != high) lan.start(i, T0 + 1s);
    }
    const TimePoint crash = T0 + 10s + between(lan.rng(), 0us, 5s);
    const TimePoint back = T0 + 20s + between(lan.rng(), 0us, 5s);
    lan.crash(high, crash);
    lan.restart(high, back);
    lan.run_until(back - 1us);
    // Whoever answered first keeps it: without preempt even a better backup defers to it (close
    // priorities at a short interval let a lesser backup answer first).
    REQUIRE(lan.masters().size() == 1);
    const int successor = lan.masters().front();
    CHECK(successor != high);
    check_one_master(lan, successor);
    lan.run_until(T0 + 60s);
    check_one_master(lan, successor);
    CHECK_FALSE(lan.first_master_after(back, high));
  }
}

TEST_CASE(
    "a crashed master is replaced within Master_Down_Interval plus one advert interval "
    "[RFC-CHECKLIST 4.5 Backup Master_Down fires]",
    "[sim][rfc-4.5][rfc-4.4]") {
  for (std::uint32_t seed = 1; seed <= kSeeds; ++seed) {
    CAPTURE(seed);
    std::mt19937 rng(seed);
    Config c = random_config(rng, uniform(rng, 2, 3));
    c.fast_preempt = coin(rng);
    if (c.nodes == 2 && coin(rng)) c.group_size = 2;
    SimLan lan = build(seed, c);
    const int old = settle_lossless(lan, c);
    const TimePoint crash = lan.now() + between(lan.rng(), 0us, c.interval);
    lan.crash(old, crash);
    lan.run_until(crash);
    const int successor = best(lan, live(lan));
    const Duration bound =
        master_down_interval(lan.node(successor).effective_priority(), c.interval, c.version) +
        c.interval;
    lan.run_until(crash + 2 * bound);
    const auto takeover = lan.first_master_after(crash);
    REQUIRE(takeover);
    // Close priorities at a short interval: Skew_Time may separate the backups by less than the
    // link jitter, so a lesser backup can answer first; the best one still takes over in time.
    CHECK(takeover->reason == Reason::MasterDown);
    CHECK(takeover->at - crash <= bound);
    const auto best_takeover = lan.first_master_after(crash, successor);
    REQUIRE(best_takeover);
    CHECK(best_takeover->at - crash <= bound);
    check_one_master(lan, successor);
  }
}

TEST_CASE(
    "after a priority-0 advert the best backup takes over within Skew_Time [RFC-CHECKLIST 4.5 "
    "Backup prio 0, Active Shutdown]",
    "[sim][rfc-4.5]") {
  for (std::uint32_t seed = 1; seed <= kSeeds; ++seed) {
    CAPTURE(seed);
    std::mt19937 rng(seed);
    // Priorities 30 apart: Skew_Time then ranks the backups by more than two link delays.
    Config c = random_config(rng, 3, 30);
    c.fast_preempt = coin(rng);
    SimLan lan = build(seed, c);
    const int old = settle_lossless(lan, c);
    const TimePoint resign = lan.now() + between(lan.rng(), 0us, c.interval);
    // Shutdown and entering Fault both resign with priority 0 (DESIGN.md §4).
    if (coin(rng)) {
      lan.inject(old, event::Shutdown{}, resign);
    } else {
      lan.inject(old, event::FaultRaised{Reason::Fault, "check nginx-pid failed"}, resign);
    }
    lan.run_until(resign);
    std::vector<int> rest;
    for (int i = 0; i < c.nodes; ++i) {
      if (i != old) rest.push_back(i);
    }
    const int successor = best(lan, rest);
    const Duration bound = lan.node(successor).skew_time() + lan.max_delay();
    lan.run_until(resign + 3 * worst_master_down(c));
    const auto takeover = lan.first_master_after(resign);
    REQUIRE(takeover);
    CHECK(takeover->node == successor);
    CHECK(takeover->reason == Reason::PriorityZero);
    CHECK(takeover->at - resign <= bound);
    check_one_master(lan, successor);
  }
}

TEST_CASE("a two-node group takes over within the link delay [DESIGN.md §4 two-node fast takeover]",
          "[sim][design-4]") {
  for (std::uint32_t seed = 1; seed <= kSeeds; ++seed) {
    CAPTURE(seed);
    std::mt19937 rng(seed);
    Config c = random_config(rng, 2);
    c.group_size = 2;
    c.fast_preempt = coin(rng);
    SimLan lan = build(seed, c);
    const int old = settle_lossless(lan, c);
    const int other = 1 - old;
    const TimePoint when = lan.now() + between(lan.rng(), 0us, c.interval);
    const int how = uniform(rng, 0, 2);
    if (how == 0) lan.inject(old, event::Shutdown{}, when);
    if (how == 1) lan.inject(old, event::FaultRaised{Reason::LinkDown, "eth0 down"}, when);
    int low = 0;
    if (how == 2) {  // weighted below the backup: it preempts on the next advert
      low = uniform(rng, 1, lan.node(other).effective_priority() - 1);
      lan.inject(old, event::PriorityChanged{static_cast<std::uint8_t>(low)}, when);
    }
    lan.run_until(when + 3 * worst_master_down(c));
    TimePoint signal = when;  // the priority-0 advert goes out at once
    if (how == 2) {
      const auto& sent = lan.sent();
      const auto next = std::find_if(sent.begin(), sent.end(), [&](const SimLan::Sent& s) {
        return s.node == old && s.at >= when && s.priority == low;
      });
      REQUIRE(next != sent.end());
      signal = next->at;
    }
    const auto takeover = lan.first_master_after(when);
    REQUIRE(takeover);
    CHECK(takeover->node == other);
    CHECK(takeover->at - signal <= lan.max_delay());
    check_one_master(lan, other);
  }
}

TEST_CASE(
    "a healed partition converges to one master within one advert interval [RFC-CHECKLIST 4.5 "
    "Active losing advert, RFC 9568 change 5]",
    "[sim][rfc-4.5]") {
  for (std::uint32_t seed = 1; seed <= kSeeds; ++seed) {
    CAPTURE(seed);
    std::mt19937 rng(seed);
    Config c = random_config(rng, uniform(rng, 2, 3));
    c.preempt = coin(rng, 0.75);
    c.fast_preempt = coin(rng);
    if (c.nodes == 2 && coin(rng)) c.group_size = 2;
    if (coin(rng, 0.2)) {
      for (auto& p : c.priorities) p = c.priorities[0];
    }
    SimLan lan = build(seed, c);
    random_links(lan, 0.0);
    for (int i = 0; i < c.nodes; ++i) lan.start(i, T0 + between(lan.rng(), 0us, 2s));
    const TimePoint split = T0 + 10s + between(lan.rng(), 0us, 2s);
    const TimePoint heal = split + worst_master_down(c) + between(lan.rng(), 500ms, 5s);
    lan.at(split, [&] { lan.set_partitioned(true); });
    lan.at(heal, [&] { lan.set_partitioned(false); });
    lan.run_until(heal - 1us);
    CHECK(lan.masters().size() == static_cast<std::size_t>(c.nodes));  // split brain
    lan.run_until(heal + c.interval + lan.max_delay() + 1ms);
    const int winner = best(lan, live(lan));
    check_one_master(lan, winner);
    const std::size_t transitions = lan.transitions().size();
    lan.run_until(heal + 30s);
    CHECK(lan.transitions().size() == transitions);
  }
}

TEST_CASE(
    "fast preempt replaces a weighted-down master within Skew_Time of its advert [DESIGN.md §4 "
    "fast preempt]",
    "[sim][design-4]") {
  for (std::uint32_t seed = 1; seed <= kSeeds; ++seed) {
    CAPTURE(seed);
    std::mt19937 rng(seed);
    Config c = random_config(rng, 3, 30);
    c.fast_preempt = true;
    SimLan lan = build(seed, c);
    const int old = settle_lossless(lan, c);
    std::vector<int> rest;
    for (int i = 0; i < c.nodes; ++i) {
      if (i != old) rest.push_back(i);
    }
    const int successor = best(lan, rest);
    int lowest = 255;
    for (int i : rest) lowest = std::min<int>(lowest, lan.node(i).effective_priority());
    const auto low = static_cast<std::uint8_t>(uniform(rng, 1, lowest - 1));
    const TimePoint when = lan.now() + between(lan.rng(), 0us, c.interval);
    lan.inject(old, event::PriorityChanged{low}, when);
    lan.run_until(when + 3 * worst_master_down(c));
    // The master advertises its new priority on its next advert (no restart, no transition).
    const auto& sent = lan.sent();
    const auto next = std::find_if(sent.begin(), sent.end(), [&](const SimLan::Sent& s) {
      return s.node == old && s.at >= when && s.priority == low;
    });
    REQUIRE(next != sent.end());
    CHECK(next->at - when <= c.interval);
    const auto takeover = lan.first_master_after(when);
    REQUIRE(takeover);
    CHECK(takeover->node == successor);
    CHECK(takeover->reason == Reason::Preempt);
    CHECK(takeover->at - next->at <= lan.node(successor).skew_time() + lan.max_delay());
    check_one_master(lan, successor);
    CHECK(lan.node(old).state() == State::Backup);
  }
}

TEST_CASE(
    "a recovered better router preempts back from the master's last advert: at once in a "
    "two-node group, else within its Skew_Time [DESIGN.md §4, issue Health checks]",
    "[sim][design-4][preempt]") {
  for (std::uint32_t seed = 1; seed <= kSeeds; ++seed) {
    CAPTURE(seed);
    std::mt19937 rng(seed);
    Config c = random_config(rng, uniform(rng, 2, 3), 10);
    c.group_size = c.nodes == 2 && coin(rng) ? 2 : 0;
    c.fast_preempt = true;
    SimLan lan = build(seed, c);
    const int best_node = settle_lossless(lan, c);
    // Its proxy dies: FAULT, another router takes over and advertises.
    lan.inject(best_node, event::FaultRaised{Reason::Fault, "check failed"}, lan.now());
    lan.run_until(lan.now() + 2 * worst_master_down(c));
    REQUIRE(lan.masters().size() == 1);
    REQUIRE(lan.masters().front() != best_node);
    // The proxy is back somewhere between two of the new master's adverts.
    const TimePoint back = lan.now() + between(lan.rng(), 0us, c.interval);
    lan.inject(best_node, event::FaultCleared{"check ok"}, back);
    lan.run_until(back + 3 * worst_master_down(c));
    const auto takeover = lan.first_master_after(back);
    REQUIRE(takeover);
    CHECK(takeover->node == best_node);
    const Duration bound = c.group_size == 2 ? Duration{0} : lan.node(best_node).skew_time();
    CHECK(takeover->at - back <= bound);
    check_one_master(lan, best_node);
  }
}
