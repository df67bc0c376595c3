// Pure tests of the network adapters: the gratuitous ARP body (golden bytes) and error texts
// that need no privilege. Namespace tests live in tests/unit_netns (they need root).
#include <catch2/catch.hpp>

#include "net/garp.h"
#include "net/interface.h"

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
