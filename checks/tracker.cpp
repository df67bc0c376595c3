// The pure rise/fall tracker (see tracker.h for which failures are immediate).
#include "checks/tracker.h"

#include <algorithm>
#include <limits>

namespace vipd::checks {

Tracker::Tracker(int rise, int fall) : rise_(std::max(rise, 1)), fall_(std::max(fall, 1)) {}

Transition Tracker::record(bool ok, bool immediate) {
  if (consecutive_ > 0 && ok == last_ok_) {
    if (consecutive_ < std::numeric_limits<int>::max()) ++consecutive_;
  } else {
    consecutive_ = 1;
  }
  last_ok_ = ok;

  if (ok == up_) return Transition::Unchanged;
  const bool crossed = ok ? consecutive_ >= rise_ : (immediate || consecutive_ >= fall_);
  if (!crossed) return Transition::Pending;
  up_ = ok;
  return Transition::Changed;
}

std::chrono::milliseconds edge_interval(std::chrono::milliseconds interval) {
  return std::min(interval, std::max(interval / 4, std::chrono::milliseconds(10)));
}

}  // namespace vipd::checks
