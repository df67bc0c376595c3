// The advert channel: raw IPv4 protocol-112 socket, multicast 224.0.0.18 or unicast peers.
#include "net/vrrp_socket.h"

#include "net/advert_filter.h"
#include "net/socket_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <system_error>

namespace vipd::net {
namespace {

constexpr int kIpProtoVrrp = 112;  // RFC 9568 §5.1.1.4
constexpr int kTtl = 255;          // RFC 9568 §5.1.1.3: sent with TTL 255, checked on receipt
constexpr int kTos = 0xc0;         // internetwork control, as keepalived and FRR send it
constexpr std::uint32_t kVrrpGroup = 0xe0000012;  // 224.0.0.18

in_addr to_in_addr(const vrrp::IpAddress& a) {
  in_addr in{};
  std::memcpy(&in.s_addr, a.bytes.data(), 4);
  return in;
}

vrrp::IpAddress from_in_addr(const void* p) {
  std::array<std::uint8_t, 4> b{};
  std::memcpy(b.data(), p, 4);
  return vrrp::IpAddress::v4(b);
}

}  // namespace

VrrpSocket::VrrpSocket(const std::string& interface, int ifindex, vrrp::IpAddress source)
    : ifindex_(ifindex), source_(source) {
  const std::string ctx = "VRRP socket on '" + interface + "': ";
  fd_ = ::socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, kIpProtoVrrp);
  if (fd_ < 0) {
    const int e = errno;
    if (e == EPERM || e == EACCES)
      fail(-1, e,
           "opening the VRRP raw socket needs CAP_NET_RAW (run as root or grant CAP_NET_RAW)");
    fail(-1, e, "opening the VRRP raw socket");
  }
  // Only packets that arrived on this interface, and every send leaves through it.
  set_opt(fd_, SOL_SOCKET, SO_BINDTODEVICE, interface.c_str(),
          static_cast<socklen_t>(interface.size() + 1), "SO_BINDTODEVICE", ctx);
  ip_mreqn mif{};
  mif.imr_ifindex = ifindex;
  set_opt(fd_, IPPROTO_IP, IP_MULTICAST_IF, &mif, sizeof mif, "IP_MULTICAST_IF", ctx);
  const int ttl = kTtl;
  set_opt(fd_, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl, "IP_MULTICAST_TTL", ctx);
  set_opt(fd_, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl, "IP_TTL", ctx);
  const int tos = kTos;
  set_opt(fd_, IPPROTO_IP, IP_TOS, &tos, sizeof tos, "IP_TOS", ctx);
  // Our own multicast adverts are not looped back to sockets on this host (DEPS.md §5).
  const unsigned char loop = 0;
  set_opt(fd_, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof loop, "IP_MULTICAST_LOOP", ctx);
  const int on = 1;
  set_opt(fd_, IPPROTO_IP, IP_PKTINFO, &on, sizeof on, "IP_PKTINFO", ctx);
  // Without the join nothing multicast arrives (DEPS.md §5). Harmless in unicast mode.
  ip_mreqn join{};
  join.imr_multiaddr.s_addr = htonl(kVrrpGroup);
  join.imr_ifindex = ifindex;
  set_opt(fd_, IPPROTO_IP, IP_ADD_MEMBERSHIP, &join, sizeof join,
          "IP_ADD_MEMBERSHIP 224.0.0.18 (is the interface up and multicast-capable?)", ctx);
}

int VrrpSocket::accept_only(std::span<const app::AcceptedAdvert> accepted) {
  return attach_advert_filter(fd_, accepted);
}

VrrpSocket::~VrrpSocket() {
  if (fd_ >= 0) ::close(fd_);
}

int VrrpSocket::send(std::span<const std::uint8_t> payload, const vrrp::IpAddress& destination) {
  if (destination.family != vrrp::Family::V4) return EAFNOSUPPORT;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr = to_in_addr(destination);

  iovec iov{const_cast<std::uint8_t*>(payload.data()), payload.size()};
  msghdr msg{};
  msg.msg_name = &to;
  msg.msg_namelen = sizeof to;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  // The source address goes in IP_PKTINFO's ipi_spec_dst per packet instead of bind(): a raw
  // socket bound to a unicast address only receives packets addressed to exactly that address,
  // which would drop every advert to 224.0.0.18; and the source can change (set_source) without
  // reopening the socket. Unspecified source: the kernel picks the interface's primary.
  alignas(cmsghdr) unsigned char control[CMSG_SPACE(sizeof(in_pktinfo))] = {};
  if (source_.family == vrrp::Family::V4 && !source_.is_unspecified()) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
    in_pktinfo pi{};
    pi.ipi_ifindex = ifindex_;
    pi.ipi_spec_dst = to_in_addr(source_);
    std::memcpy(CMSG_DATA(c), &pi, sizeof pi);
  }
  const ssize_t n = ::sendmsg(fd_, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  if (n < 0) return errno;
  return n == static_cast<ssize_t>(payload.size()) ? 0 : EMSGSIZE;
}

bool parse_ipv4_datagram(std::span<const std::uint8_t> d, ReceivedPacket& p) {
  p.payload.clear();
  if (d.size() < 20 || (d[0] >> 4) != 4) return false;
  const std::size_t ihl = static_cast<std::size_t>(d[0] & 0x0f) * 4;
  const std::size_t total = (std::size_t{d[2]} << 8) | d[3];
  if (ihl < 20 || ihl > d.size() || total < ihl) return false;
  p.ttl = d[8];
  p.source = from_in_addr(&d[12]);
  p.destination = from_in_addr(&d[16]);
  // Bytes past the IP total length (link-layer padding) are ignored; a datagram shorter than
  // its own total length was truncated and is malformed.
  if (total > d.size()) return false;
  p.payload.assign(d.begin() + static_cast<std::ptrdiff_t>(ihl),
                   d.begin() + static_cast<std::ptrdiff_t>(total));
  return true;
}

std::optional<ReceivedPacket> VrrpSocket::receive() {
  // An IPv4 VRRP advert is at most 20 + 60 (options) + 8 + 255 * 4 bytes; anything larger is
  // not an advert and comes back truncated (MSG_TRUNC), hence malformed.
  std::array<std::uint8_t, 2048> buf{};
  sockaddr_in from{};
  iovec iov{buf.data(), buf.size()};
  alignas(cmsghdr) unsigned char control[CMSG_SPACE(sizeof(in_pktinfo)) + 64] = {};
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
  if (n < 0) return std::nullopt;  // EAGAIN (nothing queued) or a transient error

  ReceivedPacket p;
  p.ifindex = ifindex_;
  p.source = from_in_addr(&from.sin_addr);
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      in_pktinfo pi{};
      std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
      p.ifindex = pi.ipi_ifindex;
      p.destination = from_in_addr(&pi.ipi_addr);
    }
  }
  // With MSG_TRUNC, n is the datagram's real length even when it did not fit.
  if (static_cast<std::size_t>(n) > buf.size()) return p;  // oversized: malformed, empty payload
  parse_ipv4_datagram(std::span<const std::uint8_t>(buf.data(), static_cast<std::size_t>(n)), p);
  return p;
}

}  // namespace vipd::net
