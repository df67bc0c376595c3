// Per-instance trust in adverts (issue 12): auth_hmac signing and verification with its replay
// marks, the checksum form under checksum = "auto", and the bound on learnt advert intervals.
// It wraps the pure core pieces (vrrp/auth_hmac.h, vrrp/checksum_learner.h) for one instance.
//
// Hooks (kept narrow so they move onto the ports of issue 11 unchanged):
//   receive: admit() before vrrp::decode (auth runs first, as in keepalived), then heard() with
//            the form that verified, then interval_learnable() on v3 adverts;
//   send:    send_form() once per advert, then trailer() once per advert appended to every copy.
#pragma once

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "config/config.h"
#include "vrrp/auth_hmac.h"
#include "vrrp/checksum_learner.h"

namespace vipd::app {

class AdvertTrust {
 public:
  /// `hmac` (Platform::hmac()) must outlive this object; null is refused (std::invalid_argument)
  /// when the instance has `auth`.
  AdvertTrust(const config::Instance& cfg, const vrrp::auth::HmacSha256* hmac);

  /// A soft reload (key rotation, mode change): new policy, replay marks and sequence kept, so a
  /// rotation does not reopen a replay window or restart the instance.
  void reconfigure(const config::Instance& cfg);

  /// Receive, before decode. `now` is the wall clock (CLOCK_REALTIME).
  vrrp::auth::Verdict admit(std::span<const std::uint8_t> payload, const vrrp::IpAddress& source,
                            vrrp::auth::WallTime now);

  /// The checksum form decode tries first.
  [[nodiscard]] vrrp::ChecksumMode preferred_checksum() const;
  /// A valid advert from `source` verified in `form`. Returns a log line when what this instance
  /// sends changes (auto mode only; once per change).
  std::optional<std::string> heard(const vrrp::IpAddress& source, vrrp::ChecksumMode form);
  /// The checksum form for the next advert (once per advert).
  vrrp::ChecksumMode send_form();
  /// What /status shows: "auto (learnt pseudo-header)", "auto (alternating: no peer heard yet)",
  /// or the explicit mode.
  [[nodiscard]] std::string checksum_status() const;
  /// The form sent, for the metric: "rfc9568", "pseudo-header" or "alternating"; "" when the
  /// instance has one form only (v2, IPv6).
  [[nodiscard]] std::string checksum_form() const;

  /// The trailer to append to every copy of this advert, or empty when not signing. The HMAC
  /// ignores the checksum, so one trailer fits every unicast copy (keepalived 2.4.3 does the
  /// same).
  std::vector<std::uint8_t> trailer(std::span<const std::uint8_t> message,
                                    const vrrp::IpAddress& source, vrrp::auth::WallTime now);

  /// RFC 9568 leaves open which advertised intervals a Backup adopts. A forged advert with
  /// 40.95 s would stretch every timer; only [ours / factor, ours × factor] is learnt
  /// (learn_interval_factor, default 4; 0 = any). v3 only (v2 drops any mismatch).
  [[nodiscard]] bool interval_learnable(vrrp::Centiseconds advertised) const;

  [[nodiscard]] bool authenticating() const { return policy_.has_value(); }
  [[nodiscard]] const std::optional<vrrp::auth::Policy>& policy() const { return policy_; }

  /// The wall clock as the trailer wants it.
  static vrrp::auth::WallTime wall_now();

 private:
  const vrrp::auth::HmacSha256* hmac_;
  std::uint8_t version_;
  std::uint8_t vrid_;
  vrrp::Family family_;
  bool checksum_auto_;
  vrrp::ChecksumMode checksum_;
  vrrp::Centiseconds interval_;
  int learn_interval_factor_;
  std::optional<vrrp::auth::Policy> policy_;
  vrrp::auth::ReplayTable replay_;
  vrrp::auth::SequenceClock sequence_;
  vrrp::ChecksumLearner learner_;
};

}  // namespace vipd::app
