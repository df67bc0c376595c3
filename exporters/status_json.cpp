// Snapshot → /status JSON.
#include "exporters/status_json.h"

namespace vipd::exporters {
namespace {

template <typename T>
nlohmann::json opt(const std::optional<T>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

}  // namespace

nlohmann::json status_json(const Snapshot& s) {
  nlohmann::json doc;
  doc["node"] = s.node;
  doc["version"] = s.version;
  doc["uptime_seconds"] = s.uptime_seconds;
  doc["instances"] = nlohmann::json::array();
  for (const auto& i : s.instances) {
    nlohmann::json contributions = nlohmann::json::array();
    for (const auto& c : i.contributions)
      contributions.push_back(
          {{"check", c.check}, {"weight", c.weight}, {"up", c.up}, {"applied", c.applied}});
    nlohmann::json vips = nlohmann::json::array();
    for (const auto& v : i.vips)
      vips.push_back({{"address", v.address}, {"present", opt(v.present)}});
    nlohmann::json transitions = nlohmann::json::array();
    const auto& c = i.counters;
    for (const auto& [key, count] : c.transitions)
      transitions.push_back({{"from", vrrp::to_string(std::get<0>(key))},
                             {"to", vrrp::to_string(std::get<1>(key))},
                             {"reason", vrrp::to_string(std::get<2>(key))},
                             {"count", count}});
    doc["instances"].push_back({
        {"name", i.name},
        {"vrid", i.vrid},
        {"interface", i.interface},
        {"family", i.family},
        {"version", i.version},
        {"state", vrrp::to_string(i.state)},
        {"since", i.since},
        {"since_seconds", i.since_seconds},
        {"reason", i.reason},
        {"reason_code", i.reason_code},
        {"priority",
         {{"base", i.base_priority},
          {"effective", i.effective_priority},
          {"contributions", contributions}}},
        {"master",
         {{"address", opt(i.master_address)},
          {"priority", i.master_priority},
          {"last_seen_seconds", opt(i.master_last_seen_seconds)}}},
        {"advert_interval_ms", i.advert_interval_ms},
        {"master_down_interval_ms", i.master_down_interval_ms},
        {"vips", vips},
        {"fault", opt(i.fault)},
        {"drained", i.drained},
        {"holding_vips", i.holding_vips},
        {"two_node_fast_takeover", i.two_node_active},
        {"peers_seen", i.peers_seen},
        {"warnings", i.warnings},
        {"checksum", i.checksum},
        {"auth", i.auth ? nlohmann::json{{"type", "hmac-sha256"},
                                         {"mode", i.auth->mode},
                                         {"anti_replay", i.auth->anti_replay},
                                         {"window_seconds", i.auth->window_seconds},
                                         {"active_key", i.auth->active_key},
                                         {"key_ids", i.auth->key_ids}}
                        : nlohmann::json(nullptr)},
        {"counters",
         {{"adverts_sent", c.adverts_sent},
          {"adverts_received", c.adverts_received},
          {"garp_sent", c.garp_sent},
          {"vip_readded", c.vip_readded},
          {"connections_reset", c.connections_reset},
          {"failovers", c.failovers},
          {"last_failover_seconds", c.last_failover_seconds >= 0
                                        ? nlohmann::json(c.last_failover_seconds)
                                        : nlohmann::json(nullptr)}}},
        {"transitions", transitions},
        {"notices", c.notices},
    });
  }
  doc["groups"] = nlohmann::json::array();
  for (const auto& g : s.groups)
    doc["groups"].push_back({{"name", g.name},
                             {"state", g.state},
                             {"since_seconds", g.since_seconds},
                             {"reason", g.reason},
                             {"members", g.members},
                             {"faulty_member", opt(g.faulty_member)},
                             {"transitions", g.transitions},
                             {"warnings", g.warnings}});
  doc["route_instances"] = nlohmann::json::array();
  for (const auto& r : s.route_instances) {
    nlohmann::json contributions = nlohmann::json::array();
    for (const auto& c : r.contributions)
      contributions.push_back(
          {{"check", c.check}, {"weight", c.weight}, {"up", c.up}, {"applied", c.applied}});
    nlohmann::json vips = nlohmann::json::array();
    for (const auto& v : r.vips)
      vips.push_back(
          {{"address", v.address},
           {"installed", v.metric.has_value()},
           {"metric", opt(v.metric)},
           {"local", v.local},
           {"error", v.error.empty() ? nlohmann::json(nullptr) : nlohmann::json(v.error)}});
    const auto& c = r.counters;
    doc["route_instances"].push_back({
        {"name", r.name},
        {"mode", "route"},
        {"table", r.table},
        {"protocol", r.protocol},
        {"installed", r.installed},
        {"metric", r.metric},
        {"reason", r.reason},
        {"since", r.since},
        {"since_seconds", r.since_seconds},
        {"priority",
         {{"base", r.base_priority},
          {"effective", r.effective_priority},
          {"contributions", contributions}}},
        {"fault", opt(r.fault)},
        {"drained", r.drained},
        {"vips", vips},
        {"counters",
         {{"installs", c.installs},
          {"replaces", c.replaces},
          {"withdrawals", c.withdrawals},
          {"errors", c.errors},
          {"swept", c.swept}}},
    });
  }
  doc["checks"] = nlohmann::json::array();
  for (const auto& c : s.checks)
    doc["checks"].push_back({{"name", c.name},
                             {"type", c.type},
                             {"up", c.up},
                             {"consecutive", c.consecutive},
                             {"last_duration_ms", c.last_duration_ms},
                             {"last_error", opt(c.last_error)},
                             {"value", c.value},
                             {"ran", c.ran}});
  nlohmann::json dropped = nlohmann::json::object();
  for (std::size_t r = 0; r < vrrp::kDropReasonCount; ++r)
    dropped[std::string(vrrp::to_string(static_cast<vrrp::DropReason>(r)))] = s.counters.dropped[r];
  doc["dropped"] = dropped;
  doc["checksum_mode_mismatch"] = s.counters.checksum_mode_mismatch;
  doc["vrid_conflicts"] = s.counters.vrid_conflicts;
  doc["config"] = {{"last_reload_success", s.config_reload_success},
                   {"last_reload_unix", s.config_last_reload_unix}};
  doc["agent"] = {{"realtime",
                   {{"requested_priority", s.realtime.requested},
                    {"policy", s.realtime.policy},
                    {"priority", s.realtime.priority},
                    {"error", opt(s.realtime.error)}}}};
  return doc;
}

}  // namespace vipd::exporters
