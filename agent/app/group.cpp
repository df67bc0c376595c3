// GroupCoordinator: a sync group's members change state together (see group.h for how).
#include "app/group.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "app/notify.h"

namespace vipd::app {

std::string_view to_string(GroupState state) {
  switch (state) {
    case GroupState::Init:
      return "INIT";
    case GroupState::Backup:
      return "BACKUP";
    case GroupState::Master:
      return "MASTER";
    case GroupState::Fault:
      return "FAULT";
    case GroupState::Split:
      return "SPLIT";
  }
  return "UNKNOWN";
}

GroupState group_state_of(const std::vector<vrrp::State>& members) {
  using vrrp::State;
  const auto count = [&](State s) { return std::count(members.begin(), members.end(), s); };
  const auto n = static_cast<std::ptrdiff_t>(members.size());
  if (n == 0) return GroupState::Init;
  if (count(State::Fault) > 0) return GroupState::Fault;
  if (count(State::Master) == n) return GroupState::Master;
  if (count(State::Backup) == n) return GroupState::Backup;
  if (count(State::Init) > 0) return GroupState::Init;
  return GroupState::Split;
}

std::vector<config::Track> group_tracks(const config::Config& config, const config::Group& group) {
  std::vector<config::Track> out;
  for (const auto& name : group.instances) {
    const auto inst = std::find_if(config.instances.begin(), config.instances.end(),
                                   [&](const config::Instance& i) { return i.name == name; });
    if (inst == config.instances.end()) continue;
    for (const auto& t : inst->track) {
      const bool known = std::any_of(out.begin(), out.end(),
                                     [&](const config::Track& o) { return o.check == t.check; });
      if (!known) out.push_back(t);
    }
  }
  return out;
}

GroupCoordinator::GroupCoordinator(config::Group cfg, Scheduler& scheduler)
    : cfg_(std::move(cfg)), sched_(scheduler), conditions_(scheduler), since_(scheduler.clock()) {}

GroupCoordinator::~GroupCoordinator() {
  if (split_timer_) sched_.cancel_timer(*split_timer_);
  if (follow_timer_) sched_.cancel_timer(*follow_timer_);
  for (auto* m : members_) m->on_state_changed = nullptr;
}

void GroupCoordinator::set_members(std::vector<Instance*> members) {
  for (auto* m : members_) m->on_state_changed = nullptr;
  members_ = std::move(members);
  for (auto* m : members_) {
    m->on_state_changed = [this](const Instance& who) {
      observe();
      follow(who);
    };
  }
}

void GroupCoordinator::sync_faults() {
  // keepalived vrrp_sync_group: "if one instance goes to FAULT, all go to FAULT". The first
  // member (in the configured order) with a fault of its own names the group's fault.
  std::optional<std::string> faulty;
  std::string why;
  for (auto* m : members_) {
    if (auto own = m->own_fault()) {
      faulty = m->config().name;
      why = *own;
      break;
    }
  }
  faulty_ = faulty;
  for (auto* m : members_) {
    if (!faulty || m->own_fault()) {
      m->set_group_fault(std::nullopt);
    } else {
      m->set_group_fault("sync group " + cfg_.name + ": member " + *faulty + " is in fault (" +
                         why + ")");
    }
  }
  observe();
}

void GroupCoordinator::observe() {
  std::vector<vrrp::State> states;
  states.reserve(members_.size());
  for (const auto* m : members_) states.push_back(m->machine().state());
  const GroupState next = group_state_of(states);
  if (next == state_) return;
  const GroupState before = state_;
  state_ = next;
  since_ = sched_.clock();
  std::string members;
  for (const auto* m : members_) {
    if (!members.empty()) members += ", ";
    members += m->config().name + " " + std::string(vrrp::to_string(m->machine().state()));
  }
  // Which member's own fault holds the group (asked here: observe() may run before sync_faults()).
  std::optional<std::string> faulty;
  for (const auto* m : members_)
    if (!faulty && m->own_fault()) faulty = m->config().name;
  reason_ = faulty && next == GroupState::Fault ? "member " + *faulty + " is in fault: " + members
                                                : members;
  ++transitions_[std::string(to_string(next))];
  spdlog::info("group {}: state {} -> {} ({})", cfg_.name, to_string(before), to_string(next),
               reason_);
  check_split();
  // keepalived runs a group's notify on its MASTER, BACKUP and FAULT transitions; SPLIT is a
  // passage between them and INIT the start or the stop.
  if (next == GroupState::Master || next == GroupState::Backup || next == GroupState::Fault)
    notify(next);
}

void GroupCoordinator::follow(const Instance& who) {
  // keepalived vrrp_sync_group: when one member becomes MASTER, the others follow. Without it, a
  // member whose old master could not resign (its link died) waits its whole
  // Master_Down_Interval while its group mate has already taken over.
  const auto& t = who.last_transition();
  if (t.to != vrrp::State::Master || t.reason == vrrp::Reason::Group) return;
  leader_ = who.config().name;
  if (follow_timer_) return;  // already due on this loop turn
  follow_timer_ = sched_.add_timer(sched_.clock(), [this] {
    follow_timer_.reset();
    const auto leader = std::find_if(members_.begin(), members_.end(), [&](const Instance* m) {
      return m->config().name == leader_;
    });
    if (leader == members_.end() || (*leader)->machine().state() != vrrp::State::Master) return;
    const std::string why = "sync group " + cfg_.name + ": member " + leader_ + " became MASTER (" +
                            (*leader)->last_transition().explanation + ")";
    for (auto* m : members_)
      if (m->machine().state() == vrrp::State::Backup) m->group_takeover(why);
  });
}

vrrp::Duration GroupCoordinator::settle_time() const {
  vrrp::Duration longest{0};
  for (const auto* m : members_)
    longest = std::max(longest,
                       m->machine().master_down_interval() +
                           std::chrono::duration_cast<vrrp::Duration>(m->config().advert_interval));
  return longest;
}

void GroupCoordinator::check_split() {
  if (split_timer_) {
    sched_.cancel_timer(*split_timer_);
    split_timer_.reset();
  }
  if (state_ != GroupState::Split) return;
  // A failover passes through SPLIT for a moment (one member took over, the next follows within
  // its Master_Down_Interval). Still split after that: the members' priorities disagree, which
  // vipd does not resolve by pulling the others along (docs/configuration.md#group).
  split_timer_ = sched_.add_timer(sched_.clock() + settle_time(), [this] {
    split_timer_.reset();
    if (state_ != GroupState::Split) return;
    conditions_.raise("group_split",
                      "sync group " + cfg_.name + " is split (" + reason_ +
                          "): give its members the same priorities and checks on each node");
  });
}

void GroupCoordinator::notify(GroupState state) {
  if (cfg_.notify.empty()) return;
  std::vector<std::string> args = cfg_.notify;
  args.push_back(cfg_.name);
  args.emplace_back(to_string(state));
  if (const auto error = spawn_detached(args)) {
    ++notify_failures_;
    conditions_.raise("notify_failed", "sync group " + cfg_.name + ": notify hook for state " +
                                           std::string(to_string(state)) +
                                           " could not run: " + *error +
                                           " (check the notify path and its execute permission)");
  }
}

}  // namespace vipd::app
