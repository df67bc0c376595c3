// One configured VRRP instance on a live interface: feeds the pure state machine and executes its
// actions through the ports (ports.h). Its jobs live beside it: VipHolder (VIPs and their
// release with connection reset), AnnouncementSchedule (bursts, refresh, failover time stamp),
// Conditions (what /status shows) and FaultLatch (the fault, decided once).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "app/advert_trust.h"
#include "app/announcement.h"
#include "app/conditions.h"
#include "app/connection_reset.h"
#include "app/fault.h"
#include "app/link.h"
#include "app/ports.h"
#include "app/stats.h"
#include "app/vip_holder.h"
#include "config/config.h"
#include "vrrp/admission.h"
#include "vrrp/priority.h"
#include "vrrp/state_machine.h"

namespace vipd::app {

/// The reason text of the last transition, with its time, for /status.
struct Transition {
  vrrp::State from = vrrp::State::Init;
  vrrp::State to = vrrp::State::Init;
  vrrp::Reason reason = vrrp::Reason::Startup;
  std::string explanation;
  TimePoint at{};
};

class Instance {
 public:
  /// `resets` resets the connections of released VIPs (reset_connections); null: never.
  Instance(config::Instance cfg, Link& link, Scheduler& scheduler, VipTable& vips,
           AgentStats& agent_stats, ResetWorker* resets = nullptr);
  ~Instance();
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;

  /// Removes VIPs left over from an earlier crash, then starts the state machine.
  void start();
  /// Graceful stop: a MASTER sends priority 0 and releases its VIPs (resetting their
  /// connections on this thread first: the loop stops right after).
  void shutdown();

  /// What this instance expects of a received advert (the core's admission reads it).
  [[nodiscard]] const vrrp::Receiver& receiver() const { return receiver_; }
  /// An admitted advert for this instance (Agent::on_readable ran vrrp::admit).
  void receive(const vrrp::Admission& admission, const vrrp::IpAddress& source);
  /// An advert for our VRID that admission dropped: shown in /status when the reason is one an
  /// operator must fix (not a peer, failed authentication, v2 interval mismatch).
  void refused(const vrrp::Admission& admission, const vrrp::Datagram& datagram);
  /// auth_hmac (issue 12) on an admitted advert, before receive(): the drop reason when it fails
  /// (no state changes), nullopt when it passes or the instance has no `auth`.
  std::optional<vrrp::DropReason> authenticate(const vrrp::Datagram& datagram);
  /// auth_hmac, checksum form and learnt-interval bound of this instance (issue 12).
  [[nodiscard]] const AdvertTrust& trust() const { return trust_; }
  /// Link state of our interface changed (or it vanished: usable = false).
  void link_changed(bool usable, const std::string& why);
  /// The link's advert source (its IPv6 link-local address) appeared, changed or went away:
  /// the instance sends from the new one, or waits in FAULT while there is none.
  void source_changed();
  /// One of our VIPs disappeared from the interface (netlink DELADDR or resync).
  void vip_removed(const vrrp::IpPrefix& vip);
  /// Re-reads and repairs after lost netlink events.
  void resync();
  /// Planned handover on (drain) or off (undrain).
  void set_drained(bool drained, const std::string& why);
  /// The tracked checks' weighting changed.
  void apply_weights(const vrrp::Weighted& weighted);
  /// Another member of this instance's sync group is faulty (`why`), or none is (nullopt):
  /// the instance follows it into FAULT, and out again (app/group.h).
  void set_group_fault(std::optional<std::string> why);
  /// Another member of the sync group took over (`why`): a BACKUP takes over now too.
  void group_takeover(const std::string& why);
  /// The instance's own fault (its interface, a vital check), if any: what its group follows.
  [[nodiscard]] std::optional<std::string> own_fault() const;
  /// Why this instance has no advert source on its link (IPv6 without a link-local address and
  /// without unicast_src), or nullopt.
  [[nodiscard]] std::optional<std::string> missing_source() const;

  /// Applies a new config for the same instance when only "soft" keys changed (priority, track,
  /// notify, garp): no restart, no flap. Returns false when the change needs a restart.
  bool update(const config::Instance& cfg);
  [[nodiscard]] bool can_update(const config::Instance& cfg) const;

  [[nodiscard]] const config::Instance& config() const { return cfg_; }
  [[nodiscard]] const vrrp::StateMachine& machine() const { return machine_; }
  [[nodiscard]] const InstanceStats& stats() const { return stats_; }
  [[nodiscard]] const Transition& last_transition() const { return last_transition_; }
  [[nodiscard]] const vrrp::Weighted& weights() const { return weighted_; }
  [[nodiscard]] const Link& link() const { return link_; }
  /// Which VIPs are in an address set read once for all instances.
  [[nodiscard]] std::vector<bool> vips_present(const AddressSet& addresses) const;
  [[nodiscard]] std::optional<std::string> fault() const { return fault_.reason(); }
  /// Conditions an operator must see in /status (e.g. a checksum-mode mismatch with a peer).
  [[nodiscard]] std::vector<std::string> warnings() const { return conditions_.current(); }

  /// Called with (instance, seconds) after each completed takeover.
  std::function<void(const std::string&, double)> on_failover;
  /// Called after each state change (the sync group watches its members); it must not feed
  /// this instance again from inside the call.
  std::function<void(const Instance&)> on_state_changed;

 private:
  void feed(const vrrp::Event& event);
  void execute(const vrrp::Action& action);
  void arm(vrrp::Timer timer, TimePoint deadline);
  void send_advert(std::uint8_t priority);
  std::optional<int> announce_round();
  void apply_fault();
  void action_failed(const std::string& what);
  void notify(vrrp::State state);
  void configure_jobs();
  [[nodiscard]] vrrp::IpAddress source_address() const;

  config::Instance cfg_;
  Link& link_;
  Scheduler& sched_;
  AgentStats& agent_stats_;
  InstanceStats stats_;
  Conditions conditions_;
  VipHolder vips_;
  AnnouncementSchedule announcements_;
  FaultLatch fault_;
  vrrp::StateMachine machine_;
  AdvertTrust trust_;
  vrrp::Receiver receiver_;
  vrrp::Weighted weighted_;
  std::map<vrrp::Timer, Scheduler::TimerId> timers_;
  Transition last_transition_;
  std::optional<TimePoint> last_advert_heard_;  // last valid advert from another router
  std::array<std::uint8_t, 8> auth_data_{};
  bool stopping_ = false;
  /// After an action failed, the FAULT lasts this long, then the instance tries again.
  static constexpr vrrp::Duration kActionRetry = std::chrono::seconds(5);
  Scheduler::TimerId action_retry_ = 0;
};

}  // namespace vipd::app
