// checksum = "auto" (issue 12): which VRRPv3/IPv4 checksum form to send, learnt from what peers
// are seen to use. Pure.
//
// Two forms are in the field (RFC-CHECKLIST §4.2): RFC 9568 (message only; Cisco, Juniper,
// Arista) and the IPv4 pseudo-header (keepalived's default, FRR always). A peer that verifies one
// form drops every advert in the other: two masters. On receive both forms are accepted (decode
// tries both). On send:
//  - once every peer heard so far uses one form, send that form;
//  - until any peer is heard — the hard case: vipd is master at first contact and the peer is a
//    silent backup, so its form cannot be learnt — and while peers disagree, ALTERNATE the two
//    forms advert by advert. Every peer then accepts at least every second advert, so its
//    Master_Down_Interval (3 × interval + skew) never runs out and it never becomes a second
//    master; the cost is one rejected (and, by some peers, logged) advert in two until the
//    form is known.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "vrrp/advertisement.h"
#include "vrrp/ip_address.h"

namespace vipd::vrrp {

class ChecksumLearner {
 public:
  /// An advert from `peer` verified in `form`. Returns true when the form learnt for the group
  /// changed (the caller logs it once: learnt, changed, or peers now disagree).
  bool heard(const IpAddress& peer, ChecksumMode form);

  /// The form for the next advert (call once per advert, not once per unicast copy).
  ChecksumMode next_send();

  /// The one form every known peer uses; nullopt while none is known or they disagree.
  [[nodiscard]] std::optional<ChecksumMode> learned() const;
  /// True when known peers use different forms (the learner alternates).
  [[nodiscard]] bool mixed() const;
  /// The form decode should try first: the learnt one, else RFC 9568.
  [[nodiscard]] ChecksumMode preferred() const { return learned().value_or(ChecksumMode::Rfc9568); }

 private:
  struct Peer {
    IpAddress address;
    ChecksumMode form;
  };
  std::vector<Peer> peers_;
  bool alternate_ = false;  // the form of the next alternating advert: false = RFC 9568
};

}  // namespace vipd::vrrp
