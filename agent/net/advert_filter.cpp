// Classic BPF advert filter for the VRRP raw socket (see advert_filter.h).
#include "net/advert_filter.h"

#include <sys/socket.h>

#include <cerrno>

namespace vipd::net {
namespace {

constexpr std::uint32_t kAccept = 0xffff;  // bytes to keep: the whole packet (IP max)
constexpr std::uint8_t kTypeAdvertisement = 1;
constexpr std::uint32_t kIpSourceOffset = 12;  // the IPv4 header's source address
constexpr std::size_t kMaxSources = 126;       // a block's length must fit the 8-bit jump

sock_filter stmt(std::uint16_t code, std::uint32_t k) { return {code, 0, 0, k}; }
sock_filter jump(std::uint16_t code, std::uint32_t k, std::uint8_t jt, std::uint8_t jf) {
  return {code, jt, jf, k};
}

}  // namespace

std::vector<sock_filter> advert_filter_program(std::span<const AcceptedAdvert> accepted) {
  std::vector<sock_filter> p;
  // The sample first, so that it also covers packets too short for the loads below.
  p.push_back(
      stmt(BPF_LD | BPF_W | BPF_ABS, static_cast<std::uint32_t>(SKF_AD_OFF + SKF_AD_RANDOM)));
  p.push_back(stmt(BPF_ALU | BPF_AND | BPF_K, kSampleOneIn - 1));
  p.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1));
  p.push_back(stmt(BPF_RET | BPF_K, kAccept));
  // X = IP header length (4 * IHL); A = the VRRP message's first 16 bits: version/type, VRID.
  // A load past the end of the packet ends the program with 0 (drop).
  p.push_back(stmt(BPF_LDX | BPF_B | BPF_MSH, 0));
  p.push_back(stmt(BPF_LD | BPF_H | BPF_IND, 0));
  for (const auto& a : accepted) {
    const std::uint32_t want =
        (static_cast<std::uint32_t>((a.version << 4) | kTypeAdvertisement) << 8) | a.vrid;
    std::vector<std::uint32_t> sources;
    for (const auto& s : a.sources)
      if (s.family == vrrp::Family::V4) sources.push_back(s.v4_host_order());
    if (sources.empty() || sources.size() > kMaxSources) {
      p.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, want, 0, 1));
      p.push_back(stmt(BPF_RET | BPF_K, kAccept));
      continue;
    }
    // Our (version, VRID) from a unicast peer: accept; from anyone else: drop (a sample of them
    // passed above, for the not_a_peer counter). Every path of the block returns, so A need not
    // be reloaded for the next pair.
    const auto block = static_cast<std::uint8_t>(2 + 2 * sources.size());
    p.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, want, 0, block));
    p.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, kIpSourceOffset));
    for (const auto source : sources) {
      p.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, source, 0, 1));
      p.push_back(stmt(BPF_RET | BPF_K, kAccept));
    }
    p.push_back(stmt(BPF_RET | BPF_K, 0));
  }
  p.push_back(stmt(BPF_RET | BPF_K, 0));
  return p;
}

int attach_advert_filter(int fd, std::span<const AcceptedAdvert> accepted) {
  auto program = advert_filter_program(accepted);
  if (program.size() > BPF_MAXINSNS) return E2BIG;
  sock_fprog prog{static_cast<unsigned short>(program.size()), program.data()};
  if (::setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) != 0) return errno;
  return 0;
}

}  // namespace vipd::net
