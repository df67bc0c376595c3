// net::NetlinkRouteTable (route mode, issue 16) against the real kernel, each case in a private
// network namespace (unshare) of its own: routes in table 198 with protocol 99, the metric
// replaced without ever two routes (delete + add in one datagram), local routes, the start-up
// sweep. Needs root (the ctest wrapper skips otherwise). Addresses from 198.19.0.0/24 and
// 2001:db8::/32 only (LAB.md).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "net/route_table.h"

using vipd::net::NetlinkRouteTable;
using vipd::vrrp::IpPrefix;

namespace {

IpPrefix pfx(const char* s) { return *IpPrefix::parse(s); }

std::string sh(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) throw std::runtime_error("popen failed: " + cmd);
  char buf[512];
  while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
  if (const int rc = ::pclose(p); rc != 0)
    throw std::runtime_error("command failed (" + std::to_string(rc) + "): " + cmd + "\n" + out);
  return out;
}

/// This thread in a fresh network namespace with lo up, until the end of the scope (the
/// namespace, and every route in it, goes away with the last reference).
class PrivateNetns {
 public:
  PrivateNetns() : home_(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) {
    if (home_ < 0) throw std::system_error(errno, std::generic_category(), "open ns");
    if (::unshare(CLONE_NEWNET) != 0)
      throw std::system_error(errno, std::generic_category(), "unshare(CLONE_NEWNET)");
    sh("ip link set lo up");
  }
  ~PrivateNetns() {
    (void)::setns(home_, CLONE_NEWNET);
    ::close(home_);
  }
  PrivateNetns(const PrivateNetns&) = delete;
  PrivateNetns& operator=(const PrivateNetns&) = delete;

 private:
  int home_;
};

bool can_bind(const char* address) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  ::inet_pton(AF_INET, address, &a.sin_addr);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

TEST_CASE("route table: install, replace, withdraw a host route in table 198", "[route][netns]") {
  PrivateNetns ns;
  NetlinkRouteTable routes(198, 99);
  const auto vip = pfx("198.19.0.100/32");
  CHECK(routes.installed(vip).empty());
  auto r = routes.install(vip, 106, std::nullopt);
  INFO(r.error);
  REQUIRE(r.ok);
  CHECK(routes.installed(vip) == std::vector<std::uint32_t>{106});
  // -N: numbers (iproute2 names protocol 99 "openr", scope 253 "link").
  const auto shown = sh("ip -N route show table 198");
  CHECK(shown.find("198.19.0.100 dev lo proto 99 scope 253 metric 106") != std::string::npos);
  // Installing again is idempotent (NLM_F_REPLACE on the same key).
  REQUIRE(routes.install(vip, 106, std::nullopt).ok);
  CHECK(routes.installed(vip) == std::vector<std::uint32_t>{106});
  r = routes.install(vip, 166, 106);
  INFO(r.error);
  REQUIRE(r.ok);
  CHECK(routes.installed(vip) == std::vector<std::uint32_t>{166});
  CHECK(sh("ip route show table main").find("198.19.0.100") == std::string::npos);
  REQUIRE(routes.withdraw(vip, 166).ok);
  CHECK(routes.installed(vip).empty());
  // Withdrawing what is not there is success (idempotent).
  CHECK(routes.withdraw(vip, 166).ok);
}

TEST_CASE("route table: a metric change never leaves two routes in the table", "[route][netns]") {
  PrivateNetns ns;
  NetlinkRouteTable routes(198, 99);
  NetlinkRouteTable observer(198, 99);  // its own sockets: an independent reader
  const auto vip = pfx("198.19.0.100/32");
  REQUIRE(routes.install(vip, 106, std::nullopt).ok);
  std::atomic<bool> done{false};
  std::atomic<int> zero{0};
  std::atomic<int> two{0};
  std::atomic<int> reads{0};
  // The reader thread is created in this namespace and stays in it.
  std::thread reader([&] {
    while (!done.load()) {
      const auto n = observer.installed(vip).size();
      if (n == 0) ++zero;
      if (n == 2) ++two;
      ++reads;
    }
  });
  std::uint32_t metric = 106;
  // At least 400 changes, and on until the reader has looked 200 times (a loaded machine).
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (int i = 0; i < 400 || (reads.load() < 200 && std::chrono::steady_clock::now() < until);
       ++i) {
    const std::uint32_t next = metric == 106 ? 166 : 106;
    const auto r = routes.install(vip, next, metric);
    if (!r.ok) {
      done = true;
      reader.join();
      FAIL(r.error);
    }
    metric = next;
  }
  done = true;
  reader.join();
  INFO("reads " << reads.load() << ", zero routes seen " << zero.load());
  CHECK(reads.load() > 100);
  // Delete-then-add in one datagram: never two routes (the add-first order would show two).
  // A reader may catch the microseconds between the two messages (zero): FRR's zebra, which
  // drains the notifications before it acts, sees one replacement (netns/test_route_frr).
  CHECK(two.load() == 0);
  CHECK(routes.installed(vip) == std::vector<std::uint32_t>{metric});
}

TEST_CASE("route table: add-first (BIRD) never leaves the VIP without a route", "[route][netns]") {
  PrivateNetns ns;
  NetlinkRouteTable routes(198, 99, /*add_first=*/true);
  NetlinkRouteTable observer(198, 99);
  const auto vip = pfx("198.19.0.100/32");
  REQUIRE(routes.install(vip, 106, std::nullopt).ok);
  std::atomic<bool> done{false};
  std::atomic<int> zero{0};
  std::atomic<int> reads{0};
  std::thread reader([&] {
    while (!done.load()) {
      if (observer.installed(vip).empty()) ++zero;
      ++reads;
    }
  });
  std::uint32_t metric = 106;
  bool ok = true;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (int i = 0;
       ok && (i < 400 || (reads.load() < 200 && std::chrono::steady_clock::now() < until)); ++i) {
    const std::uint32_t next = metric == 106 ? 166 : 106;
    ok = routes.install(vip, next, metric).ok;
    metric = next;
  }
  done = true;
  reader.join();
  REQUIRE(ok);
  INFO("reads " << reads.load());
  CHECK(reads.load() > 100);
  CHECK(zero.load() == 0);  // the new route is in before the old one goes
  CHECK(routes.installed(vip) == std::vector<std::uint32_t>{metric});
}

TEST_CASE("route table: the local route makes the VIP answerable, not an address",
          "[route][netns]") {
  PrivateNetns ns;
  NetlinkRouteTable routes(198, 99);
  const auto vip = pfx("198.19.0.100/32");
  CHECK_FALSE(can_bind("198.19.0.100"));
  REQUIRE(routes.add_local(vip).ok);
  REQUIRE(routes.add_local(vip).ok);  // idempotent
  CHECK(can_bind("198.19.0.100"));
  // -N: type 2 is RTN_LOCAL, scope 254 host.
  CHECK(sh("ip -N route show table local").find("2 198.19.0.100 dev lo proto 99 scope 254") !=
        std::string::npos);
  CHECK(sh("ip -4 addr show dev lo").find("198.19.0.100") == std::string::npos);
  REQUIRE(routes.remove_local(vip).ok);
  CHECK_FALSE(can_bind("198.19.0.100"));
  CHECK(routes.remove_local(vip).ok);
}

TEST_CASE("route table: the sweep removes only this protocol's leftovers", "[route][netns]") {
  PrivateNetns ns;
  sh("ip route add 198.19.0.5/32 dev lo table 198 proto 99 metric 7");
  sh("ip route add 198.19.0.8/32 dev lo table 198 proto 99 metric 9");
  sh("ip route add local 198.19.0.6 dev lo table local proto 99");
  sh("ip route add local 198.19.0.9 dev lo table local proto 99");
  sh("ip route add 198.19.0.7/32 dev lo table 198 proto 98 metric 7");  // someone else's
  sh("ip route add 198.19.0.5/32 dev lo table 197 proto 99 metric 7");  // another table
  NetlinkRouteTable routes(198, 99);
  const std::vector<IpPrefix> keep_routes{pfx("198.19.0.8/32")};
  const std::vector<IpPrefix> keep_local{pfx("198.19.0.9/32")};
  CHECK(routes.sweep(keep_routes, keep_local) == 2);
  const auto t198 = sh("ip route show table 198");
  CHECK(t198.find("198.19.0.5") == std::string::npos);
  CHECK(t198.find("198.19.0.8 dev lo proto") != std::string::npos);  // kept
  CHECK(t198.find("198.19.0.7 dev lo proto") != std::string::npos);
  CHECK(sh("ip route show table 197").find("198.19.0.5") != std::string::npos);
  const auto local = sh("ip route show table local");
  CHECK(local.find("198.19.0.6") == std::string::npos);
  CHECK(local.find("local 198.19.0.9") != std::string::npos);
  CHECK(routes.sweep({}, {}) == 2);
  CHECK(routes.sweep({}, {}) == 0);
}

TEST_CASE("route table: IPv6 host routes", "[route][netns]") {
  PrivateNetns ns;
  NetlinkRouteTable routes(198, 99);
  const auto vip = pfx("2001:db8::10/128");
  auto r = routes.install(vip, 106, std::nullopt);
  INFO(r.error);
  REQUIRE(r.ok);
  r = routes.install(vip, 56, 106);
  INFO(r.error);
  REQUIRE(r.ok);
  CHECK(routes.installed(vip) == std::vector<std::uint32_t>{56});
  REQUIRE(routes.add_local(vip).ok);
  CHECK(sh("ip -N -6 route show table local").find("2 2001:db8::10 dev lo proto 99") !=
        std::string::npos);
  CHECK(routes.sweep({}, {}) == 2);
}

TEST_CASE("route table: a local route replaced by another protocol is not removed by the first",
          "[route][netns]") {
  // A reload that changes the protocol: the new instance's local route replaces the old one in
  // place (same key), and the old instance's removal, which names its protocol, leaves it.
  PrivateNetns ns;
  NetlinkRouteTable old_routes(198, 99);
  NetlinkRouteTable new_routes(198, 97);
  const auto vip = pfx("198.19.0.100/32");
  REQUIRE(old_routes.add_local(vip).ok);
  REQUIRE(new_routes.add_local(vip).ok);
  CHECK(sh("ip -N route show table local").find("2 198.19.0.100 dev lo proto 97") !=
        std::string::npos);
  CHECK(old_routes.remove_local(vip).ok);  // ESRCH counts as done
  CHECK(sh("ip -N route show table local").find("2 198.19.0.100 dev lo proto 97") !=
        std::string::npos);
}
