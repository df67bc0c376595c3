// One configured VRRP instance on a live interface: feeds the pure state machine and executes its
// actions against the advert channel, the VIP manager, the GARP sender and the loop's timers.
#pragma once

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "app/connection_reset.h"
#include "app/event_loop.h"
#include "app/stats.h"
#include "config/config.h"
#include "net/garp.h"
#include "net/vip_manager.h"
#include "net/vrrp_socket.h"
#include "vrrp/priority.h"
#include "vrrp/state_machine.h"

namespace vipd::app {

/// The live interface an instance runs on; shared by every instance on it.
struct Link {
  std::string name;
  int ifindex = 0;
  std::array<std::uint8_t, 6> mac{};
  std::optional<vrrp::IpAddress> primary_v4;
  bool usable = true;
  std::unique_ptr<net::VrrpSocket> socket;
  std::unique_ptr<net::GarpSender> garp;
};

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
  Instance(config::Instance cfg, Link& link, EventLoop& loop, net::VipManager& vips,
           AgentStats& agent_stats, ResetWorker* resets = nullptr);
  ~Instance();
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;

  /// Removes VIPs left over from an earlier crash, then starts the state machine.
  void start();
  /// Graceful stop: a MASTER sends priority 0 and releases its VIPs (resetting their
  /// connections on this thread first: the loop stops right after).
  void shutdown();

  /// A packet for our VRID arrived on our interface (IP-level checks are done here too).
  void receive(const net::ReceivedPacket& packet);
  /// Link state of our interface changed (or it vanished: usable = false).
  void link_changed(bool usable, const std::string& why);
  /// One of our VIPs disappeared from the interface (netlink DELADDR or resync).
  void vip_removed(const vrrp::IpPrefix& vip);
  /// Re-reads and repairs after lost netlink events.
  void resync();
  /// Planned handover on (drain) or off (undrain).
  void set_drained(bool drained, const std::string& why);
  /// The tracked checks' weighting changed.
  void apply_weights(const vrrp::Weighted& weighted);

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
  /// Which VIPs are on the interface, looked up in one address dump shared by all instances.
  [[nodiscard]] std::vector<bool> vips_present(const net::VipManager::AddressSet& addresses) const;
  [[nodiscard]] std::optional<std::string> fault() const;
  /// Conditions an operator must see in /status (e.g. a checksum-mode mismatch with a peer).
  [[nodiscard]] std::vector<std::string> warnings() const;

  /// Called with (instance, seconds) after each completed takeover.
  std::function<void(const std::string&, double)> on_failover;

 private:
  void feed(const vrrp::Event& event);
  void execute(const vrrp::Action& action);
  void send_advert(std::uint8_t priority);
  void acquire_vips();
  /// Leaves the VIPs: with reset_connections, resets their connections first (off the loop) and
  /// removes them when that is done (complete_release); otherwise removes them at once.
  void release_vips();
  void complete_release(std::uint64_t generation);
  void remove_vips();
  /// Counts and logs one reset's result (loop thread).
  void record_reset(const net::ResetResult& result);
  /// Counts add/remove results in vipd_vip_operations_total and logs each failure.
  void record_vip_operations(const char* op, const std::vector<net::VipOpResult>& results);
  void announce_burst(int left, bool second);
  void cancel_announcements();
  void apply_fault();
  void notify(vrrp::State state);
  void warn_limited(const std::string& key, const std::string& message);
  [[nodiscard]] vrrp::IpAddress source_address() const;
  [[nodiscard]] std::vector<vrrp::IpAddress> vip_addresses() const;

  config::Instance cfg_;
  Link& link_;
  EventLoop& loop_;
  net::VipManager& vip_manager_;
  AgentStats& agent_stats_;
  ResetWorker* resets_;
  InstanceStats stats_;
  vrrp::StateMachine machine_;
  vrrp::Weighted weighted_;
  std::map<vrrp::Timer, EventLoop::TimerId> timers_;
  std::vector<EventLoop::TimerId> garp_timers_;
  std::optional<std::string> link_fault_;
  std::optional<std::string> check_fault_;
  bool fault_raised_ = false;
  Transition last_transition_;
  std::optional<TimePoint> takeover_from_;      // last foreign advert before we took over
  std::optional<TimePoint> last_advert_heard_;  // last valid advert from another router
  std::optional<TimePoint> last_reannounce_;    // last advert heard before we took over
  std::map<std::string, TimePoint> warned_;
  std::array<std::uint8_t, 8> auth_data_{};
  std::map<std::string, std::pair<std::string, TimePoint>> conditions_;  // key → message, last seen
  bool stopping_ = false;
  // A release waiting for its connection reset: its number, and the timer that removes the VIPs
  // anyway if the reset does not report in time.
  std::uint64_t release_generation_ = 0;
  std::optional<std::uint64_t> pending_release_;
  std::optional<EventLoop::TimerId> release_deadline_;
  // Results posted back from the reset worker check this before touching the instance.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace vipd::app
