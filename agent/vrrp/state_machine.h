// The pure VRRP state machine (RFC 9568 §6.4): handle(event, now) → actions. No sockets, clocks,
// timers or logging inside; the agent executes the actions it returns.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "vrrp/advertisement.h"
#include "vrrp/ip_address.h"
#include "vrrp/timers.h"

namespace vipd::vrrp {

enum class State : std::uint8_t { Init, Backup, Master, Fault };
/// "INIT", "BACKUP", "MASTER", "FAULT" (the /status contract and the metric label values).
std::string_view to_string(State state);

/// Why a transition happened: a short enum for metric labels (stable names via to_string).
/// The sentence that explains it travels beside it in action::StateChanged::explanation.
enum class Reason : std::uint8_t {
  Startup,         // Initialize → Backup, or owner → Master at start-up
  MasterDown,      // Master_Down_Timer expired
  PriorityZero,    // the master resigned (priority-0 advert) and our Skew_Time ran out
  HigherPriority,  // a Master heard a better advert and stepped down
  Preempt,         // a Backup took over from a lower-priority master
  Fault,           // a weight-0 check failed
  LinkDown,        // the interface lost its link or vanished
  FaultCleared,    // fault gone: back to Backup (or Master for the owner)
  Shutdown,        // the agent is stopping
  Drain,           // planned handover requested by an operator
  Group,           // another member of the sync group took over (keepalived vrrp_sync_group)
};
/// "startup", "master_down", "priority_zero", "higher_priority", "preempt", "fault",
/// "link_down", "fault_cleared", "shutdown", "drain", "group".
std::string_view to_string(Reason reason);

/// Everything the state machine needs to know about its instance. Validated by the config layer.
struct InstanceParams {
  std::uint8_t vrid = 1;
  std::uint8_t version = 3;           // 3 or 2
  std::uint8_t priority = 100;        // base priority, 1..255 (255 = address owner)
  Centiseconds advert_interval{100};  // our Advertisement_Interval
  bool preempt = true;
  /// Vendor extension (keepalived preempt_delay): after start-up, a Backup does not preempt a
  /// lower-priority master until this much time has passed.
  Duration preempt_delay{0};
  /// DESIGN.md §4 fast preempt: a preempting Backup that hears a lower-priority advert sets
  /// Master_Down_Timer = min(remaining, Skew_Time) instead of waiting the whole interval.
  bool fast_preempt = true;
  /// Members of this VRID if known; 2 enables the two-node fast takeover (DESIGN.md §4).
  int group_size = 0;
  /// Our primary address on the interface: the tie-break compares it with the sender's.
  IpAddress primary_address;
  /// The configured VIPs (addresses only); used to check the received address list.
  std::vector<IpAddress> vips;
  /// Make-before-break release (DESIGN.md §4 extension, issue "Performance"): a MASTER that
  /// resigns because a check failed keeps its VIPs — connections are refused at once because
  /// the proxy is gone, so clients retry — until it hears another router as MASTER or
  /// Master_Down_Interval passes, then releases them. Off: release at once (RFC behaviour).
  bool make_before_break = true;
  /// Issue 12 bound: a MASTER answers lower-priority adverts (RFC 9568 change 5) at most once
  /// per this; unset = Advertisement_Interval; zero = every one (the RFC as written).
  std::optional<Duration> lower_answer_interval;
};

namespace event {
struct Startup {};
struct Shutdown {};
/// A validated advert for our VRID. `source` is the IP source address of the packet.
struct AdvertReceived {
  Advertisement advert;
  IpAddress source;
};
struct MasterDownTimerExpired {};
struct AdverTimerExpired {};
/// The effective priority changed (check weighting). Never a restart (STYLE.md rule 5).
struct PriorityChanged {
  std::uint8_t effective = 100;
  /// A MASTER advertises the new priority at once (false: a fault follows that resigns anyway).
  bool announce = true;
};
/// A weight-0 check failed or the link went down. `explanation` e.g. "check nginx-pid failed".
struct FaultRaised {
  Reason reason = Reason::Fault;  // Fault or LinkDown
  std::string explanation;
};
struct FaultCleared {
  std::string explanation;
};
/// Planned handover (POST /v1/drain): a MASTER advertises priority 0 but keeps its VIPs until
/// another router is heard as MASTER, then releases them and becomes BACKUP; a drained router
/// never preempts and ranks itself priority 1 (it still takes over when nobody else is there,
/// and then hands back at once). The drained mark outlives the transition until DrainCancelled.
struct DrainRequested {
  std::string explanation;
};
struct DrainCancelled {
  std::string explanation;
};
/// The make-before-break hold (see InstanceParams::make_before_break) ran out.
struct ReleaseTimerExpired {};
/// Another member of this router's sync group became MASTER because its master went away
/// (keepalived vrrp_sync_group: the members follow it). A Backup takes over now, as if its own
/// Master_Down_Timer had expired; a drained router, or one in another state, ignores it.
struct GroupTakeover {
  std::string explanation;
};
}  // namespace event

using Event =
    std::variant<event::Startup, event::Shutdown, event::AdvertReceived,
                 event::MasterDownTimerExpired, event::AdverTimerExpired, event::PriorityChanged,
                 event::FaultRaised, event::FaultCleared, event::DrainRequested,
                 event::DrainCancelled, event::ReleaseTimerExpired, event::GroupTakeover>;

enum class Timer : std::uint8_t { MasterDown, Adver, Release };

namespace action {
/// Send an advert now with this priority (0 = resign) and our advert interval.
struct SendAdvert {
  std::uint8_t priority = 0;
};
/// (Re)arm a one-shot timer to fire at `deadline`; replaces any earlier deadline of that timer.
struct ArmTimer {
  Timer timer = Timer::MasterDown;
  TimePoint deadline{};
};
struct CancelTimer {
  Timer timer = Timer::MasterDown;
};
/// Install the VIPs on the interface (idempotent).
struct AcquireVips {};
/// Remove the VIPs from the interface (idempotent).
struct ReleaseVips {};
/// Announce the VIPs (gratuitous ARP / unsolicited NA burst, and the second burst later).
/// `reason` says why: becoming master, or a healed split brain (a lower-priority advert heard).
struct Announce {
  enum class Why : std::uint8_t { BecameMaster, LowerPriorityHeard } why = Why::BecameMaster;
};
struct StateChanged {
  State from = State::Init;
  State to = State::Init;
  Reason reason = Reason::Startup;
  /// e.g. "master-down timer expired (no advert from 198.18.0.12 for 3.61s)"
  std::string explanation;
};
/// Something an operator should see in the log, rate-limited by the agent: interval adopted,
/// address-list mismatch, another owner on the link, two masters seen by a two-node group...
struct Notice {
  enum class Level : std::uint8_t { Info, Warning } level = Level::Info;
  std::string key;  // stable identifier for rate limiting and counting, e.g. "interval_adopted"
  std::string message;
};
}  // namespace action

using Action =
    std::variant<action::SendAdvert, action::ArmTimer, action::CancelTimer, action::AcquireVips,
                 action::ReleaseVips, action::Announce, action::StateChanged, action::Notice>;
using Actions = std::vector<Action>;

/// What the current master looks like from here (for /status and logs).
struct MasterView {
  std::optional<IpAddress> address;  // empty: not known yet; ours when we are master
  std::uint8_t priority = 0;
  std::optional<TimePoint> last_seen;  // when its last advert arrived
};

/// One VRRP router for one VRID. Not thread-safe; owned by the event loop.
class StateMachine {
 public:
  explicit StateMachine(InstanceParams params);

  /// Feeds one event; returns the actions to execute, in order.
  Actions handle(const Event& event, TimePoint now);

  [[nodiscard]] State state() const { return state_; }
  [[nodiscard]] const InstanceParams& params() const { return params_; }
  /// This router's own address changed (the IPv6 link-local address appeared or was replaced):
  /// used from the next advert and comparison on. No event, no action.
  void set_primary_address(const IpAddress& address);
  /// The priority we advertise: base for the owner, else the weighted effective priority.
  [[nodiscard]] std::uint8_t effective_priority() const { return effective_priority_; }
  /// Master_Adver_Interval: ours when master, learnt from the master's adverts when backup (v3).
  [[nodiscard]] Centiseconds master_adver_interval() const { return master_adver_interval_; }
  [[nodiscard]] Duration skew_time() const;
  [[nodiscard]] Duration master_down_interval() const;
  [[nodiscard]] const MasterView& master() const { return master_; }
  /// When the state last changed, its reason and its explanation.
  [[nodiscard]] TimePoint since() const { return since_; }
  [[nodiscard]] Reason last_reason() const { return last_reason_; }
  [[nodiscard]] const std::string& last_explanation() const { return last_explanation_; }
  [[nodiscard]] bool in_fault() const { return fault_.has_value(); }
  [[nodiscard]] bool drained() const { return drained_; }
  /// True while the VIPs are held after resigning (make-before-break or drain).
  [[nodiscard]] bool holding_vips() const { return holding_vips_; }
  /// False once a group_size = 2 router heard a third router: it then uses RFC timing.
  [[nodiscard]] bool two_node_active() const { return params_.group_size == 2 && !group_exceeded_; }
  /// The other routers heard so far for this VRID (for the group-size guard and /status).
  [[nodiscard]] const std::vector<IpAddress>& peers_seen() const { return peers_seen_; }
  /// Answers to lower-priority adverts left out by the throttle (at most one answer per
  /// Advertisement_Interval; issue 12): a counter for the metrics.
  [[nodiscard]] std::uint64_t answers_suppressed() const { return answers_suppressed_; }
  /// True while a router that yielded to a higher priority repeats its own advert (see
  /// yield_repeat_period()): the uneven partition heal of issue 12.
  [[nodiscard]] bool repeating_after_yield() const { return yield_repeat_until_.has_value(); }
  /// How often a yielding router repeats its advert: every Advertisement_Interval, but at least
  /// every 100 ms, so a winner whose side of a partition heals later re-announces within ~100 ms.
  [[nodiscard]] Duration yield_repeat_period() const;

 private:
  // Implementation details live in state_machine.cpp; add private members as needed.
  InstanceParams params_;
  State state_ = State::Init;
  std::uint8_t effective_priority_;
  Centiseconds master_adver_interval_;
  MasterView master_;
  TimePoint since_{};
  TimePoint started_at_{};
  Reason last_reason_ = Reason::Startup;
  std::string last_explanation_;
  std::optional<event::FaultRaised> fault_;
  std::optional<TimePoint> master_down_deadline_;
  std::optional<TimePoint> adver_deadline_;
  /// Why the armed Master_Down_Timer will fire, for the reason of the takeover: the master
  /// resigned (priority 0), or we are preempting a lower-priority master; else it went silent.
  Reason pending_takeover_ = Reason::MasterDown;
  bool drained_ = false;
  bool holding_vips_ = false;  // resigned, VIPs kept until a new master is heard
  std::optional<TimePoint> release_deadline_;
  std::optional<TimePoint> master_down_armed_at_;
  bool master_down_skew_only_ = false;
  bool group_exceeded_ = false;
  std::vector<IpAddress> peers_seen_;
  /// The last answer to a lower-priority advert (RFC 9568 change 5), for the throttle.
  std::optional<TimePoint> last_lower_answer_;
  std::uint64_t answers_suppressed_ = 0;
  /// A Master that yielded to a higher priority repeats its own advert until then: one
  /// Master_Down_Interval, at least 2 s (the adver timer, armed in Backup, paces the repeats).
  std::optional<TimePoint> yield_repeat_until_;

  void on(const event::Startup&, TimePoint now, Actions& out);
  void on(const event::Shutdown&, TimePoint now, Actions& out);
  void on(const event::AdvertReceived&, TimePoint now, Actions& out);
  void on(const event::MasterDownTimerExpired&, TimePoint now, Actions& out);
  void on(const event::AdverTimerExpired&, TimePoint now, Actions& out);
  void on(const event::PriorityChanged&, TimePoint now, Actions& out);
  void on(const event::FaultRaised&, TimePoint now, Actions& out);
  void on(const event::FaultCleared&, TimePoint now, Actions& out);
  void on(const event::DrainRequested&, TimePoint now, Actions& out);
  void on(const event::DrainCancelled&, TimePoint now, Actions& out);
  void on(const event::ReleaseTimerExpired&, TimePoint now, Actions& out);
  void on(const event::GroupTakeover&, TimePoint now, Actions& out);
  void release_held_vips(Actions& out);
  void stop_yield_repeat(Actions& out);
  void note_peer(const IpAddress& source, Actions& out);
  [[nodiscard]] std::uint8_t advertised_priority() const {
    return drained_ ? 0 : effective_priority_;
  }
  [[nodiscard]] std::uint8_t ranking_priority() const { return drained_ ? 1 : effective_priority_; }

  void backup_receive(const event::AdvertReceived& received, TimePoint now, Actions& out);
  void master_receive(const event::AdvertReceived& received, TimePoint now, Actions& out);
  /// Preempt mode, a lower-priority master: two-node takes over now, fast preempt arms Skew_Time.
  void preempt_lower(const std::string& why, TimePoint now, Actions& out);
  /// On becoming able to preempt: act on the last advert heard from the master if it is recent.
  void preempt_known_master(TimePoint now, Actions& out);
  void become_master(Reason reason, std::string explanation, TimePoint now, Actions& out);
  void become_backup(Reason reason, std::string explanation, TimePoint now, Actions& out);
  void send_advert(std::uint8_t priority, TimePoint now, Actions& out);
  void arm_master_down(TimePoint deadline, Actions& out);
  void transition(State to, Reason reason, std::string explanation, TimePoint now, Actions& out);
  void record_master(const event::AdvertReceived& received, TimePoint now);
  [[nodiscard]] bool owner() const { return params_.priority == 255; }
  [[nodiscard]] bool may_preempt(TimePoint now) const;
};

}  // namespace vipd::vrrp
