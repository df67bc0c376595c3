// Classic BPF advert filter for the VRRP raw socket (see advert_filter.h).
#include "net/advert_filter.h"

#include <sys/socket.h>

#include <cerrno>

namespace vipd::net {
namespace {

constexpr std::uint32_t kAccept = 0xffff;  // bytes to keep: the whole packet (IP max)
constexpr std::uint8_t kTypeAdvertisement = 1;
constexpr std::uint32_t kIpSourceOffset = 12;  // the IPv4 header's source address
// The IPv6 header's source address, read relative to the network header (the program's packet
// starts at the VRRP message on an AF_INET6 raw socket).
constexpr std::uint32_t kIp6SourceOffset = static_cast<std::uint32_t>(SKF_NET_OFF) + 8;

sock_filter stmt(std::uint16_t code, std::uint32_t k) { return {code, 0, 0, k}; }
sock_filter jump(std::uint16_t code, std::uint32_t k, std::uint8_t jt, std::uint8_t jf) {
  return {code, jt, jf, k};
}

std::uint32_t word(const vrrp::IpAddress& a, std::size_t i) {
  return (std::uint32_t{a.bytes[4 * i]} << 24) | (std::uint32_t{a.bytes[4 * i + 1]} << 16) |
         (std::uint32_t{a.bytes[4 * i + 2]} << 8) | a.bytes[4 * i + 3];
}

/// Accepts when the IPv4 source is one of `sources`, else drops. Every path returns.
void append_source_check_v4(std::vector<sock_filter>& p, std::span<const vrrp::IpAddress> sources) {
  p.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, kIpSourceOffset));
  for (const auto& source : sources) {
    p.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, source.v4_host_order(), 0, 1));
    p.push_back(stmt(BPF_RET | BPF_K, kAccept));
  }
  p.push_back(stmt(BPF_RET | BPF_K, 0));
}

/// The same for the IPv6 source: four 32-bit words per source, a mismatch jumps to the next one.
void append_source_check_v6(std::vector<sock_filter>& p, std::span<const vrrp::IpAddress> sources) {
  for (const auto& source : sources) {
    for (std::size_t i = 0; i < 4; ++i) {
      p.push_back(
          stmt(BPF_LD | BPF_W | BPF_ABS, kIp6SourceOffset + 4 * static_cast<std::uint32_t>(i)));
      // On a mismatch skip this source's remaining loads/compares and its accept.
      p.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, word(source, i), 0,
                       static_cast<std::uint8_t>(2 * (3 - i) + 1)));
    }
    p.push_back(stmt(BPF_RET | BPF_K, kAccept));
  }
  p.push_back(stmt(BPF_RET | BPF_K, 0));
}

}  // namespace

std::vector<sock_filter> advert_filter_program(std::span<const AcceptedAdvert> accepted,
                                               vrrp::Family family) {
  const bool v6 = family == vrrp::Family::V6;
  std::vector<sock_filter> p;
  // The sample first, so that it also covers packets too short for the loads below.
  p.push_back(
      stmt(BPF_LD | BPF_W | BPF_ABS, static_cast<std::uint32_t>(SKF_AD_OFF + SKF_AD_RANDOM)));
  p.push_back(stmt(BPF_ALU | BPF_AND | BPF_K, kSampleOneIn - 1));
  p.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1));
  p.push_back(stmt(BPF_RET | BPF_K, kAccept));
  // A = the VRRP message's first 16 bits: version/type, VRID. IPv4: at X = 4 * IHL; IPv6: at 0.
  // A load past the end of the packet ends the program with 0 (drop).
  if (v6) {
    p.push_back(stmt(BPF_LD | BPF_H | BPF_ABS, 0));
  } else {
    p.push_back(stmt(BPF_LDX | BPF_B | BPF_MSH, 0));
    p.push_back(stmt(BPF_LD | BPF_H | BPF_IND, 0));
  }
  for (const auto& a : accepted) {
    const std::uint32_t want =
        (static_cast<std::uint32_t>((a.version << 4) | kTypeAdvertisement) << 8) | a.vrid;
    std::vector<vrrp::IpAddress> sources;
    for (const auto& s : a.sources)
      if (s.family == family) sources.push_back(s);
    if (sources.empty() || sources.size() > (v6 ? kMaxFilteredSourcesV6 : kMaxFilteredSourcesV4)) {
      p.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, want, 0, 1));
      p.push_back(stmt(BPF_RET | BPF_K, kAccept));
      continue;
    }
    // Our (version, VRID) from a unicast peer: accept; from anyone else: drop (a sample of them
    // passed above, for the not_a_peer counter). Every path of the block returns, so A need not
    // be reloaded for the next pair.
    const auto block =
        static_cast<std::uint8_t>(v6 ? 1 + 9 * sources.size() : 2 + 2 * sources.size());
    p.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, want, 0, block));
    if (v6)
      append_source_check_v6(p, sources);
    else
      append_source_check_v4(p, sources);
  }
  p.push_back(stmt(BPF_RET | BPF_K, 0));
  return p;
}

int attach_advert_filter(int fd, std::span<const AcceptedAdvert> accepted, vrrp::Family family) {
  auto program = advert_filter_program(accepted, family);
  if (program.size() > BPF_MAXINSNS) return E2BIG;
  sock_fprog prog{static_cast<unsigned short>(program.size()), program.data()};
  if (::setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) != 0) return errno;
  return 0;
}

}  // namespace vipd::net
