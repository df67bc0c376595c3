// RouteInstance (route_instance.h): the route-mode job, driven by the check weighting.
#include "app/route_instance.h"

#include <algorithm>
#include <utility>

#include <spdlog/spdlog.h>

#include "vrrp/route_metric.h"

namespace vipd::app {
namespace {

constexpr auto kRetry = std::chrono::seconds(1);

}  // namespace

RouteInstance::RouteInstance(config::Instance cfg, RouteTable& routes, Scheduler& scheduler)
    : cfg_(std::move(cfg)), routes_(routes), sched_(scheduler) {
  weighted_.effective = cfg_.priority;
  for (const auto& v : cfg_.vips) views_.push_back(RouteView{v, std::nullopt, false, {}});
  since_ = sched_.clock();
}

RouteInstance::~RouteInstance() {
  if (retry_) sched_.cancel_timer(*retry_);
}

std::uint32_t RouteInstance::metric() const { return vrrp::route_metric(weighted_.effective); }

bool RouteInstance::installed() const {
  return !views_.empty() && std::all_of(views_.begin(), views_.end(),
                                        [](const RouteView& v) { return v.metric.has_value(); });
}

void RouteInstance::set_reason(std::string reason) {
  if (reason == reason_) return;
  spdlog::info("instance {} (route): {}", cfg_.name, reason);
  reason_ = std::move(reason);
  since_ = sched_.clock();
}

void RouteInstance::adopt(RouteInstance& old) {
  if (old.cfg_.route.protocol != cfg_.route.protocol) return;  // other routes, other owner
  const bool same_table = old.cfg_.route.table == cfg_.route.table;
  for (auto& v : views_) {
    auto it = std::find_if(old.views_.begin(), old.views_.end(),
                           [&](const RouteView& o) { return o.vip == v.vip; });
    if (it == old.views_.end()) continue;
    if (same_table && it->metric) {
      v.metric = it->metric;
      it->metric.reset();
    }
    v.local = std::exchange(it->local, false);
  }
}

void RouteInstance::start(const std::vector<const RouteInstance*>& running) {
  started_ = true;
  std::vector<vrrp::IpPrefix> keep_routes;
  std::vector<vrrp::IpPrefix> keep_local = cfg_.vips;
  for (const auto& v : views_)
    if (v.metric) keep_routes.push_back(v.vip);
  for (const auto* other : running) {
    if (other == this || other->cfg_.route.protocol != cfg_.route.protocol) continue;
    const auto& vips = other->cfg_.vips;
    keep_local.insert(keep_local.end(), vips.begin(), vips.end());
    if (other->cfg_.route.table == cfg_.route.table)
      keep_routes.insert(keep_routes.end(), vips.begin(), vips.end());
  }
  try {
    const auto n = routes_.sweep(keep_routes, keep_local);
    stats_.swept += n;
    if (n > 0)
      spdlog::warn(
          "instance {} (route): removed {} route(s) of protocol {} left over from an "
          "earlier run",
          cfg_.name, n, cfg_.route.protocol);
  } catch (const std::exception& e) {
    ++stats_.errors;
    spdlog::error("instance {} (route): cannot sweep leftover routes: {}", cfg_.name, e.what());
  }
  reconcile();
}

void RouteInstance::shutdown() {
  stopping_ = true;
  reconcile();
  for (auto& v : views_) {
    if (!v.local) continue;
    const auto r = routes_.remove_local(v.vip);
    if (r.ok) {
      v.local = false;
    } else {
      ++stats_.errors;
      spdlog::error("instance {} (route): cannot remove the local route of {}: {}", cfg_.name,
                    v.vip.to_string(), r.error);
    }
  }
}

void RouteInstance::apply_weights(const vrrp::Weighted& weighted) {
  weighted_ = weighted;
  reconcile();
}

void RouteInstance::set_drained(bool drained, const std::string& why) {
  drained_ = drained;
  drain_why_ = why;
  reconcile();
}

bool RouteInstance::can_update(const config::Instance& cfg) const {
  auto a = cfg_;
  auto b = cfg;
  for (auto* c : {&a, &b}) {
    c->priority = 0;
    c->track.clear();
    c->notify.clear();
    c->pos = {};
  }
  return a == b;
}

void RouteInstance::update(const config::Instance& cfg) { cfg_ = cfg; }

void RouteInstance::reconcile() {
  if (!started_) return;
  const bool want = !stopping_ && !drained_ && !weighted_.fault;
  const auto wanted_metric = metric();
  if (stopping_) {
    set_reason("stopped: routes withdrawn");
  } else if (drained_) {
    set_reason("drained" + (drain_why_.empty() ? std::string() : ": " + drain_why_));
  } else if (weighted_.fault) {
    set_reason("check " + *weighted_.fault + " is down (weight 0): routes withdrawn");
  } else {
    set_reason("healthy: priority " + std::to_string(weighted_.effective) + ", metric " +
               std::to_string(wanted_metric));
  }
  bool failed = false;
  for (auto& v : views_) {
    if (want && !v.local) {
      const auto r = routes_.add_local(v.vip);
      v.local = r.ok;
      if (!r.ok) {
        ++stats_.errors;
        failed = true;
        v.error = "local route: " + r.error;
      }
    }
    if (want && v.metric != wanted_metric) {
      const auto r = routes_.install(v.vip, wanted_metric, v.metric);
      if (r.ok) {
        ++(v.metric ? stats_.replaces : stats_.installs);
        v.metric = wanted_metric;
        v.error.clear();
      } else {
        ++stats_.errors;
        failed = true;
        v.error = r.error;
        spdlog::error("instance {} (route): cannot install {} metric {}: {}", cfg_.name,
                      v.vip.to_string(), wanted_metric, r.error);
      }
    } else if (!want && v.metric) {
      const auto r = routes_.withdraw(v.vip, *v.metric);
      if (r.ok) {
        ++stats_.withdrawals;
        v.metric.reset();
        v.error.clear();
      } else {
        ++stats_.errors;
        failed = true;
        v.error = r.error;
        spdlog::error("instance {} (route): cannot withdraw {}: {}", cfg_.name, v.vip.to_string(),
                      r.error);
      }
    }
  }
  if (failed && !retry_ && !stopping_) {
    retry_ = sched_.add_timer(sched_.clock() + kRetry, [this] {
      retry_.reset();
      reconcile();
    });
  }
}

}  // namespace vipd::app
