// auth_hmac in the pure core with a recording fake HMAC: the exact HMAC input (against the
// annotated keepalived frames), the trailer codec, every drop reason, modes, sequences, replay.
#include <catch2/catch.hpp>

#include "vrrp/advertisement.h"
#include "vrrp/auth_hmac.h"

using namespace vipd::vrrp;
using namespace std::chrono_literals;

namespace {

/// Not cryptography: a deterministic digest of key and data, and a record of the last input.
class FakeHmac final : public auth::HmacSha256 {
 public:
  mutable std::vector<std::uint8_t> last_input;
  mutable int calls = 0;
  auth::Digest compute(std::span<const std::uint8_t> key,
                       std::span<const std::uint8_t> data) const override {
    ++calls;
    last_input.assign(data.begin(), data.end());
    auth::Digest d{};
    std::uint32_t h = 2166136261u;
    auto mix = [&](std::uint8_t b) { h = (h ^ b) * 16777619u; };
    for (auto b : key) mix(b);
    for (std::size_t i = 0; i < data.size(); ++i) {
      mix(data[i]);
      d[i % d.size()] = static_cast<std::uint8_t>(d[i % d.size()] ^ (h >> 8));
    }
    return d;
  }
};

std::vector<std::uint8_t> bytes(std::initializer_list<int> l) {
  std::vector<std::uint8_t> v;
  for (int b : l) v.push_back(static_cast<std::uint8_t>(b));
  return v;
}

auth::Key key(std::uint8_t id, std::uint8_t fill) {
  return {id, std::vector<std::uint8_t>(32, fill)};
}

auth::Policy policy(auth::Mode mode = auth::Mode::Enforce,
                    auth::AntiReplay anti = auth::AntiReplay::Monotonic) {
  auth::Policy p;
  p.mode = mode;
  p.anti_replay = anti;
  p.window = 5s;
  p.active_key = 1;
  p.keys = {key(1, 0xaa), key(2, 0xbb)};
  return p;
}

const IpAddress kSrc = IpAddress::v4(std::array<std::uint8_t, 4>{198, 18, 8, 1});
// v3, VRID 51, prio 200, 1 address, 100 cs, checksum 89 4d, 198.18.8.100 (frame 2 of the capture)
const std::vector<std::uint8_t> kMessage =
    bytes({0x31, 0x33, 0xc8, 0x01, 0x00, 0x64, 0x89, 0x4d, 0xc6, 0x12, 0x08, 0x64});
constexpr auth::WallTime kNow = std::chrono::seconds(1796234810);

std::vector<std::uint8_t> signed_payload(const auth::Key& k, auth::Sequence seq,
                                         const FakeHmac& hmac,
                                         const std::vector<std::uint8_t>& message = kMessage) {
  auto out = message;
  const auto t = auth::sign(message, {3, 51, kSrc}, k, seq, hmac);
  out.insert(out.end(), t.begin(), t.end());
  return out;
}

}  // namespace

TEST_CASE(
    "hmac_input is keepalived's: pseudo-header, message with zero checksum, trailer head, "
    "16 zeros (frame 2 of v3-ipv4-mcast.pcap)",
    "[auth]") {
  const auto head = bytes({0x01, 0x01, 0x00, 0x00, 0x6b, 0x10, 0x5e, 0x3a, 0xa2, 0x96, 0x00, 0x00});
  const auto in =
      auth::hmac_input(kMessage, {3, 51, kSrc}, std::span<const std::uint8_t, 12>(head.data(), 12));
  // frames-annotated.txt, "HMAC input (60 bytes ...)"
  const auto expected = bytes(
      {0x04, 0x03, 0x33, 0x00, 0xc6, 0x12, 0x08, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
       0x00, 0x00, 0x00, 0x00, 0x00, 0x31, 0x33, 0xc8, 0x01, 0x00, 0x64, 0x00, 0x00, 0xc6, 0x12,
       0x08, 0x64, 0x01, 0x01, 0x00, 0x00, 0x6b, 0x10, 0x5e, 0x3a, 0xa2, 0x96, 0x00, 0x00, 0x00,
       0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00});
  CHECK(in == expected);
}

TEST_CASE("trailer codec round-trips; the sequence is sec|subsec|ctr in network order", "[auth]") {
  auth::Trailer t;
  t.key_id = 7;
  t.sequence = 0x6b105e3aa2960001ull;
  for (std::size_t i = 0; i < t.mac.size(); ++i) t.mac[i] = static_cast<std::uint8_t>(i + 1);
  const auto b = auth::encode_trailer(t);
  CHECK(b[0] == 1);
  CHECK(b[1] == 7);
  CHECK(b[4] == 0x6b);
  CHECK(b[11] == 0x01);
  CHECK(b[12] == 1);
  const auto back = auth::decode_trailer(b);
  CHECK(back.sequence == t.sequence);
  CHECK(back.mac == t.mac);
  CHECK(back.key_id == 7);
}

TEST_CASE("sequence_at: sec and 1/65536 s from the wall clock", "[auth]") {
  // 0.635102 s -> subsec 41622 (0xa296), as in the capture (41622 / 65536 = 0.6351013).
  const auto s =
      auth::sequence_at(std::chrono::seconds(1796234810) + std::chrono::nanoseconds(635102000));
  CHECK(s >> 32 == 1796234810u);
  CHECK(((s >> 16) & 0xffff) == 0xa296);
  CHECK((s & 0xffff) == 0);
}

TEST_CASE(
    "SequenceClock: strictly increasing, +1 within a tick and when the clock steps back a "
    "little, restart after a step back beyond the window (time mode only)",
    "[auth]") {
  auth::SequenceClock clock;
  const auto a = clock.next(kNow, auth::AntiReplay::Time, 5s);
  CHECK(clock.next(kNow, auth::AntiReplay::Time, 5s) == a + 1);       // same tick
  CHECK(clock.next(kNow - 2s, auth::AntiReplay::Time, 5s) == a + 2);  // small step back
  // Step back 60 s: time mode restarts from the clock (peers would find a+3 stale otherwise).
  CHECK(clock.next(kNow - 60s, auth::AntiReplay::Time, 5s) == auth::sequence_at(kNow - 60s));
  auth::SequenceClock mono;
  const auto m = mono.next(kNow, auth::AntiReplay::Monotonic, 5s);
  CHECK(mono.next(kNow - 60s, auth::AntiReplay::Monotonic, 5s) == m + 1);
  // Carry from ctr into subsec.
  auth::SequenceClock carry;
  const auto at = std::chrono::seconds(100) + std::chrono::nanoseconds(0);
  const auto c0 = carry.next(at, auth::AntiReplay::Monotonic, 5s);
  for (int i = 0; i < 0x10000; ++i) carry.next(at, auth::AntiReplay::Monotonic, 5s);
  CHECK(carry.next(at, auth::AntiReplay::Monotonic, 5s) == c0 + 0x10001);
  CHECK(((c0 + 0x10001) >> 16 & 0xffff) == 1);
}

TEST_CASE("ReplayTable: strictly after per sender, serial arithmetic, LRU of 4, time-mode expiry",
          "[auth]") {
  auth::ReplayTable t(4);
  const auto seq = auth::sequence_at(kNow);
  auto ip = [](int n) {
    return IpAddress::v4(std::array<std::uint8_t, 4>{198, 18, 8, static_cast<std::uint8_t>(n)});
  };
  CHECK_FALSE(t.is_replay(ip(1), seq, kNow, auth::AntiReplay::Monotonic, 5s));
  t.accept(ip(1), seq);
  CHECK(t.is_replay(ip(1), seq, kNow, auth::AntiReplay::Monotonic, 5s));      // equal
  CHECK(t.is_replay(ip(1), seq - 1, kNow, auth::AntiReplay::Monotonic, 5s));  // older
  CHECK_FALSE(t.is_replay(ip(1), seq + 1, kNow, auth::AntiReplay::Monotonic, 5s));
  CHECK_FALSE(t.is_replay(ip(2), seq - 9, kNow, auth::AntiReplay::Monotonic, 5s));  // per sender
  // Serial arithmetic: a sequence just past the 64-bit wrap is after one just before it.
  auth::ReplayTable w;
  w.accept(ip(1), ~0ull - 1);
  CHECK_FALSE(w.is_replay(ip(1), 3, kNow, auth::AntiReplay::Monotonic, 5s));
  // LRU: a fifth sender evicts the least recently used (ip 1 was refreshed last).
  for (int n = 2; n <= 4; ++n) t.accept(ip(n), seq);
  t.accept(ip(1), seq + 2);
  t.accept(ip(5), seq);
  CHECK(t.size() == 4);
  CHECK_FALSE(t.is_replay(ip(2), seq, kNow, auth::AntiReplay::Monotonic, 5s));  // ip 2 evicted
  CHECK(t.is_replay(ip(1), seq + 2, kNow, auth::AntiReplay::Monotonic, 5s));
  // Time mode: a mark outside the window is forgotten (monotonic keeps it).
  CHECK(t.is_replay(ip(1), seq, kNow + 60s, auth::AntiReplay::Monotonic, 5s));
  CHECK_FALSE(t.is_replay(ip(1), seq, kNow + 60s, auth::AntiReplay::Time, 5s));
}

TEST_CASE("verify: sign/verify round trip with the active key and with any configured key",
          "[auth]") {
  FakeHmac hmac;
  auth::ReplayTable replay;
  const auto p = policy();
  const auto seq = auth::sequence_at(kNow);
  auto v = auth::verify(signed_payload(p.keys[0], seq, hmac), Family::V4, {3, 51, kSrc}, p, replay,
                        kNow, hmac);
  CHECK_FALSE(v.drop);
  CHECK(v.authenticated);
  CHECK(v.message.size() == kMessage.size());
  v = auth::verify(signed_payload(p.keys[1], seq + 1, hmac), Family::V4, {3, 51, kSrc}, p, replay,
                   kNow, hmac);
  CHECK_FALSE(v.drop);  // key 2 is configured, though not active (rotation)
}

TEST_CASE("verify: each failure has its own drop reason and leaves no replay mark", "[auth]") {
  FakeHmac hmac;
  const auto p = policy();
  const auto seq = auth::sequence_at(kNow);
  const Family v4 = Family::V4;
  const auth::Binding b{3, 51, kSrc};
  auto reason = [&](const std::vector<std::uint8_t>& payload, const auth::Policy& pol,
                    auth::ReplayTable& replay) -> std::string {
    const auto v = auth::verify(payload, v4, b, pol, replay, kNow, hmac);
    return v.drop ? std::string(to_string(*v.drop)) : "accepted";
  };
  auth::ReplayTable r;
  CHECK(reason(kMessage, p, r) == "auth_missing");
  auto payload = signed_payload(p.keys[0], seq, hmac);
  auto malformed = payload;
  malformed[kMessage.size()] = 2;  // ext_type
  CHECK(reason(malformed, p, r) == "auth_malformed");
  malformed = payload;
  malformed[kMessage.size() + 3] = 1;  // reserved
  CHECK(reason(malformed, p, r) == "auth_malformed");
  CHECK(reason(signed_payload(key(9, 0xaa), seq, hmac), p, r) == "auth_unknown_key");
  CHECK(reason(signed_payload(key(1, 0xcc), seq, hmac), p, r) == "auth_bad_hmac");  // wrong key
  auto tampered = payload;
  tampered[2] = 0xff;  // priority 255
  CHECK(reason(tampered, p, r) == "auth_bad_hmac");
  auto bad_source = auth::verify(payload, v4, {3, 51, IpAddress::v4(0xc6120802)}, p, r, kNow, hmac);
  REQUIRE(bad_source.drop);  // the source is bound
  CHECK(*bad_source.drop == DropReason::AuthBadHmac);
  auto bad_vrid = auth::verify(payload, v4, {3, 52, kSrc}, p, r, kNow, hmac);
  REQUIRE(bad_vrid.drop);
  CHECK(r.size() == 0);
  CHECK(reason(payload, p, r) == "accepted");
  CHECK(r.size() == 1);
  CHECK(reason(payload, p, r) == "auth_replay");
  // Time mode: seconds outside the window are stale, and stale is decided before the HMAC.
  auto timed = policy(auth::Mode::Enforce, auth::AntiReplay::Time);
  auth::ReplayTable r2;
  const auto calls = hmac.calls;
  const auto old = signed_payload(p.keys[0], auth::sequence_at(kNow - 6s), hmac);
  const int after_sign = hmac.calls;
  CHECK(reason(old, timed, r2) == "auth_stale");
  CHECK(hmac.calls == after_sign);  // no HMAC computed for a stale frame
  CHECK(calls < after_sign);
  CHECK(reason(signed_payload(p.keys[0], auth::sequence_at(kNow + 5s), hmac), timed, r2) ==
        "accepted");  // exactly at the window's edge
}

TEST_CASE(
    "verify: modes — enforce drops a missing trailer, permissive and receive-only pass it; "
    "a bad trailer is dropped in every mode",
    "[auth]") {
  FakeHmac hmac;
  for (auto mode : {auth::Mode::Enforce, auth::Mode::Permissive, auth::Mode::ReceiveOnly}) {
    INFO(auth::to_string(mode));
    const auto p = policy(mode);
    auth::ReplayTable r;
    const auto unsigned_ = auth::verify(kMessage, Family::V4, {3, 51, kSrc}, p, r, kNow, hmac);
    CHECK(unsigned_.drop.has_value() == (mode == auth::Mode::Enforce));
    CHECK_FALSE(unsigned_.authenticated);
    const auto bad = auth::verify(signed_payload(key(1, 0x11), 5, hmac), Family::V4, {3, 51, kSrc},
                                  p, r, kNow, hmac);
    REQUIRE(bad.drop);
    CHECK(*bad.drop == DropReason::AuthBadHmac);
  }
  CHECK_FALSE(policy(auth::Mode::ReceiveOnly).signs());
  CHECK(policy(auth::Mode::Permissive).signs());
}

TEST_CASE(
    "verify: payloads that are not a message of our version pass through for decode to "
    "name (short, bad_version)",
    "[auth]") {
  FakeHmac hmac;
  auth::ReplayTable r;
  const auto p = policy();
  const auto short_ = bytes({0x31, 0x33, 0xc8});
  CHECK_FALSE(auth::verify(short_, Family::V4, {3, 51, kSrc}, p, r, kNow, hmac).drop);
  auto v2 = kMessage;
  v2[0] = 0x21;
  const auto v = auth::verify(v2, Family::V4, {3, 51, kSrc}, p, r, kNow, hmac);
  CHECK_FALSE(v.drop);
  CHECK(v.message.size() == v2.size());
  CHECK(hmac.calls == 0);
  // v2 layout: the trailer comes after the 8 auth-data bytes.
  CHECK(auth::message_length(v2, Family::V4) == 20u);
  CHECK(auth::message_length(kMessage, Family::V6) == 24u);
}
