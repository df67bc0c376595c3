// Metric families and their update from a snapshot.
#include "exporters/metrics.h"

#include <prometheus/text_serializer.h>

namespace vipd::exporters {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

// Buckets that resolve millisecond failovers and still show multi-second ones.
const prometheus::Histogram::BucketBoundaries kFailoverBuckets{
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10};
const prometheus::Histogram::BucketBoundaries kCheckBuckets{
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};

}  // namespace

Metrics::Metrics(const std::string& version)
    : registry_(std::make_shared<prometheus::Registry>()),
      state_(BuildGauge()
                 .Name("vipd_vrrp_state")
                 .Help("1 for the current VRRP state of the instance, 0 for the others")
                 .Register(*registry_)),
      priority_(
          BuildGauge()
              .Name("vipd_vrrp_priority")
              .Help("VRRP priority: kind=base (configured) or effective (after check weights)")
              .Register(*registry_)),
      transitions_(BuildCounter()
                       .Name("vipd_vrrp_transitions_total")
                       .Help("State transitions by from, to and reason")
                       .Register(*registry_)),
      adverts_sent_(BuildCounter()
                        .Name("vipd_vrrp_adverts_sent_total")
                        .Help("VRRP advertisements sent")
                        .Register(*registry_)),
      adverts_received_(BuildCounter()
                            .Name("vipd_vrrp_adverts_received_total")
                            .Help("Valid VRRP advertisements received for the instance")
                            .Register(*registry_)),
      dropped_(BuildCounter()
                   .Name("vipd_vrrp_packets_dropped_total")
                   .Help("Received VRRP packets discarded, by reason")
                   .Register(*registry_)),
      checksum_mismatch_(BuildCounter()
                             .Name("vipd_vrrp_checksum_mode_mismatch_total")
                             .Help("Adverts accepted although their checksum verified only in the "
                                   "other VRRPv3 checksum mode (set checksum to match the peer)")
                             .Register(*registry_)),
      vrid_conflicts_(BuildCounter()
                          .Name("vipd_vrrp_vrid_conflicts_total")
                          .Help("Adverts for one of our VRIDs listing other addresses than ours, "
                                "processed: another router uses the VRID (address_mismatch)")
                          .Register(*registry_)),
      checksum_form_(BuildGauge()
                         .Name("vipd_vrrp_checksum_form")
                         .Help("1 for the VRRPv3/IPv4 checksum form the instance sends: rfc9568, "
                               "pseudo-header, or alternating (checksum = \"auto\" before a peer "
                               "is heard, or peers disagree)")
                         .Register(*registry_)),
      master_last_seen_(BuildGauge()
                            .Name("vipd_vrrp_master_last_seen_seconds")
                            .Help("Seconds since the last advert from the current master (0 while "
                                  "this node is master)")
                            .Register(*registry_)),
      vip_present_(BuildGauge()
                       .Name("vipd_vip_present")
                       .Help("1 when the VIP is installed on this node's interface")
                       .Register(*registry_)),
      vip_operations_(BuildCounter()
                          .Name("vipd_vip_operations_total")
                          .Help("VIP add/remove/readd operations by result")
                          .Register(*registry_)),
      garp_sent_(BuildCounter()
                     .Name("vipd_garp_sent_total")
                     .Help("Announcements sent: gratuitous ARP frames (family ipv4), unsolicited "
                           "neighbour advertisements (family ipv6)")
                     .Register(*registry_)),
      connections_reset_(BuildCounter()
                             .Name("vipd_connections_reset_total")
                             .Help("TCP connections on released VIPs reset (RST) by this node")
                             .Register(*registry_)),
      connection_reset_failures_(
          BuildCounter()
              .Name("vipd_connection_reset_failures_total")
              .Help("Releases whose connection reset failed, by reason: unsupported (kernel "
                    "without CONFIG_INET_DIAG_DESTROY), permission, error")
              .Register(*registry_)),
      notices_(BuildCounter()
                   .Name("vipd_vrrp_notices_total")
                   .Help("Notable protocol conditions by kind: group_size_exceeded, "
                         "duplicate_owner, interval_adopted, timer_late, "
                         "released_without_handover, lower_priority_advert, notify_failed, ...")
                   .Register(*registry_)),
      check_up_(BuildGauge()
                    .Name("vipd_check_up")
                    .Help("1 when the check is up after rise/fall")
                    .Register(*registry_)),
      check_duration_(BuildHistogram()
                          .Name("vipd_check_duration_seconds")
                          .Help("How long each probe run took")
                          .Register(*registry_)),
      check_runs_(BuildCounter()
                      .Name("vipd_check_runs_total")
                      .Help("Probe runs by result (ok or fail)")
                      .Register(*registry_)),
      failover_duration_(BuildHistogram()
                             .Name("vipd_failover_duration_seconds")
                             .Help("Last advert heard from the old master to VIPs installed and "
                                   "first gratuitous ARP sent")
                             .Register(*registry_)),
      reload_success_(BuildGauge()
                          .Name("vipd_config_reload_success")
                          .Help("1 when the last configuration load or reload succeeded")
                          .Register(*registry_)),
      reload_timestamp_(BuildGauge()
                            .Name("vipd_config_last_reload_timestamp_seconds")
                            .Help("Unix time of the last configuration load or reload attempt")
                            .Register(*registry_)),
      build_info_(BuildGauge()
                      .Name("vipd_build_info")
                      .Help("Always 1; the version label says which build runs")
                      .Register(*registry_)),
      up_since_(BuildGauge()
                    .Name("vipd_uptime_seconds")
                    .Help("Seconds since the agent started")
                    .Register(*registry_)),
      realtime_priority_(BuildGauge()
                             .Name("vipd_realtime_priority")
                             .Help("SCHED_RR priority of the VRRP loop thread: kind=requested "
                                   "([agent] realtime_priority) or effective (in force; 0 = "
                                   "SCHED_OTHER)")
                             .Register(*registry_)),
      instance_info_(BuildGauge()
                         .Name("vipd_vrrp_instance_info")
                         .Help("Always 1; labels name the instance's address family, interface, "
                               "VRID and VRRP version")
                         .Register(*registry_)),
      group_state_(BuildGauge()
                       .Name("vipd_group_state")
                       .Help("Sync group ([[group]]) state: 1 for the current one (SPLIT: the "
                             "members disagree, MASTER and BACKUP at once)")
                       .Register(*registry_)),
      group_transitions_(BuildCounter()
                             .Name("vipd_group_transitions_total")
                             .Help("Sync group state changes, by the state entered")
                             .Register(*registry_)),
      route_installed_(BuildGauge()
                           .Name("vipd_route_installed")
                           .Help("Route mode: 1 while every VIP's host route is in the kernel "
                                 "table (the routing daemon announces it), 0 when withdrawn")
                           .Register(*registry_)),
      route_metric_(BuildGauge()
                        .Name("vipd_route_metric")
                        .Help("Route mode: the routes' metric (BGP MED), 256 - effective "
                              "priority; lower is preferred")
                        .Register(*registry_)),
      route_operations_(BuildCounter()
                            .Name("vipd_route_operations_total")
                            .Help("Route mode: route operations by op (install, replace, "
                                  "withdraw, sweep, error)")
                            .Register(*registry_)) {
  build_info_.Add({{"version", version}}).Set(1);
}

void Metrics::set_counter(prometheus::Counter& c, double value) {
  const double delta = value - c.Value();
  if (delta > 0) c.Increment(delta);
}

void Metrics::update(const Snapshot& s) {
  up_since_.Add({}).Set(s.uptime_seconds);
  realtime_priority_.Add({{"kind", "requested"}}).Set(s.realtime.requested);
  realtime_priority_.Add({{"kind", "effective"}})
      .Set(s.realtime.policy == "SCHED_RR" || s.realtime.policy == "SCHED_FIFO"
               ? s.realtime.priority
               : 0);
  for (const auto& g : s.groups) {
    for (const char* st : {"INIT", "BACKUP", "MASTER", "FAULT", "SPLIT"})
      group_state_.Add({{"group", g.name}, {"state", st}}).Set(g.state == st ? 1 : 0);
    for (const auto& [to, count] : g.transitions)
      set_counter(group_transitions_.Add({{"group", g.name}, {"to", to}}),
                  static_cast<double>(count));
  }
  for (const auto& i : s.instances) {
    for (const auto st :
         {vrrp::State::Init, vrrp::State::Backup, vrrp::State::Master, vrrp::State::Fault})
      state_.Add({{"instance", i.name}, {"state", std::string(vrrp::to_string(st))}})
          .Set(i.state == st ? 1 : 0);
    priority_.Add({{"instance", i.name}, {"kind", "base"}}).Set(i.base_priority);
    if (!i.checksum_form.empty())
      for (const char* form : {"rfc9568", "pseudo-header", "alternating"})
        checksum_form_.Add({{"instance", i.name}, {"form", form}})
            .Set(i.checksum_form == form ? 1 : 0);
    priority_.Add({{"instance", i.name}, {"kind", "effective"}}).Set(i.effective_priority);
    const auto& c = i.counters;
    for (const auto& [key, count] : c.transitions)
      set_counter(transitions_.Add({{"instance", i.name},
                                    {"from", std::string(vrrp::to_string(std::get<0>(key)))},
                                    {"to", std::string(vrrp::to_string(std::get<1>(key)))},
                                    {"reason", std::string(vrrp::to_string(std::get<2>(key)))}}),
                  static_cast<double>(count));
    set_counter(adverts_sent_.Add({{"instance", i.name}}), static_cast<double>(c.adverts_sent));
    set_counter(adverts_received_.Add({{"instance", i.name}}),
                static_cast<double>(c.adverts_received));
    set_counter(garp_sent_.Add({{"instance", i.name}, {"family", i.family}}),
                static_cast<double>(c.garp_sent));
    instance_info_
        .Add({{"instance", i.name},
              {"family", i.family},
              {"interface", i.interface},
              {"vrid", std::to_string(i.vrid)},
              {"version", std::to_string(i.version)}})
        .Set(1);
    set_counter(connections_reset_.Add({{"instance", i.name}}),
                static_cast<double>(c.connections_reset));
    // Every reason at 0 from the start: the first failure must be visible to increase().
    for (const char* reason : {"unsupported", "permission", "error"})
      connection_reset_failures_.Add({{"instance", i.name}, {"reason", reason}});
    for (const auto& [reason, count] : c.connection_reset_failures)
      set_counter(connection_reset_failures_.Add({{"instance", i.name}, {"reason", reason}}),
                  static_cast<double>(count));
    master_last_seen_.Add({{"instance", i.name}})
        .Set(i.state == vrrp::State::Master ? 0 : i.master_last_seen_seconds.value_or(-1));
    for (const auto& [kind, count] : c.notices)
      set_counter(notices_.Add({{"instance", i.name}, {"kind", kind}}), static_cast<double>(count));
    for (const auto& v : i.vips)  // unknown (addresses unreadable): the last value stays
      if (v.present)
        vip_present_.Add({{"instance", i.name}, {"address", v.address}}).Set(*v.present ? 1 : 0);
    // Created at 0 before the first failover: a series that first appears with its first
    // observation in it is invisible to rate()/increase(), so the first failover would never
    // show in a dashboard or alert (Prometheus: "avoid missing metrics").
    failover_duration_.Add({{"instance", i.name}}, kFailoverBuckets);
  }
  for (const auto& r : s.route_instances) {
    route_installed_.Add({{"instance", r.name}}).Set(r.installed ? 1 : 0);
    route_metric_.Add({{"instance", r.name}}).Set(r.metric);
    const auto& c = r.counters;
    for (const auto& [op, n] : {std::pair{"install", c.installs}, std::pair{"replace", c.replaces},
                                std::pair{"withdraw", c.withdrawals}, std::pair{"sweep", c.swept},
                                std::pair{"error", c.errors}})
      set_counter(route_operations_.Add({{"instance", r.name}, {"op", op}}),
                  static_cast<double>(n));
  }
  for (std::size_t r = 0; r < vrrp::kDropReasonCount; ++r)
    set_counter(
        dropped_.Add({{"reason", std::string(vrrp::to_string(static_cast<vrrp::DropReason>(r)))}}),
        static_cast<double>(s.counters.dropped[r]));
  set_counter(checksum_mismatch_.Add({}), static_cast<double>(s.counters.checksum_mode_mismatch));
  set_counter(vrid_conflicts_.Add({}), static_cast<double>(s.counters.vrid_conflicts));
  for (std::size_t op = 0; op < app::kVipOpCount; ++op)
    for (std::size_t result = 0; result < 2; ++result)
      if (const auto n = s.counters.vip_operations[op][result]; n != 0)
        set_counter(
            vip_operations_.Add({{"op", std::string(app::to_string(static_cast<app::VipOp>(op)))},
                                 {"result", result == 0 ? "ok" : "error"}}),
            static_cast<double>(n));
  for (const auto& c : s.checks) {
    check_up_.Add({{"check", c.name}}).Set(c.up ? 1 : 0);
    // At 0 from the start, for the same reason as the failover histogram: the first failing
    // run of a check must be visible to increase().
    check_duration_.Add({{"check", c.name}}, kCheckBuckets);
    check_runs_.Add({{"check", c.name}, {"result", "ok"}});
    check_runs_.Add({{"check", c.name}, {"result", "fail"}});
  }
  reload_success_.Add({}).Set(s.config_reload_success ? 1 : 0);
  reload_timestamp_.Add({}).Set(s.config_last_reload_unix);
}

void Metrics::observe_check(const std::string& check, double seconds, bool ok) {
  check_duration_.Add({{"check", check}}, kCheckBuckets).Observe(seconds);
  check_runs_.Add({{"check", check}, {"result", ok ? "ok" : "fail"}}).Increment();
}

void Metrics::observe_failover(const std::string& instance, double seconds) {
  failover_duration_.Add({{"instance", instance}}, kFailoverBuckets).Observe(seconds);
}

std::string Metrics::serialize() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace vipd::exporters
