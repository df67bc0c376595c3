// Anti-replay for authenticated adverts: sender sequences and receiver replay marks.
#include "vrrp/auth_replay.h"

#include <algorithm>

namespace vipd::vrrp::auth {

Sequence sequence_at(WallTime now) {
  const auto ns = now.count();
  const auto sec = static_cast<std::uint64_t>(ns / 1'000'000'000);
  const auto nsec = static_cast<std::uint64_t>(ns % 1'000'000'000);
  const std::uint64_t subsec = (nsec << 16) / 1'000'000'000;  // 1/65536 s
  return (sec << 32) | (subsec << 16);
}

bool outside_window(std::uint32_t sec, WallTime now, std::chrono::seconds window) {
  const auto now_sec = static_cast<std::uint32_t>(now.count() / 1'000'000'000);
  const auto diff = static_cast<std::int32_t>(now_sec - sec);
  const std::int64_t magnitude = diff < 0 ? -std::int64_t{diff} : std::int64_t{diff};
  return magnitude > window.count();
}

Sequence SequenceClock::next(WallTime now, AntiReplay mode, std::chrono::seconds window) {
  const Sequence from_clock = sequence_at(now);
  Sequence s = from_clock;
  if (last_ && !serial_after(from_clock, *last_)) {
    const auto now_sec = static_cast<std::uint32_t>(from_clock >> 32);
    const auto ahead = static_cast<std::int32_t>(sequence_seconds(*last_) - now_sec);
    const bool stepped_back = mode == AntiReplay::Time && ahead > window.count();
    s = stepped_back ? from_clock : *last_ + 1;
  }
  last_ = s;
  return s;
}

bool ReplayTable::is_replay(const IpAddress& source, Sequence sequence, WallTime now,
                            AntiReplay mode, std::chrono::seconds window) const {
  const auto it =
      std::find_if(marks_.begin(), marks_.end(), [&](const Mark& m) { return m.source == source; });
  if (it == marks_.end()) return false;
  if (mode == AntiReplay::Time && outside_window(sequence_seconds(it->sequence), now, window))
    return false;  // an expired mark (keepalived 2.4.3): judged by the stale check alone
  return !serial_after(sequence, it->sequence);
}

void ReplayTable::accept(const IpAddress& source, Sequence sequence) {
  ++tick_;
  auto it =
      std::find_if(marks_.begin(), marks_.end(), [&](const Mark& m) { return m.source == source; });
  if (it == marks_.end()) {
    if (marks_.size() < capacity_) {
      marks_.push_back({source, sequence, tick_});
      return;
    }
    // Full: the least recently used sender gives up its slot.
    it = std::min_element(marks_.begin(), marks_.end(),
                          [](const Mark& a, const Mark& b) { return a.used < b.used; });
    it->source = source;
  }
  it->sequence = sequence;
  it->used = tick_;
}

}  // namespace vipd::vrrp::auth
