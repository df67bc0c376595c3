// What a SIGHUP reload may apply in place and what needs a restart.
#include "app/reload_policy.h"

#include <algorithm>

namespace vipd::app {

bool soft_change_only(const config::Instance& current, const config::Instance& next) {
  config::Instance soft = current;
  soft.priority = next.priority;
  soft.track = next.track;
  soft.notify = next.notify;
  soft.garp = next.garp;
  soft.reset_connections = next.reset_connections;  // read at each release
  soft.auth = next.auth;  // key rotation and rollout modes apply in place (AdvertTrust)
  soft.learn_interval_factor = next.learn_interval_factor;
  soft.pos = next.pos;
  // Going to or from 255 changes the role (the owner is not weighted and preempts): restart.
  return soft == next && (current.priority == 255) == (next.priority == 255);
}

bool same_checks(const std::vector<config::Check>& a, const std::vector<config::Check>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](config::Check x, const config::Check& y) {
                      x.pos = y.pos;
                      return x == y;
                    });
}

}  // namespace vipd::app
