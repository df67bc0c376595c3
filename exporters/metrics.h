// Prometheus metrics (DESIGN.md §7), declared in one place and passed by reference — never
// globals (STYLE.md rule 8). Served as text by our own HTTP server through TextSerializer.
#pragma once

#include <memory>
#include <string>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "exporters/snapshot.h"

namespace vipd::exporters {

class Metrics {
 public:
  explicit Metrics(const std::string& version);

  /// Brings gauges and counters up to date with a snapshot (called on the loop thread).
  void update(const Snapshot& snapshot);
  /// Observations that are events rather than state (loop thread).
  void observe_check(const std::string& check, double seconds, bool ok);
  void observe_failover(const std::string& instance, double seconds);

  /// Prometheus text exposition format 0.0.4 (any thread).
  [[nodiscard]] std::string serialize() const;
  [[nodiscard]] prometheus::Registry& registry() { return *registry_; }

 private:
  static void set_counter(prometheus::Counter& c, double value);

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Gauge>& state_;
  prometheus::Family<prometheus::Gauge>& priority_;
  prometheus::Family<prometheus::Counter>& transitions_;
  prometheus::Family<prometheus::Counter>& adverts_sent_;
  prometheus::Family<prometheus::Counter>& adverts_received_;
  prometheus::Family<prometheus::Counter>& dropped_;
  prometheus::Family<prometheus::Counter>& checksum_mismatch_;
  prometheus::Family<prometheus::Counter>& vrid_conflicts_;
  prometheus::Family<prometheus::Gauge>& checksum_form_;
  prometheus::Family<prometheus::Gauge>& master_last_seen_;
  prometheus::Family<prometheus::Gauge>& vip_present_;
  prometheus::Family<prometheus::Counter>& vip_operations_;
  prometheus::Family<prometheus::Counter>& garp_sent_;
  prometheus::Family<prometheus::Counter>& connections_reset_;
  prometheus::Family<prometheus::Counter>& connection_reset_failures_;
  prometheus::Family<prometheus::Counter>& notices_;
  prometheus::Family<prometheus::Gauge>& check_up_;
  prometheus::Family<prometheus::Histogram>& check_duration_;
  prometheus::Family<prometheus::Counter>& check_runs_;
  prometheus::Family<prometheus::Histogram>& failover_duration_;
  prometheus::Family<prometheus::Gauge>& reload_success_;
  prometheus::Family<prometheus::Gauge>& reload_timestamp_;
  prometheus::Family<prometheus::Gauge>& build_info_;
  prometheus::Family<prometheus::Gauge>& up_since_;
  prometheus::Family<prometheus::Gauge>& realtime_priority_;
  prometheus::Family<prometheus::Gauge>& instance_info_;
  prometheus::Family<prometheus::Gauge>& group_state_;
  prometheus::Family<prometheus::Counter>& group_transitions_;
  prometheus::Family<prometheus::Gauge>& route_installed_;
  prometheus::Family<prometheus::Gauge>& route_metric_;
  prometheus::Family<prometheus::Counter>& route_operations_;
};

}  // namespace vipd::exporters
