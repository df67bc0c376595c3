// The pure rise/fall tracker: turns a stream of raw probe results into a debounced up/down state.
#pragma once

#include <chrono>
#include <cstdint>

namespace vipd::checks {

/// What one result did to the tracked state (Envoy's HealthTransition).
enum class Transition : std::uint8_t {
  Unchanged,  // the result agrees with the tracked state
  Changed,    // the tracked state flipped with this result
  Pending,    // the result disagrees, but the rise/fall threshold is not reached yet
};

/// Rise/fall hysteresis. A tracker starts DOWN: a cold node must see `rise` consecutive successes
/// before a check counts as up, so it never claims the VIP on the strength of no evidence.
///
/// Which failures act at once (`immediate = true`) is the probe's decision, not the tracker's:
///   immediate - the thing is gone, a retry cannot bring it back:
///     pid:  the watched process exited; the pidfile is missing, unreadable, not a PID or names a
///           process that is not running (after the grace described in pid_probe.cpp);
///     link: carrier lost, interface administratively down or missing.
///   counted toward `fall` - may be a transient blip:
///     http: connect/read timeout, connection refused, status not expected, body mismatch, TLS;
///     tcp:  refused, timeout, unreachable;
///     exec: non-zero exit, killed, timeout;
///     file: unreadable or not a number.
/// Successes always count toward `rise`; there is no "immediate up".
class Tracker {
 public:
  /// `rise` and `fall` below 1 are treated as 1.
  Tracker(int rise, int fall);

  /// Records one raw result and returns what it did.
  Transition record(bool ok, bool immediate = false);

  [[nodiscard]] bool up() const { return up_; }
  /// The last raw result (false before the first).
  [[nodiscard]] bool last_ok() const { return last_ok_; }
  /// Consecutive raw results equal to last_ok() (0 before the first).
  [[nodiscard]] int consecutive() const { return consecutive_; }
  [[nodiscard]] int rise() const { return rise_; }
  [[nodiscard]] int fall() const { return fall_; }

 private:
  int rise_;
  int fall_;
  bool up_ = false;
  bool last_ok_ = false;
  int consecutive_ = 0;
};

/// Envoy's "edge interval": how often to probe while a change is Pending, so a failure (or a
/// recovery) is confirmed sooner without raising the steady rate: interval/4, at least 10 ms,
/// never more than `interval`.
std::chrono::milliseconds edge_interval(std::chrono::milliseconds interval);

}  // namespace vipd::checks
