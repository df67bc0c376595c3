// IP address parsing and printing (inet_pton/inet_ntop from libc; no other dependency).
#include "vrrp/ip_address.h"

#include <arpa/inet.h>

#include <charconv>

namespace vipd::vrrp {

IpAddress IpAddress::v4(std::uint32_t host_order) {
  return v4(std::array<std::uint8_t, 4>{
      static_cast<std::uint8_t>(host_order >> 24), static_cast<std::uint8_t>(host_order >> 16),
      static_cast<std::uint8_t>(host_order >> 8), static_cast<std::uint8_t>(host_order)});
}

IpAddress IpAddress::v4(std::array<std::uint8_t, 4> network_order) {
  IpAddress a;
  a.family = Family::V4;
  for (std::size_t i = 0; i < 4; ++i) a.bytes[i] = network_order[i];
  return a;
}

IpAddress IpAddress::v6(std::array<std::uint8_t, 16> network_order) {
  IpAddress a;
  a.family = Family::V6;
  a.bytes = network_order;
  return a;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.empty() || text.size() > 45) return std::nullopt;
  const std::string s(text);
  IpAddress a;
  if (s.find(':') == std::string::npos) {
    a.family = Family::V4;
    if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) != 1) return std::nullopt;
  } else {
    a.family = Family::V6;
    if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) != 1) return std::nullopt;
  }
  return a;
}

std::uint32_t IpAddress::v4_host_order() const {
  return (std::uint32_t{bytes[0]} << 24) | (std::uint32_t{bytes[1]} << 16) |
         (std::uint32_t{bytes[2]} << 8) | std::uint32_t{bytes[3]};
}

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  const int af = family == Family::V4 ? AF_INET : AF_INET6;
  if (inet_ntop(af, bytes.data(), buf, sizeof buf) == nullptr) return "?";
  return buf;
}

bool IpAddress::is_multicast() const {
  return family == Family::V4 ? (bytes[0] & 0xf0) == 0xe0 : bytes[0] == 0xff;
}

bool IpAddress::is_unspecified() const {
  for (std::size_t i = 0; i < size(); ++i)
    if (bytes[i] != 0) return false;
  return true;
}

std::optional<IpPrefix> IpPrefix::parse(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto addr = IpAddress::parse(text.substr(0, slash));
  if (!addr) return std::nullopt;
  const auto len_text = text.substr(slash + 1);
  unsigned len = 0;
  const auto* end = len_text.data() + len_text.size();
  auto [p, ec] = std::from_chars(len_text.data(), end, len);
  if (ec != std::errc{} || p != end || len_text.empty()) return std::nullopt;
  if (len > (addr->family == Family::V4 ? 32U : 128U)) return std::nullopt;
  return IpPrefix{*addr, static_cast<std::uint8_t>(len)};
}

std::string IpPrefix::to_string() const {
  return address.to_string() + "/" + std::to_string(length);
}

}  // namespace vipd::vrrp
