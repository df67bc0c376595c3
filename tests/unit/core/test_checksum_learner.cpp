// checksum = "auto": the learner alternates until a peer's form is known, then follows it.
#include <catch2/catch.hpp>

#include "vrrp/checksum_learner.h"

using vipd::vrrp::ChecksumLearner;
using vipd::vrrp::ChecksumMode;
using vipd::vrrp::IpAddress;

namespace {
const IpAddress kA = IpAddress::v4(0xc612000b);
const IpAddress kB = IpAddress::v4(0xc612000c);
}  // namespace

TEST_CASE(
    "auto: before any peer is heard, adverts alternate the two forms, so a silent backup "
    "of either kind accepts every second advert",
    "[checksum][auto]") {
  ChecksumLearner l;
  CHECK_FALSE(l.learned());
  int rfc = 0, pseudo = 0, longest_gap_rfc = 0, longest_gap_pseudo = 0, gap_rfc = 0, gap_pseudo = 0;
  for (int i = 0; i < 100; ++i) {
    const auto f = l.next_send();
    (f == ChecksumMode::Rfc9568 ? rfc : pseudo)++;
    gap_rfc = f == ChecksumMode::Rfc9568 ? 0 : gap_rfc + 1;
    gap_pseudo = f == ChecksumMode::PseudoHeader ? 0 : gap_pseudo + 1;
    longest_gap_rfc = std::max(longest_gap_rfc, gap_rfc);
    longest_gap_pseudo = std::max(longest_gap_pseudo, gap_pseudo);
  }
  CHECK(rfc == 50);
  CHECK(pseudo == 50);
  // A peer of either form misses at most one advert in a row: 2 intervals < Master_Down (3+).
  CHECK(longest_gap_rfc == 1);
  CHECK(longest_gap_pseudo == 1);
  CHECK(l.preferred() == ChecksumMode::Rfc9568);
}

TEST_CASE("auto: a peer heard in one form is followed at once; a change is reported once",
          "[checksum][auto]") {
  ChecksumLearner l;
  l.next_send();
  CHECK(l.heard(kA, ChecksumMode::PseudoHeader));
  CHECK_FALSE(l.heard(kA, ChecksumMode::PseudoHeader));  // nothing new: log once
  CHECK(l.learned() == ChecksumMode::PseudoHeader);
  CHECK(l.preferred() == ChecksumMode::PseudoHeader);
  for (int i = 0; i < 5; ++i) CHECK(l.next_send() == ChecksumMode::PseudoHeader);
  // The peer is reconfigured to RFC 9568: follow it.
  CHECK(l.heard(kA, ChecksumMode::Rfc9568));
  CHECK(l.next_send() == ChecksumMode::Rfc9568);
}

TEST_CASE("auto: peers that disagree make the learner alternate again", "[checksum][auto]") {
  ChecksumLearner l;
  l.heard(kA, ChecksumMode::Rfc9568);
  CHECK(l.heard(kB, ChecksumMode::PseudoHeader));
  CHECK(l.mixed());
  CHECK_FALSE(l.learned());
  const auto a = l.next_send();
  CHECK(l.next_send() != a);
  CHECK(l.heard(kB, ChecksumMode::Rfc9568));  // B follows the RFC now: agreement
  CHECK_FALSE(l.mixed());
  CHECK(l.next_send() == ChecksumMode::Rfc9568);
}
