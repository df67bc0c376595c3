// A classic BPF socket filter for the VRRP raw socket: the kernel drops adverts for VRIDs (and
// VRRP versions) not configured on the interface before they are queued to vipd, so a flood of
// them costs no user-space time (issue 13: ~13 µs of vipd CPU per dropped packet before).
#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <span>
#include <vector>

#include "app/ports.h"

namespace vipd::net {

/// One (VRRP version, VRID) pair an instance on the interface listens for.
using AcceptedAdvert = app::AcceptedAdvert;

/// One packet in `kSampleOneIn` passes whatever it holds, so the drop counters
/// (unknown_vrid, bad_version, bad_type) still show that such traffic arrives, from a sample.
inline constexpr std::uint32_t kSampleOneIn = 64;

/// Unicast peers the program can check per (version, VRID): an 8-bit jump must skip the block.
inline constexpr std::size_t kMaxFilteredSourcesV4 = 126;
inline constexpr std::size_t kMaxFilteredSourcesV6 = 28;

/// The program for a raw VRRP socket of `family`: accept when the VRRP message's first two bytes
/// — version/type and VRID — equal one of `accepted` with type 1 (advertisement) and, when that
/// entry lists sources of the family (unicast peers; up to kMaxFilteredSources*, more and any
/// source passes), the IP source is one of them; or when the 1-in-kSampleOneIn random sample
/// picks the packet; else drop. Packets too short to hold the two bytes are dropped unless
/// sampled. Jump offsets stay 0/1 between pairs, so any number of pairs fits (BPF_MAXINSNS).
///
/// Where the bytes are: an AF_INET raw socket hands the program the packet from the IPv4 header
/// (the VRRP message is at 4 * IHL, the source at 12); an AF_INET6 raw socket hands it the VRRP
/// message at offset 0 — the kernel has pulled the IPv6 header — so the IPv6 source (16 bytes at
/// 8 in the IPv6 header) is read relative to the network header (SKF_NET_OFF).
std::vector<sock_filter> advert_filter_program(std::span<const AcceptedAdvert> accepted,
                                               vrrp::Family family = vrrp::Family::V4);

/// Attaches the program to `fd` (replacing any earlier one). Returns 0 or an errno value.
int attach_advert_filter(int fd, std::span<const AcceptedAdvert> accepted,
                         vrrp::Family family = vrrp::Family::V4);

}  // namespace vipd::net
