// Pure tests of the network adapters: the gratuitous ARP body (golden bytes) and error texts
// that need no privilege. Namespace tests live in tests/unit_netns (they need root).
#include <catch2/catch.hpp>

#include "net/garp.h"
#include "net/interface.h"
#include "net/unsolicited_na.h"
#include "net/vrrp_socket.h"

using vipd::net::garp_frame;
using vipd::vrrp::IpAddress;

namespace {
const std::array<std::uint8_t, 6> kMac{0x02, 0x42, 0xc6, 0x12, 0x00, 0x0b};
const IpAddress kVip = IpAddress::v4(std::array<std::uint8_t, 4>{198, 18, 0, 100});
}  // namespace

TEST_CASE("garp_frame request form: golden bytes", "[net][garp]") {
  const std::array<std::uint8_t, 28> expected{
      0x00, 0x01,                          // htype Ethernet
      0x08, 0x00,                          // ptype IPv4
      6,    4,                             // hlen, plen
      0x00, 0x01,                          // op request
      0x02, 0x42, 0xc6, 0x12, 0x00, 0x0b,  // sender MAC = ours
      198,  18,   0,    100,               // sender IP = VIP
      0,    0,    0,    0,    0,    0,     // target MAC zero (RFC 5227 §3)
      198,  18,   0,    100,               // target IP = VIP
  };
  CHECK(garp_frame(kMac, kVip, false) == expected);
}

TEST_CASE("garp_frame reply form: golden bytes", "[net][garp]") {
  const std::array<std::uint8_t, 28> expected{
      0x00, 0x01, 0x08, 0x00, 6,    4,    0x00, 0x02,  // op reply
      0x02, 0x42, 0xc6, 0x12, 0x00, 0x0b,              // sender MAC = ours
      198,  18,   0,    100,                           // sender IP = VIP
      0x02, 0x42, 0xc6, 0x12, 0x00, 0x0b,              // target MAC = ours
      198,  18,   0,    100,                           // target IP = VIP
  };
  CHECK(garp_frame(kMac, kVip, true) == expected);
}

TEST_CASE("na_message: unsolicited NA golden bytes (RFC 4861 §4.4)", "[net][na][ipv6]") {
  const auto target = *IpAddress::parse("2001:db8::100");
  const std::array<std::uint8_t, 32> expected{
      136,  0,                                         // type Neighbor Advertisement, code 0
      0,    0,                                         // checksum: the kernel's
      0x20, 0,    0,    0,                             // R 0, S 0, O 1; reserved
      0x20, 0x01, 0x0d, 0xb8, 0,    0,    0,    0,     // target 2001:db8::100
      0,    0,    0,    0,    0,    0,    0x01, 0x00,  //
      2,    1,                                         // option Target Link-Layer, 8 octets
      0x02, 0x42, 0xc6, 0x12, 0x00, 0x0b,              // our MAC
  };
  CHECK(vipd::net::na_message(kMac, target) == expected);
}

TEST_CASE("lookup_interface explains a missing interface", "[net]") {
  std::string error;
  // Read-only netlink query: needs no privilege and touches nothing.
  const auto info = vipd::net::lookup_interface("vipdnoexist9", error);
  CHECK_FALSE(info.has_value());
  CHECK(error == "interface 'vipdnoexist9' does not exist (ip -br link lists the interfaces)");
}

TEST_CASE("has_capability rejects numbers that are not capabilities", "[net]") {
  CHECK_FALSE(vipd::net::has_capability(-1));
  CHECK_FALSE(vipd::net::has_capability(4096));
}

TEST_CASE("parse_ipv4_datagram: header fields, payload and malformed input", "[net][vrrp_socket]") {
  using vipd::net::parse_ipv4_datagram;
  using vipd::net::ReceivedPacket;
  // 20-byte header: version 4, ihl 5, tos 0xc0, total 28, ttl 255, proto 112,
  // 198.18.7.1 -> 224.0.0.18; then an 8-byte payload.
  std::vector<std::uint8_t> d{0x45, 0xc0, 0x00, 28,   0,    0,    0x40, 0,   255, 112,
                              0,    0,    198,  18,   7,    1,    224,  0,   0,   18,
                              0x31, 0x33, 0x64, 0x01, 0x00, 0x64, 0xab, 0xcd};
  ReceivedPacket p;
  REQUIRE(parse_ipv4_datagram(d, p));
  CHECK(p.ttl == 255);
  CHECK(p.source == IpAddress::v4(std::array<std::uint8_t, 4>{198, 18, 7, 1}));
  CHECK(p.destination == IpAddress::v4(std::array<std::uint8_t, 4>{224, 0, 0, 18}));
  CHECK(p.payload == std::vector<std::uint8_t>(d.begin() + 20, d.end()));

  SECTION("trailing bytes beyond the total length are ignored") {
    auto padded = d;
    padded.insert(padded.end(), {0, 0, 0, 0});
    REQUIRE(parse_ipv4_datagram(padded, p));
    CHECK(p.payload.size() == 8);
  }
  SECTION("IP options: the payload starts after ihl*4 bytes") {
    auto opt = d;
    opt[0] = 0x46;
    opt[3] = 32;
    opt.insert(opt.begin() + 20, {1, 1, 1, 0});  // NOP NOP NOP EOL
    REQUIRE(parse_ipv4_datagram(opt, p));
    CHECK(p.payload == std::vector<std::uint8_t>(d.begin() + 20, d.end()));
  }
  SECTION("malformed: empty payload, false") {
    auto truncated = d;
    truncated.resize(24);  // shorter than its total length
    auto bad_ihl = d;
    bad_ihl[0] = 0x44;  // ihl 16 bytes < 20
    auto long_ihl = d;
    long_ihl[0] = 0x4f;  // 60-byte header > datagram
    auto v6 = d;
    v6[0] = 0x65;
    auto total_lt_ihl = d;
    total_lt_ihl[3] = 12;
    for (const auto* bad : {&truncated, &bad_ihl, &long_ihl, &v6, &total_lt_ihl}) {
      ReceivedPacket q;
      q.payload = {1, 2, 3};
      CHECK_FALSE(parse_ipv4_datagram(*bad, q));
      CHECK(q.payload.empty());
    }
    ReceivedPacket q;
    CHECK_FALSE(parse_ipv4_datagram(std::span<const std::uint8_t>(d.data(), 19), q));
  }
}

TEST_CASE("lookup_interface rejects names the kernel cannot have", "[net]") {
  std::string error;
  CHECK_FALSE(vipd::net::lookup_interface("averyveryverylongname0", error).has_value());
  CHECK(error ==
        "interface name 'averyveryverylongname0' is not valid (1 to 15 characters; ip -br link "
        "lists the interfaces)");
  CHECK_FALSE(vipd::net::lookup_interface("", error).has_value());
  CHECK(error.find("is not valid") != std::string::npos);
}
