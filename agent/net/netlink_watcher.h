// Netlink subscription to link and address events, so the agent learns at once when its VIP is
// removed by someone else or a link goes down (DESIGN.md §5).
#pragma once

#include <functional>
#include <string>

#include "app/ports.h"
#include "vrrp/ip_address.h"

// libnl-3's socket, declared at global scope: without this, `struct nl_sock*` inside the class
// would declare a different type, vipd::net::nl_sock.
struct nl_sock;

namespace vipd::net {

struct LinkEvent {
  int ifindex = 0;
  std::string name;
  bool exists = true;  // false: the interface was deleted
  bool admin_up = false;
  bool carrier = false;
  [[nodiscard]] bool usable() const { return exists && admin_up && carrier; }
};

using AddressEvent = app::AddressEvent;

/// Non-blocking: the agent polls fd() in its epoll set and calls dispatch() when readable.
/// The receive buffer is 4 MiB; when the kernel reports lost events (ENOBUFS, NLE_NOMEM) the
/// watcher calls on_resync so the agent re-reads the full state.
class NetlinkWatcher {
 public:
  struct Handlers {
    std::function<void(const LinkEvent&)> on_link;
    std::function<void(const AddressEvent&)> on_address;
    std::function<void()> on_resync;
  };
  explicit NetlinkWatcher(Handlers handlers);
  ~NetlinkWatcher();
  NetlinkWatcher(const NetlinkWatcher&) = delete;
  NetlinkWatcher& operator=(const NetlinkWatcher&) = delete;

  [[nodiscard]] int fd() const;
  /// Reads and dispatches every queued notification (at most 4,096 reads per call, so a flood
  /// cannot hold the event loop; the fd then stays readable). Handlers run after the reads, never
  /// from inside libnl. The agent's own VIP changes come back as events too.
  void dispatch();

 private:
  Handlers handlers_;
  struct nl_sock* sock_ = nullptr;
};

}  // namespace vipd::net
