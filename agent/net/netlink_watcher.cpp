// Netlink link/address notifications (RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR).
#include "net/netlink_watcher.h"

#include <linux/if.h>
#include <linux/rtnetlink.h>
#include <netlink/cache.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>

#include <cstring>
#include <stdexcept>
#include <variant>
#include <vector>

namespace vipd::net {
namespace {

constexpr int kRcvBuf = 4 * 1024 * 1024;  // the default 32 KiB lost events in a burst (DEPS §4)

using Event = std::variant<LinkEvent, AddressEvent>;

struct ParseCtx {
  int msgtype = 0;
  std::vector<Event>* events = nullptr;
};

void on_object(nl_object* obj, void* arg) {
  auto* ctx = static_cast<ParseCtx*>(arg);
  const std::string type = nl_object_get_type(obj);
  if (type == "route/link") {
    auto* l = reinterpret_cast<rtnl_link*>(obj);
    LinkEvent e;
    e.ifindex = rtnl_link_get_ifindex(l);
    if (const char* n = rtnl_link_get_name(l)) e.name = n;
    e.exists = ctx->msgtype != RTM_DELLINK;
    const unsigned flags = rtnl_link_get_flags(l);
    e.admin_up = (flags & IFF_UP) != 0;
    e.carrier = (flags & IFF_LOWER_UP) != 0;
    ctx->events->push_back(e);
  } else if (type == "route/addr") {
    auto* a = reinterpret_cast<rtnl_addr*>(obj);
    nl_addr* local = rtnl_addr_get_local(a);
    if (local == nullptr) return;
    AddressEvent e;
    e.ifindex = rtnl_addr_get_ifindex(a);
    const int family = rtnl_addr_get_family(a);
    const auto len = nl_addr_get_len(local);
    if (family == AF_INET && len == 4)
      e.prefix.address.family = vrrp::Family::V4;
    else if (family == AF_INET6 && len == 16)
      e.prefix.address.family = vrrp::Family::V6;
    else
      return;
    std::memcpy(e.prefix.address.bytes.data(), nl_addr_get_binary_addr(local), len);
    e.prefix.length = static_cast<std::uint8_t>(rtnl_addr_get_prefixlen(a));
    e.added = ctx->msgtype == RTM_NEWADDR;
    ctx->events->push_back(e);
  }
}

// NL_CB_VALID: one notification. Events are only collected here; the handlers run after libnl
// returns, so an exception from a handler never unwinds through libnl's C frames.
int on_valid(nl_msg* msg, void* arg) {
  if (arg == nullptr) return NL_SKIP;
  ParseCtx ctx{nlmsg_hdr(msg)->nlmsg_type, static_cast<std::vector<Event>*>(arg)};
  switch (ctx.msgtype) {
    case RTM_NEWLINK:
    case RTM_DELLINK:
    case RTM_NEWADDR:
    case RTM_DELADDR:
      nl_msg_parse(msg, on_object, &ctx);
      break;
    default:
      break;
  }
  return NL_OK;
}

}  // namespace

NetlinkWatcher::NetlinkWatcher(Handlers handlers) : handlers_(std::move(handlers)) {
  sock_ = nl_socket_alloc();
  if (sock_ == nullptr) throw std::runtime_error("cannot allocate a netlink socket");
  // Notifications carry sequence number 0.
  nl_socket_disable_seq_check(sock_);
  int rc = nl_connect(sock_, NETLINK_ROUTE);
  if (rc == 0) rc = nl_socket_set_buffer_size(sock_, kRcvBuf, 0);
  if (rc == 0)
    rc =
        nl_socket_add_memberships(sock_, RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR, 0);
  if (rc == 0) rc = nl_socket_set_nonblocking(sock_);
  if (rc < 0) {
    nl_socket_free(sock_);
    sock_ = nullptr;
    throw std::runtime_error(
        std::string("subscribing to netlink link and address events failed: ") + nl_geterror(rc));
  }
}

NetlinkWatcher::~NetlinkWatcher() {
  if (sock_ != nullptr) nl_socket_free(sock_);
}

int NetlinkWatcher::fd() const { return nl_socket_get_fd(sock_); }

void NetlinkWatcher::dispatch() {
  std::vector<Event> events;
  nl_socket_modify_cb(sock_, NL_CB_VALID, NL_CB_CUSTOM, on_valid, &events);
  bool lost = false;
  // Bounded, so a flood of events cannot keep the event loop here forever; the fd stays
  // readable and the next dispatch() continues.
  nl_cb* cb = nl_socket_get_cb(sock_);
  for (int round = 0; round < 4096; ++round) {
    const int rc = nl_recvmsgs_report(sock_, cb);
    if (rc > 0) continue;
    if (rc == -NLE_NOMEM) {  // ENOBUFS: the kernel dropped notifications
      lost = true;
      continue;
    }
    break;  // 0: nothing more queued (EAGAIN); other errors: try again at the next readiness
  }
  nl_cb_put(cb);
  nl_socket_modify_cb(sock_, NL_CB_VALID, NL_CB_CUSTOM, on_valid, nullptr);
  for (const auto& ev : events) {
    if (const auto* l = std::get_if<LinkEvent>(&ev)) {
      if (handlers_.on_link) handlers_.on_link(*l);
    } else if (const auto* a = std::get_if<AddressEvent>(&ev)) {
      if (handlers_.on_address) handlers_.on_address(*a);
    }
  }
  if (lost && handlers_.on_resync) handlers_.on_resync();
}

}  // namespace vipd::net
