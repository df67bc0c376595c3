// The systemd notification protocol against real AF_UNIX datagram sockets: abstract ('@') and
// path addresses, the exact bytes of each message, and the no-op / refused cases.
#include <catch2/catch.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <optional>
#include <string>

#include "agent/app/sd_notify.h"

namespace sd = vipd::app::sd;

namespace {

/// A bound datagram socket that plays systemd's side. `name` starting with '@' is abstract.
class Receiver {
 public:
  explicit Receiver(const std::string& name) : name_(name) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, name.data(), name.size());
    socklen_t len = offsetof(sockaddr_un, sun_path) + name.size();
    if (name[0] == '@') {
      addr.sun_path[0] = '\0';  // abstract: exactly these bytes, no trailing NUL
    } else {
      ++len;
    }
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) == 0);
  }
  ~Receiver() {
    ::close(fd_);
    if (name_[0] == '/') ::unlink(name_.c_str());
  }
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  /// The next datagram, or nothing within `ms`.
  std::optional<std::string> recv(int ms = 1000) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, ms) != 1) return std::nullopt;
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0) return std::nullopt;
    return std::string(buf, static_cast<size_t>(n));
  }

 private:
  std::string name_;
  int fd_ = -1;
};

std::string unique(const char* what) {
  static int n = 0;
  return std::string(what) + std::to_string(::getpid()) + "-" + std::to_string(++n);
}

/// Sets $NOTIFY_SOCKET for one scope, restoring the previous value.
class NotifySocketEnv {
 public:
  explicit NotifySocketEnv(const char* value) {
    if (const char* old = std::getenv("NOTIFY_SOCKET")) old_ = old;
    if (value) {
      ::setenv("NOTIFY_SOCKET", value, 1);
    } else {
      ::unsetenv("NOTIFY_SOCKET");
    }
  }
  ~NotifySocketEnv() {
    if (old_) {
      ::setenv("NOTIFY_SOCKET", old_->c_str(), 1);
    } else {
      ::unsetenv("NOTIFY_SOCKET");
    }
  }
  NotifySocketEnv(const NotifySocketEnv&) = delete;
  NotifySocketEnv& operator=(const NotifySocketEnv&) = delete;

 private:
  std::optional<std::string> old_;
};

}  // namespace

TEST_CASE("sd_notify: an abstract socket ('@') gets the message whole", "[sd_notify]") {
  const std::string name = "@" + unique("vipd-test-notify-");
  Receiver rx(name);
  REQUIRE(sd::notify_to(name, "READY=1\nSTATUS=running") == 0);
  CHECK(rx.recv() == std::optional<std::string>("READY=1\nSTATUS=running"));
  // Abstract names are length-delimited: the same name one byte shorter is another socket, where
  // nobody listens (a trailing NUL counted in the address length would break this the same way).
  CHECK(sd::notify_to(name.substr(0, name.size() - 1), "READY=1") == -ECONNREFUSED);
  CHECK_FALSE(rx.recv(50));
}

TEST_CASE("sd_notify: a socket path gets the message whole", "[sd_notify]") {
  const auto path = (std::filesystem::temp_directory_path() / unique("vipd-notify-")).string();
  Receiver rx(path);
  REQUIRE(sd::notify_to(path, "STOPPING=1") == 0);
  CHECK(rx.recv() == std::optional<std::string>("STOPPING=1"));
}

TEST_CASE("sd_notify: unset or unusable addresses", "[sd_notify]") {
  CHECK(sd::notify_to("", "READY=1") == 0);  // nothing to do
  CHECK(sd::notify_to("relative/path", "READY=1") == -EAFNOSUPPORT);
  CHECK(sd::notify_to("vsock:2:1234", "READY=1") == -EAFNOSUPPORT);
  CHECK(sd::notify_to("/nonexistent-dir-vipd/notify", "READY=1") == -ENOENT);
  CHECK(sd::notify_to("/" + std::string(107, 'x'), "READY=1") == -EINVAL);  // 108 + NUL
  CHECK(sd::notify_to("@" + std::string(108, 'x'), "READY=1") == -EINVAL);
  NotifySocketEnv unset(nullptr);
  CHECK(sd::notify("READY=1") == 0);
}

TEST_CASE("sd_notify: ready / reloading / stopping through $NOTIFY_SOCKET", "[sd_notify]") {
  const std::string name = "@" + unique("vipd-test-notify-");
  Receiver rx(name);
  NotifySocketEnv env(name.c_str());

  sd::ready();
  CHECK(rx.recv() == std::optional<std::string>("READY=1\nSTATUS=running"));

  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const auto before = static_cast<unsigned long long>(ts.tv_sec) * 1000000ULL +
                      static_cast<unsigned long long>(ts.tv_nsec) / 1000ULL;
  sd::reloading();
  const auto msg = rx.recv();
  REQUIRE(msg);
  const std::string prefix = "RELOADING=1\nSTATUS=reloading\nMONOTONIC_USEC=";
  REQUIRE(msg->rfind(prefix, 0) == 0);
  const auto usec = std::stoull(msg->substr(prefix.size()));
  CHECK(usec >= before);
  CHECK(usec < before + 5000000ULL);  // CLOCK_MONOTONIC in µs, as systemd compares it

  sd::stopping();
  CHECK(rx.recv() ==
        std::optional<std::string>("STOPPING=1\nSTATUS=stopping: masters release their VIPs"));
}
