// Route mode (issue 16): one instance whose VIPs float by routing. While the instance is healthy
// it keeps exactly one host route per VIP in its kernel table, metric from the effective priority
// (vrrp::route_metric); the host's FRR or BIRD announces it by BGP. No VRRP: the check tracker's
// weighting (vrrp::weigh) alone decides. Each VIP is answered locally through a `local` route.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "app/ports.h"
#include "app/stats.h"
#include "config/config.h"
#include "vrrp/priority.h"

namespace vipd::app {

/// What /status shows about one VIP's route.
struct RouteView {
  vrrp::IpPrefix vip;
  std::optional<std::uint32_t> metric;  // installed with this metric; nullopt: not installed
  bool local = false;                   // the `local` route is in place
  std::string error;                    // the last failure, "" after a success
};

class RouteInstance {
 public:
  RouteInstance(config::Instance cfg, RouteTable& routes, Scheduler& scheduler);
  ~RouteInstance();
  RouteInstance(const RouteInstance&) = delete;
  RouteInstance& operator=(const RouteInstance&) = delete;

  /// Sweeps this protocol's leftovers from an earlier run, adds the `local` routes, then installs
  /// the routes if the last weighting allows it. The sweep keeps what `running` instances (the
  /// others of this agent) and this instance's adopted routes hold.
  void start(const std::vector<const RouteInstance*>& running = {});
  /// A reload replaces `old` (same name; its table, protocol or VIPs changed) by this instance,
  /// before this one starts: the routes of VIPs that stay in the same table and protocol are taken
  /// over (a new metric replaces them in one datagram, never a withdrawal); `old` no longer owns
  /// them, so its shutdown — after this start — withdraws only the rest (make before break).
  void adopt(RouteInstance& old);
  /// Withdraws every route, then removes the `local` routes (graceful stop or removal by reload).
  void shutdown();
  /// The tracked checks' weighting changed: install, replace (new metric) or withdraw.
  void apply_weights(const vrrp::Weighted& weighted);
  /// Planned handover: a drained instance withdraws its routes as if it were faulty.
  void set_drained(bool drained, const std::string& why);

  /// Only priority, track and notify changed: applied in place (the route's metric follows).
  [[nodiscard]] bool can_update(const config::Instance& cfg) const;
  void update(const config::Instance& cfg);

  [[nodiscard]] const config::Instance& config() const { return cfg_; }
  [[nodiscard]] const vrrp::Weighted& weights() const { return weighted_; }
  [[nodiscard]] const RouteStats& stats() const { return stats_; }
  [[nodiscard]] std::vector<RouteView> routes() const { return views_; }
  /// True while every VIP's route is installed.
  [[nodiscard]] bool installed() const;
  /// The metric the routes carry (or would carry when installed).
  [[nodiscard]] std::uint32_t metric() const;
  /// Why the routes are (not) installed, e.g. "check nginx-pid is down (weight 0)".
  [[nodiscard]] const std::string& reason() const { return reason_; }
  [[nodiscard]] TimePoint since() const { return since_; }
  [[nodiscard]] bool drained() const { return drained_; }

 private:
  /// Brings the kernel to what the instance wants; a failure is retried after a second.
  void reconcile();
  void set_reason(std::string reason);

  config::Instance cfg_;
  RouteTable& routes_;
  Scheduler& sched_;
  vrrp::Weighted weighted_;
  std::vector<RouteView> views_;
  RouteStats stats_;
  std::string reason_ = "not started";
  TimePoint since_{};
  std::optional<Scheduler::TimerId> retry_;
  bool started_ = false;
  bool stopping_ = false;
  bool drained_ = false;
  std::string drain_why_;
};

}  // namespace vipd::app
