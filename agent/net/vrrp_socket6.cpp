// The IPv6 advert channel (vrrp_socket6.h).
#include "net/vrrp_socket6.h"

#include "net/advert_filter.h"
#include "net/socket_util.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <system_error>

namespace vipd::net {
namespace {

constexpr int kIpProtoVrrp = 112;  // RFC 9568 §5.1.2.3 (Next Header)
constexpr int kHopLimit = 255;     // RFC 9568 §5.1.2.2: sent with 255, checked on receipt
constexpr int kTrafficClass = 0xc0;
constexpr std::array<std::uint8_t, 16> kVrrpGroup{0xff, 0x02, 0, 0, 0, 0, 0, 0,
                                                  0,    0,    0, 0, 0, 0, 0, 0x12};  // ff02::12

vrrp::IpAddress from_in6(const in6_addr& in) {
  std::array<std::uint8_t, 16> b{};
  std::memcpy(b.data(), in.s6_addr, 16);
  return vrrp::IpAddress::v6(b);
}

ipv6_mreq group_request(int ifindex) {
  ipv6_mreq m{};
  std::memcpy(m.ipv6mr_multiaddr.s6_addr, kVrrpGroup.data(), 16);
  m.ipv6mr_interface = static_cast<unsigned>(ifindex);
  return m;
}

}  // namespace

VrrpSocket6::VrrpSocket6(const std::string& interface, int ifindex) : ifindex_(ifindex) {
  const std::string ctx = "VRRP IPv6 socket on '" + interface + "': ";
  fd_ = ::socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, kIpProtoVrrp);
  if (fd_ < 0) {
    const int e = errno;
    if (e == EPERM || e == EACCES)
      fail(-1, e,
           "opening the VRRP IPv6 raw socket needs CAP_NET_RAW (run as root or grant "
           "CAP_NET_RAW)");
    if (e == EAFNOSUPPORT)
      fail(-1, e, "opening the VRRP IPv6 raw socket: IPv6 is disabled on this host");
    fail(-1, e, "opening the VRRP IPv6 raw socket");
  }
  set_opt(fd_, SOL_SOCKET, SO_BINDTODEVICE, interface.c_str(),
          static_cast<socklen_t>(interface.size() + 1), "SO_BINDTODEVICE", ctx);
  // The codec computes the checksum (pseudo-header included); the kernel must not touch it.
  const int no_checksum = -1;
  set_opt(fd_, IPPROTO_IPV6, IPV6_CHECKSUM, &no_checksum, sizeof no_checksum, "IPV6_CHECKSUM", ctx);
  const int hops = kHopLimit;
  set_opt(fd_, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops, "IPV6_MULTICAST_HOPS", ctx);
  set_opt(fd_, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &hops, sizeof hops, "IPV6_UNICAST_HOPS", ctx);
  const int tclass = kTrafficClass;
  set_opt(fd_, IPPROTO_IPV6, IPV6_TCLASS, &tclass, sizeof tclass, "IPV6_TCLASS", ctx);
  const int ifidx = ifindex;
  set_opt(fd_, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifidx, sizeof ifidx, "IPV6_MULTICAST_IF", ctx);
  const int loop = 0;  // our own adverts are not news
  set_opt(fd_, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &loop, sizeof loop, "IPV6_MULTICAST_LOOP", ctx);
  const int on = 1;
  set_opt(fd_, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof on, "IPV6_RECVHOPLIMIT", ctx);
  set_opt(fd_, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof on, "IPV6_RECVPKTINFO", ctx);
  const auto join = group_request(ifindex);
  set_opt(fd_, IPPROTO_IPV6, IPV6_JOIN_GROUP, &join, sizeof join,
          "IPV6_JOIN_GROUP ff02::12 (is IPv6 enabled on the interface?)", ctx);
}

VrrpSocket6::~VrrpSocket6() {
  if (fd_ < 0) return;
  // Leave explicitly (an MLD done report now), then close.
  const auto leave = group_request(ifindex_);
  ::setsockopt(fd_, IPPROTO_IPV6, IPV6_LEAVE_GROUP, &leave, sizeof leave);
  ::close(fd_);
}

int VrrpSocket6::accept_only(std::span<const app::AcceptedAdvert> accepted) {
  return attach_advert_filter(fd_, accepted, vrrp::Family::V6);
}

int VrrpSocket6::send(std::span<const std::uint8_t> message, const vrrp::IpAddress& source,
                      const vrrp::IpAddress& destination) {
  if (destination.family != vrrp::Family::V6 || source.family != vrrp::Family::V6)
    return EAFNOSUPPORT;
  sockaddr_in6 to{};
  to.sin6_family = AF_INET6;
  to.sin6_addr = to_in6(destination);
  // A link-local or link-scope multicast destination needs its zone: this interface.
  if (destination.is_link_local_v6() || destination.is_multicast())
    to.sin6_scope_id = static_cast<std::uint32_t>(ifindex_);

  // The source must be exactly the one the checksum was computed with (per packet, no bind()).
  return send_from6(fd_, message, to, source, ifindex_);
}

std::optional<vrrp::Datagram> VrrpSocket6::receive() {
  // An IPv6 advert is at most 8 + 255 * 16 bytes (no IP header on an IPv6 raw socket).
  std::array<std::uint8_t, 8 + 255 * 16> buf{};
  sockaddr_in6 from{};
  iovec iov{buf.data(), buf.size()};
  alignas(cmsghdr) unsigned char
      control[CMSG_SPACE(sizeof(in6_pktinfo)) + CMSG_SPACE(sizeof(int)) + 64] = {};
  msghdr msg{};
  msg.msg_name = &from;
  msg.msg_namelen = sizeof from;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n = 0;
  do {
    n = ::recvmsg(fd_, &msg, MSG_DONTWAIT | MSG_TRUNC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return std::nullopt;

  vrrp::Datagram d;
  d.ifindex = ifindex_;
  d.source = from_in6(from.sin6_addr);
  d.ttl = -1;  // unknown unless the kernel reports it
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != IPPROTO_IPV6) continue;
    if (c->cmsg_type == IPV6_PKTINFO) {
      in6_pktinfo pi{};
      std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
      d.ifindex = static_cast<int>(pi.ipi6_ifindex);
      d.destination = from_in6(pi.ipi6_addr);
    } else if (c->cmsg_type == IPV6_HOPLIMIT) {
      int hops = 0;
      std::memcpy(&hops, CMSG_DATA(c), sizeof hops);
      d.ttl = hops;
    }
  }
  if (static_cast<std::size_t>(n) > buf.size()) return d;  // oversized: malformed, empty payload
  d.payload.assign(buf.begin(), buf.begin() + n);
  return d;
}

}  // namespace vipd::net
