// Per-instance trust in adverts: auth_hmac, checksum = "auto", learnt-interval bounds.
#include "app/advert_trust.h"

#include <algorithm>
#include <stdexcept>

namespace vipd::app {

AdvertTrust::AdvertTrust(const config::Instance& cfg, const vrrp::auth::HmacSha256* hmac)
    : hmac_(hmac),
      // keepalived: 4 slots per multicast instance, one per unicast peer.
      replay_(std::max<std::size_t>(4, cfg.unicast_peers.size())) {
  reconfigure(cfg);
}

void AdvertTrust::reconfigure(const config::Instance& cfg) {
  version_ = cfg.version;
  vrid_ = cfg.vrid;
  family_ = cfg.family;
  checksum_auto_ = cfg.checksum_auto;
  checksum_ = cfg.checksum;
  interval_ = std::chrono::duration_cast<vrrp::Centiseconds>(cfg.advert_interval);
  learn_interval_factor_ = cfg.learn_interval_factor;
  policy_ = cfg.auth;
  if (policy_ && hmac_ == nullptr)
    throw std::invalid_argument("instance " + cfg.name +
                                ": auth needs HMAC-SHA256, which this build's platform lacks");
}

vrrp::auth::Verdict AdvertTrust::admit(std::span<const std::uint8_t> payload,
                                       const vrrp::IpAddress& source, vrrp::auth::WallTime now) {
  if (!policy_) return {std::nullopt, payload, false};
  return vrrp::auth::verify(payload, source.family, {version_, vrid_, source}, *policy_, replay_,
                            now, *hmac_);
}

vrrp::ChecksumMode AdvertTrust::preferred_checksum() const {
  return checksum_auto_ ? learner_.preferred() : checksum_;
}

std::optional<std::string> AdvertTrust::heard(const vrrp::IpAddress& source,
                                              vrrp::ChecksumMode form) {
  // Only VRRPv3 over IPv4 has two forms.
  if (!checksum_auto_ || version_ != 3 || family_ != vrrp::Family::V4) return std::nullopt;
  if (!learner_.heard(source, form)) return std::nullopt;
  if (learner_.mixed())
    return "checksum auto: peers use different VRRPv3 checksum forms (" + source.to_string() +
           " uses " + std::string(vrrp::to_string(form)) +
           "); alternating the two forms advert by advert so every peer hears every second one";
  return "checksum auto: peer " + source.to_string() + " uses the " +
         std::string(vrrp::to_string(form)) +
         " VRRPv3 checksum form; sending that form from now on";
}

vrrp::ChecksumMode AdvertTrust::send_form() {
  if (!checksum_auto_ || version_ != 3 || family_ != vrrp::Family::V4) return checksum_;
  return learner_.next_send();
}

std::string AdvertTrust::checksum_status() const {
  if (!checksum_auto_) return std::string(vrrp::to_string(checksum_));
  if (version_ != 3 || family_ != vrrp::Family::V4) return "auto";
  if (const auto f = learner_.learned())
    return "auto (learnt " + std::string(vrrp::to_string(*f)) + ")";
  if (learner_.mixed()) return "auto (alternating: peers disagree)";
  return "auto (alternating: no peer heard yet)";
}

std::string AdvertTrust::checksum_form() const {
  if (version_ != 3 || family_ != vrrp::Family::V4) return "";
  if (!checksum_auto_) return std::string(vrrp::to_string(checksum_));
  if (const auto f = learner_.learned()) return std::string(vrrp::to_string(*f));
  return "alternating";
}

std::vector<std::uint8_t> AdvertTrust::trailer(std::span<const std::uint8_t> message,
                                               const vrrp::IpAddress& source,
                                               vrrp::auth::WallTime now) {
  if (!policy_ || !policy_->signs()) return {};
  const auto* key = policy_->find(policy_->active_key);
  if (key == nullptr) return {};  // the config loader refuses this
  const auto seq = sequence_.next(now, policy_->anti_replay, policy_->window);
  const auto t = vrrp::auth::sign(message, {version_, vrid_, source}, *key, seq, *hmac_);
  return {t.begin(), t.end()};
}

bool AdvertTrust::interval_learnable(vrrp::Centiseconds advertised) const {
  if (learn_interval_factor_ <= 0) return true;
  const auto f = learn_interval_factor_;
  return advertised * f >= interval_ && advertised <= interval_ * f;
}

vrrp::auth::WallTime AdvertTrust::wall_now() {
  return std::chrono::duration_cast<vrrp::auth::WallTime>(
      std::chrono::system_clock::now().time_since_epoch());
}

}  // namespace vipd::app
