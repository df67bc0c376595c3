// The announcement schedule (announcement.h).
#include "app/announcement.h"

#include <algorithm>
#include <chrono>

namespace vipd::app {

using namespace std::chrono_literals;

void AnnouncementSchedule::start() {
  cancel();
  burst(std::max(garp_.repeat, 1), false);
}

bool AnnouncementSchedule::reannounce() {
  // One re-announcement burst per second at most: a peer that keeps sending lower adverts (it
  // cannot hear us) must not turn into a GARP flood.
  const auto now = sched_.clock();
  if (last_reannounce_ && now - *last_reannounce_ < 1s) return false;
  last_reannounce_ = now;
  start();
  return true;
}

void AnnouncementSchedule::cancel() {
  for (auto id : timers_) sched_.cancel_timer(id);
  timers_.clear();
}

void AnnouncementSchedule::burst(int left, bool second) {
  const auto sent = round_();
  if (!sent) return;
  frames_ += static_cast<std::uint64_t>(*sent);
  const auto now = sched_.clock();
  if (takeover_from_) {
    // The first announcement of a takeover is out: that closes the failover measurement.
    last_failover_seconds_ = vrrp::to_seconds(now - *takeover_from_);
    ++failovers_;
    takeover_from_.reset();
    if (on_failover) on_failover(last_failover_seconds_);
  }
  if (left > 1) {
    timers_.push_back(
        sched_.add_timer(now + garp_.interval, [this, left, second] { burst(left - 1, second); }));
  } else if (!second && garp_.second_burst_after.count() > 0) {
    timers_.push_back(sched_.add_timer(now + garp_.second_burst_after,
                                       [this] { burst(std::max(garp_.repeat, 1), true); }));
  } else if (garp_.refresh.count() > 0) {
    timers_.push_back(sched_.add_timer(now + garp_.refresh, [this] { burst(1, true); }));
  }
}

}  // namespace vipd::app
