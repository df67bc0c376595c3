// Counters and gauges the agent keeps; the metrics exporter and /status read them (loop thread).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>

#include "vrrp/advertisement.h"
#include "vrrp/state_machine.h"

namespace vipd::app {

/// Agent-wide counters (label sets without an instance).
struct AgentStats {
  std::array<std::uint64_t, vrrp::kDropReasonCount> dropped{};  // by vrrp::DropReason
  /// Adverts accepted although they verified only in the other checksum mode.
  std::uint64_t checksum_mode_mismatch = 0;
  /// vipd_vip_operations_total{op,result}: op = add|remove|readd, result = ok|error.
  std::map<std::pair<std::string, std::string>, std::uint64_t> vip_operations;
  void drop(vrrp::DropReason r) { ++dropped[static_cast<std::size_t>(r)]; }
};

/// Per-instance counters.
struct InstanceStats {
  std::uint64_t adverts_sent = 0;
  std::uint64_t adverts_received = 0;
  std::uint64_t garp_sent = 0;
  std::uint64_t vip_readded = 0;
  std::uint64_t send_errors = 0;
  /// TCP connections reset (SOCK_DESTROY) on releasing the VIPs (reset_connections).
  std::uint64_t connections_reset = 0;
  /// Releases whose reset failed, by net::ResetResult::Failure name (unsupported, permission,
  /// error).
  std::map<std::string, std::uint64_t> connection_reset_failures;
  /// vipd_vrrp_transitions_total{instance,from,to,reason}
  std::map<std::tuple<vrrp::State, vrrp::State, vrrp::Reason>, std::uint64_t> transitions;
  /// Last failover: last advert heard from the old master → VIPs installed and first GARP sent.
  double last_failover_seconds = -1;
  std::uint64_t failovers = 0;
  /// Notable conditions by the state machine's stable key (group_size_exceeded, duplicate_owner,
  /// interval_adopted, timer_late, released_without_handover, ...).
  std::map<std::string, std::uint64_t> notices;
};

}  // namespace vipd::app
