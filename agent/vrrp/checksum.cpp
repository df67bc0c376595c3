// The Internet checksum (RFC 1071) and the IPv4/IPv6 pseudo-headers VRRP uses.
#include "vrrp/checksum.h"

namespace vipd::vrrp {

OnesComplementSum& OnesComplementSum::add(std::span<const std::uint8_t> bytes) {
  std::size_t i = 0;
  for (; i + 1 < bytes.size(); i += 2) {
    sum_ += (std::uint32_t{bytes[i]} << 8) | bytes[i + 1];
  }
  // RFC 1071: an odd trailing byte is summed as if followed by a zero octet.
  if (i < bytes.size()) sum_ += std::uint32_t{bytes[i]} << 8;
  return *this;
}

OnesComplementSum& OnesComplementSum::add_u16(std::uint16_t word) {
  sum_ += word;
  return *this;
}

OnesComplementSum& OnesComplementSum::add_u32(std::uint32_t word) {
  sum_ += word >> 16;
  sum_ += word & 0xffff;
  return *this;
}

std::uint16_t OnesComplementSum::folded() const {
  std::uint64_t s = sum_;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<std::uint16_t>(s);
}

void add_ipv4_pseudo_header(OnesComplementSum& sum, const IpAddress& source,
                            const IpAddress& destination, std::uint16_t length) {
  sum.add(std::span(source.bytes).first(4));
  sum.add(std::span(destination.bytes).first(4));
  sum.add_u16(kVrrpProtocol);  // zero octet, then the protocol
  sum.add_u16(length);
}

void add_ipv6_pseudo_header(OnesComplementSum& sum, const IpAddress& source,
                            const IpAddress& destination, std::uint32_t length) {
  sum.add(std::span(source.bytes));
  sum.add(std::span(destination.bytes));
  sum.add_u32(length);
  sum.add_u32(kVrrpProtocol);  // three zero octets, then the next header
}

std::uint16_t internet_checksum(std::span<const std::uint8_t> bytes) {
  return OnesComplementSum{}.add(bytes).checksum();
}

}  // namespace vipd::vrrp
