// The announcement schedule of one instance (MetalLB's layer-2 announcer, which owns its own
// schedule, is the model): on becoming MASTER a burst of `repeat` rounds `interval` apart, one
// second burst after `second_burst_after` (keepalived: garp_master_delay), then one round every
// `refresh` (garp_master_refresh) while MASTER; a re-announcement at most once a second when a
// lower-priority advert is heard; and the failover time stamp — from the last advert heard from
// the old master to the first announcement of the takeover.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "app/ports.h"
#include "config/config.h"

namespace vipd::app {

class AnnouncementSchedule {
 public:
  /// `round` sends one round for every VIP and returns the frames sent, or nullopt when there is
  /// nothing to announce with (not MASTER, or no announcer on the interface).
  using Round = std::function<std::optional<int>()>;
  AnnouncementSchedule(Scheduler& scheduler, Round round)
      : sched_(scheduler), round_(std::move(round)) {}
  ~AnnouncementSchedule() { cancel(); }
  AnnouncementSchedule(const AnnouncementSchedule&) = delete;
  AnnouncementSchedule& operator=(const AnnouncementSchedule&) = delete;

  void set_garp(const config::Garp& garp) { garp_ = garp; }
  /// A takeover begins: the failover is measured from `last_heard` (the last advert from the old
  /// master; none at an election at start-up, which is no failover).
  void mark_takeover(std::optional<TimePoint> last_heard) { takeover_from_ = last_heard; }
  /// Starts the burst now (becoming MASTER), replacing any schedule under way.
  void start();
  /// Heard a lower-priority advert while MASTER: a new burst, at most once a second. Returns
  /// false when throttled.
  bool reannounce();
  void cancel();

  /// Called with the failover's duration in seconds after each completed takeover.
  std::function<void(double)> on_failover;

  [[nodiscard]] std::uint64_t frames_sent() const { return frames_; }
  [[nodiscard]] std::uint64_t failovers() const { return failovers_; }
  /// -1 before the first failover.
  [[nodiscard]] double last_failover_seconds() const { return last_failover_seconds_; }

 private:
  void burst(int left, bool second);

  Scheduler& sched_;
  Round round_;
  config::Garp garp_;
  std::vector<Scheduler::TimerId> timers_;
  std::optional<TimePoint> takeover_from_;
  std::optional<TimePoint> last_reannounce_;
  std::uint64_t frames_ = 0;
  std::uint64_t failovers_ = 0;
  double last_failover_seconds_ = -1;
};

}  // namespace vipd::app
