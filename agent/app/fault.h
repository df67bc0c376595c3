// Where an instance's fault is decided, once: the interface's state and the vital (weight-0)
// checks go in, and the latch says when the state machine must hear FaultRaised or FaultCleared.
// vrrp::weigh only names the vital check that is down; the state machine only obeys the edges.
// A sync group ([[group]]) adds a third input: another member's fault (app/group.h).
#pragma once

#include <optional>
#include <string>
#include <variant>

#include "vrrp/state_machine.h"

namespace vipd::app {

class FaultLatch {
 public:
  void set_link(std::optional<std::string> why) { link_ = std::move(why); }
  void set_check(std::optional<std::string> why) { check_ = std::move(why); }
  /// An action the instance could not execute (an adapter threw): faulty until the retry.
  void set_action(std::optional<std::string> why) { action_ = std::move(why); }
  /// Another member of the instance's sync group is faulty (nullopt: none is).
  void set_group(std::optional<std::string> why) { group_ = std::move(why); }
  /// The instance's own fault (its link, its vital checks, a failed action), not one its group
  /// passed on.
  [[nodiscard]] std::optional<std::string> own_reason() const {
    return link_ ? link_ : check_ ? check_ : action_;
  }
  /// The reason the instance is faulty now (the link first, the group last), if it is.
  [[nodiscard]] std::optional<std::string> reason() const {
    if (auto own = own_reason()) return own;
    return group_;
  }
  [[nodiscard]] bool raised() const { return raised_; }
  /// The event to feed when the wanted state differs from the last one fed; nothing otherwise.
  std::optional<vrrp::Event> edge() {
    const bool want = link_ || check_ || action_ || group_;
    if (want == raised_) return std::nullopt;
    raised_ = want;
    if (want)
      return vrrp::event::FaultRaised{link_ ? vrrp::Reason::LinkDown : vrrp::Reason::Fault,
                                      *reason()};
    return vrrp::event::FaultCleared{"fault cleared"};
  }

 private:
  std::optional<std::string> link_;
  std::optional<std::string> check_;
  std::optional<std::string> action_;
  std::optional<std::string> group_;
  bool raised_ = false;
};

}  // namespace vipd::app
