// A copy of everything the API shows, taken on the loop thread; handlers are functions of it
// (STYLE.md rule 9), so they can be tested without a socket or a running agent.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "app/stats.h"
#include "vrrp/state_machine.h"

namespace vipd::exporters {

struct ContributionView {
  std::string check;
  int weight = 0;
  bool up = false;
  int applied = 0;
};

struct VipView {
  std::string address;  // "198.18.0.100/24"
  /// On the interface now; nullopt when the addresses could not be read ("unknown").
  std::optional<bool> present;
};

/// auth_hmac settings as /status shows them: never a key's bytes.
struct AuthView {
  std::string mode;         // enforce | permissive | receive-only
  std::string anti_replay;  // time | monotonic
  int window_seconds = 0;
  int active_key = 0;
  std::vector<int> key_ids;
};

struct InstanceView {
  std::string name;
  int vrid = 0;
  std::string interface;
  std::string family = "ipv4";  // "ipv4" | "ipv6": of the VIPs (one family per instance)
  int version = 3;
  vrrp::State state = vrrp::State::Init;  // shown as INIT BACKUP MASTER FAULT
  std::string since;                      // RFC 3339 UTC
  double since_seconds = 0;               // age of the last transition
  std::string reason;                     // the sentence
  std::string reason_code;                // the enum name
  int base_priority = 0;
  int effective_priority = 0;
  std::vector<ContributionView> contributions;
  std::optional<std::string> master_address;
  int master_priority = 0;
  std::optional<double> master_last_seen_seconds;
  double advert_interval_ms = 0;
  double master_down_interval_ms = 0;
  std::vector<VipView> vips;
  std::optional<std::string> fault;
  bool drained = false;
  bool holding_vips = false;     // resigned, VIPs kept until a new master is heard
  bool two_node_active = false;  // group_size = 2 fast takeover in force
  std::vector<std::string> peers_seen;
  std::vector<std::string> warnings;
  /// The instance's counters as the instance keeps them (declared once, in app/stats.h).
  app::InstanceStats counters;
  std::string checksum;       // "auto (learnt pseudo-header)", "rfc9568", ...
  std::string checksum_form;  // what is sent: rfc9568 | pseudo-header | alternating
  std::optional<AuthView> auth;
};

/// One VIP of a route-mode instance (issue 16).
struct RouteVipView {
  std::string address;                  // "198.19.0.100/32"
  std::optional<std::uint32_t> metric;  // installed with this metric; nullopt: not installed
  bool local = false;                   // its `local` route is in place
  std::string error;                    // the last failure, "" after a success
};

/// A route-mode instance: routes in a kernel table, no VRRP (issue 16, docs/route-mode.md).
struct RouteInstanceView {
  std::string name;
  std::uint32_t table = 0;
  int protocol = 0;
  bool installed = false;  // every VIP's route is in the table
  std::uint32_t metric = 0;
  std::string reason;
  std::string since;  // RFC 3339 UTC
  double since_seconds = 0;
  int base_priority = 0;
  int effective_priority = 0;
  std::vector<ContributionView> contributions;
  std::optional<std::string> fault;
  bool drained = false;
  std::vector<RouteVipView> vips;
  app::RouteStats counters;
};

struct CheckView {
  std::string name;
  std::string type;
  bool up = false;
  int consecutive = 0;
  double last_duration_ms = 0;
  std::optional<std::string> last_error;
  int value = 0;
  bool ran = false;
};

/// A sync group ([[group]]): its members' common state (INIT BACKUP MASTER FAULT, or SPLIT while
/// they disagree).
struct GroupView {
  std::string name;
  std::string state = "INIT";
  double since_seconds = 0;
  std::string reason;
  std::vector<std::string> members;
  std::optional<std::string> faulty_member;          // whose own fault holds the group in FAULT
  std::map<std::string, std::uint64_t> transitions;  // by target state
  std::vector<std::string> warnings;
};

/// [agent] realtime_priority and what is in force on the VRRP loop thread.
struct RealtimeView {
  int requested = 0;
  std::string policy = "SCHED_OTHER";
  int priority = 0;
  std::optional<std::string> error;  // why the request is not in force
};

struct Snapshot {
  std::string node;
  std::string version;
  double uptime_seconds = 0;
  RealtimeView realtime;
  std::vector<InstanceView> instances;
  std::vector<RouteInstanceView> route_instances;
  std::vector<CheckView> checks;
  std::vector<GroupView> groups;
  /// The agent's counters as the agent keeps them (declared once, in app/stats.h).
  app::AgentStats counters;
  bool config_reload_success = true;
  double config_last_reload_unix = 0;
};

}  // namespace vipd::exporters
