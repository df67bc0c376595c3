// A sync group ([[group]], keepalived's vrrp_sync_group): the job beside the instances that makes
// its members change state together. It works only through the members' existing seams: the
// fault latch (a member's own fault is passed on to every other member, so all resign with
// priority 0 and the peer takes all of them), the weighting (every member weighs the union of
// the members' tracked checks, so a lower priority in one is a lower priority in all), and the
// state-change hook (the group's own state, its notify hook, its log line and its metric; a
// member that takes over pulls the members still BACKUP to MASTER with it).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "app/instance.h"
#include "app/ports.h"
#include "config/config.h"

namespace vipd::app {

/// The group's state: its members' common state, or SPLIT while they disagree (MASTER and
/// BACKUP at once: a transition in progress, or priorities that differ between the members).
enum class GroupState : std::uint8_t { Init, Backup, Master, Fault, Split };
/// "INIT", "BACKUP", "MASTER", "FAULT", "SPLIT" (the /status values and the metric labels).
std::string_view to_string(GroupState state);
/// FAULT if any member is in FAULT; MASTER or BACKUP if all are; INIT while any has not
/// started; SPLIT otherwise.
GroupState group_state_of(const std::vector<vrrp::State>& members);

/// The checks every member of `group` weighs: each member's `track` entries, in member order,
/// the first entry for a check winning (keepalived's sync_group_tracking_weight, always on).
std::vector<config::Track> group_tracks(const config::Config& config, const config::Group& group);

class GroupCoordinator {
 public:
  GroupCoordinator(config::Group cfg, Scheduler& scheduler);
  /// Unhooks the members (they may outlive a group removed by a reload).
  ~GroupCoordinator();
  GroupCoordinator(const GroupCoordinator&) = delete;
  GroupCoordinator& operator=(const GroupCoordinator&) = delete;

  [[nodiscard]] const config::Group& config() const { return cfg_; }
  /// The running instances of the group, in the configured order (after start and each reload).
  void set_members(std::vector<Instance*> members);
  /// A member's own fault may have changed (link event, check result, start, reload): every
  /// other member follows it into FAULT, and all leave FAULT when no member has a fault.
  void sync_faults();
  /// A member changed state (Instance::on_state_changed): recompute the group's state; on a
  /// change, log it, count it and run the group's notify hook.
  void observe();

  [[nodiscard]] GroupState state() const { return state_; }
  [[nodiscard]] const std::string& reason() const { return reason_; }
  [[nodiscard]] TimePoint since() const { return since_; }
  /// The member whose own fault holds the group in FAULT, if one does.
  [[nodiscard]] const std::optional<std::string>& faulty_member() const { return faulty_; }
  [[nodiscard]] const std::vector<Instance*>& members() const { return members_; }
  /// Transitions by target state ("MASTER" → count), for /metrics.
  [[nodiscard]] const std::map<std::string, std::uint64_t>& transitions() const {
    return transitions_;
  }
  [[nodiscard]] std::uint64_t notify_failures() const { return notify_failures_; }
  /// Conditions an operator must see (a split that outlasts a failover, a failed notify).
  [[nodiscard]] std::vector<std::string> warnings() const { return conditions_.current(); }

 private:
  void notify(GroupState state);
  /// `who` changed state: when it took over, the members still BACKUP follow it to MASTER
  /// (on the next loop turn, not from inside `who`'s own transition).
  void follow(const Instance& who);
  void check_split();
  [[nodiscard]] vrrp::Duration settle_time() const;

  config::Group cfg_;
  Scheduler& sched_;
  Conditions conditions_;
  std::vector<Instance*> members_;
  GroupState state_ = GroupState::Init;
  std::string reason_ = "not started";
  TimePoint since_{};
  std::optional<std::string> faulty_;
  std::map<std::string, std::uint64_t> transitions_;
  std::uint64_t notify_failures_ = 0;
  std::optional<Scheduler::TimerId> split_timer_;
  std::optional<Scheduler::TimerId> follow_timer_;
  std::string leader_;  // the member the others follow to MASTER
};

}  // namespace vipd::app
