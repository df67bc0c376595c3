// NETLINK_SOCK_DIAG messages that find and destroy the TCP connections of released VIPs (what
// `ss -K src ADDR` does): the inet_diag filter bytecode, the dump request, a dump reply, the
// SOCK_DESTROY request. Pure: bytes in, bytes out, every one unit-tested; the transport is
// net/connection_resetter.cpp.
#pragma once

#include <linux/inet_diag.h>

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "vrrp/ip_address.h"

namespace vipd::net::sock_diag {

/// TCP states as the kernel numbers them (include/net/tcp_states.h, which is not uapi).
enum TcpState : std::uint8_t {
  kEstablished = 1,
  kSynSent = 2,
  kSynRecv = 3,
  kFinWait1 = 4,
  kFinWait2 = 5,
  kTimeWait = 6,
  kClose = 7,
  kCloseWait = 8,
  kLastAck = 9,
  kListen = 10,
  kClosing = 11,
  kNewSynRecv = 12,  // a request socket (handshake not complete); reported as kSynRecv
};

/// The states whose sockets are reset: every state with a peer that may still wait for us,
/// including connections in a listener's accept queue (established, never accepted: the case of
/// a hung proxy). Never LISTEN: a listener is not a connection, and destroying it would stop the
/// proxy from accepting anything. Not TIME_WAIT or CLOSE: nobody waits on them and the kernel
/// sends no RST for them, so counting them would only inflate the counter.
constexpr std::uint32_t kResetStates = (1U << kEstablished) | (1U << kSynSent) | (1U << kSynRecv) |
                                       (1U << kFinWait1) | (1U << kFinWait2) | (1U << kCloseWait) |
                                       (1U << kLastAck) | (1U << kClosing) | (1U << kNewSynRecv);

/// At most this many addresses go into one filter; more are split over several dumps. The
/// filter is walked per socket, so its length bounds the kernel's work per socket.
constexpr std::size_t kMaxFilterAddresses = 256;

/// One TCP socket as a dump reports it. `id` is kept verbatim (ports and addresses in network
/// order, the cookie) so that SOCK_DESTROY names exactly this socket and no later one that
/// reuses its addresses and ports.
struct TcpSocket {
  std::uint8_t family = 0;  // AF_INET or AF_INET6 (a dual-stack listener's v4 connections)
  std::uint8_t state = 0;   // TcpState
  inet_diag_sockid id{};

  /// The local address; a v4-mapped IPv6 address (::ffff:a.b.c.d) is returned as IPv4.
  [[nodiscard]] vrrp::IpAddress local() const;
  [[nodiscard]] vrrp::IpAddress remote() const;
  [[nodiscard]] std::uint16_t local_port() const;   // host order
  [[nodiscard]] std::uint16_t remote_port() const;  // host order
};

/// inet_diag filter bytecode (the payload of INET_DIAG_REQ_BYTECODE) that accepts a socket whose
/// local address is any of `addresses` (1..kMaxFilterAddresses), any port. An IPv4 address also
/// matches the v4-mapped local address of an AF_INET6 socket (the kernel does that).
std::vector<std::uint8_t> local_address_filter(std::span<const vrrp::IpAddress> addresses);

/// A SOCK_DIAG_BY_FAMILY dump request for TCP sockets of `family` (AF_INET or AF_INET6) in the
/// kResetStates, with `bytecode` as its filter: the payload after the netlink header.
std::vector<std::uint8_t> dump_request_payload(std::uint8_t family,
                                               std::span<const std::uint8_t> bytecode);

/// Parses the payload of one SOCK_DIAG_BY_FAMILY reply (struct inet_diag_msg, attributes
/// ignored). nullopt when it is too short or not an inet family.
std::optional<TcpSocket> parse_socket(std::span<const std::uint8_t> payload);

/// The decision, made again in user space whatever the kernel's filter did: a socket is reset
/// only when its state is one of kResetStates and its local address is one of `released`.
bool should_reset(const TcpSocket& socket, std::span<const vrrp::IpAddress> released);

/// A complete SOCK_DESTROY request (netlink header included, NLM_F_REQUEST | NLM_F_ACK) for
/// `socket`, with sequence number `seq`.
std::vector<std::uint8_t> destroy_request(const TcpSocket& socket, std::uint32_t seq);

}  // namespace vipd::net::sock_diag
