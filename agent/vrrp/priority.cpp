// Priority weighting (DESIGN.md §1.2, §3): check results → effective priority, keepalived's
// meaning.
#include "vrrp/priority.h"

#include <algorithm>

namespace vipd::vrrp {

Weighted weigh(std::uint8_t base, std::span<const TrackedCheck> checks, int delta) {
  Weighted result;
  int total = base;
  for (const TrackedCheck& check : checks) {
    int applied = 0;
    if (check.weight > 0 && check.up) applied = check.weight;
    if (check.weight < 0 && !check.up) applied = check.weight;
    // Weight 0 means "this check is vital": down puts the instance in FAULT (the first one named).
    if (check.weight == 0 && !check.up && !result.fault) result.fault = check.name;
    total += applied;
    result.contributions.push_back(Contribution{check.name, check.weight, check.up, applied});
  }
  if (base == 255) {
    // RFC 9568 §5.2.4: the owner MUST advertise 255; weighting would make it lie.
    result.effective = 255;
    for (Contribution& c : result.contributions) c.applied = 0;
    return result;
  }
  // 0 is reserved for resigning and 255 for the owner: a weighted router stays within 1..254.
  result.effective = static_cast<std::uint8_t>(std::clamp(total + delta, 1, 254));
  return result;
}

}  // namespace vipd::vrrp
