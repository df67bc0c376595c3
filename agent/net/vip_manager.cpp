// The VIP manager: batched, idempotent RTM_NEWADDR/RTM_DELADDR through libnl-3 route.
//
// One request per VIP would cost a syscall pair and a wait per address. Instead the requests of a
// window (up to kWindow VIPs) are packed back to back into ONE sendmsg; the kernel processes each
// message of the datagram in turn and queues one ACK (or error) per message, which are then read
// in as few recvmsg calls as the buffer allows and matched back to the VIPs by sequence number.
#include "net/vip_manager.h"

#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netlink/cache.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/utsname.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <set>
#include <stdexcept>

#include "net/libnl_ptr.h"

namespace vipd::net {
namespace {

constexpr std::size_t kWindow = 256;      // requests per datagram (about 18 KiB)
constexpr int kRcvBuf = 4 * 1024 * 1024;  // net.core.rmem_max is 4 MiB here (DEPS.md §4)
constexpr int kSndBuf = 1024 * 1024;      // capped by net.core.wmem_max
constexpr int kAckTimeoutMs = 5000;       // the kernel answers in microseconds; a lost ACK
                                          // (overrun) must not hang the event loop forever

NlPtr<nl_sock> open_route_socket() {
  NlPtr<nl_sock> sk(nl_socket_alloc());
  if (!sk) throw std::runtime_error("cannot allocate a netlink socket (out of memory)");
  if (int rc = nl_connect(sk.get(), NETLINK_ROUTE); rc < 0)
    throw std::runtime_error(std::string("cannot open a NETLINK_ROUTE socket: ") + nl_geterror(rc));
  return sk;
}

NlPtr<rtnl_addr> make_addr(int ifindex, const vrrp::IpPrefix& vip) {
  const int family = vip.address.family == vrrp::Family::V4 ? AF_INET : AF_INET6;
  NlPtr<nl_addr> local(nl_addr_build(family, vip.address.bytes.data(), vip.address.size()));
  NlPtr<rtnl_addr> a(rtnl_addr_alloc());
  if (!local || !a) throw std::bad_alloc();
  nl_addr_set_prefixlen(local.get(), vip.length);
  rtnl_addr_set_ifindex(a.get(), ifindex);
  rtnl_addr_set_family(a.get(), family);
  rtnl_addr_set_local(a.get(), local.get());  // takes its own reference
  rtnl_addr_set_prefixlen(a.get(), vip.length);
  // IPv6: no duplicate address detection, or the VIP stays "tentative" for a second or more
  // and cannot be used (DEPS.md §4).
  if (family == AF_INET6) rtnl_addr_set_flags(a.get(), IFA_F_NODAD);
  return a;
}

std::string describe(bool add, const vrrp::IpPrefix& vip, int ifindex) {
  return std::string(add ? "adding" : "removing") + " VIP " + vip.to_string() +
         (add ? " to" : " from") + " ifindex " + std::to_string(ifindex);
}

// Turns the kernel's answer (0 or -errno) into the result for one VIP.
void settle(VipOpResult& r, bool add, int ifindex, int kernel_error) {
  if (kernel_error == 0) {
    r.ok = true;
    r.changed = true;
    return;
  }
  const int nle = nl_syserr2nlerr(-kernel_error);
  if ((add && nle == NLE_EXIST) || (!add && nle == NLE_NOADDR)) {
    r.ok = true;  // already in the wanted state: idempotent no-op
    r.changed = false;
    return;
  }
  r.ok = false;
  r.changed = false;
  const std::string what = describe(add, r.vip, ifindex);
  if (nle == NLE_PERM)
    r.error = what + " needs CAP_NET_ADMIN (run as root or grant CAP_NET_ADMIN)";
  else if (nle == NLE_NODEV)
    r.error = what + " failed: the interface vanished (ifindex " + std::to_string(ifindex) +
              " no longer exists)";
  else
    r.error = what + " failed: " + nl_geterror(nle) + " (" + std::strerror(-kernel_error) + ")";
}

}  // namespace

VipManager::VipManager() {
  auto sk = open_route_socket();
  // Replies to a window of requests pile up before we read them: give them room. ACKs carry
  // only the header of the request (NETLINK_CAP_ACK), not the whole request.
  nl_socket_set_buffer_size(sk.get(), kRcvBuf, kSndBuf);
  const int on = 1;
  ::setsockopt(nl_socket_get_fd(sk.get()), SOL_NETLINK, NETLINK_CAP_ACK, &on, sizeof on);
  nl_socket_set_nonblocking(sk.get());
  sock_ = sk.release();
}

VipManager::~VipManager() { nl_socket_free(sock_); }

namespace {

// Reads and throws away anything left on the socket (replies of an earlier, timed-out batch).
void drain(nl_sock* sk) {
  std::array<std::uint8_t, 8192> buf{};
  for (;;) {
    const auto n = ::recv(nl_socket_get_fd(sk), buf.data(), buf.size(), MSG_DONTWAIT);
    if (n < 0 && errno != ENOBUFS && errno != EINTR) return;  // EAGAIN: empty
  }
}

// Sends one window and collects its answers. Returns false when answers were lost (receive
// buffer overrun or timeout); those entries keep `pending` set.
bool run_window(nl_sock* sk, bool add, int ifindex, std::span<const vrrp::IpPrefix> vips,
                std::span<VipOpResult> results, std::vector<bool>& pending) {
  std::vector<std::uint8_t> out;
  out.reserve(vips.size() * 80);
  unsigned first_seq = 0;
  for (std::size_t i = 0; i < vips.size(); ++i) {
    auto a = make_addr(ifindex, vips[i]);
    nl_msg* raw = nullptr;
    const int rc = add ? rtnl_addr_build_add_request(a.get(), 0, &raw)
                       : rtnl_addr_build_delete_request(a.get(), 0, &raw);
    if (rc < 0)
      throw std::runtime_error(std::string("building a netlink address request: ") +
                               nl_geterror(rc));
    NlPtr<nl_msg> m(raw);
    // Our mark (kernels before 5.18 ignore the attribute; then nothing is ever called foreign).
    if (add && nla_put_u8(m.get(), IFA_PROTO, kAddressProtocol) < 0)
      throw std::runtime_error("building a netlink address request: no room for IFA_PROTO");
    nlmsghdr* h = nlmsg_hdr(m.get());
    // This socket never runs libnl's own receive loop (present() uses another socket), so
    // taking numbers from its counter cannot upset libnl's sequence checks.
    h->nlmsg_seq = nl_socket_use_seq(sk);
    if (i == 0) first_seq = h->nlmsg_seq;
    h->nlmsg_pid = 0;
    h->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
    const std::size_t at = out.size();
    out.resize(at + NLMSG_ALIGN(h->nlmsg_len));
    std::memcpy(out.data() + at, h, h->nlmsg_len);
  }
  for (;;) {
    const int n = nl_sendto(sk, out.data(), out.size());
    if (n >= 0) break;
    if (n == -NLE_AGAIN) {
      pollfd p{nl_socket_get_fd(sk), POLLOUT, 0};
      ::poll(&p, 1, 100);
      continue;
    }
    for (std::size_t i = 0; i < vips.size(); ++i)
      results[i].error = describe(add, vips[i], ifindex) +
                         " failed: sending the netlink request: " + nl_geterror(n);
    std::fill(pending.begin(), pending.end(), false);
    return true;
  }

  // Each ACK is its own datagram, so read them kAcksPerRead at a time with recvmmsg instead of
  // one recvmsg (plus a MSG_PEEK) per VIP.
  constexpr std::size_t kAcksPerRead = 64;
  constexpr std::size_t kAckBuf = 512;  // an ACK or error is 36 bytes with NETLINK_CAP_ACK
  std::vector<std::uint8_t> bufs(kAcksPerRead * kAckBuf);
  std::array<iovec, kAcksPerRead> iov{};
  std::array<mmsghdr, kAcksPerRead> mm{};
  const int fd = nl_socket_get_fd(sk);
  std::size_t outstanding = vips.size();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kAckTimeoutMs);
  while (outstanding > 0) {
    for (std::size_t i = 0; i < kAcksPerRead; ++i) {
      iov[i] = iovec{bufs.data() + i * kAckBuf, kAckBuf};
      mm[i] = mmsghdr{};
      mm[i].msg_hdr.msg_iov = &iov[i];
      mm[i].msg_hdr.msg_iovlen = 1;
    }
    const int got = ::recvmmsg(fd, mm.data(), kAcksPerRead, MSG_DONTWAIT, nullptr);
    if (got < 0 && errno == ENOBUFS) {  // the kernel dropped some of our ACKs
      drain(sk);
      return false;
    }
    if (got <= 0) {
      if (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return false;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd, POLLIN, 0};
      ::poll(&p, 1, static_cast<int>(left.count()));
      continue;
    }
    for (int m = 0; m < got; ++m) {
      auto* h = reinterpret_cast<nlmsghdr*>(bufs.data() + static_cast<std::size_t>(m) * kAckBuf);
      int remaining = static_cast<int>(mm[static_cast<std::size_t>(m)].msg_len);
      for (; nlmsg_ok(h, remaining); h = nlmsg_next(h, &remaining)) {
        if (h->nlmsg_type != NLMSG_ERROR) continue;
        const unsigned idx = h->nlmsg_seq - first_seq;
        if (h->nlmsg_seq < first_seq || idx >= vips.size() || !pending[idx]) continue;
        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) continue;
        const auto* e = static_cast<const nlmsgerr*>(nlmsg_data(h));
        settle(results[idx], add, ifindex, e->error);
        pending[idx] = false;
        --outstanding;
      }
    }
  }
  return true;
}

}  // namespace

namespace {

std::vector<VipOpResult> run_batch(VipManager& self, nl_sock* sk, bool add, int ifindex,
                                   std::span<const vrrp::IpPrefix> vips) {
  std::vector<VipOpResult> results(vips.size());
  for (std::size_t i = 0; i < vips.size(); ++i) results[i].vip = vips[i];
  drain(sk);
  for (std::size_t start = 0; start < vips.size(); start += kWindow) {
    const std::size_t count = std::min(kWindow, vips.size() - start);
    std::vector<bool> pending(count, true);
    const auto window = vips.subspan(start, count);
    const auto window_results = std::span(results).subspan(start, count);
    if (run_window(sk, add, ifindex, window, window_results, pending)) continue;
    // Some answers were lost. Ask the kernel what the state is now instead of guessing.
    std::vector<vrrp::IpPrefix> unknown;
    for (std::size_t i = 0; i < count; ++i)
      if (pending[i]) unknown.push_back(window[i]);
    const auto now = self.present(ifindex, unknown);
    for (std::size_t i = 0, u = 0; i < count; ++i) {
      if (!pending[i]) continue;
      auto& r = window_results[i];
      r.ok = now[u++] == add;
      r.changed = r.ok;  // we sent the request; assume it did the work
      if (!r.ok)
        r.error = describe(add, r.vip, ifindex) +
                  " failed: the kernel's answer was lost and the address is not in the wanted "
                  "state";
    }
  }
  return results;
}

}  // namespace

std::vector<VipOpResult> VipManager::add(int ifindex, std::span<const vrrp::IpPrefix> vips) {
  return run_batch(*this, sock_, true, ifindex, vips);
}

std::vector<VipOpResult> VipManager::remove(int ifindex, std::span<const vrrp::IpPrefix> vips) {
  return run_batch(*this, sock_, false, ifindex, vips);
}

namespace {

struct Collect {
  VipManager::AddressSet found;
};

void collect_addr(nl_object* obj, void* arg) {
  auto* c = static_cast<Collect*>(arg);
  auto* a = reinterpret_cast<rtnl_addr*>(obj);
  nl_addr* local = rtnl_addr_get_local(a);
  if (local == nullptr) return;
  const int family = rtnl_addr_get_family(a);
  const auto len = nl_addr_get_len(local);
  vrrp::IpPrefix p;
  if (family == AF_INET && len == 4) {
    p.address.family = vrrp::Family::V4;
  } else if (family == AF_INET6 && len == 16) {
    p.address.family = vrrp::Family::V6;
  } else {
    return;
  }
  std::memcpy(p.address.bytes.data(), nl_addr_get_binary_addr(local), len);
  p.length = static_cast<std::uint8_t>(rtnl_addr_get_prefixlen(a));
  c->found.emplace(rtnl_addr_get_ifindex(a), p);
}

}  // namespace

VipManager::AddressSet VipManager::dump_addresses() {
  // A separate short-lived socket: libnl's dump code checks sequence numbers, which must not be
  // confused by the batch socket's own sequence space.
  auto sk = open_route_socket();
  nl_cache* raw = nullptr;
  if (int rc = rtnl_addr_alloc_cache(sk.get(), &raw); rc < 0)
    throw std::runtime_error(std::string("reading the interface addresses through netlink: ") +
                             nl_geterror(rc));
  NlPtr<nl_cache> cache(raw);
  Collect c;
  nl_cache_foreach(cache.get(), collect_addr, &c);
  return std::move(c.found);
}

namespace {

/// Linux 5.18 added the address protocol (IFA_PROTO): before, an address dump cannot say who
/// added an address.
bool kernel_has_address_protocol() {
  utsname u{};
  if (::uname(&u) != 0) return false;
  int major = 0;
  int minor = 0;
  if (std::sscanf(u.release, "%d.%d", &major, &minor) != 2) return false;
  return major > 5 || (major == 5 && minor >= 18);
}

int collect_foreign(nl_msg* msg, void* arg) {
  auto* out = static_cast<VipManager::AddressSet*>(arg);
  nlmsghdr* h = nlmsg_hdr(msg);
  if (h->nlmsg_type != RTM_NEWADDR) return NL_OK;
  nlattr* tb[IFA_MAX + 1] = {};
  if (nlmsg_parse(h, sizeof(ifaddrmsg), tb, IFA_MAX, nullptr) < 0) return NL_OK;
  const auto* ifa = static_cast<const ifaddrmsg*>(nlmsg_data(h));
  // IFA_LOCAL is the interface's own address (IFA_ADDRESS is the peer's on point-to-point
  // links); IPv6 has only IFA_ADDRESS.
  nlattr* local = tb[IFA_LOCAL] != nullptr ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
  if (local == nullptr) return NL_OK;
  vrrp::IpPrefix p;
  const int len = nla_len(local);
  if (ifa->ifa_family == AF_INET && len == 4) {
    p.address.family = vrrp::Family::V4;
  } else if (ifa->ifa_family == AF_INET6 && len == 16) {
    p.address.family = vrrp::Family::V6;
  } else {
    return NL_OK;
  }
  std::memcpy(p.address.bytes.data(), nla_data(local), static_cast<std::size_t>(len));
  p.length = ifa->ifa_prefixlen;
  const std::uint8_t proto = tb[IFA_PROTO] != nullptr ? nla_get_u8(tb[IFA_PROTO]) : 0;
  if (proto != kAddressProtocol) out->emplace(static_cast<int>(ifa->ifa_index), p);
  return NL_OK;
}

}  // namespace

VipManager::AddressSet VipManager::foreign_addresses() {
  static const bool supported = kernel_has_address_protocol();
  if (!supported) return {};
  // libnl's address cache does not keep IFA_PROTO (libnl 3.7): a dump of our own.
  auto sk = open_route_socket();
  AddressSet found;
  nl_socket_modify_cb(sk.get(), NL_CB_VALID, NL_CB_CUSTOM, collect_foreign, &found);
  ifaddrmsg req{};
  req.ifa_family = AF_UNSPEC;
  if (int rc = nl_send_simple(sk.get(), RTM_GETADDR, NLM_F_DUMP, &req, sizeof req); rc < 0)
    throw std::runtime_error(std::string("reading the interface addresses through netlink: ") +
                             nl_geterror(rc));
  if (int rc = nl_recvmsgs_default(sk.get()); rc < 0)
    throw std::runtime_error(std::string("reading the interface addresses through netlink: ") +
                             nl_geterror(rc));
  return found;
}

std::vector<bool> VipManager::present(const AddressSet& addresses, int ifindex,
                                      std::span<const vrrp::IpPrefix> vips) {
  return app::present_in(addresses, ifindex, vips);
}

std::vector<bool> VipManager::present(int ifindex, std::span<const vrrp::IpPrefix> vips) {
  return app::present_in(dump_addresses(), ifindex, vips);
}

}  // namespace vipd::net
