// Real-time scheduling of the VRRP loop thread ([agent] realtime_priority): SCHED_RR keeps the
// advert and master-down timers on time when the machine is busy (keepalived: vrrp_rt_priority).
#pragma once

#include <string>

namespace vipd::app {

/// What is in force on the loop thread, for the log, /status and /metrics.
struct RealtimeStatus {
  int requested = 0;                   // [agent] realtime_priority; 0 = off
  std::string policy = "SCHED_OTHER";  // the policy in force: SCHED_RR or SCHED_OTHER
  int priority = 0;                    // its real-time priority (0 under SCHED_OTHER)
  std::string error;                   // why the request is not in force (short; "" when it is)
  std::string fix;  // how to grant it (for the log; "" when nothing is to be done)
};

/// Puts the calling thread under SCHED_RR at `priority` (1..99), or back to SCHED_OTHER for 0.
/// Always with SCHED_RESET_ON_FORK: threads and processes this thread creates afterwards (HTTP
/// server and check threads, notify scripts) start as SCHED_OTHER, so only this thread is
/// real-time. Never throws; when the kernel refuses, the thread keeps its policy and `error`
/// and `fix` say why and what grants it (CAP_SYS_NICE or RLIMIT_RTPRIO).
RealtimeStatus apply_realtime_priority(int priority);

}  // namespace vipd::app
