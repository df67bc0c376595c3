// The conditions an operator must see in /status (a checksum-form mismatch with a peer, a slow
// connection reset, a failing notify hook, ...), each logged at most once every 10 s (RFC 9568
// §7.1: log, rate-limited) and shown while it keeps happening: for 60 s after it was last seen.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "app/ports.h"

namespace vipd::app {

class Conditions {
 public:
  explicit Conditions(const Scheduler& clock) : clock_(clock) {}
  /// Records the condition `key` with its text, and logs it unless it was logged < 10 s ago.
  void raise(const std::string& key, const std::string& message);
  /// Records without logging (the caller logged already).
  void record(const std::string& key, const std::string& message);
  /// The texts of the conditions seen in the last 60 s, by key.
  [[nodiscard]] std::vector<std::string> current() const;

 private:
  const Scheduler& clock_;
  std::map<std::string, std::pair<std::string, TimePoint>> seen_;  // key → message, last seen
  std::map<std::string, TimePoint> logged_;
};

}  // namespace vipd::app
