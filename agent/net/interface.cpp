// Interface facts (index, MAC, flags, primary IPv4) read through libnl-3 route, and capget().
#include "net/interface.h"

#include <linux/capability.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <netlink/cache.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "net/libnl_ptr.h"

namespace vipd::net {
namespace {

struct AddrScan {
  int ifindex = 0;
  const std::vector<vrrp::IpAddress>* exclude = nullptr;
  std::optional<vrrp::IpAddress> primary;
  std::optional<vrrp::IpAddress> link_local;
};

void scan_link_local(AddrScan* scan, rtnl_addr* a) {
  if (scan->link_local) return;
  // Not usable as a source yet (DAD running) or ever (DAD failed): a later RTM_NEWADDR says when.
  if ((rtnl_addr_get_flags(a) & (IFA_F_TENTATIVE | IFA_F_DADFAILED)) != 0) return;
  nl_addr* local = rtnl_addr_get_local(a);
  if (local == nullptr || nl_addr_get_len(local) != 16) return;
  std::array<std::uint8_t, 16> b{};
  std::memcpy(b.data(), nl_addr_get_binary_addr(local), 16);
  const auto ip = vrrp::IpAddress::v6(b);
  if (!ip.is_link_local_v6()) return;
  if (std::find(scan->exclude->begin(), scan->exclude->end(), ip) != scan->exclude->end()) return;
  scan->link_local = ip;
}

void scan_addr(nl_object* obj, void* arg) {
  auto* scan = static_cast<AddrScan*>(arg);
  auto* a = reinterpret_cast<rtnl_addr*>(obj);
  if (rtnl_addr_get_ifindex(a) != scan->ifindex) return;
  if (rtnl_addr_get_family(a) == AF_INET6) return scan_link_local(scan, a);
  if (scan->primary || rtnl_addr_get_family(a) != AF_INET) return;
  if (rtnl_addr_get_flags(a) & IFA_F_SECONDARY) return;
  nl_addr* local = rtnl_addr_get_local(a);
  if (local == nullptr || nl_addr_get_len(local) != 4) return;
  std::array<std::uint8_t, 4> b{};
  std::memcpy(b.data(), nl_addr_get_binary_addr(local), 4);
  const auto ip = vrrp::IpAddress::v4(b);
  if (std::find(scan->exclude->begin(), scan->exclude->end(), ip) != scan->exclude->end()) return;
  scan->primary = ip;
}

}  // namespace

std::optional<InterfaceInfo> lookup_interface(const std::string& name, std::string& error,
                                              const std::vector<vrrp::IpAddress>& exclude) {
  if (name.empty() || name.size() >= IFNAMSIZ) {
    error = "interface name '" + name + "' is not valid (1 to " + std::to_string(IFNAMSIZ - 1) +
            " characters; ip -br link lists the interfaces)";
    return std::nullopt;
  }
  NlPtr<nl_sock> sk(nl_socket_alloc());
  if (!sk) {
    error = "cannot allocate a netlink socket (out of memory)";
    return std::nullopt;
  }
  if (int rc = nl_connect(sk.get(), NETLINK_ROUTE); rc < 0) {
    error = std::string("cannot open a NETLINK_ROUTE socket: ") + nl_geterror(rc);
    return std::nullopt;
  }
  rtnl_link* raw_link = nullptr;
  if (int rc = rtnl_link_get_kernel(sk.get(), 0, name.c_str(), &raw_link); rc < 0) {
    if (rc == -NLE_OBJ_NOTFOUND || rc == -NLE_NODEV || rc == -NLE_INVAL)
      error = "interface '" + name + "' does not exist (ip -br link lists the interfaces)";
    else
      error = "reading interface '" + name + "' through netlink failed: " + nl_geterror(rc);
    return std::nullopt;
  }
  NlPtr<rtnl_link> link(raw_link);

  InterfaceInfo info;
  info.name = name;
  info.index = rtnl_link_get_ifindex(link.get());
  const unsigned flags = rtnl_link_get_flags(link.get());
  info.admin_up = (flags & IFF_UP) != 0;
  info.carrier = (flags & IFF_LOWER_UP) != 0;
  if (nl_addr* mac = rtnl_link_get_addr(link.get()); mac != nullptr && nl_addr_get_len(mac) == 6)
    std::memcpy(info.mac.data(), nl_addr_get_binary_addr(mac), 6);

  nl_cache* raw_cache = nullptr;
  if (int rc = rtnl_addr_alloc_cache(sk.get(), &raw_cache); rc < 0) {
    error = "reading the addresses of '" + name + "' through netlink failed: " + nl_geterror(rc);
    return std::nullopt;
  }
  NlPtr<nl_cache> cache(raw_cache);
  AddrScan scan{info.index, &exclude, std::nullopt, std::nullopt};
  nl_cache_foreach(cache.get(), scan_addr, &scan);
  info.primary_v4 = scan.primary;
  info.link_local_v6 = scan.link_local;
  error.clear();
  return info;
}

}  // namespace vipd::net
