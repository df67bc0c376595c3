// SCHED_RR for the VRRP loop thread, with SCHED_RESET_ON_FORK so nothing it creates inherits it.
#include "app/realtime.h"

#include <linux/capability.h>
#include <sched.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstring>

#include "app/capability.h"

namespace vipd::app {
namespace {

/// The calling thread's policy and real-time priority, as the kernel has them now.
void read_back(RealtimeStatus& st) {
  const int policy = ::sched_getscheduler(0);
  sched_param param{};
  ::sched_getparam(0, &param);
  switch (policy & ~SCHED_RESET_ON_FORK) {
    case SCHED_RR:
      st.policy = "SCHED_RR";
      break;
    case SCHED_FIFO:
      st.policy = "SCHED_FIFO";
      break;
    case SCHED_OTHER:
      st.policy = "SCHED_OTHER";
      break;
    case SCHED_BATCH:
      st.policy = "SCHED_BATCH";
      break;
    case SCHED_IDLE:
      st.policy = "SCHED_IDLE";
      break;
    default:
      st.policy = "policy " + std::to_string(policy);
  }
  st.priority = param.sched_priority;
}

}  // namespace

RealtimeStatus apply_realtime_priority(int priority) {
  RealtimeStatus st;
  st.requested = priority;
  const int current = ::sched_getscheduler(0) & ~SCHED_RESET_ON_FORK;
  if (priority == 0 && current != SCHED_RR && current != SCHED_FIFO) {
    read_back(st);  // off, and never was on: leave the thread alone
    return st;
  }
  sched_param param{};
  param.sched_priority = priority;
  // SCHED_RESET_ON_FORK also for SCHED_OTHER: once set, an unprivileged thread may not clear it
  // (sched(7)), so going back to 0 on a reload keeps it rather than failing.
  const int policy = (priority > 0 ? SCHED_RR : SCHED_OTHER) | SCHED_RESET_ON_FORK;
  if (::sched_setscheduler(0, policy, &param) != 0) {
    const int err = errno;
    rlimit rl{};
    ::getrlimit(RLIMIT_RTPRIO, &rl);
    const bool cap = has_capability(CAP_SYS_NICE);
    const bool by_limit =
        rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= static_cast<rlim_t>(priority);
    const auto limit =
        rl.rlim_cur == RLIM_INFINITY ? std::string("unlimited") : std::to_string(rl.rlim_cur);
    const auto want = std::to_string(priority);
    if (err == EPERM && !cap && !by_limit) {
      st.error =
          "not permitted: no CAP_SYS_NICE, and RLIMIT_RTPRIO is " + limit + " (below " + want + ")";
      st.fix = "grant it: systemd LimitRTPRIO=" + want +
               " (or AmbientCapabilities=CAP_SYS_NICE); docker/podman ulimits: {rtprio: " + want +
               "} (or cap_add: [SYS_NICE] when vipd runs as root); or set realtime_priority = 0 "
               "to run without";
    } else if (err == EPERM) {
      st.error = cap ? "refused although CAP_SYS_NICE is held"
                     : "refused although RLIMIT_RTPRIO is " + limit;
      st.fix =
          "a seccomp filter forbids real-time scheduling (systemd RestrictRealtime=yes: set "
          "RestrictRealtime=no), or the cgroup has no real-time budget (cpu.rt_runtime_us = 0 "
          "with CONFIG_RT_GROUP_SCHED; docker --cpu-rt-runtime); or set realtime_priority = 0";
    } else {
      st.error = std::string("sched_setscheduler: ") + std::strerror(err);
    }
  }
  read_back(st);
  return st;
}

}  // namespace vipd::app
