// Small helpers shared by the raw-socket adapters (vrrp_socket, vrrp_socket6, unsolicited_na).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <system_error>

#include "vrrp/ip_address.h"

namespace vipd::net {

/// Closes `fd` (when open) and throws std::system_error(err) with `what`: constructors use it so
/// that a half-configured socket is never leaked.
[[noreturn]] inline void fail(int fd, int err, const std::string& what) {
  if (fd >= 0) ::close(fd);
  throw std::system_error(err, std::generic_category(), what);
}

/// setsockopt, or fail(fd, errno, context + what); context names the socket ("VRRP socket on
/// 'eth0': ").
inline void set_opt(int fd, int level, int name, const void* value, socklen_t len, const char* what,
                    const std::string& context) {
  if (::setsockopt(fd, level, name, value, len) != 0) fail(fd, errno, context + what);
}

inline in6_addr to_in6(const vrrp::IpAddress& a) {
  in6_addr in{};
  std::memcpy(in.s6_addr, a.bytes.data(), 16);
  return in;
}

/// Sends `message` on the IPv6 raw socket `fd` to `to` from exactly `source` out of `ifindex`
/// (IPV6_PKTINFO per packet: no bind(), so the socket still receives multicast and the source
/// can change without reopening it). Returns 0, an errno value, or EMSGSIZE for a short send.
inline int send_from6(int fd, std::span<const std::uint8_t> message, const sockaddr_in6& to,
                      const vrrp::IpAddress& source, int ifindex) {
  iovec iov{const_cast<std::uint8_t*>(message.data()), message.size()};
  msghdr msg{};
  msg.msg_name = const_cast<sockaddr_in6*>(&to);
  msg.msg_namelen = sizeof to;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) unsigned char control[CMSG_SPACE(sizeof(in6_pktinfo))] = {};
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = IPPROTO_IPV6;
  c->cmsg_type = IPV6_PKTINFO;
  c->cmsg_len = CMSG_LEN(sizeof(in6_pktinfo));
  in6_pktinfo pi{};
  pi.ipi6_ifindex = static_cast<unsigned>(ifindex);
  pi.ipi6_addr = to_in6(source);
  std::memcpy(CMSG_DATA(c), &pi, sizeof pi);
  const ssize_t n = ::sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  if (n < 0) return errno;
  return n == static_cast<ssize_t>(message.size()) ? 0 : EMSGSIZE;
}

}  // namespace vipd::net
