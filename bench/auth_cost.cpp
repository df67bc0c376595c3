// bench/auth_cost: what auth_hmac costs per advert — sign (sequence + HMAC + trailer) and verify
// (trailer checks + HMAC + constant-time compare + replay mark) — with the same code and the same
// OpenSSL adapter the agent uses. Not a test: it prints figures.
//   build-*/vipd_auth_bench [iterations] [rounds]      (default 20000 × 21)
// Each round times `iterations` operations; the figures are the median, min and max over the
// rounds of the mean ns per operation (a loaded machine shows in the spread).
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "net/hmac_sha256.h"
#include "vrrp/advertisement.h"
#include "vrrp/auth_hmac.h"

using namespace vipd::vrrp;
using Clock = std::chrono::steady_clock;

namespace {

struct Spread {
  double median, min, max;
};

Spread spread(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v.front(), v.back()};
}

}  // namespace

int main(int argc, char** argv) {
  const long n = argc > 1 ? std::atol(argv[1]) : 20000;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 21;
  if (n <= 0 || rounds <= 0) {
    std::fprintf(stderr, "usage: vipd_auth_bench [iterations > 0] [rounds > 0]\n");
    return 2;
  }
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
    std::array<std::vector<double>, 3> ns;  // sign, verify, plain decode: mean ns per round
    auth::SequenceClock clock;
    auth::ReplayTable replay;
    long ok = 0;
    long decoded = 0;
    std::vector<std::vector<std::uint8_t>> payloads(static_cast<std::size_t>(n));
    auto per_op = [n](Clock::duration d) {
      return std::chrono::duration<double, std::nano>(d).count() / static_cast<double>(n);
    };
    for (int r = 0; r < rounds; ++r) {
      // sign (sequence + HMAC + trailer), into fresh payloads
      const auto t0 = Clock::now();
      for (long i = 0; i < n; ++i) {
        const auto seq = clock.next(auth::WallTime{1'000'000'000LL * 1800000000},
                                    policy.anti_replay, policy.window);
        const auto t = auth::sign(message, {3, 51, src}, policy.keys[0], seq, hmac);
        auto& p = payloads[static_cast<std::size_t>(i)];
        p.assign(message.begin(), message.end());
        p.insert(p.end(), t.begin(), t.end());
      }
      const auto t1 = Clock::now();
      // verify each payload once: every one is fresh (a higher sequence) for the replay table
      for (long i = 0; i < n; ++i) {
        const auto v = auth::verify(payloads[static_cast<std::size_t>(i)], Family::V4, {3, 51, src},
                                    policy, replay, auth::WallTime{}, hmac);
        ok += v.drop ? 0 : 1;
      }
      const auto t2 = Clock::now();
      // a plain decode of the same message, for scale
      DecodeExpectations e;
      e.preferred_mode = ChecksumMode::PseudoHeader;
      for (long i = 0; i < n; ++i) decoded += decode(message, {src, dst}, e).ok() ? 1 : 0;
      const auto t3 = Clock::now();
      ns[0].push_back(per_op(t1 - t0));
      ns[1].push_back(per_op(t2 - t1));
      ns[2].push_back(per_op(t3 - t2));
    }
    const long total = n * rounds;
    const char* names[] = {"sign", "verify", "plain decode"};
    std::printf("auth_cost vips=%d message=%zuB %ld x %d rounds (verified %ld/%ld, decoded %ld):",
                vips, message.size(), n, rounds, ok, total, decoded);
    for (int k = 0; k < 3; ++k) {
      const Spread sp = spread(ns[static_cast<std::size_t>(k)]);
      std::printf(" %s %.0f ns (min %.0f, max %.0f)%s", names[k], sp.median, sp.min, sp.max,
                  k < 2 ? ";" : "");
    }
    std::printf("\n");
    if (ok != total || decoded != total) return 1;
  }
  return 0;
}
