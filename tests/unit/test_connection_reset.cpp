// Resetting the connections of released VIPs, the pure parts: the inet_diag filter bytecode (run
// through a copy of the kernel's interpreter and auditor), the dump and SOCK_DESTROY requests,
// parsing a dump reply, the reset decision; and the worker that runs resets off the loop.
// Against the real kernel: tests/unit_netns (reset_connections) and tests/netns/test_vipd_reset.py.
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <thread>

#include "agent/app/connection_reset.h"
#include "agent/app/event_loop.h"
#include "net/connection_resetter.h"
#include "net/sock_diag.h"

using vipd::vrrp::IpAddress;
namespace sd = vipd::net::sock_diag;
using namespace std::chrono_literals;

namespace {

IpAddress ip(const char* s) { return *IpAddress::parse(s); }

// The kernel's inet_diag_bc_audit (net/ipv4/inet_diag.c), for the ops we emit: follows the `yes`
// path, checks every `no` lands on an op boundary or exactly 4 bytes past the end.
bool audit(const std::vector<std::uint8_t>& bc) {
  const int total = static_cast<int>(bc.size());
  std::vector<int> boundaries;  // offsets where an op starts
  for (int at = 0; at < total;) {
    boundaries.push_back(at);
    inet_diag_bc_op op{};
    std::memcpy(&op, bc.data() + at, sizeof op);
    int size = sizeof op;
    if (op.code == INET_DIAG_BC_S_COND) {
      inet_diag_hostcond c{};
      std::memcpy(&c, bc.data() + at + sizeof op, sizeof c);
      size += static_cast<int>(sizeof c) + (c.family == AF_INET ? 4 : 16);
    }
    at += size;
  }
  int at = 0;
  int len = total;
  while (len > 0) {
    inet_diag_bc_op op{};
    std::memcpy(&op, bc.data() + at, sizeof op);
    int min_len = sizeof op;
    if (op.code == INET_DIAG_BC_S_COND) {
      inet_diag_hostcond c{};
      std::memcpy(&c, bc.data() + at + sizeof op, sizeof c);
      const int addr_len = c.family == AF_INET ? 4 : c.family == AF_INET6 ? 16 : -1;
      if (addr_len < 0 || c.prefix_len > 8 * addr_len) return false;
      min_len += static_cast<int>(sizeof c) + addr_len;
      if (len < min_len) return false;
    } else if (op.code != INET_DIAG_BC_JMP) {
      return false;
    }
    if (op.no < min_len || op.no > len + 4 || (op.no & 3) != 0) return false;
    if (op.no < len &&
        std::find(boundaries.begin(), boundaries.end(), at + op.no) == boundaries.end())
      return false;
    if (op.yes < min_len || op.yes > len + 4 || (op.yes & 3) != 0) return false;
    at += op.yes;
    len -= op.yes;
  }
  return len == 0;
}

// The kernel's inet_diag_bc_run for S_COND and JMP: does the filter accept a socket of `family`
// whose local address is `local` (16 bytes as inet_diag reports it)?
bool accepts(const std::vector<std::uint8_t>& bc, std::uint8_t family,
             const std::array<std::uint8_t, 16>& local) {
  int at = 0;
  int len = static_cast<int>(bc.size());
  while (len > 0) {
    inet_diag_bc_op op{};
    std::memcpy(&op, bc.data() + at, sizeof op);
    bool yes = true;
    if (op.code == INET_DIAG_BC_JMP) {
      yes = false;
    } else if (op.code == INET_DIAG_BC_S_COND) {
      inet_diag_hostcond c{};
      std::memcpy(&c, bc.data() + at + sizeof op, sizeof c);
      const std::uint8_t* addr = bc.data() + at + sizeof op + sizeof c;
      const auto match = [&](const std::uint8_t* a) {
        return std::memcmp(a, addr, c.prefix_len / 8) == 0;  // whole-byte prefixes only
      };
      if (c.family != family) {
        static const std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        yes = family == AF_INET6 && c.family == AF_INET &&
              std::memcmp(local.data(), kMapped, 12) == 0 && match(local.data() + 12);
      } else {
        yes = match(local.data());
      }
    } else {
      FAIL("unexpected op " << int{op.code});
    }
    const int step = yes ? op.yes : op.no;
    at += step;
    len -= step;
  }
  return len == 0;
}

std::array<std::uint8_t, 16> v4(const char* s) {
  std::array<std::uint8_t, 16> a{};
  ::inet_pton(AF_INET, s, a.data());
  return a;
}
std::array<std::uint8_t, 16> v6(const char* s) {
  std::array<std::uint8_t, 16> a{};
  ::inet_pton(AF_INET6, s, a.data());
  return a;
}

sd::TcpSocket tcp(std::uint8_t family, std::uint8_t state, const std::array<std::uint8_t, 16>& src,
                  std::uint16_t sport = 80) {
  sd::TcpSocket s;
  s.family = family;
  s.state = state;
  std::memcpy(s.id.idiag_src, src.data(), 16);
  std::memcpy(s.id.idiag_dst, v4("198.18.0.50").data(), 16);
  s.id.idiag_sport = htons(sport);
  s.id.idiag_dport = htons(40000);
  s.id.idiag_cookie[0] = 0x1234;
  s.id.idiag_cookie[1] = 0x5678;
  return s;
}

}  // namespace

TEST_CASE("local_address_filter: one IPv4 address, golden bytes", "[reset]") {
  const std::vector<IpAddress> one{ip("198.18.0.100")};
  const std::vector<std::uint8_t> expected{INET_DIAG_BC_S_COND,
                                           16,
                                           20,
                                           0,  // yes: the end (accept); no: 4 past it (reject)
                                           AF_INET,
                                           32,
                                           0,
                                           0,  // family, prefix length, padding
                                           0xff,
                                           0xff,
                                           0xff,
                                           0xff,  // port -1: any
                                           198,
                                           18,
                                           0,
                                           100};
  const auto bc = sd::local_address_filter(one);
  CHECK(bc == expected);
  CHECK(audit(bc));
  CHECK(accepts(bc, AF_INET, v4("198.18.0.100")));
  CHECK_FALSE(accepts(bc, AF_INET, v4("198.18.0.101")));
  CHECK_FALSE(accepts(bc, AF_INET, v4("198.18.0.10")));
  CHECK(accepts(bc, AF_INET6, v6("::ffff:198.18.0.100")));
  CHECK_FALSE(accepts(bc, AF_INET6, v6("::ffff:198.18.0.101")));
  CHECK_FALSE(accepts(bc, AF_INET6, v6("2001:db8::c612:64")));
}

TEST_CASE("local_address_filter: an OR over many addresses passes the kernel's audit", "[reset]") {
  for (std::size_t n : {2, 3, 16, 17, 100, 256}) {
    INFO(n << " addresses");
    std::vector<IpAddress> addrs;
    for (std::size_t i = 0; i < n; ++i)
      addrs.push_back(i % 3 == 2 ? IpAddress::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                                  0, 0, static_cast<std::uint8_t>(i)})
                                 : IpAddress::v4((198U << 24) | (18U << 16) | (1U << 8) | i));
    const auto bc = sd::local_address_filter(addrs);
    REQUIRE(audit(bc));
    for (std::size_t i = 0; i < n; ++i) {
      INFO("address " << addrs[i].to_string());
      if (addrs[i].family == vipd::vrrp::Family::V4) {
        CHECK(accepts(bc, AF_INET, v4(addrs[i].to_string().c_str())));
        CHECK(accepts(bc, AF_INET6, v6(("::ffff:" + addrs[i].to_string()).c_str())));
      } else {
        CHECK(accepts(bc, AF_INET6, v6(addrs[i].to_string().c_str())));
      }
    }
    CHECK_FALSE(accepts(bc, AF_INET, v4("198.18.2.1")));
    CHECK_FALSE(accepts(bc, AF_INET, v4("198.18.0.11")));
    CHECK_FALSE(accepts(bc, AF_INET6, v6("2001:db8::ffff")));
    CHECK_FALSE(accepts(bc, AF_INET6, v6("::ffff:198.18.0.11")));
  }
  CHECK_THROWS(sd::local_address_filter({}));
  std::vector<IpAddress> too_many(sd::kMaxFilterAddresses + 1, ip("198.18.0.100"));
  CHECK_THROWS(sd::local_address_filter(too_many));
}

TEST_CASE("dump_request_payload: TCP, the reset states, the filter as an attribute", "[reset]") {
  const std::vector<IpAddress> one{ip("2001:db8::100")};
  const auto bc = sd::local_address_filter(one);
  REQUIRE(bc.size() == 28);
  const auto p = sd::dump_request_payload(AF_INET6, bc);
  REQUIRE(p.size() == sizeof(inet_diag_req_v2) + NLA_HDRLEN + 28);
  inet_diag_req_v2 req{};
  std::memcpy(&req, p.data(), sizeof req);
  CHECK(req.sdiag_family == AF_INET6);
  CHECK(req.sdiag_protocol == IPPROTO_TCP);
  CHECK(req.idiag_ext == 0);
  CHECK(req.idiag_states == sd::kResetStates);
  nlattr attr{};
  std::memcpy(&attr, p.data() + sizeof req, sizeof attr);
  CHECK(attr.nla_type == INET_DIAG_REQ_BYTECODE);
  CHECK(attr.nla_len == NLA_HDRLEN + 28);
  CHECK(std::equal(bc.begin(), bc.end(), p.begin() + sizeof req + NLA_HDRLEN));
  // Never a listener; not the states nobody waits on.
  for (int st : {sd::kListen, sd::kTimeWait, sd::kClose})
    CHECK((sd::kResetStates & (1U << st)) == 0);
  for (int st : {sd::kEstablished, sd::kSynSent, sd::kSynRecv, sd::kNewSynRecv, sd::kFinWait1,
                 sd::kFinWait2, sd::kCloseWait, sd::kLastAck, sd::kClosing})
    CHECK((sd::kResetStates & (1U << st)) != 0);
}

TEST_CASE("parse_socket reads family, state and the socket id; rejects short input", "[reset]") {
  inet_diag_msg msg{};
  msg.idiag_family = AF_INET6;
  msg.idiag_state = sd::kEstablished;
  const auto mapped = v6("::ffff:198.18.0.100");
  std::memcpy(msg.id.idiag_src, mapped.data(), 16);
  std::memcpy(msg.id.idiag_dst, v6("::ffff:198.18.0.50").data(), 16);
  msg.id.idiag_sport = htons(80);
  msg.id.idiag_dport = htons(51234);
  msg.id.idiag_cookie[0] = 7;
  msg.id.idiag_cookie[1] = 9;
  std::vector<std::uint8_t> bytes(sizeof msg + 8, 0xee);  // attributes after it are ignored
  std::memcpy(bytes.data(), &msg, sizeof msg);
  const auto s = sd::parse_socket(bytes);
  REQUIRE(s);
  CHECK(s->family == AF_INET6);
  CHECK(s->state == sd::kEstablished);
  CHECK(s->local() == ip("198.18.0.100"));  // v4-mapped, seen as IPv4
  CHECK(s->remote() == ip("198.18.0.50"));
  CHECK(s->local_port() == 80);
  CHECK(s->remote_port() == 51234);
  CHECK(s->id.idiag_cookie[0] == 7);
  CHECK(s->id.idiag_cookie[1] == 9);
  CHECK_FALSE(sd::parse_socket(std::span(bytes).first(sizeof msg - 1)));
  msg.idiag_family = AF_UNIX;
  std::memcpy(bytes.data(), &msg, sizeof msg);
  CHECK_FALSE(sd::parse_socket(bytes));
}

TEST_CASE("should_reset: only the released addresses, only states with a peer", "[reset]") {
  const std::vector<IpAddress> released{ip("198.18.0.100"), ip("2001:db8::100")};
  struct Case {
    const char* what;
    sd::TcpSocket socket;
    bool reset;
  };
  auto no_cookie = tcp(AF_INET, sd::kEstablished, v4("198.18.0.100"));
  no_cookie.id.idiag_cookie[0] = no_cookie.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
  const std::vector<Case> cases = {
      {"established on the VIP", tcp(AF_INET, sd::kEstablished, v4("198.18.0.100")), true},
      {"handshake under way", tcp(AF_INET, sd::kSynRecv, v4("198.18.0.100")), true},
      {"closing, peer waits", tcp(AF_INET, sd::kCloseWait, v4("198.18.0.100")), true},
      {"v4-mapped on the VIP", tcp(AF_INET6, sd::kEstablished, v6("::ffff:198.18.0.100")), true},
      {"IPv6 VIP", tcp(AF_INET6, sd::kFinWait1, v6("2001:db8::100")), true},
      {"listener bound to the VIP", tcp(AF_INET, sd::kListen, v4("198.18.0.100")), false},
      {"wildcard listener", tcp(AF_INET, sd::kListen, v4("0.0.0.0")), false},
      {"time-wait", tcp(AF_INET, sd::kTimeWait, v4("198.18.0.100")), false},
      {"closed", tcp(AF_INET, sd::kClose, v4("198.18.0.100")), false},
      {"the node's own address", tcp(AF_INET, sd::kEstablished, v4("198.18.0.11")), false},
      {"another VIP (still held)", tcp(AF_INET, sd::kEstablished, v4("198.18.0.101")), false},
      {"another VIP, v4-mapped", tcp(AF_INET6, sd::kEstablished, v6("::ffff:198.18.0.101")), false},
      {"IPv6 address ending like the VIP", tcp(AF_INET6, sd::kEstablished, v6("::c612:64")), false},
      {"no cookie", no_cookie, false},
      {"state out of range", tcp(AF_INET, 40, v4("198.18.0.100")), false},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    CHECK(sd::should_reset(c.socket, released) == c.reset);
  }
  CHECK_FALSE(sd::should_reset(cases[0].socket, {}));
}

TEST_CASE("destroy_request names exactly the dumped socket, cookie included", "[reset]") {
  const auto s = tcp(AF_INET6, sd::kEstablished, v6("::ffff:198.18.0.100"), 443);
  const auto m = sd::destroy_request(s, 77);
  REQUIRE(m.size() == NLMSG_LENGTH(sizeof(inet_diag_req_v2)));
  nlmsghdr h{};
  std::memcpy(&h, m.data(), sizeof h);
  CHECK(h.nlmsg_len == m.size());
  CHECK(h.nlmsg_type == SOCK_DESTROY);
  CHECK(h.nlmsg_flags == (NLM_F_REQUEST | NLM_F_ACK));
  CHECK(h.nlmsg_seq == 77);
  CHECK(h.nlmsg_pid == 0);
  inet_diag_req_v2 req{};
  std::memcpy(&req, m.data() + NLMSG_HDRLEN, sizeof req);
  CHECK(req.sdiag_family == AF_INET6);
  CHECK(req.sdiag_protocol == IPPROTO_TCP);
  CHECK(std::memcmp(&req.id, &s.id, sizeof s.id) == 0);
  CHECK(req.id.idiag_cookie[0] == 0x1234);
  CHECK(req.id.idiag_sport == htons(443));
}

TEST_CASE("ResetWorker runs resets off the loop thread and reports on it", "[reset][loop]") {
  vipd::app::EventLoop loop;
  const auto loop_thread = std::this_thread::get_id();
  std::vector<std::thread::id> ran_on;
  std::vector<std::size_t> sizes;
  vipd::app::ResetWorker worker(loop, [&](std::span<const IpAddress> addrs) {
    ran_on.push_back(std::this_thread::get_id());
    vipd::net::ResetResult r;
    r.matched = r.reset = addrs.size();
    return r;
  });
  std::vector<std::size_t> reported;
  bool done_on_loop = true;
  worker.submit({ip("198.18.0.100")}, [&](const vipd::net::ResetResult& r) {
    done_on_loop = done_on_loop && std::this_thread::get_id() == loop_thread;
    reported.push_back(r.reset);
  });
  worker.submit({ip("198.18.0.101"), ip("198.18.0.102")}, [&](const vipd::net::ResetResult& r) {
    done_on_loop = done_on_loop && std::this_thread::get_id() == loop_thread;
    reported.push_back(r.reset);
    loop.stop();
  });
  loop.add_timer(vipd::app::EventLoop::now() + 2s, [&] { loop.stop(); });
  loop.run();
  CHECK(reported == std::vector<std::size_t>{1, 2});
  CHECK(done_on_loop);
  REQUIRE(ran_on.size() == 2);
  CHECK(ran_on[0] != loop_thread);
  // run_now runs on the caller.
  CHECK(worker.run_now(std::vector<IpAddress>{ip("198.18.0.100")}).reset == 1);
  CHECK(ran_on.back() == loop_thread);
  // An unsupported kernel is explained once.
  CHECK(worker.first_report(vipd::net::ResetResult::Failure::Unsupported));
  CHECK_FALSE(worker.first_report(vipd::net::ResetResult::Failure::Unsupported));
  CHECK(worker.first_report(vipd::net::ResetResult::Failure::Permission));
}
