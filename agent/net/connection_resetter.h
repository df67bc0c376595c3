// Resets the TCP connections whose local address is one of a set of addresses (SOCK_DESTROY
// through NETLINK_SOCK_DIAG on libnl-3's core: what `ss -K src ADDR` does). The kernel sends a
// RST to each peer, so a client waiting on a connection to a VIP this node gives up learns it at
// once instead of at its own timeout. Blocking; vipd calls it off the event loop
// (app/connection_reset.h).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "app/ports.h"
#include "vrrp/ip_address.h"

namespace vipd::net {

using ResetResult = app::ResetResult;
using app::to_string;

/// Destroys every TCP socket whose local address is one of `addresses` and whose state has a
/// peer (ESTABLISHED, SYN_RECV, connections waiting in a listener's accept queue, FIN_WAIT...,
/// CLOSE_WAIT, ...), IPv4, IPv6 and v4-mapped alike. Never a LISTEN socket (also not one bound to
/// the address itself), never a socket on another address, never UDP. Each call opens its own
/// netlink sockets, so it may run on any thread. It never throws: problems are in the result.
ResetResult reset_connections(std::span<const vrrp::IpAddress> addresses);

}  // namespace vipd::net
