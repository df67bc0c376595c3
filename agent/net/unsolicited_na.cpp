// Unsolicited neighbour advertisements (unsolicited_na.h).
#include "net/unsolicited_na.h"

#include "net/socket_util.h"

#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

namespace vipd::net {
namespace {

constexpr std::uint8_t kTypeNeighborAdvert = 136;  // RFC 4861 §4.4
constexpr std::uint8_t kFlagOverride = 0x20;       // R 0x80, S 0x40, O 0x20
constexpr std::uint8_t kOptionTargetLinkLayer = 2;
constexpr int kHopLimit = 255;  // RFC 4861 §7.1.2: receivers drop NAs with any other

}  // namespace

std::array<std::uint8_t, 32> na_message(const std::array<std::uint8_t, 6>& mac,
                                        const vrrp::IpAddress& target) {
  std::array<std::uint8_t, 32> m{};
  m[0] = kTypeNeighborAdvert;
  m[1] = 0;  // code
  // m[2..3] checksum: computed by the kernel (ICMPv6 raw sockets always do)
  m[4] = kFlagOverride;
  for (std::size_t i = 0; i < 16; ++i) m[8 + i] = target.bytes[i];
  m[24] = kOptionTargetLinkLayer;
  m[25] = 1;  // length in units of 8 octets
  for (std::size_t i = 0; i < 6; ++i) m[26 + i] = mac[i];
  return m;
}

UnsolicitedNaSender::UnsolicitedNaSender(int ifindex, std::array<std::uint8_t, 6> mac)
    : ifindex_(ifindex), mac_(mac) {
  fd_ = ::socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_ICMPV6);
  if (fd_ < 0) {
    const int e = errno;
    if (e == EPERM || e == EACCES)
      fail(-1, e,
           "opening the ICMPv6 socket for neighbour advertisements needs CAP_NET_RAW (run as "
           "root or grant CAP_NET_RAW)");
    fail(-1, e, "opening the ICMPv6 socket for neighbour advertisements");
  }
  // Send only: receive nothing (every ICMPv6 type blocked).
  icmp6_filter filter{};
  ICMP6_FILTER_SETBLOCKALL(&filter);
  if (::setsockopt(fd_, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter) != 0)
    fail(fd_, errno, "ICMP6_FILTER on the neighbour advertisement socket");
  const int hops = kHopLimit;
  if (::setsockopt(fd_, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops) != 0)
    fail(fd_, errno, "IPV6_MULTICAST_HOPS on the neighbour advertisement socket");
  const int ifidx = ifindex;
  if (::setsockopt(fd_, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifidx, sizeof ifidx) != 0)
    fail(fd_, errno,
         "IPV6_MULTICAST_IF " + std::to_string(ifindex) +
             " on the neighbour advertisement socket (does the interface still exist?)");
}

UnsolicitedNaSender::~UnsolicitedNaSender() {
  if (fd_ >= 0) ::close(fd_);
}

int UnsolicitedNaSender::announce(std::span<const vrrp::IpAddress> vips) {
  sockaddr_in6 to{};
  to.sin6_family = AF_INET6;
  to.sin6_addr.s6_addr[0] = 0xff;  // ff02::1, all nodes
  to.sin6_addr.s6_addr[1] = 0x02;
  to.sin6_addr.s6_addr[15] = 0x01;
  to.sin6_scope_id = static_cast<std::uint32_t>(ifindex_);
  int sent = 0;
  for (const auto& vip : vips) {
    if (vip.family != vrrp::Family::V6) continue;
    auto message = na_message(mac_, vip);
    // From the VIP itself (an address of the interface, never tentative: added without DAD).
    if (send_from6(fd_, message, to, vip, ifindex_) == 0) ++sent;
  }
  return sent;
}

}  // namespace vipd::net
