// Receive admission: the one pure decision whether a datagram from the wire is an advert for one
// of this node's instances (RFC 9568 §7.1, RFC 3768 §7.1). Everything that can turn a datagram
// away is here, in one order, with one drop reason each: length, own source, VRID, destination
// and unicast peers, TTL, version, type, checksum form, interval, address count and family, v2
// authentication and (v2) interval. An address-list mismatch is reported, not dropped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "vrrp/advertisement.h"
#include "vrrp/ip_address.h"
#include "vrrp/timers.h"

namespace vipd::vrrp {

/// One datagram as the socket hands it over (the IP header parsed, the VRRP message in payload).
struct Datagram {
  IpAddress source;
  IpAddress destination;
  int ttl = 0;  // IPv4 TTL / IPv6 hop limit as received
  int ifindex = 0;
  std::vector<std::uint8_t> payload;  // the VRRP message; empty when the IP header was malformed
};

/// What one instance on the receiving interface expects.
struct Receiver {
  std::uint8_t vrid = 0;
  std::uint8_t version = 3;
  ChecksumMode checksum = ChecksumMode::Rfc9568;
  Centiseconds advert_interval{100};
  std::vector<IpAddress> unicast_peers;  // empty: multicast mode
  std::vector<IpAddress> vips;           // the addresses we advertise (address-list check)
  /// Config `address_mismatch = "ignore"`: drop an advert whose address list differs from ours
  /// (another router on our VRID cannot take our VIP away). "process" (false): RFC 9568 §7.1.
  bool drop_address_mismatch = false;
  AuthType auth_type = AuthType::None;  // v2 simple password
  std::array<std::uint8_t, 8> auth_data{};
};

struct Admission {
  enum class Outcome : std::uint8_t {
    Accepted,  // `decoded` is for receivers[receiver]
    Dropped,   // counted under `reason`
    Own,       // our own advert (looped back, or unicast from ourselves): not news, not counted
  };
  Outcome outcome = Outcome::Dropped;
  DropReason reason{};
  std::size_t receiver = 0;            // index into the receivers, when a VRID matched
  bool vrid_matched = false;           // receiver is meaningful (also for most drops)
  std::optional<Decoded> decoded;      // when accepted
  bool other_checksum_form = false;    // v3/IPv4 verified only in the other checksum form
  bool address_list_mismatch = false;  // accepted, but lists other addresses than ours (a VRID
                                       // conflict: another router uses our VRID)
  [[nodiscard]] bool accepted() const { return outcome == Outcome::Accepted; }
};

/// Decides for one datagram. `own_sources` are this node's advert sources on the interface (the
/// primary address and every unicast_src); `receivers` the instances on the interface.
Admission admit(const Datagram& datagram, std::span<const IpAddress> own_sources,
                std::span<const Receiver* const> receivers);

/// Same addresses in any order (the address-list comparison).
bool same_addresses(std::vector<IpAddress> a, std::vector<IpAddress> b);

}  // namespace vipd::vrrp
