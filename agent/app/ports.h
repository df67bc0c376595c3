// The ports of the layer above the core: the narrow interfaces an instance and the agent need
// from the outside world. agent/net implements them against the kernel; the unit tests implement
// them with recording fakes. Only the composition root (agent/platform_linux.cpp) builds the
// concrete adapters; no other file under agent/app includes an agent/net header.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vrrp/admission.h"
#include "vrrp/auth_hmac.h"
#include "vrrp/ip_address.h"
#include "vrrp/timers.h"

namespace vipd::app {

using vrrp::TimePoint;

/// Clock and timers of the loop thread (EventLoop; a manual clock in tests).
class Scheduler {
 public:
  using Callback = std::function<void()>;
  using TimerId = std::uint64_t;
  virtual ~Scheduler() = default;
  /// The steady clock the instance's timers run on.
  [[nodiscard]] virtual TimePoint clock() const = 0;
  /// One-shot timer at an absolute deadline; cancel_timer() with an expired or unknown id is a
  /// no-op.
  virtual TimerId add_timer(TimePoint deadline, Callback callback) = 0;
  virtual void cancel_timer(TimerId id) = 0;
  /// Runs `callback` on the loop thread soon (thread-safe).
  virtual void post(Callback callback) = 0;
};

/// Sends and receives VRRP messages on one interface (a raw IP protocol-112 socket).
/// A (VRRP version, VRID) that an instance on an interface listens for (the kernel advert filter).
struct AcceptedAdvert {
  std::uint8_t version = 3;  // 2 or 3
  std::uint8_t vrid = 0;
  /// Sources the adverts may come from (an instance's unicast_peers); empty: any source.
  std::vector<vrrp::IpAddress> sources = {};
  friend bool operator==(const AcceptedAdvert&, const AcceptedAdvert&) = default;
};

class AdvertChannel {
 public:
  virtual ~AdvertChannel() = default;
  /// Sends one VRRP message from `source` to `destination`. Returns 0 or an errno value.
  virtual int send(std::span<const std::uint8_t> message, const vrrp::IpAddress& source,
                   const vrrp::IpAddress& destination) = 0;
  /// One received datagram, nullopt when nothing is queued. A malformed IP header comes back with
  /// an empty payload (admitted as "short").
  virtual std::optional<vrrp::Datagram> receive() = 0;
  /// Readable when receive() has something (the loop watches it).
  [[nodiscard]] virtual int fd() const = 0;
  /// Has the kernel drop adverts for any other (version, VRID) before they are queued (issue 13
  /// flood budget; a sample still comes through). Returns 0 or an errno value. Default: no filter.
  virtual int accept_only(std::span<const AcceptedAdvert> accepted) {
    (void)accepted;
    return 0;
  }
};

/// The result of adding or removing one VIP.
struct VipOpResult {
  vrrp::IpPrefix vip;
  bool ok = false;
  bool changed = false;  // false when it was already in the wanted state (idempotent no-op)
  std::string error;     // actionable text when !ok, e.g. "needs CAP_NET_ADMIN"
};

/// Every address of every interface: (ifindex, address/prefix).
using AddressSet = std::set<std::pair<int, vrrp::IpPrefix>>;

/// Which of `vips` are in `addresses` on `ifindex` (exact address and prefix length).
inline std::vector<bool> present_in(const AddressSet& addresses, int ifindex,
                                    std::span<const vrrp::IpPrefix> vips) {
  std::vector<bool> out;
  out.reserve(vips.size());
  for (const auto& v : vips) out.push_back(addresses.count({ifindex, v}) > 0);
  return out;
}

/// Adds, removes and reads the VIPs on an interface (netlink). Idempotent.
class VipTable {
 public:
  virtual ~VipTable() = default;
  virtual std::vector<VipOpResult> add(int ifindex, std::span<const vrrp::IpPrefix> vips) = 0;
  virtual std::vector<VipOpResult> remove(int ifindex, std::span<const vrrp::IpPrefix> vips) = 0;
  virtual std::vector<bool> present(int ifindex, std::span<const vrrp::IpPrefix> vips) = 0;
  /// Every address now, from one dump. Throws std::runtime_error when it cannot be read.
  virtual AddressSet addresses() = 0;
  /// The addresses that vipd did not add (it marks its own), from one dump: an address here that
  /// is also a configured VIP is the node's own address (or another program's), not a leftover.
  /// Empty when the kernel cannot tell (no address protocol before Linux 5.18). Throws
  /// std::runtime_error when the addresses cannot be read.
  virtual AddressSet foreign_addresses() { return {}; }
};

/// Tells the segment that the VIPs are here now (gratuitous ARP; unsolicited NA with IPv6).
class Announcer {
 public:
  virtual ~Announcer() = default;
  /// Returns the number of frames sent.
  virtual int announce(std::span<const vrrp::IpAddress> vips) = 0;
};

/// What resetting the connections of released VIPs achieved.
struct ResetResult {
  enum class Failure : std::uint8_t {
    None,
    Unsupported,  // the kernel cannot list or destroy sockets (CONFIG_INET_DIAG_DESTROY)
    Permission,   // SOCK_DESTROY needs CAP_NET_ADMIN
    Error,        // anything else; `error` says what
  };
  std::size_t matched = 0;  // sockets found on the addresses
  std::size_t reset = 0;    // destroyed: the kernel sent a RST where the state has a peer
  std::size_t gone = 0;     // closed on their own between the dump and the destroy
  Failure failure = Failure::None;
  std::string error;  // what went wrong and what it means, when failure != None
  std::chrono::microseconds dump_time{};
  std::chrono::microseconds destroy_time{};
};

inline std::string_view to_string(ResetResult::Failure failure) {
  switch (failure) {
    case ResetResult::Failure::None:
      return "none";
    case ResetResult::Failure::Unsupported:
      return "unsupported";
    case ResetResult::Failure::Permission:
      return "permission";
    case ResetResult::Failure::Error:
      break;
  }
  return "error";
}

/// Resets every TCP connection whose local address is one of the addresses (blocking; run off
/// the loop by ResetWorker). Never throws.
using ResetConnections = std::function<ResetResult(std::span<const vrrp::IpAddress>)>;

/// The facts about one interface the agent needs.
struct InterfaceFacts {
  std::string name;
  int index = 0;
  std::array<std::uint8_t, 6> mac{};
  bool exists = true;  // false: the interface was deleted (link events)
  bool admin_up = false;
  bool carrier = false;  // IFF_LOWER_UP / IFF_RUNNING
  /// The first non-secondary IPv4 address, never one of the excluded ones (our VIPs).
  std::optional<vrrp::IpAddress> primary_v4;
  /// The interface's IPv6 link-local address (fe80::/10, not one of the excluded ones): the
  /// source of IPv6 adverts (RFC 9568 §5.1.2.1).
  std::optional<vrrp::IpAddress> link_local_v6;
  [[nodiscard]] bool usable() const { return exists && admin_up && carrier; }
};

/// An address appeared on or left an interface.
struct AddressEvent {
  int ifindex = 0;
  vrrp::IpPrefix prefix;
  bool added = true;  // false: removed
};

/// Link and address notifications (netlink). The loop watches fd() and calls dispatch().
class Watcher {
 public:
  struct Handlers {
    std::function<void(const InterfaceFacts&)> on_link;  // name, index, exists, admin_up, carrier
    std::function<void(const AddressEvent&)> on_address;
    std::function<void()> on_resync;  // events were lost: re-read everything
  };
  virtual ~Watcher() = default;
  [[nodiscard]] virtual int fd() const = 0;
  virtual void dispatch() = 0;
};

/// Route mode (issue 16): the outcome of one route operation.
struct RouteOpResult {
  bool ok = false;
  std::string error;  // actionable text when !ok
};

/// The host routes of route-mode instances in one kernel table, with one route protocol
/// (netlink). The host's FRR or BIRD imports the table and announces the routes by BGP.
class RouteTable {
 public:
  virtual ~RouteTable() = default;
  /// Installs `vip` with `metric`. With `replaces`, the route with that metric is replaced: the
  /// table never holds two routes for `vip`, and a routing daemon sees one replacement, never a
  /// withdrawal (the kernel keys routes by metric, so a new metric is a new route: the delete and
  /// the add go to the kernel in one netlink datagram, the delete first; net/route_table.h).
  virtual RouteOpResult install(const vrrp::IpPrefix& vip, std::uint32_t metric,
                                std::optional<std::uint32_t> replaces) = 0;
  /// Removes the route for `vip` with `metric`; one that is not there counts as success.
  virtual RouteOpResult withdraw(const vrrp::IpPrefix& vip, std::uint32_t metric) = 0;
  /// Removes every route of this protocol in this table except those for `keep_routes`, and every
  /// `local` route of this protocol in the local table except those for `keep_local` (leftovers of
  /// a crash; the kept ones belong to instances that run). Returns how many were removed, or
  /// throws std::runtime_error when the tables cannot be read.
  virtual std::size_t sweep(std::span<const vrrp::IpPrefix> keep_routes,
                            std::span<const vrrp::IpPrefix> keep_local) = 0;
  /// A `local` route for `vip` in the local table (this protocol): the node answers the VIP
  /// without holding it as an address (an address would add a connected route that beats the
  /// imported one, and nothing would be announced). Idempotent.
  virtual RouteOpResult add_local(const vrrp::IpPrefix& vip) = 0;
  virtual RouteOpResult remove_local(const vrrp::IpPrefix& vip) = 0;
  /// The metrics of this protocol's routes for `vip` in this table now (empty: none).
  virtual std::vector<std::uint32_t> installed(const vrrp::IpPrefix& vip) = 0;
};

/// Builds the adapters (LinuxPlatform in agent/platform_linux.cpp; fakes in tests).
class Platform {
 public:
  virtual ~Platform() = default;
  [[nodiscard]] virtual bool has_capability(int cap) const = 0;
  /// Nullopt (and an actionable `error`) when the interface does not exist.
  virtual std::optional<InterfaceFacts> lookup_interface(
      const std::string& name, std::string& error, const std::vector<vrrp::IpAddress>& exclude) = 0;
  /// The following throw std::exception with an actionable message when they cannot be opened.
  /// advert_channel opens the channel of `source`'s family (an unspecified address of the
  /// family when the source is not known yet).
  virtual std::unique_ptr<VipTable> vip_table() = 0;
  virtual std::unique_ptr<AdvertChannel> advert_channel(const InterfaceFacts& link,
                                                        vrrp::IpAddress source) = 0;
  virtual std::unique_ptr<Announcer> announcer(const InterfaceFacts& link) = 0;
  virtual std::unique_ptr<Watcher> watcher(Watcher::Handlers handlers) = 0;
  virtual ResetConnections reset_connections() = 0;
  /// Route mode: the routes in `table` with `protocol`. Throws when netlink cannot be opened.
  /// `add_first`: a new metric is added before the old route is deleted (RouteTable::install).
  virtual std::unique_ptr<RouteTable> route_table(std::uint32_t table, std::uint8_t protocol,
                                                  bool add_first = false) {
    (void)table;
    (void)protocol;
    (void)add_first;
    throw std::runtime_error("route mode is not available on this platform");
  }
  /// HMAC-SHA256 for auth_hmac (issue 12); null when the platform has none (test fakes), and
  /// then an instance with `auth` refuses to start.
  [[nodiscard]] virtual const vrrp::auth::HmacSha256* hmac() const { return nullptr; }
};

}  // namespace vipd::app
