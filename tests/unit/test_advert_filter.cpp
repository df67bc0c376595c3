// The kernel advert filter (issue 13 flood budget), run by the kernel on an AF_UNIX datagram
// socket: it sees each datagram from byte 0, as it sees an IPv4 packet on the raw socket.
#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "net/advert_filter.h"

using vipd::net::AcceptedAdvert;

namespace {

/// A 20-byte IPv4 header (IHL 5) or a 24-byte one (IHL 6, with options), then the VRRP bytes.
std::vector<std::uint8_t> datagram(std::uint8_t version_type, std::uint8_t vrid, int ihl = 5,
                                   std::size_t vrrp_len = 8) {
  std::vector<std::uint8_t> d(static_cast<std::size_t>(ihl) * 4 + vrrp_len, 0);
  d[0] = static_cast<std::uint8_t>(0x40 | ihl);
  d[9] = 112;
  if (vrrp_len >= 1) d[ihl * 4] = version_type;
  if (vrrp_len >= 2) d[ihl * 4 + 1] = vrid;
  return d;
}

struct Pair {
  int fds[2] = {-1, -1};
  Pair() { REQUIRE(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, fds) == 0); }
  ~Pair() {
    ::close(fds[0]);
    ::close(fds[1]);
  }
  /// Sends `d` and reports whether the receiving end got it (the filter runs on the receiver).
  bool passes(const std::vector<std::uint8_t>& d) {
    REQUIRE(::send(fds[0], d.data(), d.size(), 0) == static_cast<ssize_t>(d.size()));
    std::array<std::uint8_t, 2048> buf{};
    return ::recv(fds[1], buf.data(), buf.size(), 0) == static_cast<ssize_t>(d.size());
  }
  /// How many of `n` copies of `d` pass.
  int passed_of(const std::vector<std::uint8_t>& d, int n) {
    int got = 0;
    for (int i = 0; i < n; ++i) got += passes(d) ? 1 : 0;
    return got;
  }
};

}  // namespace

TEST_CASE("the advert filter passes configured (version, VRID) adverts and samples the rest",
          "[net][filter]") {
  Pair pair;
  const std::array<AcceptedAdvert, 3> accepted{{{3, 51}, {2, 52}, {3, 255}}};
  REQUIRE(vipd::net::attach_advert_filter(pair.fds[1], accepted) == 0);
  // Configured pairs always pass, with or without IP options.
  CHECK(pair.passed_of(datagram(0x31, 51), 200) == 200);
  CHECK(pair.passed_of(datagram(0x21, 52), 200) == 200);
  CHECK(pair.passed_of(datagram(0x31, 255, 6), 200) == 200);
  // Anything else passes only as the 1-in-64 sample: of 1,280, expect 20 (P(0) ~ 1e-9).
  for (const auto& d : {datagram(0x31, 50), datagram(0x21, 51), datagram(0x32, 51),
                        datagram(0x41, 51), datagram(0x31, 52), datagram(0x31, 51, 5, 1)}) {
    const int got = pair.passed_of(d, 1280);
    INFO("version/type 0x" << std::hex << int(d[20]) << " length " << std::dec << d.size()
                           << " passed " << got << " of 1280");
    CHECK(got >= 1);
    CHECK(got <= 60);
  }
}

TEST_CASE("a filter with nothing configured drops all but the sample; re-attaching replaces it",
          "[net][filter]") {
  Pair pair;
  REQUIRE(vipd::net::attach_advert_filter(pair.fds[1], {}) == 0);
  CHECK(pair.passed_of(datagram(0x31, 51), 640) <= 40);
  const std::array<AcceptedAdvert, 1> one{{{3, 51}}};
  REQUIRE(vipd::net::attach_advert_filter(pair.fds[1], one) == 0);
  CHECK(pair.passed_of(datagram(0x31, 51), 100) == 100);
}

TEST_CASE("the filter program fits any number of instances", "[net][filter]") {
  std::vector<AcceptedAdvert> all;
  for (int v : {2, 3})
    for (int vrid = 1; vrid <= 255; ++vrid)
      all.push_back({static_cast<std::uint8_t>(v), static_cast<std::uint8_t>(vrid)});
  const auto program = vipd::net::advert_filter_program(all);
  CHECK(program.size() == 6 + 2 * all.size() + 1);
  for (const auto& insn : program) {
    CHECK(insn.jt <= 1);
    CHECK(insn.jf <= 1);
  }
  Pair pair;
  REQUIRE(vipd::net::attach_advert_filter(pair.fds[1], all) == 0);
  CHECK(pair.passes(datagram(0x21, 200)));
}

TEST_CASE("a unicast instance's filter passes its VRID only from its peers", "[net][filter]") {
  Pair pair;
  const auto peer = *vipd::vrrp::IpAddress::parse("198.18.0.12");
  const auto other_peer = *vipd::vrrp::IpAddress::parse("198.18.0.13");
  const std::array<AcceptedAdvert, 2> accepted{
      {{3, 51, {peer, other_peer}}, {3, 52, {}}}};  // 52: multicast, any source
  REQUIRE(vipd::net::attach_advert_filter(pair.fds[1], accepted) == 0);
  const auto from = [](std::uint8_t vrid, const vipd::vrrp::IpAddress& source) {
    auto d = datagram(0x31, vrid);
    std::copy(source.bytes.begin(), source.bytes.begin() + 4, d.begin() + 12);
    return d;
  };
  CHECK(pair.passed_of(from(51, peer), 200) == 200);
  CHECK(pair.passed_of(from(51, other_peer), 200) == 200);
  CHECK(pair.passed_of(from(52, *vipd::vrrp::IpAddress::parse("198.18.0.99")), 200) == 200);
  // VRID 51 from anyone else: only the 1-in-64 sample (for the not_a_peer counter).
  const int got = pair.passed_of(from(51, *vipd::vrrp::IpAddress::parse("198.18.0.99")), 1280);
  INFO("passed " << got << " of 1280");
  CHECK(got >= 1);
  CHECK(got <= 60);
  // Another VRID from a peer is still dropped.
  CHECK(pair.passed_of(from(50, peer), 640) <= 40);
}

TEST_CASE("the IPv6 program reads the VRRP message at byte 0 (no IP header on an IPv6 raw socket)",
          "[net][filter][ipv6]") {
  // The AF_UNIX datagram stands for what an AF_INET6 raw socket's filter sees: the VRRP message.
  const auto message = [](std::uint8_t version_type, std::uint8_t vrid, std::size_t len = 8) {
    std::vector<std::uint8_t> m(len, 0);
    if (len >= 1) m[0] = version_type;
    if (len >= 2) m[1] = vrid;
    return m;
  };
  Pair pair;
  const std::array<AcceptedAdvert, 2> accepted{{{3, 51}, {3, 255}}};
  REQUIRE(vipd::net::attach_advert_filter(pair.fds[1], accepted, vipd::vrrp::Family::V6) == 0);
  CHECK(pair.passed_of(message(0x31, 51), 200) == 200);
  CHECK(pair.passed_of(message(0x31, 255), 200) == 200);
  // An IPv4-shaped packet (0x45 ...) is not read past an IP header: VRID 51 at byte 21 is ignored.
  for (const auto& m : {message(0x31, 50), message(0x21, 51), message(0x32, 51),
                        message(0x31, 51, 1), datagram(0x31, 51)}) {
    const int got = pair.passed_of(m, 1280);
    INFO("first byte 0x" << std::hex << int(m[0]) << " length " << std::dec << m.size()
                         << " passed " << got << " of 1280");
    CHECK(got >= 1);
    CHECK(got <= 60);
  }
}

TEST_CASE("the IPv6 program checks up to 28 unicast peers, four words each",
          "[net][filter][ipv6]") {
  std::vector<vipd::vrrp::IpAddress> peers;
  for (int i = 1; i <= 29; ++i)
    peers.push_back(*vipd::vrrp::IpAddress::parse("2001:db8::" + std::to_string(i)));
  const std::vector<vipd::vrrp::IpAddress> some(peers.begin(), peers.begin() + 28);
  const std::array<AcceptedAdvert, 2> two{{{3, 51, some}, {3, 52, {}}}};
  const auto program = vipd::net::advert_filter_program(two, vipd::vrrp::Family::V6);
  // sample 4 + load 1 + (jeq + 9 * 28 + drop) + (jeq + accept) + final drop
  CHECK(program.size() == 4 + 1 + (1 + 9 * 28 + 1) + 2 + 1);
  // One more peer than a jump can skip: the VRID check stays, the source check is left to vipd.
  const std::array<AcceptedAdvert, 1> many{{{3, 51, peers}}};
  CHECK(vipd::net::advert_filter_program(many, vipd::vrrp::Family::V6).size() == 4 + 1 + 2 + 1);
  // IPv4 peers are ignored by the IPv6 program (and vice versa).
  const std::array<AcceptedAdvert, 1> v4peer{
      {{3, 51, {*vipd::vrrp::IpAddress::parse("198.18.0.12")}}}};
  CHECK(vipd::net::advert_filter_program(v4peer, vipd::vrrp::Family::V6).size() == 4 + 1 + 2 + 1);
}
