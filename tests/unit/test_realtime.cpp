// [agent] realtime_priority on a real thread: SCHED_RR with reset-on-fork (threads it creates
// start as SCHED_OTHER), back to SCHED_OTHER for 0, and the refusal without CAP_SYS_NICE.
// Each case runs in a thread of its own, so the test process keeps its policy.
#include <catch2/catch.hpp>

#include <linux/capability.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include "agent/app/realtime.h"
#include "agent/net/interface.h"

using vipd::app::apply_realtime_priority;
using vipd::app::RealtimeStatus;

namespace {

template <typename F>
void in_thread(F&& f) {
  std::thread t(std::forward<F>(f));
  t.join();
}

int policy_of_this_thread() { return ::sched_getscheduler(0) & ~SCHED_RESET_ON_FORK; }

/// Drops `cap` from this thread's effective set (capabilities are per thread in Linux).
bool drop_effective(int cap) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capget, &hdr, data) != 0) return false;
  data[cap / 32].effective &= ~(1U << (cap % 32));
  return ::syscall(SYS_capset, &hdr, data) == 0;
}

rlim_t rtprio_limit() {
  rlimit rl{};
  ::getrlimit(RLIMIT_RTPRIO, &rl);
  return rl.rlim_cur;
}

}  // namespace

TEST_CASE("realtime: 0 leaves a SCHED_OTHER thread alone", "[realtime]") {
  in_thread([] {
    const auto st = apply_realtime_priority(0);
    CHECK(st.requested == 0);
    CHECK(st.policy == "SCHED_OTHER");
    CHECK(st.priority == 0);
    CHECK(st.error.empty());
    CHECK(::sched_getscheduler(0) == SCHED_OTHER);  // not even the reset-on-fork flag
  });
}

TEST_CASE("realtime: SCHED_RR on this thread only, reset on fork, and back to 0", "[realtime]") {
  if (!vipd::net::has_capability(CAP_SYS_NICE) && rtprio_limit() < 7) {
    WARN("skipped: neither CAP_SYS_NICE nor RLIMIT_RTPRIO >= 7 here");
    return;
  }
  in_thread([] {
    const auto st = apply_realtime_priority(7);
    INFO(st.error);
    REQUIRE(st.error.empty());
    CHECK(st.policy == "SCHED_RR");
    CHECK(st.priority == 7);
    CHECK(::sched_getscheduler(0) == (SCHED_RR | SCHED_RESET_ON_FORK));
    // A thread created now (an HTTP server or check thread) starts as SCHED_OTHER.
    int child_policy = -1;
    in_thread([&] { child_policy = ::sched_getscheduler(0); });
    CHECK(child_policy == SCHED_OTHER);
    // A process forked now (a notify script) too.
    const pid_t pid = ::fork();
    if (pid == 0) _exit(::sched_getscheduler(0) == SCHED_OTHER ? 0 : 1);
    int status = -1;
    ::waitpid(pid, &status, 0);
    CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));

    const auto off = apply_realtime_priority(0);  // a reload to 0
    CHECK(off.error.empty());
    CHECK(off.policy == "SCHED_OTHER");
    CHECK(policy_of_this_thread() == SCHED_OTHER);
  });
}

TEST_CASE("realtime: refused without CAP_SYS_NICE: SCHED_OTHER, the reason and the fix",
          "[realtime]") {
  if (rtprio_limit() >= 99) {
    WARN("skipped: RLIMIT_RTPRIO permits every priority here");
    return;
  }
  in_thread([] {
    REQUIRE(drop_effective(CAP_SYS_NICE));
    REQUIRE_FALSE(vipd::net::has_capability(CAP_SYS_NICE));
    const auto st = apply_realtime_priority(99);
    CHECK(st.requested == 99);
    CHECK(st.policy == "SCHED_OTHER");
    CHECK(st.priority == 0);
    CHECK(policy_of_this_thread() == SCHED_OTHER);
    CHECK(st.error.find("not permitted: no CAP_SYS_NICE") != std::string::npos);
    CHECK(st.fix.find("LimitRTPRIO=99") != std::string::npos);
    CHECK(st.fix.find("rtprio: 99") != std::string::npos);
    CHECK(st.fix.find("SYS_NICE") != std::string::npos);
  });
}
