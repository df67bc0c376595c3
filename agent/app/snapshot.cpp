// The agent's side of the API: the snapshot of the loop state and the Controller the routes call.
#include <chrono>
#include <ctime>
#include <filesystem>
#include <future>

#include <spdlog/spdlog.h>

#include "app/agent.h"

namespace vipd::app {
namespace {

using namespace std::chrono_literals;

std::string rfc3339(std::chrono::system_clock::time_point t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

/// Runs `work` on the loop thread and waits up to a second for its result.
template <typename T, typename Work>
std::optional<T> on_loop(EventLoop& loop, Work work) {
  auto promise = std::make_shared<std::promise<T>>();
  auto future = promise->get_future();
  loop.post([promise, work = std::move(work)]() mutable {
    try {
      promise->set_value(work());
    } catch (...) {
      promise->set_exception(std::current_exception());
    }
  });
  if (future.wait_for(1s) != std::future_status::ready) return std::nullopt;
  try {
    return future.get();
  } catch (const std::exception& e) {
    spdlog::error("API: the loop failed to answer: {}", e.what());
    return std::nullopt;
  }
}

}  // namespace

class Agent::Api final : public Controller {
 public:
  explicit Api(Agent& agent) : agent_(agent) {}
  std::optional<exporters::Snapshot> snapshot() override {
    return on_loop<exporters::Snapshot>(agent_.loop_, [this] {
      auto s = agent_.snapshot();
      agent_.metrics_.update(s);
      return s;
    });
  }
  std::string metrics_text() override { return agent_.metrics_.serialize(); }
  [[nodiscard]] vrrp::Duration heartbeat_age() const override {
    return EventLoop::now() - agent_.loop_.heartbeat();
  }
  std::optional<std::vector<std::string>> set_drained(const std::string& only,
                                                      bool drain) override {
    return on_loop<std::vector<std::string>>(
        agent_.loop_, [this, only, drain] { return agent_.set_drained(only, drain); });
  }

 private:
  Agent& agent_;
};

exporters::Snapshot Agent::snapshot() {
  const auto now = EventLoop::now();
  const auto wall = std::chrono::system_clock::now();
  exporters::Snapshot s;
  s.node = config_.agent.node_name;
  s.version = version_;
  s.uptime_seconds = vrrp::to_seconds(now - started_at_);
  s.realtime = {realtime_.requested, realtime_.policy, realtime_.priority,
                realtime_.error.empty() ? std::nullopt : std::optional(realtime_.error)};
  // The address set is fed by netlink events; read what is queued first, so that a VIP added
  // a moment ago (its event already queued by the kernel) shows as present.
  if (watcher_) watcher_->dispatch();
  for (const auto& inst : instances_) {
    const auto& m = inst->machine();
    const auto& cfg = inst->config();
    exporters::InstanceView v;
    v.name = cfg.name;
    v.vrid = cfg.vrid;
    v.interface = cfg.interface;
    v.family = cfg.family == vrrp::Family::V6 ? "ipv6" : "ipv4";
    v.version = cfg.version;
    v.state = m.state();
    const auto& t = inst->last_transition();
    const auto age = now - (t.at == TimePoint{} ? started_at_ : t.at);
    v.since = rfc3339(wall - std::chrono::duration_cast<std::chrono::system_clock::duration>(age));
    v.since_seconds = vrrp::to_seconds(age);
    v.reason = t.explanation;
    if (waiting_.count(cfg.name)) {
      std::string list;
      for (const auto& c : unsettled_checks(*inst)) list += (list.empty() ? "" : ", ") + c;
      v.reason = "waiting for the first results of checks " + list + " before the first election";
    }
    v.reason_code = std::string(vrrp::to_string(t.reason));
    v.base_priority = cfg.priority;
    v.effective_priority = m.effective_priority();
    for (const auto& c : inst->weights().contributions)
      v.contributions.push_back({c.check, c.weight, c.up, c.applied});
    const auto& master = m.master();
    if (m.state() == vrrp::State::Master) {
      v.master_address = m.params().primary_address.to_string();
      v.master_priority = m.effective_priority();
      v.master_last_seen_seconds = 0.0;
    } else if (master.address) {
      v.master_address = master.address->to_string();
      v.master_priority = master.priority;
      if (master.last_seen) v.master_last_seen_seconds = vrrp::to_seconds(now - *master.last_seen);
    }
    v.advert_interval_ms = std::chrono::duration<double, std::milli>(cfg.advert_interval).count();
    v.master_down_interval_ms =
        std::chrono::duration<double, std::milli>(m.master_down_interval()).count();
    const auto present = addresses_ ? inst->vips_present(*addresses_) : std::vector<bool>{};
    for (std::size_t i = 0; i < cfg.vips.size(); ++i)
      v.vips.push_back(
          {cfg.vips[i].to_string(), addresses_ ? std::optional<bool>(present[i]) : std::nullopt});
    v.fault = inst->fault();
    v.warnings = inst->warnings();
    v.checksum = inst->trust().checksum_status();
    v.checksum_form = inst->trust().checksum_form();
    if (const auto& a = inst->trust().policy()) {
      exporters::AuthView av{std::string(vrrp::auth::to_string(a->mode)),
                             a->anti_replay == vrrp::auth::AntiReplay::Time ? "time" : "monotonic",
                             static_cast<int>(a->window.count()),
                             a->active_key,
                             {}};
      for (const auto& k : a->keys) av.key_ids.push_back(k.id);  // ids only, never the bytes
      v.auth = std::move(av);
    }
    v.drained = m.drained();
    v.holding_vips = m.holding_vips();
    v.two_node_active = m.two_node_active();
    for (const auto& p : m.peers_seen()) v.peers_seen.push_back(p.to_string());
    v.counters = inst->stats();
    s.instances.push_back(std::move(v));
  }
  for (const auto& job : routes_) {
    const auto& r = *job.instance;
    const auto& cfg = r.config();
    exporters::RouteInstanceView v;
    v.name = cfg.name;
    v.table = cfg.route.table;
    v.protocol = cfg.route.protocol;
    v.installed = r.installed();
    v.metric = r.metric();
    v.reason = r.reason();
    const auto age = now - (r.since() == TimePoint{} ? started_at_ : r.since());
    v.since = rfc3339(wall - std::chrono::duration_cast<std::chrono::system_clock::duration>(age));
    v.since_seconds = vrrp::to_seconds(age);
    v.base_priority = cfg.priority;
    v.effective_priority = r.weights().effective;
    for (const auto& c : r.weights().contributions)
      v.contributions.push_back({c.check, c.weight, c.up, c.applied});
    v.fault = r.weights().fault;
    v.drained = r.drained();
    for (const auto& route : r.routes())
      v.vips.push_back({route.vip.to_string(), route.metric, route.local, route.error});
    v.counters = r.stats();
    s.route_instances.push_back(std::move(v));
  }
  for (const auto& c : config_.checks) {
    exporters::CheckView v;
    v.name = c.name;
    v.type = std::string(config::to_string(c.type));
    if (auto it = checks_.find(c.name); it != checks_.end() && it->second.seen) {
      const auto& u = it->second.last;
      v.ran = true;
      v.up = u.up;
      v.consecutive = u.consecutive;
      v.last_duration_ms = u.duration.count() * 1000;
      v.last_error = u.error;
      v.value = u.value;
    }
    s.checks.push_back(std::move(v));
  }
  for (const auto& g : groups_) {
    exporters::GroupView v;
    v.name = g->config().name;
    v.state = std::string(to_string(g->state()));
    v.since_seconds =
        vrrp::to_seconds(now - (g->since() == TimePoint{} ? started_at_ : g->since()));
    v.reason = g->reason();
    for (const auto* m : g->members()) v.members.push_back(m->config().name);
    v.faulty_member = g->faulty_member();
    v.transitions = g->transitions();
    v.warnings = g->warnings();
    s.groups.push_back(std::move(v));
  }
  s.counters = stats_;
  s.config_reload_success = last_reload_ok_;
  s.config_last_reload_unix = last_reload_unix_;
  return s;
}

std::vector<std::string> Agent::set_drained(const std::string& only, bool drain) {
  std::vector<std::string> changed;
  const auto why = drain ? "drain requested through the API" : "undrain requested through the API";
  for (auto& inst : instances_) {
    const auto& name = inst->config().name;
    if (!only.empty() && name != only) continue;
    changed.push_back(name);
    drained_.set(name, drain);
    inst->set_drained(drain, why);
  }
  for (auto& job : routes_) {
    const auto& name = job.instance->config().name;
    if (!only.empty() && name != only) continue;
    changed.push_back(name);
    drained_.set(name, drain);
    job.instance->set_drained(drain, why);
  }
  return changed;
}

void Agent::apply_saved_drain(Instance& inst) {
  if (!drained_.contains(inst.config().name)) return;
  inst.set_drained(true,
                   "drained before this start (" + drained_.path() + "; vipd undrain to undo)");
}

bool Agent::start_api() {
  const auto& listen = config_.agent.api_listen;
  if (listen.empty()) return true;
  api_controller_ = std::make_unique<Api>(*this);
  api_ = std::make_unique<exporters::ApiServer>(
      api_routes(*api_controller_, config_.agent.api_token_file));
  std::string error;
  if (!api_->start(listen, error)) {
    spdlog::error("API: {}", error);
    api_.reset();
    return false;
  }
  spdlog::info("API listening on {} (/status /metrics /healthz)", listen);
  return true;
}

}  // namespace vipd::app
