// The agent's API: snapshot of the loop state, the route table, and the metrics hooks.
#include <chrono>
#include <ctime>
#include <future>

#include <spdlog/spdlog.h>

#include "app/agent.h"
#include "exporters/status_json.h"

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

double seconds(vrrp::Duration d) { return std::chrono::duration<double>(d).count(); }

const char* check_type_name(config::CheckType t) {
  switch (t) {
    case config::CheckType::Http:
      return "http";
    case config::CheckType::Pid:
      return "pid";
    case config::CheckType::Tcp:
      return "tcp";
    case config::CheckType::Exec:
      return "exec";
    case config::CheckType::File:
      return "file";
    case config::CheckType::Link:
      return "link";
  }
  return "?";
}

}  // namespace

exporters::Snapshot Agent::snapshot() const {
  const auto now = EventLoop::now();
  const auto wall = std::chrono::system_clock::now();
  exporters::Snapshot s;
  s.node = config_.agent.node_name;
  s.version = version_;
  s.uptime_seconds = seconds(now - started_at_);
  for (const auto& inst : instances_) {
    const auto& m = inst->machine();
    const auto& cfg = inst->config();
    exporters::InstanceView v;
    v.name = cfg.name;
    v.vrid = cfg.vrid;
    v.interface = cfg.interface;
    v.version = cfg.version;
    v.state = std::string(vrrp::to_string(m.state()));
    const auto& t = inst->last_transition();
    const auto age = now - (t.at == TimePoint{} ? started_at_ : t.at);
    v.since = rfc3339(wall - std::chrono::duration_cast<std::chrono::system_clock::duration>(age));
    v.since_seconds = seconds(age);
    v.reason = t.explanation;
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
      if (master.last_seen) v.master_last_seen_seconds = seconds(now - *master.last_seen);
    }
    v.advert_interval_ms = std::chrono::duration<double, std::milli>(cfg.advert_interval).count();
    v.master_down_interval_ms =
        std::chrono::duration<double, std::milli>(m.master_down_interval()).count();
    const auto present = inst->vips_present();
    for (std::size_t i = 0; i < cfg.vips.size(); ++i)
      v.vips.push_back({cfg.vips[i].to_string(), i < present.size() && present[i]});
    v.fault = inst->fault();
    v.warnings = inst->warnings();
    const auto& st = inst->stats();
    v.adverts_sent = st.adverts_sent;
    v.adverts_received = st.adverts_received;
    v.garp_sent = st.garp_sent;
    v.vip_readded = st.vip_readded;
    v.failovers = st.failovers;
    if (st.last_failover_seconds >= 0) v.last_failover_seconds = st.last_failover_seconds;
    for (const auto& [key, count] : st.transitions)
      v.transitions.push_back({std::string(vrrp::to_string(std::get<0>(key))),
                               std::string(vrrp::to_string(std::get<1>(key))),
                               std::string(vrrp::to_string(std::get<2>(key))), count});
    s.instances.push_back(std::move(v));
  }
  for (const auto& c : config_.checks) {
    exporters::CheckView v;
    v.name = c.name;
    v.type = check_type_name(c.type);
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
  for (std::size_t r = 0; r < vrrp::kDropReasonCount; ++r)
    s.dropped[std::string(vrrp::to_string(static_cast<vrrp::DropReason>(r)))] = stats_.dropped[r];
  s.checksum_mode_mismatch = stats_.checksum_mode_mismatch;
  s.address_list_mismatch = stats_.address_list_mismatch;
  s.vip_operations = stats_.vip_operations;
  s.config_reload_success = last_reload_ok_;
  s.config_last_reload_unix = last_reload_unix_;
  return s;
}

std::optional<exporters::Snapshot> Agent::snapshot_from_any_thread() {
  auto promise = std::make_shared<std::promise<exporters::Snapshot>>();
  auto future = promise->get_future();
  loop_.post([this, promise] {
    auto s = snapshot();
    metrics_.update(s);
    promise->set_value(std::move(s));
  });
  if (future.wait_for(1s) != std::future_status::ready) return std::nullopt;
  return future.get();
}

std::vector<exporters::Route> Agent::routes() {
  using exporters::Request;
  using exporters::Response;
  auto unavailable = [] {
    return Response{503, "application/json",
                    R"({"error": "the VRRP loop did not answer within 1s"})"
                    "\n"};
  };
  return {
      {"GET", "/status", "state of every instance and check, with the reason for each decision",
       [this, unavailable](const Request&) {
         auto s = snapshot_from_any_thread();
         if (!s) return unavailable();
         return Response{200, "application/json", exporters::status_json(*s).dump(2) + "\n"};
       }},
      {"GET", "/metrics", "Prometheus metrics (text format 0.0.4)",
       [this](const Request&) {
         // Gauges are refreshed from a snapshot when the loop answers; a stalled loop still
         // gets its last values served (and /healthz says it is stalled).
         snapshot_from_any_thread();
         return Response{200, "text/plain; version=0.0.4; charset=utf-8", metrics_.serialize()};
       }},
      {"GET", "/healthz", "200 while the VRRP loop is alive (its heartbeat is under 1s old)",
       [this](const Request&) {
         const auto age = EventLoop::now() - loop_.heartbeat();
         if (age < 1s) return Response{200, "text/plain", "ok\n"};
         return Response{
             503, "text/plain",
             "stalled: the VRRP loop has not run for " +
                 std::to_string(
                     std::chrono::duration_cast<std::chrono::milliseconds>(age).count()) +
                 " ms\n"};
       }},
  };
}

bool Agent::start_api() {
  const auto& listen = config_.agent.api_listen;
  if (listen.empty()) return true;
  api_ = std::make_unique<exporters::ApiServer>(routes());
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
