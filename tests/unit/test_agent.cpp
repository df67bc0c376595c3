// In-process tests of the Agent over a fake Platform (issue 11): no root, no kernel adapters.
#include <sys/eventfd.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <functional>
#include <stdexcept>

#include "app/agent.h"
#include "app/ports.h"
#include "config/config.h"

namespace {

using vipd::vrrp::IpAddress;
using vipd::vrrp::IpPrefix;

/// An fd the loop can watch that never becomes readable.
struct QuietFd {
  int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  ~QuietFd() { ::close(fd); }
};

class QuietChannel final : public vipd::app::AdvertChannel {
 public:
  int send(std::span<const std::uint8_t>, const IpAddress&, const IpAddress&) override { return 0; }
  std::optional<vipd::vrrp::Datagram> receive() override { return std::nullopt; }
  [[nodiscard]] int fd() const override { return fd_.fd; }

 private:
  QuietFd fd_;
};

class QuietAnnouncer final : public vipd::app::Announcer {
 public:
  int announce(std::span<const IpAddress> vips) override { return static_cast<int>(vips.size()); }
};

/// A table whose dump can be made to fail (a netlink error during a scrape).
class FlakyTable final : public vipd::app::VipTable {
 public:
  FlakyTable(bool& fail, vipd::app::AddressSet foreign)
      : fail_(fail), foreign_(std::move(foreign)) {}
  std::vector<vipd::app::VipOpResult> add(int, std::span<const IpPrefix> v) override {
    return ok(v);
  }
  std::vector<vipd::app::VipOpResult> remove(int, std::span<const IpPrefix> v) override {
    return ok(v);
  }
  std::vector<bool> present(int, std::span<const IpPrefix> v) override {
    return std::vector<bool>(v.size());
  }
  vipd::app::AddressSet addresses() override {
    if (fail_) throw std::runtime_error("netlink: dump interrupted");
    return {};
  }
  vipd::app::AddressSet foreign_addresses() override { return foreign_; }

 private:
  static std::vector<vipd::app::VipOpResult> ok(std::span<const IpPrefix> v) {
    std::vector<vipd::app::VipOpResult> out;
    for (const auto& p : v) out.push_back({p, true, true, ""});
    return out;
  }
  bool& fail_;
  vipd::app::AddressSet foreign_;
};

class FakeWatcher final : public vipd::app::Watcher {
 public:
  explicit FakeWatcher(Handlers h, std::function<void(FakeWatcher*)> keep)
      : handlers(std::move(h)) {
    keep(this);
  }
  [[nodiscard]] int fd() const override { return fd_.fd; }
  void dispatch() override {}
  Handlers handlers;

 private:
  QuietFd fd_;
};

class FakePlatform final : public vipd::app::Platform {
 public:
  bool fail_dump = false;
  vipd::app::AddressSet foreign;  // addresses the node owns (not added by vipd)
  FakeWatcher* watcher_seen = nullptr;
  [[nodiscard]] bool has_capability(int) const override { return true; }
  std::optional<vipd::app::InterfaceFacts> lookup_interface(
      const std::string& name, std::string& error, const std::vector<IpAddress>&) override {
    if (name != "eth0") {
      error = "no interface " + name;
      return std::nullopt;
    }
    vipd::app::InterfaceFacts f;
    f.name = name;
    f.index = 7;
    f.admin_up = f.carrier = true;
    f.primary_v4 = IpAddress::parse("198.18.0.1");
    return f;
  }
  std::unique_ptr<vipd::app::VipTable> vip_table() override {
    return std::make_unique<FlakyTable>(fail_dump, foreign);
  }
  std::unique_ptr<vipd::app::AdvertChannel> advert_channel(const vipd::app::InterfaceFacts&,
                                                           IpAddress) override {
    return std::make_unique<QuietChannel>();
  }
  std::unique_ptr<vipd::app::Announcer> announcer(const vipd::app::InterfaceFacts&) override {
    return std::make_unique<QuietAnnouncer>();
  }
  std::unique_ptr<vipd::app::Watcher> watcher(vipd::app::Watcher::Handlers h) override {
    return std::make_unique<FakeWatcher>(std::move(h),
                                         [this](FakeWatcher* w) { watcher_seen = w; });
  }
  vipd::app::ResetConnections reset_connections() override {
    return [](std::span<const IpAddress>) { return vipd::app::ResetResult{}; };
  }
};

vipd::config::Config one_instance() {
  auto result = vipd::config::load_string(R"(
[agent]
node_name = "a"
api_listen = ""
state_dir = "/nonexistent-vipd-test"

[[instance]]
name = "web"
interface = "eth0"
vrid = 51
priority = 100
vips = ["198.18.0.100/24"]
)",
                                          "test.toml");
  REQUIRE(result.ok());
  return std::move(*result.config);
}

}  // namespace

TEST_CASE(
    "the agent's VIP presence follows netlink address events, and an unreadable address "
    "dump shows as unknown and is counted, never thrown",
    "[agent]") {
  FakePlatform platform;
  vipd::app::Agent agent(one_instance(), "test", platform);
  REQUIRE(agent.prepare());
  REQUIRE(platform.watcher_seen != nullptr);

  auto s = agent.snapshot();
  REQUIRE(s.instances.size() == 1);
  REQUIRE(s.instances[0].vips.size() == 1);
  CHECK(s.instances[0].vips[0].present == false);

  // The kernel reports the VIP added: no dump, the event feeds the set.
  platform.watcher_seen->handlers.on_address({7, *IpPrefix::parse("198.18.0.100/24"), true});
  s = agent.snapshot();
  CHECK(s.instances[0].vips[0].present == true);
  platform.watcher_seen->handlers.on_address({7, *IpPrefix::parse("198.18.0.100/24"), false});
  CHECK(agent.snapshot().instances[0].vips[0].present == false);

  // Events were lost and the re-read fails: unknown, counted, no exception.
  platform.fail_dump = true;
  REQUIRE_NOTHROW(platform.watcher_seen->handlers.on_resync());
  s = agent.snapshot();
  CHECK_FALSE(s.instances[0].vips[0].present.has_value());
  CHECK(s.counters.address_read_errors == 1);

  // The next successful re-read brings it back.
  platform.fail_dump = false;
  platform.watcher_seen->handlers.on_resync();
  CHECK(agent.snapshot().instances[0].vips[0].present == false);
}

TEST_CASE("the agent refuses an instance on an interface that does not exist, with the reason",
          "[agent]") {
  FakePlatform platform;
  auto cfg = one_instance();
  cfg.instances[0].interface = "eth9";
  vipd::app::Agent agent(std::move(cfg), "test", platform);
  CHECK_FALSE(agent.prepare());
}

TEST_CASE("the agent refuses a VIP that is on the interface but was not added by vipd", "[agent]") {
  // The node's own secondary address configured as a VIP: the leftover sweep would delete it.
  FakePlatform platform;
  platform.foreign = {{7, *IpPrefix::parse("198.18.0.2/24")},
                      {8, *IpPrefix::parse("198.18.0.100/24")}};  // another interface: no matter
  {
    vipd::app::Agent agent(one_instance(), "test", platform);
    CHECK(agent.prepare());
  }
  platform.foreign.insert({7, *IpPrefix::parse("198.18.0.100/24")});
  vipd::app::Agent agent(one_instance(), "test", platform);
  CHECK_FALSE(agent.prepare());
}
