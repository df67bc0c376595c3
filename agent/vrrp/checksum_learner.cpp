// checksum = "auto": learn the peers' VRRPv3/IPv4 checksum form, alternate until it is known.
#include "vrrp/checksum_learner.h"

#include <algorithm>

namespace vipd::vrrp {

bool ChecksumLearner::heard(const IpAddress& peer, ChecksumMode form) {
  const auto before = std::make_pair(learned(), mixed());
  auto it =
      std::find_if(peers_.begin(), peers_.end(), [&](const Peer& p) { return p.address == peer; });
  if (it == peers_.end()) {
    // A group has a handful of members; keep it bounded all the same (forged sources).
    constexpr std::size_t kMaxPeers = 16;
    if (peers_.size() == kMaxPeers) peers_.erase(peers_.begin());
    peers_.push_back({peer, form});
  } else {
    it->form = form;  // a peer reconfigured (or replaced) uses the other form now
  }
  return std::make_pair(learned(), mixed()) != before;
}

std::optional<ChecksumMode> ChecksumLearner::learned() const {
  if (peers_.empty() || mixed()) return std::nullopt;
  return peers_.front().form;
}

bool ChecksumLearner::mixed() const {
  return std::any_of(peers_.begin(), peers_.end(),
                     [&](const Peer& p) { return p.form != peers_.front().form; });
}

ChecksumMode ChecksumLearner::next_send() {
  if (const auto form = learned()) return *form;
  const auto form = alternate_ ? ChecksumMode::PseudoHeader : ChecksumMode::Rfc9568;
  alternate_ = !alternate_;
  return form;
}

}  // namespace vipd::vrrp
