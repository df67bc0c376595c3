// Counters and gauges the agent keeps; the metrics exporter and /status read them (loop thread).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <tuple>

#include "vrrp/advertisement.h"
#include "vrrp/state_machine.h"

namespace vipd::app {

/// The operations on VIPs (vipd_vip_operations_total's op label).
enum class VipOp : std::uint8_t { Add, Remove, Readd };
inline constexpr std::size_t kVipOpCount = 3;
constexpr std::string_view to_string(VipOp op) {
  switch (op) {
    case VipOp::Add:
      return "add";
    case VipOp::Remove:
      return "remove";
    case VipOp::Readd:
      break;
  }
  return "readd";
}

/// Agent-wide counters (label sets without an instance).
struct AgentStats {
  std::array<std::uint64_t, vrrp::kDropReasonCount> dropped{};  // by vrrp::DropReason
  /// Adverts accepted although they verified only in the other checksum mode.
  std::uint64_t checksum_mode_mismatch = 0;
  /// Adverts for one of our VRIDs listing other addresses, processed (a VRID conflict).
  std::uint64_t vrid_conflicts = 0;
  /// vipd_vip_operations_total{op,result}: [op][0 = ok, 1 = error].
  std::array<std::array<std::uint64_t, 2>, kVipOpCount> vip_operations{};
  /// Exceptions a loop callback threw (each caught and logged; the loop went on).
  std::uint64_t loop_exceptions = 0;
  /// Reading the interface addresses failed (the VIPs' presence is then shown as unknown).
  std::uint64_t address_read_errors = 0;
  void drop(vrrp::DropReason r) { ++dropped[static_cast<std::size_t>(r)]; }
  void count(VipOp op, bool ok) { ++vip_operations[static_cast<std::size_t>(op)][ok ? 0 : 1]; }
};

/// Counters of one route-mode instance (issue 16; vipd_route_operations_total and /status).
struct RouteStats {
  std::uint64_t installs = 0;     // a route added where there was none
  std::uint64_t replaces = 0;     // a metric change (make-before-break in one netlink batch)
  std::uint64_t withdrawals = 0;  // a route removed (fault, weight-0 check down, drain, stop)
  std::uint64_t errors = 0;       // failed operations (retried every second)
  std::uint64_t swept = 0;        // leftovers of an earlier run removed at start
};

/// Per-instance counters.
struct InstanceStats {
  std::uint64_t adverts_sent = 0;
  std::uint64_t adverts_received = 0;
  std::uint64_t garp_sent = 0;
  std::uint64_t vip_readded = 0;
  std::uint64_t send_errors = 0;
  /// Actions of the state machine that threw (the instance went to FAULT instead of crashing).
  std::uint64_t action_failures = 0;
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
