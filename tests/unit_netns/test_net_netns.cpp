// agent/net against real kernel networking: each test case runs in a private network namespace
// (unshare) joined by a veth pair to a second, named namespace (the peer). Needs root; the ctest
// wrapper skips (exit 77) otherwise. Addresses are from 198.18.0.0/15 only (LAB.md).
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <iostream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "net/connection_resetter.h"
#include "net/garp.h"
#include "net/interface.h"
#include "net/netlink_watcher.h"
#include "net/vip_manager.h"
#include "net/vrrp_socket.h"
#include "net/vrrp_socket6.h"

using vipd::net::LinkEvent;
using vipd::vrrp::IpAddress;
using vipd::vrrp::IpPrefix;
using Clock = std::chrono::steady_clock;

namespace {

IpAddress ip(const char* s) { return *IpAddress::parse(s); }
IpPrefix pfx(const char* s) { return *IpPrefix::parse(s); }

std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) throw std::runtime_error("popen failed: " + cmd);
  char buf[512];
  while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
  const int rc = ::pclose(p);
  if (rc != 0)
    throw std::runtime_error("command failed (" + std::to_string(rc) + "): " + cmd + "\n" + out);
  return out;
}

bool wait_readable(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, ms) == 1;
}

// A's namespace is private to this process (unshare); B is named so `ip -n` can reach it.
// Everything is removed in the destructor, also when a check fails: dropping the last reference
// to A deletes its veth end (and with it the peer), and B is deleted by name.
class Lab {
 public:
  static constexpr const char* kA = "198.18.7.1";
  static constexpr const char* kB = "198.18.7.2";

  // Runs f with this thread in namespace B (sockets created there stay in B).
  template <class F>
  auto in_b(F&& f) {
    if (::setns(ns_b_, CLONE_NEWNET) != 0)
      throw std::system_error(errno, std::generic_category(), "setns B");
    struct Back {
      int fd;
      ~Back() { (void)::setns(fd, CLONE_NEWNET); }
    } back{ns_a_};
    return f();
  }

  Lab() {
    static int counter = 0;
    b_ = "vipdt" + std::to_string(::getpid()) + "n" + std::to_string(counter++);
    orig_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (orig_ < 0) throw std::system_error(errno, std::generic_category(), "open own netns");
    try {
      run("ip netns add " + b_);
      b_created_ = true;
      ns_b_ = ::open(("/run/netns/" + b_).c_str(), O_RDONLY | O_CLOEXEC);
      if (ns_b_ < 0) throw std::system_error(errno, std::generic_category(), "open netns " + b_);
      if (::unshare(CLONE_NEWNET) != 0)
        throw std::system_error(errno, std::generic_category(), "unshare(CLONE_NEWNET)");
      ns_a_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
      run("ip link set lo up");
      run("ip link add va type veth peer name vb netns " + b_);
      run(std::string("ip addr add ") + kA + "/24 dev va");
      run("ip link set va up");
      run("ip -n " + b_ + " link set lo up");
      run("ip -n " + b_ + " addr add " + kB + "/24 dev vb");
      run("ip -n " + b_ + " link set vb up");
      va_ = static_cast<int>(::if_nametoindex("va"));
      vb_ = in_b([] { return static_cast<int>(::if_nametoindex("vb")); });
      wait_for("va carrier", [] {
        std::string e;
        auto i = vipd::net::lookup_interface("va", e);
        return i && i->carrier;
      });
    } catch (...) {
      cleanup();
      throw;
    }
  }
  ~Lab() { cleanup(); }
  Lab(const Lab&) = delete;
  Lab& operator=(const Lab&) = delete;

  [[nodiscard]] const std::string& b() const { return b_; }
  [[nodiscard]] int va() const { return va_; }
  [[nodiscard]] int vb() const { return vb_; }

  static void wait_for(const std::string& what, const std::function<bool()>& pred, int ms = 3000) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(ms);
    while (!pred()) {
      if (Clock::now() > deadline) throw std::runtime_error("timed out waiting for " + what);
      ::usleep(5000);
    }
  }

 private:
  void cleanup() {
    if (orig_ >= 0) (void)::setns(orig_, CLONE_NEWNET);
    for (int* fd : {&ns_a_, &ns_b_, &orig_})
      if (*fd >= 0) {
        ::close(*fd);
        *fd = -1;
      }
    if (b_created_) {
      (void)std::system(("ip netns del " + b_ + " 2>/dev/null").c_str());
      b_created_ = false;
    }
  }

  std::string b_;
  bool b_created_ = false;
  int orig_ = -1;
  int ns_a_ = -1;
  int ns_b_ = -1;
  int va_ = 0;
  int vb_ = 0;
};

std::array<std::uint8_t, 6> mac_of(const char* ifname) {
  const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ifreq r{};
  std::strncpy(r.ifr_name, ifname, IFNAMSIZ - 1);
  const int rc = ::ioctl(s, SIOCGIFHWADDR, &r);
  ::close(s);
  if (rc != 0) throw std::system_error(errno, std::generic_category(), "SIOCGIFHWADDR");
  std::array<std::uint8_t, 6> m{};
  std::memcpy(m.data(), r.ifr_hwaddr.sa_data, 6);
  return m;
}

std::string mac_text(const std::array<std::uint8_t, 6>& m) {
  char b[18];
  std::snprintf(b, sizeof b, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
  return b;
}

}  // namespace

TEST_CASE("lookup_interface reads index, MAC, flags and the primary IPv4", "[netns]") {
  Lab lab;
  std::string error;
  auto info = vipd::net::lookup_interface("va", error);
  REQUIRE(info.has_value());
  CHECK(error.empty());
  CHECK(info->index == lab.va());
  CHECK(info->mac == mac_of("va"));
  CHECK(info->admin_up);
  CHECK(info->carrier);
  CHECK(info->usable());
  REQUIRE(info->primary_v4.has_value());
  CHECK(*info->primary_v4 == ip(Lab::kA));

  // A /32 VIP is a primary address of its own; `exclude` keeps it from being chosen, and a
  // secondary address in the /24 is never the primary.
  run("ip addr add 198.18.7.100/32 dev va");
  run("ip addr add 198.18.7.3/24 dev va");  // secondary
  info = vipd::net::lookup_interface("va", error, {ip(Lab::kA)});
  REQUIRE(info.has_value());
  CHECK(info->primary_v4 == ip("198.18.7.100"));
  info = vipd::net::lookup_interface("va", error, {ip(Lab::kA), ip("198.18.7.100")});
  REQUIRE(info.has_value());
  CHECK_FALSE(info->primary_v4.has_value());

  // Peer down: admin up, no carrier.
  run("ip -n " + lab.b() + " link set vb down");
  Lab::wait_for("carrier loss", [&] {
    info = vipd::net::lookup_interface("va", error);
    return info && !info->carrier;
  });
  CHECK(info->admin_up);
  CHECK_FALSE(info->usable());

  CHECK_FALSE(vipd::net::lookup_interface("eth9", error).has_value());
  CHECK(error == "interface 'eth9' does not exist (ip -br link lists the interfaces)");
  CHECK(vipd::net::has_capability(CAP_NET_ADMIN));
  CHECK(vipd::net::has_capability(CAP_NET_RAW));
}

TEST_CASE("VipManager add and remove are idempotent", "[netns]") {
  Lab lab;
  vipd::net::VipManager vm;
  const std::vector<IpPrefix> vips{pfx("198.18.7.100/32"), pfx("198.18.7.101/24")};

  auto r = vm.add(lab.va(), vips);
  REQUIRE(r.size() == 2);
  for (const auto& x : r) {
    INFO(x.vip.to_string() << ": " << x.error);
    CHECK(x.ok);
    CHECK(x.changed);
  }
  CHECK(r[0].vip == vips[0]);
  CHECK(vm.present(lab.va(), vips) == std::vector<bool>{true, true});
  const auto shown = run("ip -4 -o addr show dev va");
  CHECK(shown.find("inet 198.18.7.100/32") != std::string::npos);
  CHECK(shown.find("inet 198.18.7.101/24") != std::string::npos);
  // Same address, different prefix length: not "present".
  CHECK(vm.present(lab.va(), std::vector<IpPrefix>{pfx("198.18.7.100/24")}) ==
        std::vector<bool>{false});

  r = vm.add(lab.va(), vips);
  for (const auto& x : r) {
    CHECK(x.ok);
    CHECK_FALSE(x.changed);
    CHECK(x.error.empty());
  }

  r = vm.remove(lab.va(), vips);
  for (const auto& x : r) {
    INFO(x.error);
    CHECK(x.ok);
    CHECK(x.changed);
  }
  CHECK(vm.present(lab.va(), vips) == std::vector<bool>{false, false});
  r = vm.remove(lab.va(), vips);
  for (const auto& x : r) {
    CHECK(x.ok);
    CHECK_FALSE(x.changed);
  }

  // A vanished interface is an error with a sentence saying so.
  r = vm.add(987654, std::vector<IpPrefix>{vips[0]});
  REQUIRE(r.size() == 1);
  CHECK_FALSE(r[0].ok);
  CHECK(r[0].error ==
        "adding VIP 198.18.7.100/32 to ifindex 987654 failed: the interface vanished (ifindex "
        "987654 no longer exists)");
  CHECK(vm.add(lab.va(), std::vector<IpPrefix>{}).empty());
}

TEST_CASE("VipManager batch: 1,000 /32 VIPs added and removed", "[netns][batch]") {
  Lab lab;
  vipd::net::VipManager vm;
  std::vector<IpPrefix> vips;
  for (std::uint32_t i = 0; i < 1000; ++i)
    vips.push_back(IpPrefix{IpAddress::v4((198U << 24) | (18U << 16) | (100U << 8) + i), 32});
  REQUIRE(vips.back().to_string() == "198.18.103.231/32");

  using ms = std::chrono::duration<double, std::milli>;
  auto t0 = Clock::now();
  auto added = vm.add(lab.va(), vips);
  const ms add_time = Clock::now() - t0;
  t0 = Clock::now();
  const auto there = vm.present(lab.va(), vips);
  const ms present_time = Clock::now() - t0;
  t0 = Clock::now();
  auto again = vm.add(lab.va(), vips);
  const ms again_time = Clock::now() - t0;
  t0 = Clock::now();
  auto removed = vm.remove(lab.va(), vips);
  const ms remove_time = Clock::now() - t0;

  std::size_t ok_changed = 0, ok_unchanged = 0, ok_removed = 0;
  for (const auto& x : added) ok_changed += x.ok && x.changed;
  for (const auto& x : again) ok_unchanged += x.ok && !x.changed;
  for (const auto& x : removed) ok_removed += x.ok && x.changed;
  CHECK(ok_changed == 1000);
  CHECK(ok_unchanged == 1000);
  CHECK(ok_removed == 1000);
  CHECK(std::count(there.begin(), there.end(), true) == 1000);
  CHECK(std::count(there.begin(), there.end(), false) == 0);
  const auto after = vm.present(lab.va(), vips);
  CHECK(std::count(after.begin(), after.end(), true) == 0);

  // The same work one VIP per call (a full round trip each), for comparison.
  t0 = Clock::now();
  for (const auto& v : vips) vm.add(lab.va(), std::span(&v, 1));
  const ms seq_add = Clock::now() - t0;
  t0 = Clock::now();
  for (const auto& v : vips) vm.remove(lab.va(), std::span(&v, 1));
  const ms seq_remove = Clock::now() - t0;

  std::cout << "batch of 1000 IPv4 /32 VIPs: add " << add_time.count() << " ms, present() "
            << present_time.count() << " ms, re-add (all exist) " << again_time.count()
            << " ms, remove " << remove_time.count() << " ms; one per call: add " << seq_add.count()
            << " ms, remove " << seq_remove.count() << " ms\n";
}

TEST_CASE("missing capabilities give actionable errors", "[netns]") {
  Lab lab;
  int pipefd[2];
  REQUIRE(::pipe(pipefd) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(pipefd[0]);
    // Drop CAP_NET_ADMIN and CAP_NET_RAW from the effective set (still uid 0).
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2] = {};
    ::syscall(SYS_capget, &hdr, data);
    data[0].effective &= ~((1U << CAP_NET_ADMIN) | (1U << CAP_NET_RAW));
    std::string out;
    if (::syscall(SYS_capset, &hdr, data) != 0) out += "capset failed\n";
    out +=
        std::string("has_admin=") + (vipd::net::has_capability(CAP_NET_ADMIN) ? "1" : "0") + "\n";
    {
      vipd::net::VipManager vm;
      const std::vector<IpPrefix> v{pfx("198.18.7.100/32")};
      out += vm.add(lab.va(), v)[0].error + "\n";
      out += vm.remove(lab.va(), v)[0].error + "\n";
    }
    try {
      vipd::net::VrrpSocket s("va", lab.va(), ip(Lab::kA));
      out += "raw socket opened\n";
    } catch (const std::system_error& e) {
      out += std::string(e.what()) + "\n";
    }
    try {
      vipd::net::GarpSender g(lab.va(), {});
      out += "packet socket opened\n";
    } catch (const std::system_error& e) {
      out += std::string(e.what()) + "\n";
    }
    (void)!::write(pipefd[1], out.data(), out.size());
    ::_exit(0);
  }
  ::close(pipefd[1]);
  std::string out;
  char buf[1024];
  for (ssize_t n; (n = ::read(pipefd[0], buf, sizeof buf)) > 0;)
    out.append(buf, static_cast<std::size_t>(n));
  ::close(pipefd[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  INFO(out);
  CHECK(WIFEXITED(status));
  CHECK(out.find("has_admin=0\n") != std::string::npos);
  CHECK(out.find("adding VIP 198.18.7.100/32 to ifindex " + std::to_string(lab.va()) +
                 " needs CAP_NET_ADMIN (run as root or grant CAP_NET_ADMIN)") != std::string::npos);
  CHECK(out.find("removing VIP 198.18.7.100/32 from ifindex " + std::to_string(lab.va()) +
                 " needs CAP_NET_ADMIN") != std::string::npos);
  CHECK(out.find("opening the VRRP raw socket needs CAP_NET_RAW (run as root or grant "
                 "CAP_NET_RAW)") != std::string::npos);
  CHECK(out.find("opening the gratuitous ARP packet socket needs CAP_NET_RAW") !=
        std::string::npos);
}

TEST_CASE("NetlinkWatcher reports address and link changes", "[netns]") {
  Lab lab;
  std::vector<vipd::net::AddressEvent> addrs;
  std::vector<LinkEvent> links;
  int resyncs = 0;
  vipd::net::NetlinkWatcher w({[&](const LinkEvent& e) { links.push_back(e); },
                               [&](const vipd::net::AddressEvent& e) { addrs.push_back(e); },
                               [&] { ++resyncs; }});
  const auto pump_until = [&](const std::string& what, const std::function<bool()>& pred) {
    const auto deadline = Clock::now() + std::chrono::seconds(3);
    while (!pred()) {
      if (Clock::now() > deadline) FAIL("timed out waiting for " << what);
      if (wait_readable(w.fd(), 50)) w.dispatch();
    }
  };
  const auto vip = pfx("198.18.7.60/32");
  const auto has_addr = [&](bool added) {
    return std::any_of(addrs.begin(), addrs.end(), [&](const auto& e) {
      return e.added == added && e.prefix == vip && e.ifindex == lab.va();
    });
  };

  run("ip addr add 198.18.7.60/32 dev va");
  pump_until("NEWADDR", [&] { return has_addr(true); });
  run("ip addr del 198.18.7.60/32 dev va");
  pump_until("DELADDR", [&] { return has_addr(false); });

  run("ip -n " + lab.b() + " link set vb down");
  pump_until("carrier loss on va", [&] {
    return std::any_of(links.begin(), links.end(), [&](const LinkEvent& e) {
      return e.ifindex == lab.va() && e.name == "va" && e.exists && e.admin_up && !e.carrier;
    });
  });
  CHECK_FALSE(links.back().usable());

  run("ip link del va");
  pump_until("DELLINK of va", [&] {
    return std::any_of(links.begin(), links.end(),
                       [&](const LinkEvent& e) { return e.ifindex == lab.va() && !e.exists; });
  });
  CHECK(resyncs == 0);
  // Nothing queued: dispatch() returns at once on the non-blocking socket.
  w.dispatch();
}

TEST_CASE("VrrpSocket: multicast and unicast adverts cross the veth with TTL 255", "[netns]") {
  Lab lab;
  vipd::net::VrrpSocket tx("va", lab.va(), ip(Lab::kA));
  vipd::net::VrrpSocket same_host("va", lab.va(), ip(Lab::kA));  // another listener in A
  auto rx = lab.in_b(
      [&] { return std::make_unique<vipd::net::VrrpSocket>("vb", lab.vb(), ip(Lab::kB)); });
  const std::vector<std::uint8_t> payload{0x31, 0x33, 0x64, 0x01, 0x00, 0x64, 0xab, 0xcd,
                                          198,  18,   7,    100,  1,    2,    3};

  REQUIRE(tx.send(payload, ip("224.0.0.18")) == 0);
  REQUIRE(wait_readable(rx->fd(), 2000));
  auto p = rx->receive();
  REQUIRE(p.has_value());
  CHECK(p->source == ip(Lab::kA));
  CHECK(p->destination == ip("224.0.0.18"));
  CHECK(p->ttl == 255);
  CHECK(p->ifindex == lab.vb());
  CHECK(p->payload == payload);
  CHECK_FALSE(rx->receive().has_value());  // non-blocking, nothing more

  // Own adverts are not looped back: neither the sender nor another socket on this host hears it.
  CHECK_FALSE(wait_readable(tx.fd(), 200));
  CHECK_FALSE(wait_readable(same_host.fd(), 1));

  // Unicast to the peer.
  REQUIRE(tx.send(payload, ip(Lab::kB)) == 0);
  REQUIRE(wait_readable(rx->fd(), 2000));
  p = rx->receive();
  REQUIRE(p.has_value());
  CHECK(p->source == ip(Lab::kA));
  CHECK(p->destination == ip(Lab::kB));
  CHECK(p->ttl == 255);
  CHECK(p->payload == payload);

  // The source follows set_source() for both kinds of destination (IP_PKTINFO ipi_spec_dst).
  run("ip addr add 198.18.7.9/24 dev va");
  tx.set_source(ip("198.18.7.9"));
  for (const char* dst : {"224.0.0.18", Lab::kB}) {
    REQUIRE(tx.send(payload, ip(dst)) == 0);
    REQUIRE(wait_readable(rx->fd(), 2000));
    p = rx->receive();
    REQUIRE(p.has_value());
    CHECK(p->source == ip("198.18.7.9"));
    CHECK(p->destination == ip(dst));
  }

  // And back: the peer's adverts reach A.
  REQUIRE(rx->send(payload, ip("224.0.0.18")) == 0);
  REQUIRE(wait_readable(tx.fd(), 2000));
  p = tx.receive();
  REQUIRE(p.has_value());
  CHECK(p->source == ip(Lab::kB));
  CHECK(p->ifindex == lab.va());
}

TEST_CASE("VrrpSocket6: the kernel runs the IPv6 advert filter (VRID, unicast peers, sample)",
          "[netns][filter]") {
  Lab lab;
  // Two sources in B (2001:db8::/32, LAB.md; no DAD so they are usable at once).
  run("ip -n " + lab.b() + " addr add 2001:db8:7::2/64 dev vb nodad");
  run("ip -n " + lab.b() + " addr add 2001:db8:7::3/64 dev vb nodad");
  vipd::net::VrrpSocket6 rx("va", lab.va());
  auto tx = lab.in_b([&] { return std::make_unique<vipd::net::VrrpSocket6>("vb", lab.vb()); });
  const auto peer = ip("2001:db8:7::2");
  const auto stranger = ip("2001:db8:7::3");
  // VRID 51: unicast instance with one peer; VRID 52: multicast, any source.
  const std::array<vipd::app::AcceptedAdvert, 2> accepted{{{3, 51, {peer}}, {3, 52, {}}}};
  REQUIRE(rx.accept_only(accepted) == 0);

  // How many of n adverts (version/type 0x31, `vrid`) sent from `source` reach rx: sent in
  // batches of 32, each drained until 50 ms pass without a packet (the queue never overflows).
  const auto passed = [&](std::uint8_t vrid, const IpAddress& source, int n) {
    const std::vector<std::uint8_t> advert{0x31, vrid, 100,  1,    0x00, 0x64, 0, 0,
                                           0x20, 0x01, 0x0d, 0xb8, 0,    0,    0, 0,
                                           0,    0,    0,    0,    0,    0,    1, 0};
    int got = 0;
    for (int sent = 0; sent < n;) {
      for (int i = 0; i < 32 && sent < n; ++i, ++sent)
        REQUIRE(tx->send(advert, source, ip("ff02::12")) == 0);
      while (wait_readable(rx.fd(), 50))
        while (auto p = rx.receive()) {
          CHECK(p->payload == advert);
          CHECK(p->source == source);
          CHECK(p->ttl == 255);
          ++got;
        }
    }
    return got;
  };
  CHECK(passed(51, peer, 100) == 100);
  CHECK(passed(52, stranger, 100) == 100);
  CHECK(passed(52, peer, 100) == 100);
  // VRID 51 from a non-peer, and an unknown VRID: only the 1-in-64 sample (expect 20 of 1,280).
  for (const auto& [vrid, source] :
       {std::pair{std::uint8_t{51}, stranger}, std::pair{std::uint8_t{50}, peer}}) {
    const int got = passed(vrid, source, 1280);
    INFO("VRID " << int(vrid) << " passed " << got << " of 1280");
    CHECK(got >= 1);
    CHECK(got <= 60);
  }
}

TEST_CASE("GarpSender: both GARP forms reach the peer and update its neighbour entry", "[netns]") {
  Lab lab;
  const auto mac = mac_of("va");
  const auto vip = ip("198.18.7.100");
  // The peer knows the VIP at another MAC (the old master's); GARP must move it to ours.
  run("ip -n " + lab.b() + " neigh replace 198.18.7.100 lladdr 02:00:00:00:00:99 dev vb nud stale");
  const int sniff = lab.in_b([] {
    return ::socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_ARP));
  });
  REQUIRE(sniff >= 0);
  sockaddr_ll bind_to{};
  bind_to.sll_family = AF_PACKET;
  bind_to.sll_protocol = htons(ETH_P_ARP);
  bind_to.sll_ifindex = lab.vb();
  REQUIRE(::bind(sniff, reinterpret_cast<sockaddr*>(&bind_to), sizeof bind_to) == 0);

  vipd::net::GarpSender g(lab.va(), mac);
  const std::vector<IpAddress> vips{vip};
  CHECK(g.announce(vips) == 2);

  std::vector<std::array<std::uint8_t, 28>> seen;
  const auto deadline = Clock::now() + std::chrono::seconds(2);
  while (seen.size() < 2 && Clock::now() < deadline) {
    if (!wait_readable(sniff, 100)) continue;
    std::array<std::uint8_t, 64> buf{};
    sockaddr_ll from{};
    socklen_t fl = sizeof from;
    const auto n =
        ::recvfrom(sniff, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &fl);
    if (n < 28 || from.sll_pkttype != PACKET_BROADCAST) continue;
    if (std::memcmp(from.sll_addr, mac.data(), 6) != 0) continue;  // only frames from va
    std::array<std::uint8_t, 28> body{};
    std::memcpy(body.data(), buf.data(), 28);
    seen.push_back(body);
  }
  ::close(sniff);
  REQUIRE(seen.size() == 2);
  CHECK(seen[0] == vipd::net::garp_frame(mac, vip, false));
  CHECK(seen[1] == vipd::net::garp_frame(mac, vip, true));

  Lab::wait_for("the peer's neighbour entry to move to our MAC", [&] {
    return run("ip -n " + lab.b() + " neigh show 198.18.7.100 dev vb").find(mac_text(mac)) !=
           std::string::npos;
  });
  // IPv6 VIPs are skipped (unsolicited NA comes later).
  CHECK(g.announce(std::vector<IpAddress>{ip("2001:db8::1")}) == 0);
}

TEST_CASE("NetlinkWatcher asks for a resync when the kernel dropped events", "[netns]") {
  Lab lab;
  std::size_t addr_events = 0;
  int resyncs = 0;
  vipd::net::NetlinkWatcher w(
      {nullptr, [&](const vipd::net::AddressEvent&) { ++addr_events; }, [&] { ++resyncs; }});
  // Shrink the 4 MiB buffer the watcher set, so a burst overruns it (ENOBUFS -> NLE_NOMEM).
  const int small = 4096;
  REQUIRE(::setsockopt(w.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small) == 0);
  vipd::net::VipManager vm;
  std::vector<IpPrefix> vips;
  for (std::uint32_t i = 0; i < 300; ++i)
    vips.push_back(IpPrefix{IpAddress::v4((198U << 24) | (18U << 16) | (100U << 8) + i), 32});
  const auto added = vm.add(lab.va(), vips);
  REQUIRE(std::all_of(added.begin(), added.end(), [](const auto& r) { return r.ok; }));
  REQUIRE(wait_readable(w.fd(), 1000));
  w.dispatch();
  CHECK(resyncs == 1);
  CHECK(addr_events < 300);
  // The socket keeps working after the overrun.
  addr_events = 0;
  run("ip addr add 198.18.7.61/32 dev va");
  const auto deadline = Clock::now() + std::chrono::seconds(3);
  while (addr_events == 0 && Clock::now() < deadline)
    if (wait_readable(w.fd(), 50)) w.dispatch();
  CHECK(addr_events == 1);
}

// --- Connection reset (SOCK_DESTROY) --------------------------------------------------------

namespace {

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(Fd&& o) noexcept : fd(std::exchange(o.fd, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    std::swap(fd, o.fd);
    return *this;
  }
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

sockaddr_storage sockaddr_of(const char* address, std::uint16_t port, socklen_t& len) {
  sockaddr_storage ss{};
  if (std::strchr(address, ':') != nullptr) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    ::inet_pton(AF_INET6, address, &a->sin6_addr);
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    ::inet_pton(AF_INET, address, &a->sin_addr);
    len = sizeof *a;
  }
  return ss;
}

Fd tcp_listen(const char* address, std::uint16_t port, bool v6only = true) {
  socklen_t len = 0;
  const auto sa = sockaddr_of(address, port, len);
  Fd s(::socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const int on = 1;
  ::setsockopt(s.fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (sa.ss_family == AF_INET6) {
    const int only = v6only ? 1 : 0;
    ::setsockopt(s.fd, IPPROTO_IPV6, IPV6_V6ONLY, &only, sizeof only);
  }
  if (::bind(s.fd, reinterpret_cast<const sockaddr*>(&sa), len) != 0 || ::listen(s.fd, 4096) != 0)
    throw std::system_error(errno, std::generic_category(),
                            std::string("listen on ") + address + ":" + std::to_string(port));
  return s;
}

Fd tcp_connect(const char* address, std::uint16_t port, const char* from = nullptr) {
  socklen_t len = 0;
  const auto sa = sockaddr_of(address, port, len);
  Fd s(::socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (from != nullptr) {
    socklen_t flen = 0;
    const auto fa = sockaddr_of(from, 0, flen);
    if (::bind(s.fd, reinterpret_cast<const sockaddr*>(&fa), flen) != 0)
      throw std::system_error(errno, std::generic_category(), std::string("bind ") + from);
  }
  if (::connect(s.fd, reinterpret_cast<const sockaddr*>(&sa), len) != 0)
    throw std::system_error(errno, std::generic_category(),
                            std::string("connect to ") + address + ":" + std::to_string(port));
  return s;
}

Fd tcp_accept(const Fd& listener) {
  Fd s(::accept4(listener.fd, nullptr, nullptr, SOCK_CLOEXEC));
  if (s.fd < 0) throw std::system_error(errno, std::generic_category(), "accept");
  return s;
}

// What a client sees within `ms`: "reset" (ECONNRESET), "alive" (nothing happened), or another
// error/EOF by name.
std::string client_sees(const Fd& s, int ms) {
  pollfd p{s.fd, POLLIN, 0};
  if (::poll(&p, 1, ms) == 0) return "alive";
  char c = 0;
  const auto n = ::recv(s.fd, &c, 1, MSG_DONTWAIT);
  if (n == 0) return "eof";
  if (n > 0) return "data";
  return errno == ECONNRESET ? "reset" : std::strerror(errno);
}

}  // namespace

TEST_CASE("reset_connections destroys the connections of the given addresses, and only those",
          "[netns][reset]") {
  Lab lab;
  run("ip addr add 198.18.7.100/24 dev va");  // the VIP to release
  run("ip addr add 198.18.7.101/24 dev va");  // another instance's VIP, still held
  run("ip -n " + lab.b() + " addr add 198.18.7.200/24 dev vb");
  auto any = tcp_listen("0.0.0.0", 8080);                // the usual proxy listener
  auto on_vip = tcp_listen("198.18.7.100", 8081);        // a listener bound to the VIP itself
  auto dual = tcp_listen("::", 8082, /*v6only=*/false);  // dual-stack: v4-mapped connections
  auto peer = lab.in_b([] { return tcp_listen("198.18.7.200", 9090); });

  auto c_accepted = lab.in_b([] { return tcp_connect("198.18.7.100", 8080); });
  auto s_accepted = tcp_accept(any);
  auto c_on_vip = lab.in_b([] { return tcp_connect("198.18.7.100", 8081); });
  auto s_on_vip = tcp_accept(on_vip);
  auto c_mapped = lab.in_b([] { return tcp_connect("198.18.7.100", 8082); });
  auto s_mapped = tcp_accept(dual);
  auto c_own = lab.in_b([] { return tcp_connect(Lab::kA, 8080); });
  auto s_own = tcp_accept(any);
  auto c_other_vip = lab.in_b([] { return tcp_connect("198.18.7.101", 8080); });
  auto s_other_vip = tcp_accept(any);
  // Outgoing from the VIP (a proxy with proxy_bind): its local address is the VIP too.
  auto out_from_vip = tcp_connect("198.18.7.200", 9090, "198.18.7.100");
  auto peer_side = lab.in_b([&] { return tcp_accept(peer); });
  // Last: a connection the proxy never accepts (hung), waiting in the accept queue.
  auto c_queued = lab.in_b([] { return tcp_connect("198.18.7.100", 8080); });
  // UDP on the VIP is never touched.
  Fd udp(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  socklen_t ulen = 0;
  const auto ua = sockaddr_of("198.18.7.100", 5353, ulen);
  REQUIRE(::bind(udp.fd, reinterpret_cast<const sockaddr*>(&ua), ulen) == 0);

  const std::vector<IpAddress> released{ip("198.18.7.100")};
  const auto r = vipd::net::reset_connections(released);
  INFO(r.error);
  CHECK(r.failure == vipd::net::ResetResult::Failure::None);
  // accepted, on_vip, mapped, outgoing, queued.
  CHECK(r.matched == 5);
  CHECK(r.reset == 5);
  CHECK(r.gone == 0);
  std::cout << "reset_connections: 5 of 11 connections: dump " << r.dump_time.count() / 1000.0
            << " ms, destroy " << r.destroy_time.count() / 1000.0 << " ms\n";

  CHECK(client_sees(c_accepted, 1000) == "reset");
  CHECK(client_sees(c_on_vip, 1000) == "reset");
  CHECK(client_sees(c_mapped, 1000) == "reset");
  CHECK(client_sees(c_queued, 1000) == "reset");
  CHECK(client_sees(peer_side, 1000) == "reset");
  CHECK(client_sees(c_own, 100) == "alive");
  CHECK(client_sees(c_other_vip, 100) == "alive");
  // The surviving connections still carry data both ways.
  REQUIRE(::send(s_own.fd, "x", 1, 0) == 1);
  CHECK(client_sees(c_own, 1000) == "data");
  REQUIRE(::send(c_other_vip.fd, "y", 1, 0) == 1);
  CHECK(client_sees(s_other_vip, 1000) == "data");
  int err = 0;
  socklen_t elen = sizeof err;
  REQUIRE(::getsockopt(udp.fd, SOL_SOCKET, SO_ERROR, &err, &elen) == 0);
  CHECK(err == 0);
  // Every listener still accepts, the one bound to the VIP included.
  for (std::uint16_t port : {8080, 8081, 8082}) {
    INFO("port " << port);
    CHECK_NOTHROW(lab.in_b([port] { return tcp_connect("198.18.7.100", port); }));
  }
  const auto listening = run("ss -Htln");
  CHECK(listening.find("198.18.7.100:8081") != std::string::npos);
  CHECK(listening.find("0.0.0.0:8080") != std::string::npos);

  // Nothing of ours is left to reset; an empty set is a no-op.
  const auto again = vipd::net::reset_connections(std::vector<IpAddress>{ip("198.18.7.100")});
  CHECK(again.failure == vipd::net::ResetResult::Failure::None);
  CHECK(again.reset == 3);  // the three connections made just above
  CHECK(vipd::net::reset_connections({}).matched == 0);
}

TEST_CASE("reset_connections with 10,000 connections: dump and destroy time",
          "[netns][reset][batch]") {
  // 10,000 connections need 20,000 descriptors, more than one process may have here (the hard
  // RLIMIT_NOFILE is 20,000): the clients live in a child process, in namespace B.
  Lab lab;
  constexpr int kConnections = 10000;
  run("ip addr add 198.18.7.100/24 dev va");
  auto listener = tcp_listen("0.0.0.0", 8080);
  int to_child[2], from_child[2];
  REQUIRE(::pipe(to_child) == 0);
  REQUIRE(::pipe(from_child) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    int resets = -1;
    try {
      std::vector<Fd> clients;
      for (int i = 0; i < kConnections; ++i)
        clients.push_back(lab.in_b([] { return tcp_connect("198.18.7.100", 8080); }));
      char go = 0;
      (void)::write(from_child[1], "r", 1);
      (void)::read(to_child[0], &go, 1);
      std::vector<pollfd> polls;
      for (const auto& c : clients) polls.push_back({c.fd, POLLIN, 0});
      resets = 0;
      const auto deadline = Clock::now() + std::chrono::seconds(5);
      while (resets < kConnections && Clock::now() < deadline) {
        ::poll(polls.data(), polls.size(), 100);
        for (auto& p : polls)
          if (p.fd >= 0 && p.revents != 0) {
            char c = 0;
            if (::recv(p.fd, &c, 1, MSG_DONTWAIT) < 0 && errno == ECONNRESET) ++resets;
            p.fd = -1;
          }
      }
    } catch (...) {
      (void)::write(from_child[1], "e", 1);
    }
    (void)::write(from_child[1], &resets, sizeof resets);
    ::_exit(0);
  }
  std::vector<Fd> servers;
  for (int i = 0; i < kConnections; ++i) servers.push_back(tcp_accept(listener));
  char ready = 0;
  REQUIRE(::read(from_child[0], &ready, 1) == 1);
  REQUIRE(ready == 'r');
  // Noise the filter must skip: connections to the node's own address.
  std::vector<Fd> own;
  for (int i = 0; i < 100; ++i) {
    own.push_back(lab.in_b([] { return tcp_connect(Lab::kA, 8080); }));
    servers.push_back(tcp_accept(listener));
  }

  const auto t0 = Clock::now();
  const auto r = vipd::net::reset_connections(std::vector<IpAddress>{ip("198.18.7.100")});
  const std::chrono::duration<double, std::milli> total = Clock::now() - t0;
  (void)::write(to_child[1], "g", 1);
  int resets = -1;
  REQUIRE(::read(from_child[0], &resets, sizeof resets) == sizeof resets);
  int status = 0;
  ::waitpid(child, &status, 0);
  for (int fd : {to_child[0], to_child[1], from_child[0], from_child[1]}) ::close(fd);
  INFO(r.error);
  CHECK(r.failure == vipd::net::ResetResult::Failure::None);
  CHECK(r.matched == kConnections);
  CHECK(r.reset == kConnections);
  CHECK(resets == kConnections);
  for (const auto& o : own) CHECK(client_sees(o, 0) == "alive");
  std::cout << "reset_connections: " << kConnections << " established connections to one VIP (+"
            << own.size() << " to another address): dump " << r.dump_time.count() / 1000.0
            << " ms, destroy " << r.destroy_time.count() / 1000.0 << " ms, total " << total.count()
            << " ms\n";
}
