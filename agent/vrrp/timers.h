// RFC timer arithmetic: Skew_Time and Master_Down_Interval (RFC 9568 §6.1, RFC 3768 §6.1).
#pragma once

#include <chrono>
#include <cstdint>

namespace vipd::vrrp {

/// VRRP's unit of time on the wire (v3 Max Advertise Interval is in centiseconds).
using Centiseconds = std::chrono::duration<std::int64_t, std::centi>;
/// The core's clock resolution: fine enough for sub-millisecond timer precision.
using Duration = std::chrono::microseconds;
/// A point on a steady clock. The core never reads a clock: every event carries `now`.
using TimePoint = std::chrono::time_point<std::chrono::steady_clock, Duration>;

/// Skew_Time, for VRRPv3 (RFC 9568 §6.1):
///     Skew_Time = ((256 - Priority) * Master_Adver_Interval) / 256     [centiseconds]
/// and for VRRPv2 (RFC 3768 §6.1), where the interval is whole seconds:
///     Skew_Time = (256 - Priority) / 256                                 [seconds]
/// The v2 formula is the v3 one with Master_Adver_Interval = 1 s; like FRR we keep centisecond
/// precision rather than truncating to whole seconds (which would make Skew_Time zero).
/// The result is exact in microseconds; integer division truncates toward zero as the RFC's
/// integer arithmetic does.
constexpr Duration skew_time(int priority, Centiseconds master_adver_interval, int version = 3) {
  const auto interval = version == 2 ? Centiseconds{100} : master_adver_interval;
  const std::int64_t us = std::chrono::duration_cast<Duration>(interval).count();
  return Duration{((256 - priority) * us) / 256};
}

/// Master_Down_Interval = 3 * Master_Adver_Interval + Skew_Time (RFC 9568 §6.1; RFC 3768 §6.1
/// uses the local Advertisement_Interval, which is what a v2 caller passes).
/// Example (RFC-CHECKLIST §4.4): interval 1 s, priority 100 → 3 s + 0.609375 s = 3.609375 s.
constexpr Duration master_down_interval(int priority, Centiseconds master_adver_interval,
                                        int version = 3) {
  return std::chrono::duration_cast<Duration>(3 * master_adver_interval) +
         skew_time(priority, master_adver_interval, version);
}

/// A duration in seconds, for logs and /status.
constexpr double to_seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace vipd::vrrp
