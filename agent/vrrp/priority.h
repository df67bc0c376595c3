// Priority weighting (DESIGN.md §3): the pure function from check results to effective priority.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace vipd::vrrp {

/// One tracked check as the weighting sees it.
struct TrackedCheck {
  std::string name;
  int weight = 0;  // > 0 added while up; < 0 added while down; 0 = down puts the instance in FAULT
  bool up = false;
};

/// A tracked file check (keepalived track_file): the number read from the file. With a weight it
/// adds value × weight whatever its state; with weight 0 a non-zero value (or a file that cannot
/// be read: up = false) puts the instance in FAULT — the maintenance knob.
struct TrackedFile {
  std::string name;
  int weight = 0;
  bool up = false;
  int value = 0;
};

/// The contribution of one tracked check, for /status.
struct Contribution {
  std::string check;
  int weight = 0;
  bool up = false;
  int applied = 0;  // what this check adds to the base priority right now
};

struct Weighted {
  std::uint8_t effective = 100;      // clamped to 1..254; the owner (255) is never weighted
  std::optional<std::string> fault;  // name of the first weight-0 check that is down
  std::vector<Contribution> contributions;
};

/// keepalived's meaning, so migrating users are not surprised: a positive weight is added while
/// the check is up, a negative weight while it is down, weight 0 down means FAULT. A non-owner's
/// result is clamped to 1..254 (a weighted router never claims to be the owner, and 0 is reserved
/// for resigning). File checks follow TrackedFile; their contributions are listed after the
/// others. Extra `delta` is added before clamping. The owner (255) is never weighted:
/// every contribution shows 0 applied.
Weighted weigh(std::uint8_t base, std::span<const TrackedCheck> checks, int delta = 0,
               std::span<const TrackedFile> files = {});

}  // namespace vipd::vrrp
