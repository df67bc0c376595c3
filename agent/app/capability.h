// Whether this thread has a capability in its effective set (clear start-up errors, DESIGN.md:
// "a missing capability gets a clear, actionable error"). Header-only: agent/net and agent/app
// both ask, and neither links the other.
#pragma once

#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace vipd::app {

/// True when the effective set has `cap` (a CAP_* number); false for numbers that are not one.
inline bool has_capability(int cap) {
  if (cap < 0 || cap > CAP_LAST_CAP) return false;
  __user_cap_header_struct hdr{};
  hdr.version = _LINUX_CAPABILITY_VERSION_3;
  hdr.pid = 0;  // this thread
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capget, &hdr, data) != 0) return false;
  const auto word = static_cast<unsigned>(cap) / 32;
  const auto bit = 1U << (static_cast<unsigned>(cap) % 32);
  return (data[word].effective & bit) != 0;
}

}  // namespace vipd::app
