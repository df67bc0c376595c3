// Anti-replay for authenticated adverts: the 64-bit sequence a sender puts in its trailer, and
// the receiver's per-sender replay marks (keepalived >= 2.4.3 vrrp_auth_hmac.c semantics).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "vrrp/ip_address.h"

namespace vipd::vrrp::auth {

/// sec << 32 | subsec << 16 | ctr: UTC seconds, 1/65536 s, a tie-breaker.
using Sequence = std::uint64_t;

/// Wall-clock time (CLOCK_REALTIME) as nanoseconds since the Unix epoch. The core never reads a
/// clock; the caller passes it in. Time mode needs the peers' clocks to agree within the window.
using WallTime = std::chrono::nanoseconds;

enum class AntiReplay : std::uint8_t {
  Time,       // sequences carry the wall clock; stale ones are refused; marks expire
  Monotonic,  // sequences only need to grow; marks never expire (a restarted peer with a
              // stepped-back clock is refused until its sequence passes the mark)
};

/// RFC 1982 serial-number comparison on 64 bits: a is after b when (int64)(a - b) > 0.
constexpr bool serial_after(Sequence a, Sequence b) { return static_cast<std::int64_t>(a - b) > 0; }

/// The seconds field of a sequence.
constexpr std::uint32_t sequence_seconds(Sequence s) { return static_cast<std::uint32_t>(s >> 32); }

/// The sequence for wall time `now`, ctr 0: sec = tv_sec, subsec = (tv_nsec << 16) / 1e9.
Sequence sequence_at(WallTime now);

/// True when `sec` is more than `window` away from now's seconds (32-bit signed difference,
/// seconds only, as keepalived compares).
bool outside_window(std::uint32_t sec, WallTime now, std::chrono::seconds window);

/// The sender's side: each advert gets a sequence strictly after the previous one.
class SequenceClock {
 public:
  /// From the wall clock; if that is not after the last one sent (two adverts in one tick, or
  /// the clock stepped back), last + 1 (the carry runs from ctr into subsec and sec). Time mode
  /// (since keepalived 2.4.3): if the last one's seconds run more than `window` ahead of the
  /// clock, the clock was stepped back for good: restart from it, or peers would refuse every
  /// advert as stale until the clock caught up.
  Sequence next(WallTime now, AntiReplay mode, std::chrono::seconds window);

 private:
  std::optional<Sequence> last_;
};

/// The receiver's side: the last accepted sequence of each sender. keepalived keeps 4 slots per
/// multicast instance (least recently used evicted) and one per unicast peer; `capacity` is the
/// caller's choice (max(4, peers)).
class ReplayTable {
 public:
  explicit ReplayTable(std::size_t capacity = 4) : capacity_(capacity == 0 ? 1 : capacity) {}

  /// True when `sequence` from `source` would be a replay: not strictly after its mark. In time
  /// mode a mark whose seconds lie outside ±window of now is forgotten first (it can only be
  /// from before a clock step or a long silence, and the stale check already bounds the rest).
  [[nodiscard]] bool is_replay(const IpAddress& source, Sequence sequence, WallTime now,
                               AntiReplay mode, std::chrono::seconds window) const;

  /// Records `sequence` as `source`'s mark; call only once the advert fully verified.
  void accept(const IpAddress& source, Sequence sequence);

  [[nodiscard]] std::size_t size() const { return marks_.size(); }

 private:
  struct Mark {
    IpAddress source;
    Sequence sequence = 0;
    std::uint64_t used = 0;  // LRU order
  };
  std::size_t capacity_;
  std::vector<Mark> marks_;
  std::uint64_t tick_ = 0;
};

}  // namespace vipd::vrrp::auth
