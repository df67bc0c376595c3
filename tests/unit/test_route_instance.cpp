// RouteInstance (route mode, issue 16) over a recording fake RouteTable and a manual clock:
// install while healthy, metric from priority, replace in place, withdraw on fault/stop, sweep,
// local routes, retry after a failure.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "app/route_instance.h"
#include "vrrp/route_metric.h"

using vipd::app::RouteOpResult;
using vipd::vrrp::IpPrefix;

namespace {

class ManualScheduler final : public vipd::app::Scheduler {
 public:
  [[nodiscard]] vipd::vrrp::TimePoint clock() const override { return now_; }
  TimerId add_timer(vipd::vrrp::TimePoint deadline, Callback cb) override {
    timers_[++next_] = {deadline, std::move(cb)};
    return next_;
  }
  void cancel_timer(TimerId id) override { timers_.erase(id); }
  void post(Callback cb) override { cb(); }
  void advance(vipd::vrrp::Duration d) {
    now_ += d;
    for (auto it = timers_.begin(); it != timers_.end();) {
      if (it->second.first <= now_) {
        auto cb = std::move(it->second.second);
        it = timers_.erase(it);
        cb();
      } else {
        ++it;
      }
    }
  }
  [[nodiscard]] std::size_t pending() const { return timers_.size(); }

 private:
  vipd::vrrp::TimePoint now_{};
  TimerId next_ = 0;
  std::map<TimerId, std::pair<vipd::vrrp::TimePoint, Callback>> timers_;
};

/// Keeps routes as the kernel does (one per (VIP, metric)) and records every call.
class FakeRoutes final : public vipd::app::RouteTable {
 public:
  RouteOpResult install(const IpPrefix& vip, std::uint32_t metric,
                        std::optional<std::uint32_t> replaces) override {
    log.push_back("install " + vip.to_string() + " " + std::to_string(metric) +
                  (replaces ? " replaces " + std::to_string(*replaces) : std::string()));
    if (fail) return {false, "injected"};
    routes.insert({vip, metric});
    if (replaces && *replaces != metric) routes.erase({vip, *replaces});
    return {true, {}};
  }
  RouteOpResult withdraw(const IpPrefix& vip, std::uint32_t metric) override {
    log.push_back("withdraw " + vip.to_string() + " " + std::to_string(metric));
    if (fail) return {false, "injected"};
    routes.erase({vip, metric});
    return {true, {}};
  }
  std::size_t sweep(std::span<const IpPrefix> keep_routes,
                    std::span<const IpPrefix> keep_local) override {
    log.push_back("sweep " + std::to_string(keep_routes.size()) + " " +
                  std::to_string(keep_local.size()));
    const auto kept = [](std::span<const IpPrefix> keep, const IpPrefix& p) {
      return std::find(keep.begin(), keep.end(), p) != keep.end();
    };
    auto n = leftovers;
    leftovers = 0;
    std::erase_if(routes, [&](const auto& r) { return !kept(keep_routes, r.first) && ++n; });
    std::erase_if(locals, [&](const auto& v) { return !kept(keep_local, v) && ++n; });
    return n;
  }
  RouteOpResult add_local(const IpPrefix& vip) override {
    log.push_back("local+ " + vip.to_string());
    locals.insert(vip);
    return {true, {}};
  }
  RouteOpResult remove_local(const IpPrefix& vip) override {
    log.push_back("local- " + vip.to_string());
    locals.erase(vip);
    return {true, {}};
  }
  std::vector<std::uint32_t> installed(const IpPrefix& vip) override {
    std::vector<std::uint32_t> out;
    for (const auto& [v, m] : routes)
      if (v == vip) out.push_back(m);
    return out;
  }
  [[nodiscard]] std::size_t count(const IpPrefix& vip) const {
    std::size_t n = 0;
    for (const auto& r : routes) n += r.first == vip ? 1 : 0;
    return n;
  }

  std::set<std::pair<IpPrefix, std::uint32_t>> routes;
  std::set<IpPrefix> locals;
  std::vector<std::string> log;
  std::size_t leftovers = 0;
  bool fail = false;
};

const IpPrefix kVip = *IpPrefix::parse("198.19.0.100/32");

vipd::config::Instance route_config() {
  vipd::config::Instance c;
  c.name = "web";
  c.mode = vipd::config::InstanceMode::Route;
  c.priority = 150;
  c.vips = {kVip};
  c.route = {198, 99};
  return c;
}

vipd::vrrp::Weighted healthy(std::uint8_t effective) {
  vipd::vrrp::Weighted w;
  w.effective = effective;
  return w;
}

vipd::vrrp::Weighted faulty(const std::string& check) {
  vipd::vrrp::Weighted w;
  w.effective = 150;
  w.fault = check;
  return w;
}

}  // namespace

TEST_CASE("route metric: higher priority gives a lower metric, never 0", "[route]") {
  using vipd::vrrp::route_metric;
  CHECK(route_metric(150) == 106);
  CHECK(route_metric(254) == 2);
  CHECK(route_metric(1) == 255);
  CHECK(route_metric(255) == 1);
  for (int p = 1; p < 255; ++p)
    CHECK(route_metric(static_cast<std::uint8_t>(p + 1)) <
          route_metric(static_cast<std::uint8_t>(p)));
}

TEST_CASE("route instance: sweeps leftovers, then installs while healthy", "[route]") {
  ManualScheduler sched;
  FakeRoutes routes;
  routes.leftovers = 2;
  vipd::app::RouteInstance inst(route_config(), routes, sched);
  inst.apply_weights(healthy(150));  // before start: nothing touches the kernel
  CHECK(routes.log.empty());
  inst.start();
  REQUIRE(routes.log.size() >= 3);
  CHECK(routes.log[0] == "sweep 0 1");
  CHECK(routes.log[1] == "local+ 198.19.0.100/32");
  CHECK(routes.log[2] == "install 198.19.0.100/32 106");
  CHECK(inst.stats().swept == 2);
  CHECK(inst.installed());
  CHECK(inst.metric() == 106);
  CHECK(routes.installed(kVip) == std::vector<std::uint32_t>{106});
  CHECK(routes.locals.count(kVip) == 1);
  CHECK(inst.reason() == "healthy: priority 150, metric 106");
}

TEST_CASE("route instance: a cold node with a weight-0 check down installs nothing", "[route]") {
  ManualScheduler sched;
  FakeRoutes routes;
  vipd::app::RouteInstance inst(route_config(), routes, sched);
  inst.apply_weights(faulty("nginx-pid"));
  inst.start();
  CHECK(routes.routes.empty());
  CHECK_FALSE(inst.installed());
  CHECK(inst.reason() == "check nginx-pid is down (weight 0): routes withdrawn");
  inst.apply_weights(healthy(150));
  CHECK(routes.count(kVip) == 1);
}

TEST_CASE("route instance: a priority change replaces the route, never zero or two routes",
          "[route]") {
  ManualScheduler sched;
  FakeRoutes routes;
  vipd::app::RouteInstance inst(route_config(), routes, sched);
  inst.apply_weights(healthy(150));
  inst.start();
  routes.log.clear();
  inst.apply_weights(healthy(90));  // nginx-http down: -60
  REQUIRE(routes.log == std::vector<std::string>{"install 198.19.0.100/32 166 replaces 106"});
  CHECK(routes.installed(kVip) == std::vector<std::uint32_t>{166});
  CHECK(inst.stats().replaces == 1);
  CHECK(inst.stats().installs == 1);
  routes.log.clear();
  inst.apply_weights(healthy(90));  // unchanged: no netlink traffic at all
  CHECK(routes.log.empty());
  inst.apply_weights(healthy(150));
  CHECK(routes.installed(kVip) == std::vector<std::uint32_t>{106});
}

TEST_CASE("route instance: fault withdraws, recovery installs, stop withdraws and unlocals",
          "[route]") {
  ManualScheduler sched;
  FakeRoutes routes;
  vipd::app::RouteInstance inst(route_config(), routes, sched);
  inst.apply_weights(healthy(150));
  inst.start();
  inst.apply_weights(faulty("nginx-pid"));
  CHECK(routes.routes.empty());
  CHECK(routes.locals.count(kVip) == 1);  // the node still answers in-flight traffic
  CHECK(inst.stats().withdrawals == 1);
  inst.apply_weights(healthy(150));
  CHECK(routes.count(kVip) == 1);
  routes.log.clear();
  inst.shutdown();
  CHECK(routes.log ==
        std::vector<std::string>{"withdraw 198.19.0.100/32 106", "local- 198.19.0.100/32"});
  CHECK(routes.routes.empty());
  CHECK(routes.locals.empty());
  CHECK(inst.reason() == "stopped: routes withdrawn");
}

TEST_CASE("route instance: drain withdraws, undrain installs", "[route]") {
  ManualScheduler sched;
  FakeRoutes routes;
  vipd::app::RouteInstance inst(route_config(), routes, sched);
  inst.apply_weights(healthy(150));
  inst.start();
  inst.set_drained(true, "drain requested");
  CHECK(routes.routes.empty());
  CHECK(inst.reason() == "drained: drain requested");
  inst.set_drained(false, "");
  CHECK(routes.count(kVip) == 1);
}

TEST_CASE("route instance: a failed install is shown, counted and retried after a second",
          "[route]") {
  ManualScheduler sched;
  FakeRoutes routes;
  routes.fail = true;
  vipd::app::RouteInstance inst(route_config(), routes, sched);
  inst.apply_weights(healthy(150));
  inst.start();
  CHECK_FALSE(inst.installed());
  CHECK(inst.stats().errors == 1);
  CHECK(inst.routes().at(0).error == "injected");
  CHECK(sched.pending() == 1);
  sched.advance(std::chrono::milliseconds(999));
  CHECK(inst.stats().errors == 1);
  sched.advance(std::chrono::milliseconds(1));
  CHECK(inst.stats().errors == 2);  // retried, failed again, re-armed
  CHECK(sched.pending() == 1);
  routes.fail = false;
  sched.advance(std::chrono::seconds(1));
  CHECK(inst.installed());
  CHECK(inst.routes().at(0).error.empty());
  CHECK(sched.pending() == 0);
}

TEST_CASE("route instance: priority and track change in place, the table does not", "[route]") {
  ManualScheduler sched;
  FakeRoutes routes;
  vipd::app::RouteInstance inst(route_config(), routes, sched);
  auto c = route_config();
  c.priority = 200;
  CHECK(inst.can_update(c));
  c.route.table = 199;
  CHECK_FALSE(inst.can_update(c));
  auto v = route_config();
  v.vips.push_back(*IpPrefix::parse("198.19.0.101/32"));
  CHECK_FALSE(inst.can_update(v));
}

namespace {

const IpPrefix kStays = kVip;
const IpPrefix kGoes = *IpPrefix::parse("198.19.0.101/32");
const IpPrefix kComes = *IpPrefix::parse("198.19.0.102/32");

vipd::config::Instance reload_config(std::uint32_t table, std::vector<IpPrefix> vips) {
  auto c = route_config();
  c.route.table = table;
  c.vips = std::move(vips);
  return c;
}

}  // namespace

TEST_CASE("route instance reload, same table: the staying VIP is taken over, never withdrawn",
          "[route]") {
  ManualScheduler sched;
  FakeRoutes routes;  // one (table, protocol): both instances write the same kernel routes
  vipd::app::RouteInstance old(reload_config(198, {kStays, kGoes}), routes, sched);
  old.apply_weights(healthy(150));
  old.start();
  routes.log.clear();
  vipd::app::RouteInstance next(reload_config(198, {kStays, kComes}), routes, sched);
  next.adopt(old);
  next.apply_weights(healthy(90));  // the reload also lowered the priority
  next.start({&old, &next});
  old.shutdown();
  // The sweep keeps the adopted route and what the old instance still owns; the staying VIP's
  // new metric replaces the old one (delete-then-add in one datagram in the netlink adapter).
  CHECK(routes.log == std::vector<std::string>{
                          "sweep 3 4",
                          "install 198.19.0.100/32 166 replaces 106",
                          "local+ 198.19.0.102/32",
                          "install 198.19.0.102/32 166",
                          "withdraw 198.19.0.101/32 106",
                          "local- 198.19.0.101/32",
                      });
  CHECK(routes.installed(kStays) == std::vector<std::uint32_t>{166});
  CHECK(routes.installed(kComes) == std::vector<std::uint32_t>{166});
  CHECK(routes.installed(kGoes).empty());
  CHECK(routes.locals == std::set<IpPrefix>{kStays, kComes});
  CHECK(next.installed());
  CHECK(next.stats().replaces == 1);
}

TEST_CASE("route instance reload, new table: the new routes go in before the old ones go",
          "[route]") {
  ManualScheduler sched;
  FakeRoutes t198;
  FakeRoutes t199;
  vipd::app::RouteInstance old(reload_config(198, {kStays, kGoes}), t198, sched);
  old.apply_weights(healthy(150));
  old.start();
  t198.log.clear();
  vipd::app::RouteInstance next(reload_config(199, {kStays}), t199, sched);
  next.adopt(old);  // same protocol: the local route is handed over, the table route is not
  next.apply_weights(healthy(150));
  next.start({&old, &next});
  CHECK(t199.log == std::vector<std::string>{"sweep 0 3", "install 198.19.0.100/32 106"});
  CHECK(t198.log.empty());  // nothing withdrawn before the new table holds the route
  old.shutdown();
  CHECK(t198.log == std::vector<std::string>{"withdraw 198.19.0.100/32 106",
                                             "withdraw 198.19.0.101/32 106",
                                             "local- 198.19.0.101/32"});
  CHECK(t199.installed(kStays) == std::vector<std::uint32_t>{106});
}

TEST_CASE("route instance: two instances sharing table and protocol keep each other's routes",
          "[route]") {
  ManualScheduler sched;
  FakeRoutes routes;
  vipd::app::RouteInstance a(reload_config(198, {kStays}), routes, sched);
  vipd::app::RouteInstance b(reload_config(198, {kComes}), routes, sched);
  a.apply_weights(healthy(150));
  b.apply_weights(healthy(150));
  a.start({&a, &b});
  b.start({&a, &b});
  CHECK(routes.installed(kStays) == std::vector<std::uint32_t>{106});
  CHECK(routes.installed(kComes) == std::vector<std::uint32_t>{106});
  CHECK(routes.locals == std::set<IpPrefix>{kStays, kComes});
  CHECK(b.stats().swept == 0);
}
