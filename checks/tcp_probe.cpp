// TCP connect check: a non-blocking connect to "host:port" bounded by `timeout` (poll).
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "checks/probe.h"

namespace vipd::checks {
namespace {

using Clock = std::chrono::steady_clock;

class TcpProbe final : public Probe {
 public:
  explicit TcpProbe(const config::Check& c) : address_(c.address), timeout_(c.timeout) {
    // "host:port" or "[v6]:port".
    std::string host;
    std::string port;
    if (!address_.empty() && address_.front() == '[') {
      const auto close = address_.find(']');
      if (close != std::string::npos && address_.size() > close + 1 && address_[close + 1] == ':') {
        host = address_.substr(1, close - 1);
        port = address_.substr(close + 2);
      }
    } else if (const auto colon = address_.rfind(':'); colon != std::string::npos) {
      host = address_.substr(0, colon);
      port = address_.substr(colon + 1);
    }
    if (host.empty() || port.empty()) {
      error_ = "invalid address " + printable(address_) + ": expected host:port";
      return;
    }
    host_ = host;
    port_ = port;
  }

  ProbeResult run(int stop_fd) override {
    ProbeResult r;
    if (!error_.empty()) {
      r.error = error_;
      return r;
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* ai = nullptr;
    if (const int rc = ::getaddrinfo(host_.c_str(), port_.c_str(), &hints, &ai); rc != 0) {
      r.error = "resolve " + printable(address_) + ": " + ::gai_strerror(rc);
      return r;
    }
    const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      r.error = "socket: " + errno_text(errno);
      ::freeaddrinfo(ai);
      return r;
    }
    int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    ::freeaddrinfo(ai);
    int err = rc == 0 ? 0 : errno;
    if (err == EINPROGRESS) err = wait_connected(fd, stop_fd);
    ::close(fd);
    if (err == 0) {
      r.ok = true;
    } else if (err == ETIMEDOUT) {
      r.error = "connect to " + address_ + ": timeout after " + millis_text(timeout_);
    } else if (err == ECANCELED) {
      r.error = "cancelled";
    } else {
      r.error = "connect to " + address_ + ": " + errno_text(err);
    }
    return r;
  }

 private:
  // Returns 0 when connected, else an errno (ETIMEDOUT on timeout, ECANCELED on stop).
  int wait_connected(int fd, int stop_fd) const {
    const auto deadline = Clock::now() + timeout_;
    for (;;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return ETIMEDOUT;
      pollfd p[2] = {{fd, POLLOUT, 0}, {stop_fd, POLLIN, 0}};
      const int n = ::poll(p, stop_fd >= 0 ? 2 : 1, static_cast<int>(left) + 1);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return errno;
      if (stop_fd >= 0 && (p[1].revents & POLLIN)) return ECANCELED;
      if (p[0].revents != 0) {
        int so_error = 0;
        socklen_t len = sizeof so_error;
        if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0) return errno;
        return so_error;
      }
    }
  }

  std::string address_;
  std::string host_;
  std::string port_;
  std::chrono::milliseconds timeout_;
  std::string error_;
};

}  // namespace

std::unique_ptr<Probe> make_tcp_probe(const config::Check& check) {
  return std::make_unique<TcpProbe>(check);
}

}  // namespace vipd::checks
