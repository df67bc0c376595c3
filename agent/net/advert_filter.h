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

/// The program, for an AF_INET raw socket (the packet starts at the IP header): accept when the
/// VRRP message's first two bytes — version/type and VRID — equal one of `accepted` with type 1
/// (advertisement) and, when that entry lists sources (unicast peers; up to 126), the IP source
/// is one of them; or when the 1-in-kSampleOneIn random sample picks the packet; else drop.
/// Packets too short to hold the two bytes are dropped unless sampled. Jump offsets stay 0/1,
/// so any number of pairs fits (up to BPF_MAXINSNS).
std::vector<sock_filter> advert_filter_program(std::span<const AcceptedAdvert> accepted);

/// Attaches the program to `fd` (replacing any earlier one). Returns 0 or an errno value.
int attach_advert_filter(int fd, std::span<const AcceptedAdvert> accepted);

}  // namespace vipd::net
