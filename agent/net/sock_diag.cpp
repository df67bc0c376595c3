// NETLINK_SOCK_DIAG messages for resetting the connections of released VIPs (pure).
#include "net/sock_diag.h"

#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace vipd::net::sock_diag {
namespace {

template <typename T>
void append(std::vector<std::uint8_t>& out, const T& value) {
  // resize + memcpy rather than insert(end, p, p + n): GCC 12 at -O3 reports a false
  // -Wstringop-overflow / -Warray-bounds for the insert into an empty vector.
  const std::size_t at = out.size();
  out.resize(at + sizeof value);
  std::memcpy(out.data() + at, &value, sizeof value);
}

vrrp::IpAddress address_of(std::uint8_t family, const std::uint32_t (&words)[4]) {
  std::array<std::uint8_t, 16> bytes{};
  std::memcpy(bytes.data(), words, bytes.size());
  if (family == AF_INET)
    return vrrp::IpAddress::v4(std::array<std::uint8_t, 4>{bytes[0], bytes[1], bytes[2], bytes[3]});
  // ::ffff:a.b.c.d — an IPv4 connection accepted by a dual-stack (IPV6_V6ONLY off) listener.
  static constexpr std::array<std::uint8_t, 12> kMapped{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::equal(kMapped.begin(), kMapped.end(), bytes.begin()))
    return vrrp::IpAddress::v4(
        std::array<std::uint8_t, 4>{bytes[12], bytes[13], bytes[14], bytes[15]});
  return vrrp::IpAddress::v6(bytes);
}

}  // namespace

vrrp::IpAddress TcpSocket::local() const { return address_of(family, id.idiag_src); }
vrrp::IpAddress TcpSocket::remote() const { return address_of(family, id.idiag_dst); }
std::uint16_t TcpSocket::local_port() const { return ntohs(id.idiag_sport); }
std::uint16_t TcpSocket::remote_port() const { return ntohs(id.idiag_dport); }

std::vector<std::uint8_t> local_address_filter(std::span<const vrrp::IpAddress> addresses) {
  if (addresses.empty() || addresses.size() > kMaxFilterAddresses)
    throw std::invalid_argument("local_address_filter: 1.." + std::to_string(kMaxFilterAddresses) +
                                " addresses, not " + std::to_string(addresses.size()));
  // Each op is a conditional jump (linux/inet_diag.h): taken as `yes` when it matches, `no` when
  // not, both counted in bytes from the op. Reaching the end exactly accepts the socket; jumping
  // 4 bytes past it rejects. `yes` is one byte, so "match → jump to the end" cannot span a long
  // list; instead every match lands on the JMP right after it, whose 16-bit `no` reaches the end:
  //
  //   S_COND a1 [yes: next op (JMP), no: skip the JMP]   JMP [no: the end → accept]
  //   S_COND a2 [yes: next op (JMP), no: skip the JMP]   JMP [no: the end → accept]
  //   ...
  //   S_COND an [yes: the end → accept, no: 4 past the end → reject]
  //
  // (ss builds an OR the same way.) The kernel checks every offset (inet_diag_bc_audit).
  constexpr std::size_t kOp = sizeof(inet_diag_bc_op);
  constexpr std::size_t kCond = sizeof(inet_diag_hostcond);
  std::size_t total = 0;
  for (std::size_t i = 0; i < addresses.size(); ++i)
    total += kOp + kCond + addresses[i].size() + (i + 1 < addresses.size() ? kOp : 0);
  std::vector<std::uint8_t> out;
  out.reserve(total);
  for (std::size_t i = 0; i < addresses.size(); ++i) {
    const auto& a = addresses[i];
    const bool last = i + 1 == addresses.size();
    const auto cond_len = static_cast<std::uint8_t>(kOp + kCond + a.size());
    append(out, inet_diag_bc_op{INET_DIAG_BC_S_COND, cond_len,
                                static_cast<unsigned short>(cond_len + kOp)});
    inet_diag_hostcond cond{};
    cond.family = a.family == vrrp::Family::V4 ? AF_INET : AF_INET6;
    cond.prefix_len = static_cast<std::uint8_t>(a.size() * 8);
    cond.port = -1;  // any port
    append(out, cond);
    out.insert(out.end(), a.bytes.begin(), a.bytes.begin() + static_cast<std::ptrdiff_t>(a.size()));
    if (!last) {
      const auto to_end = static_cast<unsigned short>(total - out.size());
      append(out, inet_diag_bc_op{INET_DIAG_BC_JMP, static_cast<unsigned char>(kOp), to_end});
    }
  }
  return out;
}

std::vector<std::uint8_t> dump_request_payload(std::uint8_t family,
                                               std::span<const std::uint8_t> bytecode) {
  inet_diag_req_v2 req{};
  req.sdiag_family = family;
  req.sdiag_protocol = IPPROTO_TCP;
  req.idiag_states = kResetStates;
  std::vector<std::uint8_t> out;
  append(out, req);
  if (!bytecode.empty()) {
    nlattr attr{};
    attr.nla_len = static_cast<std::uint16_t>(NLA_HDRLEN + bytecode.size());
    attr.nla_type = INET_DIAG_REQ_BYTECODE;
    append(out, attr);
    out.insert(out.end(), bytecode.begin(), bytecode.end());
    out.resize(NLMSG_ALIGN(out.size()), 0);
  }
  return out;
}

std::optional<TcpSocket> parse_socket(std::span<const std::uint8_t> payload) {
  inet_diag_msg msg{};
  if (payload.size() < sizeof msg) return std::nullopt;
  std::memcpy(&msg, payload.data(), sizeof msg);
  if (msg.idiag_family != AF_INET && msg.idiag_family != AF_INET6) return std::nullopt;
  TcpSocket s;
  s.family = msg.idiag_family;
  s.state = msg.idiag_state;
  s.id = msg.id;
  return s;
}

bool should_reset(const TcpSocket& socket, std::span<const vrrp::IpAddress> released) {
  if (socket.state >= 32 || (kResetStates & (1U << socket.state)) == 0) return false;
  // Without a cookie SOCK_DESTROY would act on whatever now has these addresses and ports
  // (destroy_request). The kernel always reports one; refuse rather than trust that.
  if (socket.id.idiag_cookie[0] == INET_DIAG_NOCOOKIE &&
      socket.id.idiag_cookie[1] == INET_DIAG_NOCOOKIE)
    return false;
  const auto local = socket.local();
  return std::find(released.begin(), released.end(), local) != released.end();
}

std::vector<std::uint8_t> destroy_request(const TcpSocket& socket, std::uint32_t seq) {
  inet_diag_req_v2 req{};
  req.sdiag_family = socket.family;
  req.sdiag_protocol = IPPROTO_TCP;
  req.idiag_states = kResetStates;
  // The kernel looks the socket up by its addresses and ports, which also finds the LISTEN socket
  // when the connection is already gone; the cookie (never INET_DIAG_NOCOOKIE here) makes it
  // answer ESTALE instead of destroying that listener.
  req.id = socket.id;
  nlmsghdr h{};
  h.nlmsg_len = static_cast<std::uint32_t>(NLMSG_LENGTH(sizeof req));
  h.nlmsg_type = SOCK_DESTROY;
  h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  h.nlmsg_seq = seq;
  std::vector<std::uint8_t> out;
  append(out, h);
  append(out, req);
  out.resize(NLMSG_ALIGN(out.size()), 0);
  return out;
}

}  // namespace vipd::net::sock_diag
