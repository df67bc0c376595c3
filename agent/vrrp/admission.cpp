// Receive admission (admission.h).
#include "vrrp/admission.h"

#include <algorithm>

namespace vipd::vrrp {

bool same_addresses(std::vector<IpAddress> a, std::vector<IpAddress> b) {
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  return a == b;
}

Admission admit(const Datagram& datagram, std::span<const IpAddress> own_sources,
                std::span<const Receiver* const> receivers) {
  Admission out;
  auto drop = [&out](DropReason reason) {
    out.outcome = Admission::Outcome::Dropped;
    out.reason = reason;
    return out;
  };
  // The fixed header (8 bytes) holds the VRID; anything shorter is nothing (RFC 9568 §5.2).
  if (datagram.payload.size() < 8) return drop(DropReason::Short);
  if (std::find(own_sources.begin(), own_sources.end(), datagram.source) != own_sources.end()) {
    out.outcome = Admission::Outcome::Own;
    return out;
  }
  // RFC 9568 §7.1: the VRID must be configured on the receiving interface.
  const std::uint8_t vrid = datagram.payload[1];
  const auto it = std::find_if(receivers.begin(), receivers.end(),
                               [vrid](const Receiver* r) { return r->vrid == vrid; });
  if (it == receivers.end()) return drop(DropReason::UnknownVrid);
  const Receiver& r = **it;
  out.receiver = static_cast<std::size_t>(it - receivers.begin());
  out.vrid_matched = true;
  if (!r.unicast_peers.empty()) {
    if (datagram.destination.is_multicast()) return drop(DropReason::WrongDestination);
    if (std::find(r.unicast_peers.begin(), r.unicast_peers.end(), datagram.source) ==
        r.unicast_peers.end())
      return drop(DropReason::NotAPeer);
  } else {
    if (!datagram.destination.is_multicast()) return drop(DropReason::WrongDestination);
    // RFC 9568 §7.1: TTL must be 255 (multicast only; unicast may cross a router).
    if (datagram.ttl != 255) return drop(DropReason::Ttl);
    // RFC 9568 §5.1.2.1: an IPv6 advert comes from the sender's link-local address.
    if (datagram.source.family == Family::V6 && !datagram.source.is_link_local_v6())
      return drop(DropReason::SourceNotLinkLocal);
  }
  DecodeExpectations expect;
  expect.version = r.version;
  expect.preferred_mode = r.checksum;
  expect.auth_type = r.auth_type;
  expect.auth_data = r.auth_data;
  auto result = decode(datagram.payload, {datagram.source, datagram.destination}, expect);
  if (!result.ok()) return drop(result.reason);
  const auto& adv = result.decoded->advert;
  // RFC 3768 §7.1: a v2 advert with another interval MUST be discarded.
  if (r.version == 2 && adv.advert_interval != r.advert_interval)
    return drop(DropReason::IntervalMismatch);
  out.other_checksum_form =
      r.version == 3 && adv.family == Family::V4 && result.decoded->verified_with != r.checksum;
  // RFC 9568 §7.1: MAY verify; on mismatch SHOULD log; the packet is still processed.
  const bool mismatch =
      !r.vips.empty() && adv.priority != 0 && !same_addresses(adv.addresses, r.vips);
  // RFC 3768 §7.1: a v2 mismatching advert not from the address owner (priority 255) MUST be
  // dropped. `address_mismatch = "ignore"` drops it in v3 too.
  if (mismatch && ((r.version == 2 && adv.priority != 255) || r.drop_address_mismatch))
    return drop(DropReason::AddressListMismatch);
  out.address_list_mismatch = mismatch;
  out.decoded = std::move(result.decoded);
  out.outcome = Admission::Outcome::Accepted;
  return out;
}

}  // namespace vipd::vrrp
