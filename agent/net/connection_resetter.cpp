// SOCK_DESTROY of the TCP connections on released VIPs, over NETLINK_SOCK_DIAG with libnl-3.
//
// Two phases per address family, as `ss -K` does, but not interleaved: first the whole list is
// dumped (the kernel filters by local address with inet_diag bytecode), then each socket is
// destroyed. Destroying while the dump still runs would remove entries from the hash chains the
// dump is walking and can make it skip sockets. The SOCK_DESTROY requests go out in windows of
// kWindow messages per datagram, their ACKs read back in bulk (as the VIP manager does), so 10,000
// sockets cost about 40 syscalls, not 20,000.
#include "net/connection_resetter.h"

#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <stdexcept>
#include <vector>

#include "net/libnl_ptr.h"
#include "net/sock_diag.h"

namespace vipd::net {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kWindow = 256;    // SOCK_DESTROY requests per datagram (~18 KiB)
constexpr int kRcvBuf = 1024 * 1024;    // room for a window of ACKs (≈ 1 KiB each as skbs)
constexpr int kAnswerTimeoutMs = 2000;  // the kernel answers in microseconds
constexpr int kDumpTimeoutMs = 2000;    // SO_RCVTIMEO of the dump socket: never hang forever

using Sock = NlPtr<nl_sock>;

struct Failed {
  ResetResult::Failure failure;
  std::string error;
};

Sock open_sock_diag() {
  Sock sk(nl_socket_alloc());
  if (!sk) throw Failed{ResetResult::Failure::Error, "cannot allocate a netlink socket"};
  if (int rc = nl_connect(sk.get(), NETLINK_SOCK_DIAG); rc < 0)
    throw Failed{rc == -NLE_PROTO_MISMATCH || rc == -NLE_OPNOTSUPP
                     ? ResetResult::Failure::Unsupported
                     : ResetResult::Failure::Error,
                 std::string("cannot open a NETLINK_SOCK_DIAG socket: ") + nl_geterror(rc)};
  return sk;
}

// The kernel's error for a dump or destroy, in words that say what is missing.
Failed classify(int kernel_errno, const char* what) {
  using F = ResetResult::Failure;
  switch (kernel_errno) {
    case EOPNOTSUPP:
      return {F::Unsupported, std::string(what) +
                                  ": the kernel cannot destroy sockets (built without "
                                  "CONFIG_INET_DIAG_DESTROY)"};
    case ENOENT:
      return {F::Unsupported, std::string(what) +
                                  ": the kernel has no TCP socket diagnostics (CONFIG_INET_DIAG, "
                                  "CONFIG_INET_TCP_DIAG; module tcp_diag)"};
    case EPERM:
    case EACCES:
      return {F::Permission, std::string(what) + ": needs CAP_NET_ADMIN"};
    default:
      return {F::Error, std::string(what) + ": " + std::strerror(kernel_errno)};
  }
}

struct DumpContext {
  std::span<const vrrp::IpAddress> released;
  std::vector<sock_diag::TcpSocket>* found;
};

int on_dumped(nl_msg* msg, void* arg) {
  auto* ctx = static_cast<DumpContext*>(arg);
  nlmsghdr* h = nlmsg_hdr(msg);
  if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY) return NL_SKIP;
  const auto* data = static_cast<const std::uint8_t*>(nlmsg_data(h));
  const auto s = sock_diag::parse_socket({data, static_cast<std::size_t>(nlmsg_datalen(h))});
  // The kernel filtered already; the same decision is made again here (sock_diag.h).
  if (s && sock_diag::should_reset(*s, ctx->released)) ctx->found->push_back(*s);
  return NL_OK;
}

void dump(nl_sock* sk, std::uint8_t family, std::span<const std::uint8_t> bytecode,
          std::span<const vrrp::IpAddress> released, std::vector<sock_diag::TcpSocket>& found) {
  NlPtr<nl_msg> m(nlmsg_alloc_simple(SOCK_DIAG_BY_FAMILY, NLM_F_DUMP));
  if (!m) throw Failed{ResetResult::Failure::Error, "out of memory building a dump request"};
  auto payload = sock_diag::dump_request_payload(family, bytecode);
  if (nlmsg_append(m.get(), payload.data(), payload.size(), NLMSG_ALIGNTO) < 0)
    throw Failed{ResetResult::Failure::Error, "the dump request does not fit a netlink message"};
  DumpContext ctx{released, &found};
  nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, on_dumped, &ctx);
  if (int rc = nl_send_auto(sk, m.get()); rc < 0)
    throw Failed{ResetResult::Failure::Error,
                 std::string("sending the socket dump request: ") + nl_geterror(rc)};
  const int rc = nl_recvmsgs_default(sk);
  // NLE_DUMP_INTR: the tables changed during the dump; what arrived is still worth resetting.
  if (rc < 0 && rc != -NLE_DUMP_INTR) {
    const char* what = "listing the TCP sockets of the released VIPs";
    switch (-rc) {
      case NLE_OPNOTSUPP:
        throw classify(EOPNOTSUPP, what);
      case NLE_OBJ_NOTFOUND:
        throw classify(ENOENT, what);
      case NLE_PERM:
        throw classify(EPERM, what);
      default:
        throw Failed{ResetResult::Failure::Error, std::string(what) + ": " + nl_geterror(rc)};
    }
  }
}

// Sends one window of SOCK_DESTROY requests in one datagram and settles each from its ACK.
// `first_seq` numbers the window's requests (this socket never runs libnl's receive loop, so
// its own sequence counter is not needed).
void destroy_window(nl_sock* sk, std::span<const sock_diag::TcpSocket> sockets,
                    std::uint32_t first_seq, ResetResult& result,
                    std::optional<Failed>& first_failure) {
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i < sockets.size(); ++i) {
    const auto req = sock_diag::destroy_request(sockets[i], first_seq + static_cast<unsigned>(i));
    out.insert(out.end(), req.begin(), req.end());
  }
  if (int n = nl_sendto(sk, out.data(), out.size()); n < 0)
    throw Failed{ResetResult::Failure::Error,
                 std::string("sending SOCK_DESTROY requests: ") + nl_geterror(n)};

  std::vector<bool> answered(sockets.size(), false);
  std::size_t outstanding = sockets.size();
  std::vector<std::uint8_t> buf(64 * 1024);
  const int fd = nl_socket_get_fd(sk);
  const auto deadline = Clock::now() + std::chrono::milliseconds(kAnswerTimeoutMs);
  while (outstanding > 0) {
    const auto n = ::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) break;
      pollfd p{fd, POLLIN, 0};
      ::poll(&p, 1, static_cast<int>(left));
      continue;
    }
    if (n < 0) break;  // ENOBUFS: answers were dropped; the rest stay unanswered
    auto* h = reinterpret_cast<nlmsghdr*>(buf.data());
    int remaining = static_cast<int>(n);
    for (; nlmsg_ok(h, remaining); h = nlmsg_next(h, &remaining)) {
      if (h->nlmsg_type != NLMSG_ERROR || h->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) continue;
      const std::uint32_t idx = h->nlmsg_seq - first_seq;
      if (idx >= sockets.size() || answered[idx]) continue;
      answered[idx] = true;
      --outstanding;
      const int err = -static_cast<const nlmsgerr*>(nlmsg_data(h))->error;
      if (err == 0) {
        ++result.reset;
      } else if (err == ENOENT || err == ESTALE) {
        ++result.gone;  // closed meanwhile (ESTALE: the addresses now name another socket)
      } else if (!first_failure) {
        first_failure = classify(err, "destroying a TCP socket of a released VIP");
      }
    }
  }
  if (outstanding > 0 && !first_failure)
    first_failure = Failed{ResetResult::Failure::Error,
                           std::to_string(outstanding) +
                               " SOCK_DESTROY answers were lost (receive buffer overrun or no "
                               "answer within 2 s); those connections may not have been reset"};
}

}  // namespace

ResetResult reset_connections(std::span<const vrrp::IpAddress> addresses) {
  ResetResult result;
  if (addresses.empty()) return result;
  const auto since = [](Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t);
  };
  try {
    Sock dump_sk = open_sock_diag();
    // No ACK for a dump request (the kernel sends NLMSG_DONE), and a bound on every wait.
    nl_socket_disable_auto_ack(dump_sk.get());
    const timeval tv{kDumpTimeoutMs / 1000, 0};
    ::setsockopt(nl_socket_get_fd(dump_sk.get()), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    Sock destroy_sk = open_sock_diag();
    nl_socket_set_buffer_size(destroy_sk.get(), kRcvBuf, 0);
    const int on = 1;  // ACKs carry only the request's header
    ::setsockopt(nl_socket_get_fd(destroy_sk.get()), SOL_NETLINK, NETLINK_CAP_ACK, &on, sizeof on);

    // AF_INET6 also for IPv4 VIPs: a dual-stack listener ([::]:80 with IPV6_V6ONLY off) holds
    // its IPv4 connections as AF_INET6 sockets with v4-mapped addresses. Each dump walks the
    // kernel's whole established hash table (about 3 ms for its 262,144 buckets here, whatever
    // the number of sockets), so each family's sockets are destroyed as soon as they are known.
    const bool any_v4 = std::any_of(addresses.begin(), addresses.end(),
                                    [](const auto& a) { return a.family == vrrp::Family::V4; });
    std::vector<std::uint8_t> families;
    if (any_v4) families.push_back(AF_INET);
    families.push_back(AF_INET6);
    std::uint32_t next_seq = 1;
    std::optional<Failed> failure;
    for (const auto family : families) {
      auto t = Clock::now();
      std::vector<sock_diag::TcpSocket> found;
      for (std::size_t at = 0; at < addresses.size(); at += sock_diag::kMaxFilterAddresses) {
        const auto chunk =
            addresses.subspan(at, std::min(sock_diag::kMaxFilterAddresses, addresses.size() - at));
        dump(dump_sk.get(), family, sock_diag::local_address_filter(chunk), chunk, found);
      }
      result.matched += found.size();
      result.dump_time += since(t);
      t = Clock::now();
      for (std::size_t at = 0; at < found.size(); at += kWindow) {
        const auto window = std::span(found).subspan(at, std::min(kWindow, found.size() - at));
        destroy_window(destroy_sk.get(), window, next_seq, result, failure);
        next_seq += static_cast<std::uint32_t>(window.size());
        // Unsupported or not permitted: every further request would fail the same way.
        if (failure && failure->failure != ResetResult::Failure::Error) break;
      }
      result.destroy_time += since(t);
      if (failure && failure->failure != ResetResult::Failure::Error) break;
    }
    if (failure) {
      result.failure = failure->failure;
      result.error = failure->error;
    }
  } catch (const Failed& f) {
    result.failure = f.failure;
    result.error = f.error;
  } catch (const std::exception& e) {
    result.failure = ResetResult::Failure::Error;
    result.error = e.what();
  }
  return result;
}

}  // namespace vipd::net
