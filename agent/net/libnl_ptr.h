// Owning pointers to libnl objects: one deleter that knows how each is released, so every adapter
// holds them the same way (NlPtr<nl_sock>, NlPtr<nl_cache>, ...). Internal to agent/net.
#pragma once

#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/socket.h>

#include <memory>

namespace vipd::net {

struct NlFree {
  void operator()(nl_sock* s) const { nl_socket_free(s); }
  void operator()(nl_cache* c) const { nl_cache_free(c); }
  void operator()(nl_msg* m) const { nlmsg_free(m); }
  void operator()(nl_addr* a) const { nl_addr_put(a); }
  void operator()(rtnl_addr* a) const { rtnl_addr_put(a); }
  void operator()(rtnl_link* l) const { rtnl_link_put(l); }
};

template <typename T>
using NlPtr = std::unique_ptr<T, NlFree>;

}  // namespace vipd::net
