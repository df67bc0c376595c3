// Gratuitous ARP: the pure 28-byte ARP body and an AF_PACKET sender that broadcasts it.
#include "net/garp.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

namespace vipd::net {

std::array<std::uint8_t, 28> garp_frame(const std::array<std::uint8_t, 6>& mac,
                                        const vrrp::IpAddress& vip, bool reply) {
  std::array<std::uint8_t, 28> f{};
  f[0] = 0x00;  // htype 1: Ethernet
  f[1] = 0x01;
  f[2] = 0x08;  // ptype 0x0800: IPv4
  f[3] = 0x00;
  f[4] = 6;  // hlen
  f[5] = 4;  // plen
  f[6] = 0x00;
  f[7] = reply ? 2 : 1;                                   // op: 1 request, 2 reply
  for (std::size_t i = 0; i < 6; ++i) f[8 + i] = mac[i];  // sender hardware address = ours
  for (std::size_t i = 0; i < 4; ++i) {
    f[14 + i] = vip.bytes[i];  // sender protocol address = VIP
    f[24 + i] = vip.bytes[i];  // target protocol address = VIP (that makes it gratuitous)
  }
  // Target hardware address. Request: all zeroes, as RFC 5227 §3 says for ARP announcements
  // ("ignored and SHOULD be set to all zeroes"). Reply: our own MAC, as RFC 5944 §4.6 and
  // keepalived/MetalLB do, so a reply never names a third party; receivers only look at the
  // sender fields, which is why both forms update an existing neighbour entry (DEPS.md §5).
  if (reply)
    for (std::size_t i = 0; i < 6; ++i) f[18 + i] = mac[i];
  return f;
}

GarpSender::GarpSender(int ifindex, std::array<std::uint8_t, 6> mac)
    : ifindex_(ifindex), mac_(mac) {
  // Protocol 0: the socket only sends (each sendto names ETH_P_ARP), so the kernel never queues
  // a copy of every ARP frame on the LAN to it. DEPS.md §5 used htons(ETH_P_ARP); the frames on
  // the wire are identical (checked in tests/unit_netns).
  fd_ = ::socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd_ < 0) {
    const int e = errno;
    if (e == EPERM || e == EACCES)
      throw std::system_error(e, std::generic_category(),
                              "opening the gratuitous ARP packet socket needs CAP_NET_RAW (run "
                              "as root or grant CAP_NET_RAW)");
    throw std::system_error(e, std::generic_category(), "opening the gratuitous ARP socket");
  }
  // Binding checks the ifindex now rather than at the first failover.
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_ifindex = ifindex_;
  if (::bind(fd_, reinterpret_cast<const sockaddr*>(&sll), sizeof sll) != 0) {
    const int e = errno;
    ::close(fd_);
    fd_ = -1;
    throw std::system_error(e, std::generic_category(),
                            "binding the gratuitous ARP socket to ifindex " +
                                std::to_string(ifindex) + " (does the interface still exist?)");
  }
}

GarpSender::~GarpSender() {
  if (fd_ >= 0) ::close(fd_);
}

int GarpSender::announce(std::span<const vrrp::IpAddress> vips) {
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_protocol = htons(ETH_P_ARP);
  to.sll_ifindex = ifindex_;
  to.sll_halen = 6;
  std::memset(to.sll_addr, 0xff, 6);  // broadcast
  int sent = 0;
  for (const auto& vip : vips) {
    if (vip.family != vrrp::Family::V4) continue;
    for (bool reply : {false, true}) {
      const auto frame = garp_frame(mac_, vip, reply);
      const auto n = ::sendto(fd_, frame.data(), frame.size(), 0,
                              reinterpret_cast<const sockaddr*>(&to), sizeof to);
      if (n == static_cast<ssize_t>(frame.size())) ++sent;
    }
  }
  return sent;
}

}  // namespace vipd::net
