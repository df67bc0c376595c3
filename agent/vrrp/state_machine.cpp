// The pure VRRP state machine (RFC 9568 §6.4, RFC 3768 §6.4) plus the DESIGN.md §4 extensions:
// fast preempt, two-node fast takeover, preempt delay and the Fault state.
#include "vrrp/state_machine.h"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "vrrp/admission.h"

namespace vipd::vrrp {
namespace {

// "3.61s": durations in explanations, to the centisecond an operator can act on.
std::string secs(Duration d) {
  char buf[32];
  (void)std::snprintf(buf, sizeof buf, "%.2fs", to_seconds(d));
  return buf;
}

std::string prio(int p) { return std::to_string(p); }

}  // namespace

std::string_view to_string(State state) {
  switch (state) {
    case State::Init:
      return "INIT";
    case State::Backup:
      return "BACKUP";
    case State::Master:
      return "MASTER";
    case State::Fault:
      return "FAULT";
  }
  return "UNKNOWN";
}

std::string_view to_string(Reason reason) {
  switch (reason) {
    case Reason::Startup:
      return "startup";
    case Reason::MasterDown:
      return "master_down";
    case Reason::PriorityZero:
      return "priority_zero";
    case Reason::HigherPriority:
      return "higher_priority";
    case Reason::Preempt:
      return "preempt";
    case Reason::Fault:
      return "fault";
    case Reason::LinkDown:
      return "link_down";
    case Reason::FaultCleared:
      return "fault_cleared";
    case Reason::Shutdown:
      return "shutdown";
    case Reason::Drain:
      return "drain";
    case Reason::Group:
      return "group";
  }
  return "unknown";
}

StateMachine::StateMachine(InstanceParams params)
    : params_(std::move(params)),
      effective_priority_(params_.priority),
      master_adver_interval_(params_.advert_interval) {}

Duration StateMachine::skew_time() const {
  // keepalived VRRP_TIMER_SKEW: the effective priority, except the owner uses its base (255).
  // A drained router ranks itself last (priority 1) so every other backup answers first.
  return vrrp::skew_time(ranking_priority(), master_adver_interval_, params_.version);
}

Duration StateMachine::master_down_interval() const {
  // RFC 3768 §6.1: v2 uses the local Advertisement_Interval (master_adver_interval_ never
  // changes in v2: a mismatching v2 advert is dropped before it reaches us).
  return vrrp::master_down_interval(ranking_priority(), master_adver_interval_, params_.version);
}

Actions StateMachine::handle(const Event& event, TimePoint now) {
  Actions out;
  std::visit([&](const auto& e) { on(e, now, out); }, event);
  return out;
}

// --- Events ---------------------------------------------------------------------------------

void StateMachine::on(const event::Startup&, TimePoint now, Actions& out) {
  if (state_ != State::Init) return;
  started_at_ = now;
  pending_takeover_ = Reason::MasterDown;
  if (fault_) {
    transition(State::Fault, fault_->reason, "starting in fault: " + fault_->explanation, now, out);
  } else if (owner()) {
    // RFC 9568 §6.4.1: the address owner sends an advert, announces and becomes Active at once.
    become_master(Reason::Startup, "address owner (priority 255) starts as master", now, out);
  } else {
    become_backup(Reason::Startup, "started as backup (priority " + prio(effective_priority_) + ")",
                  now, out);
  }
}

void StateMachine::on(const event::Shutdown&, TimePoint now, Actions& out) {
  switch (state_) {
    case State::Init:
      return;
    case State::Master:
      // RFC 9568 §6.4.3: cancel the timer, send an advert with priority 0, then let the VIPs go
      // (DESIGN.md §4.6: the backup can take over while we are still deleting the address).
      out.emplace_back(action::CancelTimer{Timer::Adver});
      out.emplace_back(action::CancelTimer{Timer::MasterDown});
      adver_deadline_.reset();
      master_down_deadline_.reset();
      out.emplace_back(action::SendAdvert{0});
      out.emplace_back(action::ReleaseVips{});
      break;
    case State::Backup:
      out.emplace_back(action::CancelTimer{Timer::MasterDown});
      master_down_deadline_.reset();
      stop_yield_repeat(out);
      break;
    case State::Fault:
      if (holding_vips_) release_held_vips(out);
      break;  // timers were cancelled on entering Fault
  }
  transition(State::Init, Reason::Shutdown, "agent shutting down", now, out);
}

void StateMachine::on(const event::AdvertReceived& received, TimePoint now, Actions& out) {
  if (received.advert.vrid != params_.vrid) return;  // the agent demultiplexes; be safe
  // Our own advert looped back by multicast: answering it as a "losing advert" would loop.
  if (received.source == params_.primary_address) return;
  if (state_ == State::Init) return;
  note_peer(received.source, out);
  if (state_ == State::Fault) {
    record_master(received, now);  // for /status only: a faulted router takes no part
    if (holding_vips_ && received.advert.priority != 0) {
      // Make-before-break: the new master is up, so the VIPs can go now.
      out.emplace_back(action::Notice{action::Notice::Level::Info, "released_after_handover",
                                      "releasing the VIPs: " + received.source.to_string() +
                                          " is master now (make-before-break)"});
      release_held_vips(out);
    }
    return;
  }
  if (received.advert.priority == 255 && owner()) {
    // RFC 9568 §8.3.2 and erratum 8298: log and process, so duplicate owners resolve by election.
    out.emplace_back(action::Notice{
        action::Notice::Level::Warning, "duplicate_owner",
        "another address owner (priority 255) on the link: " + received.source.to_string()});
  }
  if (!params_.vips.empty() && received.advert.priority != 0 &&
      !same_addresses(received.advert.addresses, params_.vips)) {
    // RFC 9568 §7.1: MAY verify; on mismatch SHOULD log; the packet is still processed.
    out.emplace_back(
        action::Notice{action::Notice::Level::Warning, "address_list_mismatch",
                       "advert from " + received.source.to_string() +
                           " lists other addresses than ours (check vips on both nodes)"});
  }
  if (state_ == State::Backup) {
    backup_receive(received, now, out);
  } else {
    master_receive(received, now, out);
  }
}

void StateMachine::on(const event::MasterDownTimerExpired&, TimePoint now, Actions& out) {
  // Stale: not armed any more, or re-armed later than this expiry (it was queued before the
  // re-arm). Only an expiry at or after the current deadline counts.
  if (state_ != State::Backup || !master_down_deadline_ || now < *master_down_deadline_) return;
  const Duration late = now - *master_down_deadline_;
  master_down_deadline_.reset();
  if (late > master_adver_interval_) {
    // RFC 9568 §2.5: log self-induced flapping (a descheduled process fires its timer late).
    out.emplace_back(action::Notice{action::Notice::Level::Warning, "timer_late",
                                    "master-down timer fired " + secs(late) + " late"});
  }
  const std::string who = master_.address ? master_.address->to_string() : "any router";
  std::string why;
  switch (pending_takeover_) {
    case Reason::PriorityZero:
      why = "master " + who + " resigned (priority 0); Skew_Time " + secs(skew_time()) + " passed";
      break;
    case Reason::Preempt:
      why = "preempting master " + who + " (priority " + prio(master_.priority) + " < our " +
            prio(effective_priority_) + ")";
      break;
    default: {
      const Duration silent = now - master_.last_seen.value_or(since_);
      why = "master-down timer expired (no advert from " + who + " for " + secs(silent) + ")";
    }
  }
  become_master(pending_takeover_, std::move(why), now, out);
}

void StateMachine::on(const event::AdverTimerExpired&, TimePoint now, Actions& out) {
  if (state_ == State::Backup && yield_repeat_until_ && adver_deadline_ &&
      now >= *adver_deadline_) {
    // The uneven-heal repeat (master_receive): our own priority, so a winner that has not heard
    // us yet answers and re-announces the VIPs. Bounded by Master_Down_Interval.
    if (now >= *yield_repeat_until_ || drained_) {
      yield_repeat_until_.reset();
      adver_deadline_.reset();
      return;
    }
    out.emplace_back(action::SendAdvert{effective_priority_});
    adver_deadline_ = now + yield_repeat_period();
    out.emplace_back(action::ArmTimer{Timer::Adver, *adver_deadline_});
    return;
  }
  if (state_ != State::Master || !adver_deadline_ || now < *adver_deadline_) return;  // stale
  const Duration late = now - *adver_deadline_;
  if (late > params_.advert_interval) {
    out.emplace_back(action::Notice{action::Notice::Level::Warning, "timer_late",
                                    "advert timer fired " + secs(late) + " late"});
  }
  send_advert(advertised_priority(), now, out);
  adver_deadline_ = now + params_.advert_interval;
  out.emplace_back(action::ArmTimer{Timer::Adver, *adver_deadline_});
}

void StateMachine::on(const event::PriorityChanged& changed, TimePoint now, Actions& out) {
  // STYLE.md rule 5: never a restart. The owner is never weighted. A Master carries the new
  // priority in its next advert (a better peer then preempts it).
  if (owner()) return;
  const std::uint8_t before = effective_priority_;
  effective_priority_ = std::clamp<std::uint8_t>(changed.effective, 1, 254);
  if (state_ == State::Master && !drained_ && changed.announce && effective_priority_ != before) {
    // Advertise the new priority now rather than in the next scheduled advert (up to one
    // interval later): after a negative-weight check fails, a preempting backup (fast preempt,
    // two-node takeover) takes over at once. The advert timer keeps its schedule.
    send_advert(effective_priority_, now, out);
    return;
  }
  // A Backup's running Master_Down_Timer was armed with Skew_Time for the old priority: re-derive
  // its deadline from when it was armed, so the ranking among backups follows the priority now
  // (otherwise a backup whose checks just came up keeps the long skew of its cold start and a
  // lower-priority backup can answer first).
  if (state_ == State::Backup && master_down_deadline_ && master_down_armed_at_) {
    const TimePoint deadline =
        *master_down_armed_at_ + (master_down_skew_only_ ? skew_time() : master_down_interval());
    if (deadline != *master_down_deadline_) {
      master_down_deadline_ = std::max(deadline, now);
      out.emplace_back(action::ArmTimer{Timer::MasterDown, *master_down_deadline_});
    }
  }
  if (effective_priority_ > before) preempt_known_master(now, out);
}

void StateMachine::on(const event::FaultRaised& raised, TimePoint now, Actions& out) {
  fault_ = raised;
  switch (state_) {
    case State::Init:  // not started: Startup will enter Fault
      return;
    case State::Fault:  // already there: only the explanation changes
      if (holding_vips_ && raised.reason == Reason::LinkDown) release_held_vips(out);
      return;
    case State::Master:
      // Priority 0 on entering Fault from Master (DESIGN.md §4) so a backup takes over now.
      out.emplace_back(action::SendAdvert{0});
      out.emplace_back(action::CancelTimer{Timer::Adver});
      out.emplace_back(action::CancelTimer{Timer::MasterDown});
      if (params_.make_before_break && raised.reason == Reason::Fault) {
        // Keep the VIPs until the new master is heard (or Master_Down_Interval passes): on a
        // server with forwarding off, a VIP nobody holds swallows SYNs for a whole TCP
        // retransmit (~1 s); held by us, they are refused at once and retried.
        holding_vips_ = true;
        release_deadline_ = now + master_down_interval();
        out.emplace_back(action::ArmTimer{Timer::Release, *release_deadline_});
        adver_deadline_.reset();
        master_down_deadline_.reset();
        transition(State::Fault, raised.reason,
                   raised.explanation +
                       "; keeping the VIPs until a new master is heard "
                       "(make-before-break)",
                   now, out);
        return;
      }
      out.emplace_back(action::ReleaseVips{});
      break;
    case State::Backup:
      out.emplace_back(action::CancelTimer{Timer::MasterDown});
      stop_yield_repeat(out);
      break;
  }
  adver_deadline_.reset();
  master_down_deadline_.reset();
  transition(State::Fault, raised.reason, raised.explanation, now, out);
}

void StateMachine::on(const event::FaultCleared& cleared, TimePoint now, Actions& out) {
  if (!fault_) return;
  fault_.reset();
  if (state_ != State::Fault) return;
  if (holding_vips_ && owner()) {
    // The owner goes straight back to MASTER: keep the VIPs rather than drop and re-add them.
    holding_vips_ = false;
    release_deadline_.reset();
    out.emplace_back(action::CancelTimer{Timer::Release});
  } else if (holding_vips_) {
    release_held_vips(out);
  }
  if (owner()) {
    become_master(Reason::FaultCleared, cleared.explanation, now, out);
  } else {
    become_backup(Reason::FaultCleared, cleared.explanation, now, out);
    preempt_known_master(now, out);
  }
}

// --- RFC 9568 §6.4.2 Backup and §6.4.3 Active -----------------------------------------------

void StateMachine::backup_receive(const event::AdvertReceived& received, TimePoint now,
                                  Actions& out) {
  const Advertisement& advert = received.advert;
  const std::string who = received.source.to_string();
  if (advert.priority != 0 && master_.address && received.source != *master_.address &&
      *master_.address != params_.primary_address && master_.last_seen &&
      advert.priority < master_.priority && now - *master_.last_seen <= master_down_interval()) {
    // A lower priority than the master we follow, from another router (one that just yielded
    // and repeats its advert, or a stale master on the far side of a healing partition): not
    // the master, so neither its interval nor a fast preempt applies. RFC 9568 §6.4.2 discards
    // a lower advert anyway; the running Master_Down_Timer keeps following the real master.
    return;
  }
  record_master(received, now);
  if (advert.priority == 0 && drained_) {
    // A drained router does not answer a resignation: only the silence of every other router
    // (Master_Down) makes it take over. Two drained routers therefore keep one master.
    pending_takeover_ = Reason::MasterDown;
    arm_master_down(now + master_down_interval(), out);
    return;
  }
  if (advert.priority == 0) {
    if (two_node_active()) {
      // DESIGN.md §4 two-node fast takeover: nobody else to let answer first.
      become_master(Reason::PriorityZero,
                    "master " + who + " resigned (priority 0); two-node group takes over at once",
                    now, out);
      return;
    }
    // RFC 9568 §6.4.2: Master_Down_Timer = Skew_Time, so the best backup answers first.
    pending_takeover_ = Reason::PriorityZero;
    arm_master_down(now + skew_time(), out);
    return;
  }
  if (!may_preempt(now) || advert.priority >= ranking_priority()) {
    // RFC 9568 §6.4.2: adopt the interval (v3), recompute Skew_Time and Master_Down_Interval
    // from it (5798 forgot Skew_Time), reset the timer.
    if (params_.version == 3 && advert.advert_interval != master_adver_interval_) {
      out.emplace_back(action::Notice{action::Notice::Level::Info, "interval_adopted",
                                      "adopting advert interval " +
                                          std::to_string(advert.advert_interval.count()) +
                                          "cs from master " + who + " (was " +
                                          std::to_string(master_adver_interval_.count()) + "cs)"});
      master_adver_interval_ = advert.advert_interval;
    }
    pending_takeover_ = Reason::MasterDown;
    arm_master_down(now + master_down_interval(), out);
    return;
  }
  // Preempt mode and a lower priority: discard; the running timer makes us take over.
  preempt_lower("preempting master " + who + " (priority " + prio(advert.priority) + " < our " +
                    prio(effective_priority_) + ")",
                now, out);
}

void StateMachine::preempt_lower(const std::string& why, TimePoint now, Actions& out) {
  pending_takeover_ = Reason::Preempt;
  if (two_node_active()) {
    become_master(Reason::Preempt, why + "; two-node group takes over at once", now, out);
  } else if (params_.fast_preempt) {
    // DESIGN.md §4 fast preempt: treat it like a resignation, Skew_Time still ranks backups.
    const TimePoint skew_deadline = now + skew_time();
    if (!master_down_deadline_ || skew_deadline < *master_down_deadline_) {
      arm_master_down(skew_deadline, out);
    }
  }
}

void StateMachine::preempt_known_master(TimePoint now, Actions& out) {
  // A backup that just became able to preempt (its fault cleared, its priority rose) already
  // knows the master from its last advert. Waiting for the next one costs up to a whole
  // Master_Adver_Interval (1 s at default timing) for nothing: act on the one we have, as if it
  // had just arrived — but only if it is recent enough that the master is still there.
  if (state_ != State::Backup || !may_preempt(now)) return;
  if (!master_.address || *master_.address == params_.primary_address || !master_.last_seen) {
    return;
  }
  if (master_.priority == 0 || master_.priority >= ranking_priority()) return;
  const Duration age = now - *master_.last_seen;
  if (age > master_down_interval()) return;  // stale: it may be gone; Master_Down decides
  preempt_lower("preempting master " + master_.address->to_string() + " (priority " +
                    prio(master_.priority) + " < our " + prio(effective_priority_) +
                    ", from its advert " + secs(age) + " ago)",
                now, out);
}

void StateMachine::master_receive(const event::AdvertReceived& received, TimePoint now,
                                  Actions& out) {
  const Advertisement& advert = received.advert;
  const std::string who = received.source.to_string();
  if (advert.priority == 0) {
    // RFC 9568 §6.4.3: someone resigned while we are master; reassert at once.
    if (drained_) return;  // two resigning masters: whoever is not drained takes over
    send_advert(advertised_priority(), now, out);
    adver_deadline_ = now + params_.advert_interval;
    out.emplace_back(action::ArmTimer{Timer::Adver, *adver_deadline_});
    return;
  }
  // Unsigned network byte order tie-break: IpAddress's ordering (RFC 9568 §6.4.3).
  // Preempt_Mode is not consulted here; the owner (255) can only lose to a higher-IP owner.
  // A drained master advertises 0, so any live router is higher: the handover of a drain.
  const std::uint8_t ours = advertised_priority();
  const bool higher = advert.priority > ours ||
                      (advert.priority == ours && received.source > params_.primary_address);
  if (higher) {
    out.emplace_back(action::CancelTimer{Timer::Adver});
    adver_deadline_.reset();
    out.emplace_back(action::ReleaseVips{});
    if (params_.version == 3) master_adver_interval_ = advert.advert_interval;
    record_master(received, now);
    pending_takeover_ = Reason::MasterDown;
    arm_master_down(now + master_down_interval(), out);
    if (drained_) {
      transition(State::Backup, Reason::Drain,
                 "drained: handed over to " + who + " (priority " + prio(advert.priority) +
                     "), VIPs released after the new master was heard",
                 now, out);
      return;
    }
    const std::string why =
        "heard advert from " + who + " with priority " + prio(advert.priority) +
        (advert.priority == effective_priority_ ? " (equal, higher address)" : "") + " above our " +
        prio(effective_priority_);
    transition(State::Backup, Reason::HigherPriority, why, now, out);
    // Uneven partition heal (issue 12, docs/operations.md "Split brain"): the clients last heard
    // our gratuitous ARP. The winner re-announces only when it hears a lower priority, and if
    // its side of the partition heals after ours it has heard nothing. keepalived sends one
    // advert with its own priority here; one is lost in exactly that case, so we repeat it every
    // yield_repeat_period() for one Master_Down_Interval, and at least 2 s (at 100 ms adverts a
    // Master_Down_Interval is 0.36 s, shorter than the 300 ms-and-more heal skews seen in issue
    // 12 plus the wait for the winner's next advert; 2 s covers an RSTP reconvergence), then
    // fall silent as a Backup must.
    out.emplace_back(action::SendAdvert{effective_priority_});
    yield_repeat_until_ = now + std::max<Duration>(master_down_interval(), std::chrono::seconds{2});
    adver_deadline_ = now + yield_repeat_period();
    out.emplace_back(action::ArmTimer{Timer::Adver, *adver_deadline_});
    return;
  }
  // RFC 9568 change 5: discard, and advertise at once to assert mastership; re-announce the VIPs
  // because a lower-priority master on the link means a split brain just healed (DESIGN.md §5).
  // Throttled to one answer per Advertisement_Interval (issue 12: unthrottled, 97,000 lower
  // adverts in 5 s drew 97,000 answers); the scheduled adverts carry on regardless.
  const Duration answer_gap =
      params_.lower_answer_interval.value_or(Duration{params_.advert_interval});
  if (last_lower_answer_ && now - *last_lower_answer_ < answer_gap && now >= *last_lower_answer_) {
    ++answers_suppressed_;
    return;
  }
  last_lower_answer_ = now;
  send_advert(advertised_priority(), now, out);
  out.emplace_back(action::Announce{action::Announce::Why::LowerPriorityHeard});
  out.emplace_back(action::Notice{action::Notice::Level::Warning, "lower_priority_advert",
                                  "as master heard " + who + " advertising priority " +
                                      prio(advert.priority) + " (ours " +
                                      prio(effective_priority_) + "); asserting mastership"});
}

// --- Transitions ----------------------------------------------------------------------------

void StateMachine::on(const event::GroupTakeover& takeover, TimePoint now, Actions& out) {
  if (state_ != State::Backup || drained_ || fault_) return;
  become_master(Reason::Group, takeover.explanation, now, out);
}

void StateMachine::become_master(Reason reason, std::string explanation, TimePoint now,
                                 Actions& out) {
  if (master_down_deadline_) {
    out.emplace_back(action::CancelTimer{Timer::MasterDown});
    master_down_deadline_.reset();
  }
  // RFC 9568 §6.4.1/§6.4.2: send an advert, announce the addresses, arm Adver_Timer. The order is
  // make-before-break: install the VIPs and send the gratuitous ARP *before* the advert, because
  // a resigning master that keeps its VIPs (make-before-break, drain) releases them when it hears
  // this advert — by then the clients' caches already point here, so no SYN falls into a gap.
  master_adver_interval_ = params_.advert_interval;
  yield_repeat_until_.reset();  // adver_deadline_ is re-armed below for the scheduled adverts
  out.emplace_back(action::AcquireVips{});
  out.emplace_back(action::Announce{action::Announce::Why::BecameMaster});
  send_advert(advertised_priority(), now, out);
  adver_deadline_ = now + params_.advert_interval;
  out.emplace_back(action::ArmTimer{Timer::Adver, *adver_deadline_});
  pending_takeover_ = Reason::MasterDown;
  transition(State::Master, reason, std::move(explanation), now, out);
}

void StateMachine::become_backup(Reason reason, std::string explanation, TimePoint now,
                                 Actions& out) {
  // RFC 9568 §6.4.1: Master_Adver_Interval = Advertisement_Interval, arm Master_Down_Timer.
  master_adver_interval_ = params_.advert_interval;
  pending_takeover_ = Reason::MasterDown;
  arm_master_down(now + master_down_interval(), out);
  transition(State::Backup, reason, std::move(explanation), now, out);
}

void StateMachine::send_advert(std::uint8_t priority, TimePoint now, Actions& out) {
  out.emplace_back(action::SendAdvert{priority});
  if (priority != 0) master_ = MasterView{params_.primary_address, priority, now};
}

void StateMachine::arm_master_down(TimePoint deadline, Actions& out) {
  // Remember how it was armed (the full interval or Skew_Time only) for PriorityChanged.
  master_down_armed_at_ = deadline - master_down_interval();
  master_down_skew_only_ = false;
  if (pending_takeover_ != Reason::MasterDown) {
    master_down_armed_at_ = deadline - skew_time();
    master_down_skew_only_ = true;
  }
  master_down_deadline_ = deadline;
  out.emplace_back(action::ArmTimer{Timer::MasterDown, deadline});
}

void StateMachine::transition(State to, Reason reason, std::string explanation, TimePoint now,
                              Actions& out) {
  const State from = state_;
  state_ = to;
  since_ = now;
  last_reason_ = reason;
  last_explanation_ = explanation;
  if (to != State::Master && master_.address == params_.primary_address) master_ = MasterView{};
  out.emplace_back(action::StateChanged{from, to, reason, std::move(explanation)});
}

void StateMachine::record_master(const event::AdvertReceived& received, TimePoint now) {
  master_ = MasterView{received.source, received.advert.priority, now};
}

bool StateMachine::may_preempt(TimePoint now) const {
  // The owner always preempts (RFC 9568 §6.4.2); preempt_delay is keepalived's extension.
  if (owner()) return true;
  if (drained_) return false;  // a drained router never takes the VIPs back by itself
  return params_.preempt && now >= started_at_ + params_.preempt_delay;
}

// --- Extensions: drain, make-before-break, two-node group guard ------------------------------

void StateMachine::on(const event::DrainRequested& req, TimePoint now, Actions& out) {
  if (drained_) return;
  drained_ = true;
  if (state_ == State::Master) {
    // Resign in the open (priority 0) but keep the VIPs: master_receive() hands over when the
    // new master is heard, so no client meets an address that nobody holds.
    send_advert(0, now, out);
    adver_deadline_ = now + params_.advert_interval;
    out.emplace_back(action::ArmTimer{Timer::Adver, *adver_deadline_});
  }
  out.emplace_back(action::Notice{
      action::Notice::Level::Info, "drain",
      req.explanation + (state_ == State::Master
                             ? ": advertising priority 0, keeping the VIPs until another router "
                               "is heard as master"
                             : ": this router will not preempt and ranks itself last")});
}

void StateMachine::on(const event::DrainCancelled& req, TimePoint now, Actions& out) {
  if (!drained_) return;
  drained_ = false;
  if (state_ == State::Master) {
    send_advert(advertised_priority(), now, out);  // reassert at once
    adver_deadline_ = now + params_.advert_interval;
    out.emplace_back(action::ArmTimer{Timer::Adver, *adver_deadline_});
  }
  out.emplace_back(action::Notice{action::Notice::Level::Info, "undrain",
                                  req.explanation + ": back to normal priority and preemption"});
}

void StateMachine::on(const event::ReleaseTimerExpired&, TimePoint now, Actions& out) {
  if (!holding_vips_ || !release_deadline_ || now < *release_deadline_) return;  // stale
  out.emplace_back(action::Notice{
      action::Notice::Level::Warning, "released_without_handover",
      "releasing the VIPs: no new master was heard within " + secs(master_down_interval())});
  release_held_vips(out);
}

void StateMachine::stop_yield_repeat(Actions& out) {
  if (!yield_repeat_until_) return;
  yield_repeat_until_.reset();
  adver_deadline_.reset();
  out.emplace_back(action::CancelTimer{Timer::Adver});
}

Duration StateMachine::yield_repeat_period() const {
  return std::min<Duration>(params_.advert_interval, std::chrono::milliseconds{100});
}

void StateMachine::release_held_vips(Actions& out) {
  holding_vips_ = false;
  release_deadline_.reset();
  out.emplace_back(action::CancelTimer{Timer::Release});
  out.emplace_back(action::ReleaseVips{});
}

void StateMachine::note_peer(const IpAddress& source, Actions& out) {
  if (std::find(peers_seen_.begin(), peers_seen_.end(), source) != peers_seen_.end()) return;
  peers_seen_.push_back(source);
  if (params_.group_size == 2 && peers_seen_.size() > 1 && !group_exceeded_) {
    // DESIGN.md §4: the two-node shortcut is only safe with one other router. A third one means
    // the configuration is wrong: say so and fall back to RFC timing (Skew_Time ranks backups).
    group_exceeded_ = true;
    std::string who;
    for (const auto& p : peers_seen_) who += (who.empty() ? "" : ", ") + p.to_string();
    out.emplace_back(action::Notice{
        action::Notice::Level::Warning, "group_size_exceeded",
        "group_size = 2, but adverts come from " + std::to_string(peers_seen_.size()) +
            " other routers (" + who + "): two-node fast takeover is off, RFC timing applies"});
  }
}

void StateMachine::set_primary_address(const IpAddress& address) {
  if (master_.address && *master_.address == params_.primary_address) master_.address = address;
  params_.primary_address = address;
}

}  // namespace vipd::vrrp
