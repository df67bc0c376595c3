// The agent's API: snapshot of the loop state, the route table, and the metrics hooks.
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>

#include <spdlog/spdlog.h>

#include "app/agent.h"
#include "app/drain_request.h"
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

/// Compares in time independent of where the strings differ (no early exit on a mismatch).
bool constant_time_equal(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const std::size_t n = std::max(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

exporters::Response json_response(int status, const nlohmann::json& body) {
  return {status, "application/json", body.dump(2) + "\n"};
}

}  // namespace

exporters::Snapshot Agent::snapshot() const {
  const auto now = EventLoop::now();
  const auto wall = std::chrono::system_clock::now();
  exporters::Snapshot s;
  s.node = config_.agent.node_name;
  s.version = version_;
  s.uptime_seconds = seconds(now - started_at_);
  s.realtime = {realtime_.requested, realtime_.policy, realtime_.priority,
                realtime_.error.empty() ? std::nullopt : std::optional(realtime_.error)};
  // One address dump for every instance (this runs on the loop thread: 50 instances must not
  // mean 50 netlink dumps between two adverts).
  const auto addresses = net::VipManager::addresses();
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
    const auto present = inst->vips_present(addresses);
    for (std::size_t i = 0; i < cfg.vips.size(); ++i)
      v.vips.push_back({cfg.vips[i].to_string(), i < present.size() && present[i]});
    v.fault = inst->fault();
    v.warnings = inst->warnings();
    v.drained = m.drained();
    v.holding_vips = m.holding_vips();
    v.two_node_active = m.two_node_active();
    for (const auto& p : m.peers_seen()) v.peers_seen.push_back(p.to_string());
    const auto& st = inst->stats();
    v.adverts_sent = st.adverts_sent;
    v.adverts_received = st.adverts_received;
    v.garp_sent = st.garp_sent;
    v.vip_readded = st.vip_readded;
    v.connections_reset = st.connections_reset;
    v.connection_reset_failures = st.connection_reset_failures;
    v.failovers = st.failovers;
    v.notices = st.notices;
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
  for (std::size_t r = 0; r < vrrp::kDropReasonCount; ++r)
    s.dropped[std::string(vrrp::to_string(static_cast<vrrp::DropReason>(r)))] = stats_.dropped[r];
  s.checksum_mode_mismatch = stats_.checksum_mode_mismatch;
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
  std::vector<exporters::Route> table = {
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
      {"GET", "/healthz", "200 while the VRRP loop is alive (its heartbeat is under 750ms old)",
       [this](const Request&) {
         // The loop stamps its heartbeat on every iteration and wakes at least every 250 ms
         // when idle (EventLoop's heartbeat interval): 750 ms is three missed wake-ups, so a
         // stalled loop reads 503 within 750 ms — under the documented "within one second"
         // whatever the heartbeat's age when the stall began (a 1 s threshold could only
         // promise 1 s plus the request's own latency).
         const auto age = EventLoop::now() - loop_.heartbeat();
         if (age < 750ms) return Response{200, "text/plain", "ok\n"};
         return Response{
             503, "text/plain",
             "stalled: the VRRP loop has not run for " +
                 std::to_string(
                     std::chrono::duration_cast<std::chrono::milliseconds>(age).count()) +
                 " ms\n"};
       }},
  };
  if (!config_.agent.api_token_file.empty()) {
    table.push_back({"POST", "/v1/drain",
                     "planned handover: resign, keep the VIPs until a peer is master, then "
                     "release (bearer token; body {\"instance\": NAME} or all)",
                     [this](const Request& r) { return drain_route(r, true); }});
    table.push_back({"POST", "/v1/undrain", "undo a drain (bearer token)",
                     [this](const Request& r) { return drain_route(r, false); }});
  }
  return table;
}

exporters::Response Agent::drain_route(const exporters::Request& request, bool drain) {
  // Bearer token from a file, re-read on every call so it can be rotated without a reload.
  std::ifstream in(config_.agent.api_token_file);
  std::stringstream content;
  content << in.rdbuf();
  const std::string token = trim(content.str());
  if (!in || token.empty())
    return json_response(503, {{"error", "the token file " + config_.agent.api_token_file +
                                             " cannot be read or is empty"}});
  const auto auth = request.headers.find("authorization");
  if (auth == request.headers.end() || auth->second.rfind("Bearer ", 0) != 0)
    return json_response(401, {{"error", "missing 'Authorization: Bearer TOKEN' header"}});
  if (!constant_time_equal(trim(auth->second.substr(7)), token))
    return json_response(403, {{"error", "wrong token"}});
  const auto parsed = parse_drain_body(request.body);
  if (const auto* bad = std::get_if<DrainBodyError>(&parsed))
    return json_response(400, {{"error", bad->reason}});
  const std::string only = std::get<DrainTarget>(parsed).instance.value_or("");
  auto promise = std::make_shared<std::promise<exporters::Response>>();
  auto future = promise->get_future();
  loop_.post([this, promise, only, drain] {
    nlohmann::json changed = nlohmann::json::array();
    for (auto& inst : instances_) {
      const auto& name = inst->config().name;
      if (!only.empty() && name != only) continue;
      changed.push_back(name);
      if (drain) {
        drained_.insert(name);
        inst->set_drained(true, "drain requested through the API");
      } else {
        drained_.erase(name);
        inst->set_drained(false, "undrain requested through the API");
      }
    }
    if (changed.empty()) {
      promise->set_value(json_response(404, {{"error", "no instance named '" + only + "'"}}));
      return;
    }
    save_drained();
    promise->set_value(json_response(
        202, {{drain ? "drained" : "undrained", changed},
              {"message", drain ? "a MASTER advertises priority 0 and releases its VIPs once "
                                  "another router is heard as master; watch /status"
                                : "back to normal priority and preemption"}}));
  });
  if (future.wait_for(1s) != std::future_status::ready)
    return json_response(503, {{"error", "the VRRP loop did not answer within 1s"}});
  return future.get();
}

void Agent::save_drained() {
  const std::filesystem::path dir = config_.agent.state_dir;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  const auto tmp = dir / "drained.tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    for (const auto& name : drained_) out << name << "\n";
    if (!out) {
      spdlog::error(
          "cannot save the drained state to {}: the drain holds until vipd restarts (check that "
          "state_dir exists and is writable)",
          tmp.string());
      return;
    }
  }
  std::filesystem::rename(tmp, dir / "drained", ec);
  if (ec) spdlog::error("cannot save the drained state in {}: {}", dir.string(), ec.message());
}

void Agent::load_drained() {
  std::ifstream in(std::filesystem::path(config_.agent.state_dir) / "drained");
  std::string line;
  while (std::getline(in, line))
    if (!trim(line).empty()) drained_.insert(trim(line));
}

void Agent::apply_saved_drain(Instance& inst) {
  if (drained_.count(inst.config().name) == 0) return;
  inst.set_drained(true, "drained before this start (" +
                             (std::filesystem::path(config_.agent.state_dir) / "drained").string() +
                             "; vipd undrain to undo)");
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
