// NetlinkRouteTable (route_table.h): RTM_NEWROUTE / RTM_DELROUTE built from libnl-3 route
// objects, sent in batches on a raw NETLINK_ROUTE socket and matched to their ACKs by sequence
// number; dumps through libnl's route cache.
#include "net/route_table.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>

#include "net/libnl_ptr.h"

namespace vipd::net {
namespace {

constexpr int kAckTimeoutMs = 5000;

struct RouteFree {
  void operator()(rtnl_route* r) const { rtnl_route_put(r); }
};
using RoutePtr = std::unique_ptr<rtnl_route, RouteFree>;

NlPtr<nl_sock> open_socket() {
  NlPtr<nl_sock> sk(nl_socket_alloc());
  if (!sk) throw std::runtime_error("cannot allocate a netlink socket (out of memory)");
  if (int rc = nl_connect(sk.get(), NETLINK_ROUTE); rc < 0)
    throw std::runtime_error(std::string("cannot open a NETLINK_ROUTE socket: ") + nl_geterror(rc));
  return sk;
}

int family_of(const vrrp::IpPrefix& vip) {
  return vip.address.family == vrrp::Family::V4 ? AF_INET : AF_INET6;
}

/// `VIP dev lo proto P [metric M] table T`, of `type` (unicast in our table, local in the local
/// table). The nexthop is lo: the route is there to be imported and announced; the node answers
/// the VIP through its `local` route (the local table is looked up first).
RoutePtr make_route(const vrrp::IpPrefix& vip, std::uint32_t table, std::uint8_t protocol,
                    std::uint32_t metric, std::uint8_t type, int lo) {
  RoutePtr r(rtnl_route_alloc());
  NlPtr<nl_addr> dst(nl_addr_build(family_of(vip), vip.address.bytes.data(), vip.address.size()));
  if (!r || !dst) throw std::bad_alloc();
  nl_addr_set_prefixlen(dst.get(), vip.length);
  rtnl_route_set_family(r.get(), static_cast<std::uint8_t>(family_of(vip)));
  rtnl_route_set_dst(r.get(), dst.get());
  rtnl_route_set_table(r.get(), table);
  rtnl_route_set_protocol(r.get(), protocol);
  rtnl_route_set_type(r.get(), type);
  rtnl_route_set_scope(r.get(), type == RTN_LOCAL ? RT_SCOPE_HOST : RT_SCOPE_LINK);
  if (type != RTN_LOCAL) rtnl_route_set_priority(r.get(), metric);
  auto* nh = rtnl_route_nh_alloc();
  if (!nh) throw std::bad_alloc();
  rtnl_route_nh_set_ifindex(nh, lo);
  rtnl_route_add_nexthop(r.get(), nh);  // the route owns it now
  return r;
}

/// One request of a batch: the message and how its error is judged.
struct Request {
  NlPtr<nl_msg> msg;
  bool del = false;
  std::string what;  // "installing 198.19.0.100/32 metric 106 in table 198"
};

Request build(rtnl_route* route, bool del, std::string what) {
  nl_msg* m = nullptr;
  const int rc = del ? rtnl_route_build_del_request(route, 0, &m)
                     : rtnl_route_build_add_request(route, NLM_F_CREATE | NLM_F_REPLACE, &m);
  if (rc < 0) throw std::runtime_error(what + ": cannot build the request: " + nl_geterror(rc));
  return Request{NlPtr<nl_msg>(m), del, std::move(what)};
}

std::string explain(const Request& r, int kernel_error) {
  const int nle = nl_syserr2nlerr(kernel_error);
  if (nle == NLE_PERM) return r.what + " needs CAP_NET_ADMIN (run as root or grant CAP_NET_ADMIN)";
  return r.what + " failed: " + std::strerror(kernel_error);
}

}  // namespace

NetlinkRouteTable::NetlinkRouteTable(std::uint32_t table, std::uint8_t protocol, bool add_first)
    : table_(table), protocol_(protocol), add_first_(add_first) {
  const unsigned lo = if_nametoindex("lo");
  if (lo == 0) throw std::runtime_error("route mode needs the loopback interface 'lo'");
  lo_ = static_cast<int>(lo);
  auto requests = open_socket();
  auto dumps = open_socket();
  const int on = 1;
  ::setsockopt(nl_socket_get_fd(requests.get()), SOL_NETLINK, NETLINK_CAP_ACK, &on, sizeof on);
  requests_ = requests.release();
  dumps_ = dumps.release();
}

NetlinkRouteTable::~NetlinkRouteTable() {
  nl_socket_free(requests_);
  nl_socket_free(dumps_);
}

namespace {

/// Sends every request in one datagram (the kernel processes them in order in one visit) and
/// collects one ACK each. Returns the first failure's text, "" when all succeeded; a delete of
/// a route that is not there (ESRCH) and a local route that exists (EEXIST) count as success.
std::string send_batch(nl_sock* sk, std::uint32_t& seq, std::vector<Request>& batch) {
  std::vector<std::uint8_t> buf;
  std::map<std::uint32_t, std::size_t> by_seq;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    auto* h = nlmsg_hdr(batch[i].msg.get());
    h->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
    h->nlmsg_seq = seq++;
    h->nlmsg_pid = 0;
    by_seq[h->nlmsg_seq] = i;
    const auto* p = reinterpret_cast<const std::uint8_t*>(h);
    buf.insert(buf.end(), p, p + NLMSG_ALIGN(h->nlmsg_len));
  }
  const int fd = nl_socket_get_fd(sk);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) <
      0)
    return std::string("netlink send failed: ") + std::strerror(errno);
  std::string failure;
  std::array<std::uint8_t, 16384> rx{};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kAckTimeoutMs);
  while (!by_seq.empty()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    pollfd pfd{fd, POLLIN, 0};
    if (left <= 0 || ::poll(&pfd, 1, static_cast<int>(left)) <= 0)
      return "no answer from the kernel within 5 s for " + batch[by_seq.begin()->second].what;
    const auto n = ::recv(fd, rx.data(), rx.size(), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return std::string("netlink receive failed: ") + std::strerror(errno);
    }
    auto len = static_cast<int>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(rx.data()); NLMSG_OK(h, len);
         h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_type != NLMSG_ERROR) continue;
      const auto it = by_seq.find(h->nlmsg_seq);
      if (it == by_seq.end()) continue;  // a late answer of an earlier, timed-out batch
      const auto& req = batch[it->second];
      const int err = -static_cast<const nlmsgerr*>(NLMSG_DATA(h))->error;
      by_seq.erase(it);
      if (err == 0 || (req.del && err == ESRCH)) continue;
      if (failure.empty()) failure = explain(req, err);
    }
  }
  return failure;
}

std::string describe(const vrrp::IpPrefix& vip, std::uint32_t metric, std::uint32_t table,
                     const char* verb) {
  return std::string(verb) + " " + vip.to_string() + " metric " + std::to_string(metric) +
         " in table " + std::to_string(table);
}

}  // namespace

app::RouteOpResult NetlinkRouteTable::install(const vrrp::IpPrefix& vip, std::uint32_t metric,
                                              std::optional<std::uint32_t> replaces) {
  std::vector<Request> batch;
  // The old route goes first (add_first_: last), in the same datagram (route_table.h: why).
  auto fresh = make_route(vip, table_, protocol_, metric, RTN_UNICAST, lo_);
  batch.push_back(build(fresh.get(), false, describe(vip, metric, table_, "installing")));
  if (replaces && *replaces != metric) {
    auto old = make_route(vip, table_, protocol_, *replaces, RTN_UNICAST, lo_);
    auto del = build(old.get(), true, describe(vip, *replaces, table_, "removing"));
    if (add_first_) {
      batch.push_back(std::move(del));
    } else {
      batch.insert(batch.begin(), std::move(del));
    }
  }
  auto error = send_batch(requests_, seq_, batch);
  return {error.empty(), std::move(error)};
}

app::RouteOpResult NetlinkRouteTable::withdraw(const vrrp::IpPrefix& vip, std::uint32_t metric) {
  std::vector<Request> batch;
  auto route = make_route(vip, table_, protocol_, metric, RTN_UNICAST, lo_);
  batch.push_back(build(route.get(), true, describe(vip, metric, table_, "withdrawing")));
  auto error = send_batch(requests_, seq_, batch);
  return {error.empty(), std::move(error)};
}

app::RouteOpResult NetlinkRouteTable::add_local(const vrrp::IpPrefix& vip) {
  std::vector<Request> batch;
  auto route = make_route(vip, RT_TABLE_LOCAL, protocol_, 0, RTN_LOCAL, lo_);
  batch.push_back(build(route.get(), false, "adding the local route of " + vip.to_string()));
  auto error = send_batch(requests_, seq_, batch);
  return {error.empty(), std::move(error)};
}

app::RouteOpResult NetlinkRouteTable::remove_local(const vrrp::IpPrefix& vip) {
  std::vector<Request> batch;
  auto route = make_route(vip, RT_TABLE_LOCAL, protocol_, 0, RTN_LOCAL, lo_);
  batch.push_back(build(route.get(), true, "removing the local route of " + vip.to_string()));
  auto error = send_batch(requests_, seq_, batch);
  return {error.empty(), std::move(error)};
}

namespace {

/// Every route of the system (all tables, both families), from one dump.
NlPtr<nl_cache> dump_routes(nl_sock* sk) {
  nl_cache* cache = nullptr;
  if (const int rc = rtnl_route_alloc_cache(sk, AF_UNSPEC, 0, &cache); rc < 0)
    throw std::runtime_error(std::string("cannot read the routing tables: ") + nl_geterror(rc));
  return NlPtr<nl_cache>(cache);
}

std::optional<vrrp::IpPrefix> prefix_of(rtnl_route* r) {
  auto* dst = rtnl_route_get_dst(r);
  if (!dst) return std::nullopt;
  vrrp::IpPrefix p;
  const auto len = nl_addr_get_len(dst);
  if (len == 4) {
    p.address.family = vrrp::Family::V4;
  } else if (len == 16) {
    p.address.family = vrrp::Family::V6;
  } else {
    return std::nullopt;
  }
  std::memcpy(p.address.bytes.data(), nl_addr_get_binary_addr(dst), len);
  p.length = static_cast<std::uint8_t>(nl_addr_get_prefixlen(dst));
  return p;
}

}  // namespace

std::vector<std::uint32_t> NetlinkRouteTable::installed(const vrrp::IpPrefix& vip) {
  std::vector<std::uint32_t> out;
  auto cache = dump_routes(dumps_);
  for (auto* o = nl_cache_get_first(cache.get()); o; o = nl_cache_get_next(o)) {
    auto* r = reinterpret_cast<rtnl_route*>(o);
    if (rtnl_route_get_table(r) != table_ || rtnl_route_get_protocol(r) != protocol_) continue;
    if (prefix_of(r) == vip) out.push_back(rtnl_route_get_priority(r));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::size_t NetlinkRouteTable::sweep(std::span<const vrrp::IpPrefix> keep_routes,
                                     std::span<const vrrp::IpPrefix> keep_local) {
  const auto kept = [](std::span<const vrrp::IpPrefix> keep,
                       const std::optional<vrrp::IpPrefix>& prefix) {
    return prefix && std::find(keep.begin(), keep.end(), *prefix) != keep.end();
  };
  auto cache = dump_routes(dumps_);
  std::vector<Request> batch;
  for (auto* o = nl_cache_get_first(cache.get()); o; o = nl_cache_get_next(o)) {
    auto* r = reinterpret_cast<rtnl_route*>(o);
    if (rtnl_route_get_protocol(r) != protocol_) continue;
    const auto table = rtnl_route_get_table(r);
    const auto prefix = prefix_of(r);
    if (table == RT_TABLE_LOCAL) {
      if (rtnl_route_get_type(r) != RTN_LOCAL || kept(keep_local, prefix)) continue;
    } else if (table != table_ || kept(keep_routes, prefix)) {
      continue;
    }
    batch.push_back(build(r, true,
                          "removing the leftover route " +
                              (prefix ? prefix->to_string() : std::string("?")) + " in table " +
                              std::to_string(table)));
  }
  if (batch.empty()) return 0;
  if (auto error = send_batch(requests_, seq_, batch); !error.empty())
    throw std::runtime_error(error);
  return batch.size();
}

}  // namespace vipd::net
