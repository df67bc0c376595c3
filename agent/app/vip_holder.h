// Holding and giving back one instance's VIPs: remove leftovers at start, add on becoming MASTER,
// release (with the connection reset first, bounded by a deadline), put back a VIP someone else
// removed while we are MASTER, and count every operation.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "app/conditions.h"
#include "app/connection_reset.h"
#include "app/ports.h"
#include "app/stats.h"

namespace vipd::app {

class VipHolder {
 public:
  /// `resets` runs connection resets off the loop; null: never reset.
  VipHolder(Scheduler& scheduler, VipTable& table, ResetWorker* resets, AgentStats& agent_stats,
            InstanceStats& stats, Conditions& conditions);
  ~VipHolder();
  VipHolder(const VipHolder&) = delete;
  VipHolder& operator=(const VipHolder&) = delete;

  /// What to hold: the instance's name (for logs), interface and VIPs; whether to reset.
  /// `link` is read at every operation: an interface that comes back gets a new index.
  void configure(std::string instance, const InterfaceFacts& link, std::vector<vrrp::IpPrefix> vips,
                 bool reset_connections);

  /// A VIP left by an earlier run is removed before the first election (DESIGN.md §5).
  void remove_leftovers();
  /// Adds the VIPs (a release still under way is called off: they stay).
  void acquire();
  /// Leaves the VIPs: with reset_connections, resets their connections first (off the loop,
  /// unless `now`) and removes them when that is done, or after the deadline; otherwise at once.
  void release(bool now);
  /// A release waiting for its reset finishes here, on this thread (shutdown).
  void finish_pending_release();
  [[nodiscard]] bool release_pending() const { return pending_.has_value(); }
  /// `vip` left the interface while we hold the VIPs: put it back if it is ours and gone.
  /// Returns true when it was put back (the caller announces it).
  bool put_back(const vrrp::IpPrefix& vip);
  /// Lost netlink events: puts back every VIP that is missing. Returns those put back.
  std::vector<vrrp::IpPrefix> repair();

  [[nodiscard]] std::vector<vrrp::IpAddress> addresses() const;
  [[nodiscard]] std::span<const vrrp::IpPrefix> vips() const { return vips_; }

  /// How long a release waits for its connection reset before removing the VIPs anyway.
  static constexpr auto kResetDeadline = std::chrono::milliseconds(500);

 private:
  void complete(std::uint64_t generation);
  void remove();
  void record(VipOp op, const std::vector<VipOpResult>& results);
  void record_reset(const ResetResult& result);

  Scheduler& sched_;
  VipTable& table_;
  ResetWorker* resets_;
  AgentStats& agent_stats_;
  InstanceStats& stats_;
  Conditions& conditions_;
  std::string instance_;
  const InterfaceFacts* link_ = nullptr;
  std::vector<vrrp::IpPrefix> vips_;
  bool reset_connections_ = true;
  // A release waiting for its connection reset: its number, and the timer that removes the VIPs
  // anyway if the reset does not report in time.
  std::uint64_t generation_ = 0;
  std::optional<std::uint64_t> pending_;
  std::optional<Scheduler::TimerId> deadline_;
  // Results posted back from the reset worker check this before touching the holder.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace vipd::app
