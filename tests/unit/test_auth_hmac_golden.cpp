// Golden frames from two keepalived 2.4.3 nodes (../shared/vectors/keepalived-auth-hmac, copied to
// tests/fixtures/auth_hmac): every captured advert verifies with vipd's auth_hmac and OpenSSL's
// HMAC, re-signing reproduces keepalived's trailer byte for byte, and the wrong-key capture's
// frames from n2 are dropped as auth_bad_hmac.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <string>

#include "net/hmac_sha256.h"
#include "vrrp/advertisement.h"
#include "vrrp/auth_hmac.h"
#include "vrrp/checksum.h"
#include "vrrp/ipv6_payload.h"

using namespace vipd::vrrp;
using namespace std::chrono_literals;

namespace {

struct Frame {
  auth::WallTime captured{};  // pcap timestamp
  IpAddress source, destination;
  std::vector<std::uint8_t> payload;  // the IP payload: VRRP message + trailer
};

std::uint32_t le32(const std::vector<std::uint8_t>& b, std::size_t at) {
  return std::uint32_t{b[at]} | std::uint32_t{b[at + 1]} << 8 | std::uint32_t{b[at + 2]} << 16 |
         std::uint32_t{b[at + 3]} << 24;
}

/// A minimal reader for the fixtures: classic little-endian pcap, Ethernet, IPv4 or IPv6.
std::vector<Frame> read_pcap(const std::string& name) {
  std::ifstream in(std::string(VIPD_FIXTURES) + "/auth_hmac/" + name, std::ios::binary);
  REQUIRE(in);
  const std::vector<std::uint8_t> b{std::istreambuf_iterator<char>(in), {}};
  REQUIRE(b.size() >= 24);
  REQUIRE(le32(b, 0) == 0xa1b2c3d4);
  REQUIRE(le32(b, 20) == 1);  // LINKTYPE_ETHERNET
  std::vector<Frame> frames;
  for (std::size_t at = 24; at + 16 <= b.size();) {
    const auto len = le32(b, at + 8);
    Frame f;
    f.captured = std::chrono::seconds(le32(b, at)) + std::chrono::microseconds(le32(b, at + 4));
    const std::size_t eth = at + 16;
    const std::uint16_t type = static_cast<std::uint16_t>(b[eth + 12] << 8 | b[eth + 13]);
    const std::size_t ip = eth + 14;
    if (type == 0x0800) {
      const std::size_t ihl = (b[ip] & 0x0f) * 4u;
      const std::size_t total = static_cast<std::size_t>(b[ip + 2] << 8 | b[ip + 3]);
      f.source = IpAddress::v4(
          std::array<std::uint8_t, 4>{b[ip + 12], b[ip + 13], b[ip + 14], b[ip + 15]});
      f.destination = IpAddress::v4(
          std::array<std::uint8_t, 4>{b[ip + 16], b[ip + 17], b[ip + 18], b[ip + 19]});
      f.payload.assign(b.begin() + static_cast<long>(ip + ihl),
                       b.begin() + static_cast<long>(ip + total));
    } else {
      REQUIRE(type == 0x86dd);
      const std::size_t plen = static_cast<std::size_t>(b[ip + 4] << 8 | b[ip + 5]);
      std::array<std::uint8_t, 16> s{}, d{};
      std::memcpy(s.data(), &b[ip + 8], 16);
      std::memcpy(d.data(), &b[ip + 24], 16);
      f.source = IpAddress::v6(s);
      f.destination = IpAddress::v6(d);
      f.payload.assign(b.begin() + static_cast<long>(ip + 40),
                       b.begin() + static_cast<long>(ip + 40 + plen));
    }
    frames.push_back(std::move(f));
    at += 16 + len;
  }
  return frames;
}

auth::Policy key_00_1f(auth::AntiReplay anti_replay = auth::AntiReplay::Monotonic) {
  auth::Policy p;
  p.anti_replay = anti_replay;
  p.active_key = 1;
  auth::Key k{1, {}};
  for (int i = 0; i < 32; ++i) k.bytes.push_back(static_cast<std::uint8_t>(i));
  p.keys.push_back(k);
  return p;
}

auth::Binding binding_of(const Frame& f) {
  return {static_cast<std::uint8_t>(f.payload[0] >> 4), f.payload[1], f.source};
}

struct Tally {
  int verified = 0;
  std::map<std::string, int> dropped;
};

Tally verify_all(const std::vector<Frame>& frames, const auth::Policy& policy) {
  const vipd::net::OpenSslHmacSha256 hmac;
  auth::ReplayTable replay;
  Tally t;
  for (const auto& f : frames) {
    const auto v =
        auth::verify(f.payload, f.source.family, binding_of(f), policy, replay, f.captured, hmac);
    if (v.drop) {
      ++t.dropped[std::string(to_string(*v.drop))];
    } else {
      CHECK(v.authenticated);
      CHECK(v.message.size() + auth::kTrailerSize == f.payload.size());
      ++t.verified;
    }
  }
  return t;
}

}  // namespace

TEST_CASE("keepalived 2.4.3 captures: every frame verifies (v3/v2 multicast, unicast, IPv6)",
          "[auth][golden]") {
  const auto policy = key_00_1f();
  for (const char* name :
       {"v3-ipv4-mcast.pcap", "v2-ipv4-mcast.pcap", "v3-ipv4-ucast.pcap", "v3-ipv6-mcast.pcap"}) {
    INFO(name);
    const auto frames = read_pcap(name);
    REQUIRE(frames.size() == 13);
    const auto t = verify_all(frames, policy);
    CHECK(t.verified == 13);
    CHECK(t.dropped.empty());
  }
}

TEST_CASE("keepalived 2.4.3 wrong-key capture: n2's frames are auth_bad_hmac, n1's verify",
          "[auth][golden]") {
  const auto frames = read_pcap("v3-ipv4-mcast-badkey.pcap");
  REQUIRE(frames.size() == 14);
  const auto t = verify_all(frames, key_00_1f());
  CHECK(t.verified == 5);
  CHECK(t.dropped == std::map<std::string, int>{{"auth_bad_hmac", 9}});
}

TEST_CASE("re-signing a captured advert reproduces keepalived's trailer byte for byte",
          "[auth][golden]") {
  const vipd::net::OpenSslHmacSha256 hmac;
  const auto policy = key_00_1f();
  for (const char* name :
       {"v3-ipv4-mcast.pcap", "v2-ipv4-mcast.pcap", "v3-ipv4-ucast.pcap", "v3-ipv6-mcast.pcap"}) {
    INFO(name);
    for (const auto& f : read_pcap(name)) {
      const std::span<const std::uint8_t> all(f.payload);
      const auto message = all.first(all.size() - auth::kTrailerSize);
      const auto trailer = auth::decode_trailer(all.last<auth::kTrailerSize>());
      const auto signed_ =
          auth::sign(message, binding_of(f), policy.keys.front(), trailer.sequence, hmac);
      CHECK(std::equal(signed_.begin(), signed_.end(), all.last(auth::kTrailerSize).begin()));
    }
  }
}

TEST_CASE("captured adverts decode after the trailer is split off (checksum forms per family)",
          "[auth][golden]") {
  // v3/IPv4: keepalived's pseudo-header form over the message only; v2: message only; IPv6:
  // the kernel's checksum over the whole payload, trailer included.
  for (const auto& f : read_pcap("v3-ipv4-mcast.pcap")) {
    const auto message = std::span<const std::uint8_t>(f.payload).first(f.payload.size() - 28);
    DecodeExpectations e;
    e.preferred_mode = ChecksumMode::PseudoHeader;
    const auto r = decode(message, {f.source, f.destination}, e);
    REQUIRE(r.ok());
    CHECK(r.decoded->verified_with == ChecksumMode::PseudoHeader);
    CHECK(r.decoded->advert.vrid == 51);
  }
  for (const auto& f : read_pcap("v2-ipv4-mcast.pcap")) {
    DecodeExpectations e;
    e.version = 2;
    const auto message = std::span<const std::uint8_t>(f.payload).first(f.payload.size() - 28);
    CHECK(decode(message, {f.source, f.destination}, e).ok());
  }
  for (const auto& f : read_pcap("v3-ipv6-mcast.pcap")) {
    OnesComplementSum sum;
    add_ipv6_pseudo_header(sum, f.source, f.destination,
                           static_cast<std::uint32_t>(f.payload.size()));
    sum.add(f.payload);
    CHECK(sum.verifies());
    // vipd's decoder takes the whole payload as received (the trailer still on): keepalived's
    // IPv6 checksum over the whole payload verifies
    const auto r = decode(f.payload, {f.source, f.destination}, DecodeExpectations{});
    REQUIRE(r.ok());
    CHECK(r.decoded->advert.vrid == 53);
  }
}

TEST_CASE("IPv6 with a trailer: vipd sends keepalived's checksum form over the whole payload",
          "[auth][golden][ipv6]") {
  const vipd::net::OpenSslHmacSha256 hmac;
  const auto policy = key_00_1f();
  for (const auto& f : read_pcap("v3-ipv6-mcast.pcap")) {
    const std::span<const std::uint8_t> all(f.payload);
    // re-encode the captured advert as vipd does, sign it, append, re-checksum: the frame
    // keepalived sent, byte for byte
    const auto r = decode(all, {f.source, f.destination}, DecodeExpectations{});
    REQUIRE(r.ok());
    auto bytes = encode(r.decoded->advert, {f.source, f.destination}, ChecksumMode::Rfc9568);
    const auto seq = auth::decode_trailer(all.last<auth::kTrailerSize>()).sequence;
    const auto t = auth::sign(bytes, binding_of(f), policy.keys.front(), seq, hmac);
    bytes.insert(bytes.end(), t.begin(), t.end());
    const auto message_only = bytes;
    checksum_whole_ipv6_payload(bytes, {f.source, f.destination});
    CHECK(std::equal(bytes.begin(), bytes.end(), all.begin(), all.end()));
    // the message-only form (vipd before this fix) differs: keepalived's kernel dropped it
    CHECK_FALSE(std::equal(message_only.begin(), message_only.end(), all.begin(), all.end()));
    // both forms decode (a vipd of the older form stays heard); a flipped bit in the message
    // verifies in neither
    CHECK(decode(message_only, {f.source, f.destination}, DecodeExpectations{}).ok());
    bytes[8] ^= 1;
    const auto bad = decode(bytes, {f.source, f.destination}, DecodeExpectations{});
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.reason == DropReason::BadChecksum);
  }
}

TEST_CASE(
    "time mode: captured frames are stale 6 s later, fresh at capture time; a replay is "
    "refused",
    "[auth][golden]") {
  const vipd::net::OpenSslHmacSha256 hmac;
  auto policy = key_00_1f(auth::AntiReplay::Time);
  policy.window = 5s;
  const auto frames = read_pcap("v3-ipv4-mcast.pcap");
  const auto& f = frames[1];
  auth::ReplayTable replay;
  auto v = auth::verify(f.payload, f.source.family, binding_of(f), policy, replay, f.captured + 6s,
                        hmac);
  REQUIRE(v.drop);
  CHECK(*v.drop == DropReason::AuthStale);
  CHECK(replay.size() == 0);  // a dropped advert leaves no mark
  v = auth::verify(f.payload, f.source.family, binding_of(f), policy, replay, f.captured, hmac);
  CHECK_FALSE(v.drop);
  v = auth::verify(f.payload, f.source.family, binding_of(f), policy, replay, f.captured, hmac);
  REQUIRE(v.drop);
  CHECK(*v.drop == DropReason::AuthReplay);
}

TEST_CASE("the draft appendix images of keepalived's test/auth_hmac_test.c verify",
          "[auth][golden]") {
  const vipd::net::OpenSslHmacSha256 hmac;
  const auto policy = key_00_1f();
  struct Image {
    const char* source;
    std::vector<std::uint8_t> bytes;
  };
  auto hex = [](std::string_view s) {
    std::vector<std::uint8_t> out;
    for (std::size_t i = 0; i + 1 < s.size(); i += 2)
      out.push_back(static_cast<std::uint8_t>(std::stoi(std::string(s.substr(i, 2)), nullptr, 16)));
    return out;
  };
  const Image images[] = {
      {"198.51.100.10", hex("3133c80100644402c0000264010100006800000080000000"
                            "1b84bc4e8e43892dc6d98448f8ee2265")},
      {"fe80::10", hex("3133c8010064a2e9fe800000000000000000000000000100010100006800000080000000"
                       "c8c56146ebfd66ee10ec4d8186461b78")},
  };
  for (const auto& image : images) {
    INFO(image.source);
    const auto source = *IpAddress::parse(image.source);
    auth::ReplayTable replay;
    const auto v = auth::verify(image.bytes, source.family, {3, 51, source}, policy, replay,
                                auth::WallTime{}, hmac);
    CHECK_FALSE(v.drop);
    CHECK(v.authenticated);
  }
}

TEST_CASE("OpenSslHmacSha256 keeps keyed contexts: RFC 4231 vectors, many keys, interleaved",
          "[auth][hmac]") {
  const vipd::net::OpenSslHmacSha256 hmac;
  const auto bytes = [](std::string_view s) {
    return std::vector<std::uint8_t>(s.begin(), s.end());
  };
  const auto hex = [](const auth::Digest& d) {
    std::string s;
    char b[3];
    for (auto x : d) {
      std::snprintf(b, sizeof b, "%02x", x);
      s += b;
    }
    return s;
  };
  const std::vector<std::uint8_t> k1(20, 0x0b);
  const auto d1 = bytes("Hi There");
  const auto k2 = bytes("Jefe");
  const auto d2 = bytes("what do ya want for nothing?");
  const std::string h1 = "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7";
  const std::string h2 = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
  // More keys than the adapter caches, so contexts are evicted and rebuilt between uses.
  std::vector<std::vector<std::uint8_t>> others;
  for (std::uint8_t i = 0; i < 6; ++i) others.emplace_back(32 + i, static_cast<std::uint8_t>(i));
  for (int round = 0; round < 3; ++round) {
    CHECK(hex(hmac.compute(k1, d1)) == h1);
    CHECK(hex(hmac.compute(k2, d2)) == h2);
    CHECK(hex(hmac.compute(k1, d1)) == h1);  // the same key twice in a row: the re-init path
    for (const auto& k : others) {
      // Compare against a fresh adapter (its first use of a key) on the same input.
      const vipd::net::OpenSslHmacSha256 fresh;
      CHECK(hmac.compute(k, d2) == fresh.compute(k, d2));
      CHECK(hmac.compute(k, d2) != hmac.compute(k, d1));
    }
  }
}
