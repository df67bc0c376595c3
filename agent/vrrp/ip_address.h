// IP address value types for the pure core: parse, print, compare in network byte order.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vipd::vrrp {

enum class Family : std::uint8_t { V4, V6 };

/// An IPv4 or IPv6 address, stored in network byte order. Ordering compares the
/// bytes as an unsigned big-endian integer, which is exactly the RFC 9568 §6.4.3
/// tie-break ("primary IP address ... compared as unsigned integers in network
/// byte order"). Addresses of different families never compare equal.
struct IpAddress {
  Family family = Family::V4;
  std::array<std::uint8_t, 16> bytes{};  // V4 uses bytes[0..3], the rest are zero

  static IpAddress v4(std::uint32_t host_order);
  static IpAddress v4(std::array<std::uint8_t, 4> network_order);
  static IpAddress v6(std::array<std::uint8_t, 16> network_order);
  /// Parses "198.18.0.1" or "2001:db8::1" (no prefix). nullopt on anything else.
  static std::optional<IpAddress> parse(std::string_view text);

  [[nodiscard]] std::size_t size() const { return family == Family::V4 ? 4 : 16; }
  [[nodiscard]] std::uint32_t v4_host_order() const;  // only meaningful for V4
  [[nodiscard]] std::string to_string() const;
  [[nodiscard]] bool is_multicast() const;
  [[nodiscard]] bool is_unspecified() const;
  /// IPv6 link-local unicast (fe80::/10); false for IPv4.
  [[nodiscard]] bool is_link_local_v6() const {
    return family == Family::V6 && bytes[0] == 0xfe && (bytes[1] & 0xc0) == 0x80;
  }

  // clang-tidy 14 misreads the defaulted <=> (the 0 it compares with is a comparison category).
  // NOLINTNEXTLINE(modernize-use-nullptr)
  friend auto operator<=>(const IpAddress&, const IpAddress&) = default;
  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

/// An address with a prefix length ("198.18.0.100/24"), as VIPs are configured.
struct IpPrefix {
  IpAddress address;
  std::uint8_t length = 32;

  /// Parses "ADDR/LEN". A missing "/LEN" is an error: DESIGN.md §3 says addresses carry a prefix.
  static std::optional<IpPrefix> parse(std::string_view text);
  [[nodiscard]] std::string to_string() const;

  friend auto operator<=>(const IpPrefix&, const IpPrefix&) = default;
  friend bool operator==(const IpPrefix&, const IpPrefix&) = default;
};

}  // namespace vipd::vrrp
