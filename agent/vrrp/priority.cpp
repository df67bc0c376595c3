// Priority weighting (DESIGN.md §1.2, §3): check results → effective priority, keepalived's
// meaning.
#include "vrrp/priority.h"

#include <algorithm>

namespace vipd::vrrp {

Weighted weigh(std::uint8_t base, std::span<const TrackedCheck> checks, int delta,
               std::span<const TrackedFile> files) {
  // A vital (weight 0) file check is a vital check that is up while its file says 0.
  std::vector<TrackedCheck> all(checks.begin(), checks.end());
  std::vector<Contribution> file_contributions;
  int total = base;
  for (const TrackedFile& f : files) {
    if (f.weight == 0) {
      all.push_back(TrackedCheck{f.name, 0, f.up && f.value == 0});
      continue;
    }
    const int applied = f.value * f.weight;
    total += applied;
    file_contributions.push_back(Contribution{f.name, f.weight, f.up, applied});
  }
  Weighted result;
  for (const TrackedCheck& check : all) {
    const bool up = check.up;
    int applied = 0;
    if (check.weight > 0 && up) applied = check.weight;
    if (check.weight < 0 && !up) applied = check.weight;
    // Weight 0 means "this check is vital": down puts the instance in FAULT (the first one named).
    if (check.weight == 0 && !up && !result.fault) result.fault = check.name;
    total += applied;
    result.contributions.push_back(Contribution{check.name, check.weight, up, applied});
  }
  for (auto& c : file_contributions) result.contributions.push_back(std::move(c));
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
