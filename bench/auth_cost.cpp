// bench/auth_cost: what auth_hmac costs per advert — sign (sequence + HMAC + trailer) and verify
// (trailer checks + HMAC + constant-time compare + replay mark) — with the same code and the same
// OpenSSL adapter the agent uses. Not a test: it prints figures.
//   build-*/vipd_auth_bench [iterations]      (default 200000)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "net/hmac_sha256.h"
#include "vrrp/advertisement.h"
#include "vrrp/auth_hmac.h"

using namespace vipd::vrrp;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  const long n = argc > 1 ? std::atol(argv[1]) : 200000;
  const vipd::net::OpenSslHmacSha256 hmac;
  auth::Policy policy;
  policy.anti_replay = auth::AntiReplay::Monotonic;
  policy.active_key = 1;
  policy.keys.push_back({1, std::vector<std::uint8_t>(32, 0x5a)});
  const auto src = IpAddress::v4(0xc612000b);
  const auto dst = IpAddress::v4(0xe0000012);
  for (int vips : {1, 8}) {
    Advertisement adv;
    adv.vrid = 51;
    adv.priority = 150;
    adv.advert_interval = Centiseconds{1};
    for (int i = 0; i < vips; ++i) adv.addresses.push_back(IpAddress::v4(0xc6120064u + i));
    const auto message = encode(adv, {src, dst}, ChecksumMode::PseudoHeader);
    // sign
    auth::SequenceClock clock;
    std::vector<std::vector<std::uint8_t>> payloads(static_cast<std::size_t>(n));
    const auto t0 = Clock::now();
    for (long i = 0; i < n; ++i) {
      const auto seq = clock.next(auth::WallTime{1'000'000'000LL * 1800000000}, policy.anti_replay,
                                  policy.window);
      const auto t = auth::sign(message, {3, 51, src}, policy.keys[0], seq, hmac);
      auto& p = payloads[static_cast<std::size_t>(i)];
      p.reserve(message.size() + t.size());
      p.assign(message.begin(), message.end());
      p.insert(p.end(), t.begin(), t.end());
    }
    const auto t1 = Clock::now();
    // verify (each payload once: every one is fresh for the replay table)
    auth::ReplayTable replay;
    long ok = 0;
    for (long i = 0; i < n; ++i) {
      const auto v = auth::verify(payloads[static_cast<std::size_t>(i)], Family::V4, {3, 51, src},
                                  policy, replay, auth::WallTime{}, hmac);
      ok += v.drop ? 0 : 1;
    }
    const auto t2 = Clock::now();
    // a plain decode of the same message, for scale
    DecodeExpectations e;
    e.preferred_mode = ChecksumMode::PseudoHeader;
    long decoded = 0;
    for (long i = 0; i < n; ++i) decoded += decode(message, {src, dst}, e).ok() ? 1 : 0;
    const auto t3 = Clock::now();
    auto us = [n](Clock::duration d) {
      return std::chrono::duration<double, std::micro>(d).count() / static_cast<double>(n);
    };
    std::printf(
        "auth_cost vips=%d message=%zuB iterations=%ld: sign %.2f us, verify %.2f us "
        "(%ld/%ld ok), plain decode %.2f us (%ld ok)\n",
        vips, message.size(), n, us(t1 - t0), us(t2 - t1), ok, n, us(t3 - t2), decoded);
    if (ok != n) return 1;
  }
  return 0;
}
