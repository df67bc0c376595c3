// Receive admission (vrrp/admission.h): one table, one drop reason per row (RFC 9568 §7.1,
// RFC 3768 §7.1).
#include <catch2/catch.hpp>
#include <functional>
#include <string>
#include <vector>

#include "vrrp/admission.h"

namespace {

using namespace vipd::vrrp;

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

Receiver multicast_receiver() {
  Receiver r;
  r.vrid = 51;
  r.version = 3;
  r.vips = {ip("198.18.0.100")};
  return r;
}

Datagram advert_from(const char* source, std::uint8_t vrid = 51, std::uint8_t version = 3,
                     ChecksumMode mode = ChecksumMode::Rfc9568,
                     std::vector<IpAddress> addresses = {ip("198.18.0.100")}) {
  Advertisement adv;
  adv.version = version;
  adv.vrid = vrid;
  adv.priority = 100;
  adv.advert_interval = Centiseconds{100};
  adv.addresses = std::move(addresses);
  Datagram d;
  d.source = ip(source);
  d.destination = ip("224.0.0.18");
  d.ttl = 255;
  d.payload = encode(adv, {d.source, d.destination}, mode);
  return d;
}

}  // namespace

TEST_CASE("admission: every way a datagram is turned away, one reason each", "[admission]") {
  const IpAddress own[] = {ip("198.18.0.1")};
  Receiver mc = multicast_receiver();
  Receiver uc = multicast_receiver();
  uc.vrid = 52;
  uc.unicast_peers = {ip("198.18.0.2")};
  Receiver v2 = multicast_receiver();
  v2.vrid = 53;
  v2.version = 2;
  v2.auth_type = AuthType::SimplePassword;
  v2.auth_data = {'s', 'e', 'c', 'r', 'e', 't'};
  const Receiver* receivers[] = {&mc, &uc, &v2};

  struct Row {
    const char* what;
    std::function<Datagram()> make;
    DropReason reason;
  };
  const std::vector<Row> rows = {
      {"shorter than the fixed header",
       [] {
         auto d = advert_from("198.18.0.2");
         d.payload.resize(7);
         return d;
       },
       DropReason::Short},
      {"a malformed IP header (empty payload)",
       [] {
         auto d = advert_from("198.18.0.2");
         d.payload.clear();
         return d;
       },
       DropReason::Short},
      {"a VRID not configured here", [] { return advert_from("198.18.0.2", 99); },
       DropReason::UnknownVrid},
      {"TTL below 255 in multicast mode",
       [] {
         auto d = advert_from("198.18.0.2");
         d.ttl = 254;
         return d;
       },
       DropReason::Ttl},
      {"unicast to a multicast instance",
       [] {
         auto d = advert_from("198.18.0.2");
         d.destination = ip("198.18.0.1");
         d.payload = advert_from("198.18.0.2").payload;
         return d;
       },
       DropReason::WrongDestination},
      {"multicast to a unicast instance", [] { return advert_from("198.18.0.2", 52); },
       DropReason::WrongDestination},
      {"unicast from a source not in unicast_peers",
       [] {
         Advertisement adv;
         adv.vrid = 52;
         adv.priority = 100;
         adv.addresses = {ip("198.18.0.100")};
         Datagram d;
         d.source = ip("198.18.0.9");
         d.destination = ip("198.18.0.1");
         d.ttl = 64;
         d.payload = encode(adv, {d.source, d.destination}, ChecksumMode::Rfc9568);
         return d;
       },
       DropReason::NotAPeer},
      {"VRRPv2 to a v3 instance", [] { return advert_from("198.18.0.2", 51, 2); },
       DropReason::BadVersion},
      {"a corrupted checksum",
       [] {
         auto d = advert_from("198.18.0.2");
         d.payload[6] ^= 0xff;
         return d;
       },
       DropReason::BadChecksum},
      {"v2 without the configured password", [] { return advert_from("198.18.0.2", 53, 2); },
       DropReason::AuthType},
  };
  for (const auto& row : rows) {
    INFO(row.what);
    const auto a = admit(row.make(), own, receivers);
    CHECK(a.outcome == Admission::Outcome::Dropped);
    CHECK(to_string(a.reason) == to_string(row.reason));
    CHECK_FALSE(a.decoded);
  }
}

TEST_CASE("admission: the v2 interval must match ours", "[admission]") {
  Receiver v2 = multicast_receiver();
  v2.version = 2;
  v2.advert_interval = Centiseconds{200};
  const Receiver* receivers[] = {&v2};
  const auto a = admit(advert_from("198.18.0.2", 51, 2), {}, receivers);
  CHECK(a.outcome == Admission::Outcome::Dropped);
  CHECK(a.reason == DropReason::IntervalMismatch);
  CHECK(a.vrid_matched);
}

TEST_CASE("admission: our own adverts are neither news nor drops", "[admission]") {
  const IpAddress own[] = {ip("198.18.0.1")};
  Receiver mc = multicast_receiver();
  const Receiver* receivers[] = {&mc};
  CHECK(admit(advert_from("198.18.0.1"), own, receivers).outcome == Admission::Outcome::Own);
}

TEST_CASE("admission: accepted adverts report the checksum form and the address list",
          "[admission]") {
  Receiver mc = multicast_receiver();
  Receiver other = multicast_receiver();
  other.vrid = 7;
  const Receiver* receivers[] = {&other, &mc};
  const auto plain = admit(advert_from("198.18.0.2"), {}, receivers);
  REQUIRE(plain.accepted());
  CHECK(plain.receiver == 1);
  CHECK_FALSE(plain.other_checksum_form);
  CHECK_FALSE(plain.address_list_mismatch);
  REQUIRE(plain.decoded);
  CHECK(plain.decoded->advert.priority == 100);

  const auto pseudo =
      admit(advert_from("198.18.0.2", 51, 3, ChecksumMode::PseudoHeader), {}, receivers);
  REQUIRE(pseudo.accepted());
  CHECK(pseudo.other_checksum_form);

  const auto listing = admit(
      advert_from("198.18.0.2", 51, 3, ChecksumMode::Rfc9568, {ip("198.18.0.101")}), {}, receivers);
  REQUIRE(listing.accepted());  // RFC 9568 §7.1: logged and processed, not dropped
  CHECK(listing.address_list_mismatch);
}

TEST_CASE("admission: VRID conflicts: v2 non-owner dropped (RFC 3768), address_mismatch = ignore",
          "[admission]") {
  const std::vector<IpAddress> theirs = {ip("198.18.0.101")};
  Receiver v2 = multicast_receiver();
  v2.version = 2;
  const Receiver* v2s[] = {&v2};
  // RFC 3768 §7.1: a mismatching address list not from the owner MUST be dropped.
  const auto dropped =
      admit(advert_from("198.18.0.2", 51, 2, ChecksumMode::Rfc9568, theirs), {}, v2s);
  CHECK(dropped.outcome == Admission::Outcome::Dropped);
  CHECK(dropped.reason == DropReason::AddressListMismatch);
  // ... but the owner's (priority 255) is processed.
  auto owner = advert_from("198.18.0.2", 51, 2, ChecksumMode::Rfc9568, theirs);
  {
    Advertisement adv;
    adv.version = 2;
    adv.vrid = 51;
    adv.priority = 255;
    adv.advert_interval = Centiseconds{100};
    adv.addresses = theirs;
    owner.payload = encode(adv, {owner.source, owner.destination}, ChecksumMode::Rfc9568);
  }
  const auto from_owner = admit(owner, {}, v2s);
  REQUIRE(from_owner.accepted());
  CHECK(from_owner.address_list_mismatch);
  // The same list as ours: v2 accepts.
  CHECK(admit(advert_from("198.18.0.2", 51, 2), {}, v2s).accepted());

  // v3 with address_mismatch = "ignore": dropped under the same reason.
  Receiver v3 = multicast_receiver();
  v3.drop_address_mismatch = true;
  const Receiver* v3s[] = {&v3};
  const auto ignored =
      admit(advert_from("198.18.0.2", 51, 3, ChecksumMode::Rfc9568, theirs), {}, v3s);
  CHECK(ignored.outcome == Admission::Outcome::Dropped);
  CHECK(ignored.reason == DropReason::AddressListMismatch);
  CHECK(admit(advert_from("198.18.0.2"), {}, v3s).accepted());
}

TEST_CASE("same_addresses ignores order", "[admission]") {
  CHECK(same_addresses({ip("198.18.0.1"), ip("198.18.0.2")}, {ip("198.18.0.2"), ip("198.18.0.1")}));
  CHECK_FALSE(same_addresses({ip("198.18.0.1")}, {ip("198.18.0.2")}));
}

namespace {

Datagram advert6_from(const char* source, const char* destination = "ff02::12") {
  Advertisement adv;
  adv.vrid = 51;
  adv.priority = 100;
  adv.advert_interval = Centiseconds{100};
  adv.family = Family::V6;
  adv.addresses = {ip("2001:db8::100")};
  Datagram d;
  d.source = ip(source);
  d.destination = ip(destination);
  d.ttl = 255;
  d.payload = encode(adv, {d.source, d.destination}, ChecksumMode::Rfc9568);
  return d;
}

}  // namespace

TEST_CASE("admission over IPv6: the envelope (hop limit, link-local source) and the message",
          "[admission][ipv6]") {
  const IpAddress own[] = {ip("fe80::1")};
  Receiver mc;
  mc.vrid = 51;
  mc.vips = {ip("2001:db8::100")};
  const Receiver* receivers[] = {&mc};

  const auto good = admit(advert6_from("fe80::2"), own, receivers);
  REQUIRE(good.accepted());
  CHECK(good.decoded->advert.family == Family::V6);
  CHECK_FALSE(good.address_list_mismatch);
  CHECK_FALSE(good.other_checksum_form);
  CHECK(admit(advert6_from("fe80::1"), own, receivers).outcome == Admission::Outcome::Own);

  struct Row {
    const char* what;
    std::function<Datagram()> make;
    DropReason reason;
  };
  const std::vector<Row> rows = {
      {"hop limit below 255",
       [] {
         auto d = advert6_from("fe80::2");
         d.ttl = 64;
         return d;
       },
       DropReason::Ttl},
      {"a global (not link-local) source", [] { return advert6_from("2001:db8::2"); },
       DropReason::SourceNotLinkLocal},
      {"truncated inside the address list",
       [] {
         auto d = advert6_from("fe80::2");
         d.payload.resize(8 + 8);
         return d;
       },
       DropReason::Short},
      {"a corrupted checksum",
       [] {
         auto d = advert6_from("fe80::2");
         d.payload[7] ^= 0x01;
         return d;
       },
       DropReason::BadChecksum},
      {"a checksum over another pseudo-header (sender's address differs)",
       [] {
         auto d = advert6_from("fe80::2");
         d.source = ip("fe80::3");
         return d;
       },
       DropReason::BadChecksum},
      {"VRRPv2 over IPv6",
       [] {
         auto d = advert6_from("fe80::2");
         d.payload[0] = static_cast<std::uint8_t>((2 << 4) | 1);
         return d;
       },
       DropReason::BadVersion},
      {"an IPv4 address list over IPv6 (checksum over the IPv6 pseudo-header)",
       [] {
         auto d = advert_from("198.18.0.2");
         d.source = ip("fe80::2");
         d.destination = ip("ff02::12");
         return d;
       },
       DropReason::Short},
  };
  for (const auto& row : rows) {
    INFO(row.what);
    const auto a = admit(row.make(), own, receivers);
    CHECK(a.outcome == Admission::Outcome::Dropped);
    CHECK(to_string(a.reason) == to_string(row.reason));
  }
}

TEST_CASE("admission over IPv6 unicast: a global peer is accepted, hop limit not checked",
          "[admission][ipv6]") {
  const IpAddress own[] = {ip("fe80::1")};
  Receiver uc;
  uc.vrid = 51;
  uc.vips = {ip("2001:db8::100")};
  uc.unicast_peers = {ip("2001:db8::2")};
  const Receiver* receivers[] = {&uc};
  auto d = advert6_from("2001:db8::2", "2001:db8::1");
  d.ttl = 64;
  CHECK(admit(d, own, receivers).accepted());
  CHECK(admit(advert6_from("fe80::2"), own, receivers).reason == DropReason::WrongDestination);
}
