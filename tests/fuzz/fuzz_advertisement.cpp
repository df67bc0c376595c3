// libFuzzer harness for the VRRP codec: decode arbitrary bytes under every version, checksum
// mode, envelope family and v2 authentication expectation; whenever a packet is accepted, encode
// it again and require that the re-encoding decodes to the same advert, verified the same way.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

#include "vrrp/advertisement.h"

using namespace vipd::vrrp;

namespace {

void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_advertisement: property violated: %s\n", what);
    std::abort();
  }
}

IpEnvelope envelope(const char* src, const char* dst) {
  return IpEnvelope{*IpAddress::parse(src), *IpAddress::parse(dst)};
}

void check(std::span<const std::uint8_t> bytes, const IpEnvelope& env,
           const DecodeExpectations& expect) {
  const DecodeResult r = decode(bytes, env, expect);
  if (!r.ok()) {
    require(to_string(r.reason) != "unknown", "drop reason has a name");
    return;
  }
  const Decoded& d = *r.decoded;
  require(d.advert.version == expect.version, "accepted version is the expected one");
  require(!d.advert.addresses.empty(), "accepted advert has addresses");
  require(d.advert.advert_interval.count() > 0, "accepted advert has an interval");
  // An accepted advert satisfies every encode precondition: encode must not throw.
  const auto wire = encode(d.advert, env, d.verified_with);
  const std::size_t size = d.advert.family == Family::V4 ? 4 : 16;
  require(wire.size() == 8 + d.advert.addresses.size() * size + (expect.version == 2 ? 8 : 0),
          "encoded length");
  require(wire.size() <= bytes.size(), "re-encoding is no longer than the input");
  const DecodeResult again = decode(wire, env, expect);
  require(again.ok(), "re-encoding decodes");
  require(again.decoded->advert == d.advert, "re-decode equals the first decode");
  require(again.decoded->verified_with == d.verified_with, "re-decode verifies in the same mode");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const IpEnvelope kEnvelopes[] = {
      envelope("198.18.3.1", "224.0.0.18"),  // the keepalived fixtures' envelope
      envelope("fe80::1", "ff02::12"),
      envelope("198.18.3.1", "ff02::12"),  // inconsistent: must be dropped, never crash
  };
  const std::span<const std::uint8_t> bytes(data, size);

  for (const auto& env : kEnvelopes) {
    for (auto mode : {ChecksumMode::Rfc9568, ChecksumMode::PseudoHeader}) {
      DecodeExpectations e;
      e.preferred_mode = mode;
      e.version = 3;
      check(bytes, env, e);

      e.version = 2;
      e.auth_type = AuthType::None;
      check(bytes, env, e);
      // PASS with the password the packet itself carries, so the success path is reachable.
      e.auth_type = AuthType::SimplePassword;
      if (size >= 8) {
        const std::size_t end = 8 + std::size_t{data[3]} * 4 + 8;
        if (end <= size)
          for (std::size_t i = 0; i < 8; ++i) e.auth_data[i] = data[end - 8 + i];
      }
      check(bytes, env, e);
    }
  }
  return 0;
}
