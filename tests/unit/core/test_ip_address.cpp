// Unit tests of the IP address value types: parse, print, order (the RFC 9568 tie-break order).
#include <catch2/catch.hpp>

#include "vrrp/ip_address.h"

using vipd::vrrp::Family;
using vipd::vrrp::IpAddress;
using vipd::vrrp::IpPrefix;

TEST_CASE("IPv4 parse and print round trip", "[ip]") {
  const auto a = IpAddress::parse("198.18.0.100");
  REQUIRE(a);
  CHECK(a->family == Family::V4);
  CHECK(a->size() == 4);
  CHECK(a->bytes[0] == 198);
  CHECK(a->bytes[3] == 100);
  CHECK(a->v4_host_order() == 0xc6120064U);
  CHECK(a->to_string() == "198.18.0.100");
  CHECK(*a == IpAddress::v4(0xc6120064U));
  CHECK(*a == IpAddress::v4(std::array<std::uint8_t, 4>{198, 18, 0, 100}));
}

TEST_CASE("IPv6 parse and print round trip", "[ip]") {
  const auto a = IpAddress::parse("fe80::1");
  REQUIRE(a);
  CHECK(a->family == Family::V6);
  CHECK(a->size() == 16);
  CHECK(a->bytes[0] == 0xfe);
  CHECK(a->bytes[1] == 0x80);
  CHECK(a->bytes[15] == 1);
  CHECK(a->to_string() == "fe80::1");
  CHECK(IpAddress::parse("ff02::12")->is_multicast());
  CHECK_FALSE(a->is_multicast());
}

TEST_CASE("invalid addresses are rejected", "[ip]") {
  for (const char* text : {"", "198.18.0", "198.18.0.256", "198.18.0.1/24", "fe80::1::2", "web-a",
                           " 198.18.0.1", "198.18.0.1 "}) {
    INFO(text);
    CHECK_FALSE(IpAddress::parse(text));
  }
}

TEST_CASE("multicast and unspecified", "[ip]") {
  CHECK(IpAddress::parse("224.0.0.18")->is_multicast());
  CHECK_FALSE(IpAddress::parse("198.18.0.1")->is_multicast());
  CHECK(IpAddress::parse("0.0.0.0")->is_unspecified());
  CHECK(IpAddress::parse("::")->is_unspecified());
  CHECK_FALSE(IpAddress::parse("198.18.0.1")->is_unspecified());
}

TEST_CASE("ordering is unsigned network byte order [RFC-CHECKLIST 4.5 tie-break]", "[ip]") {
  // 198.18.0.12 > 198.18.0.11, and 198.18.1.0 > 198.18.0.255 (byte order, not string order).
  CHECK(*IpAddress::parse("198.18.0.12") > *IpAddress::parse("198.18.0.11"));
  CHECK(*IpAddress::parse("198.18.1.0") > *IpAddress::parse("198.18.0.255"));
  CHECK(*IpAddress::parse("198.18.0.9") < *IpAddress::parse("198.18.0.10"));
  // The high bit counts as unsigned.
  CHECK(*IpAddress::parse("200.0.0.1") > *IpAddress::parse("100.0.0.1"));
  CHECK(*IpAddress::parse("fe80::2") > *IpAddress::parse("fe80::1"));
  CHECK(*IpAddress::parse("198.18.0.1") != *IpAddress::parse("::ffff:198.18.0.1"));
}

TEST_CASE("prefix parse and print", "[ip]") {
  const auto p = IpPrefix::parse("198.18.0.100/24");
  REQUIRE(p);
  CHECK(p->address == *IpAddress::parse("198.18.0.100"));
  CHECK(p->length == 24);
  CHECK(p->to_string() == "198.18.0.100/24");
  CHECK(IpPrefix::parse("fe80::1/64")->length == 64);
  for (const char* text : {"198.18.0.100", "198.18.0.100/33", "198.18.0.100/", "198.18.0.100/x",
                           "198.18.0.100/24x", "fe80::1/129", "/24"}) {
    INFO(text);
    CHECK_FALSE(IpPrefix::parse(text));
  }
}
