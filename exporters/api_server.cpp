// The API's listener: one thread, epoll, non-blocking sockets, bounded connections and
// whole-request deadlines (issue 13: cpp-httplib's two workers with a per-read timeout could be
// held by two clients sending a byte a second, /healthz included).
#include "exporters/api_server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "exporters/http_message.h"

namespace vipd::exporters {
namespace {

using Clock = std::chrono::steady_clock;

/// One client connection. `in` holds the bytes of requests not yet answered; `out` the response
/// being written (one at a time: a client that does not read stops being served, not buffered).
struct Connection {
  int fd = -1;
  std::string in;
  std::string out;
  std::size_t written = 0;
  bool request_started = false;  // bytes of a request are in `in`: the request deadline runs
  bool close_after_write = false;
  bool want_write = false;   // EPOLLOUT registered
  bool peer_closed = false;  // the client shut its side: answer what is complete, then close
  Clock::time_point request_start{};
  Clock::time_point idle_since{};
  Clock::time_point write_start{};
};

Response error_response(int status, const std::string& why) {
  return {status, "application/json", nlohmann::json{{"error", why}}.dump() + "\n"};
}

}  // namespace

struct ApiServer::Impl {
  int listen_fd = -1;
  int epoll_fd = -1;
  int wake_fd = -1;
  std::unordered_map<int, Connection> connections;

  ~Impl() {
    for (int fd : {listen_fd, epoll_fd, wake_fd})
      if (fd >= 0) ::close(fd);
  }
};

Response route_index(const std::vector<Route>& routes) {
  nlohmann::json doc = nlohmann::json::array();
  for (const auto& r : routes)
    doc.push_back({{"method", r.method}, {"path", r.path}, {"help", r.help}});
  return {200, "application/json", doc.dump(2) + "\n"};
}

ApiServer::ApiServer(std::vector<Route> routes, ApiLimits limits)
    : impl_(std::make_unique<Impl>()), routes_(std::move(routes)), limits_(limits) {}

ApiServer::~ApiServer() { stop(); }

bool ApiServer::start(const std::string& listen, std::string& error) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) {
    error = "api_listen '" + listen + "' is not HOST:PORT";
    return false;
  }
  std::string host = listen.substr(0, colon);
  if (host.size() > 1 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  const std::string port = listen.substr(colon + 1);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &found) != 0 ||
      found == nullptr) {
    error = "api_listen '" + listen + "': cannot resolve the host or port";
    return false;
  }
  const int fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  // SO_REUSEADDR alone allows a quick restart; no SO_REUSEPORT, which would let a second agent
  // bind the same port silently and steal half the scrapes.
  int yes = 1;
  if (fd >= 0) ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  const bool bound = fd >= 0 && ::bind(fd, found->ai_addr, found->ai_addrlen) == 0 &&
                     ::listen(fd, limits_.backlog) == 0;
  ::freeaddrinfo(found);
  if (!bound) {
    if (fd >= 0) ::close(fd);
    error = "cannot listen on " + listen + " (" + std::strerror(errno) +
            "; is another vipd or program using the port? set [agent] api_listen to a free "
            "HOST:PORT, or \"\" to disable the API)";
    return false;
  }
  sockaddr_storage local{};
  socklen_t len = sizeof local;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len);
  port_ = ntohs(local.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&local)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&local)->sin_port);
  // Never more connections than descriptors: an accept() failing with EMFILE would leave the
  // listener readable and the loop spinning.
  rlimit nofile{};
  if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY)
    limits_.max_connections = std::min<std::size_t>(
        limits_.max_connections, nofile.rlim_cur > 256 ? nofile.rlim_cur - 128 : 64);
  impl_->listen_fd = fd;
  impl_->epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  impl_->wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  for (int watched : {impl_->listen_fd, impl_->wake_fd}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = watched;
    ::epoll_ctl(impl_->epoll_fd, EPOLL_CTL_ADD, watched, &ev);
  }
  thread_ = std::thread([this] { serve(); });
  return true;
}

void ApiServer::stop() {
  if (!thread_.joinable()) return;
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto n = ::write(impl_->wake_fd, &one, sizeof one);
  thread_.join();
}

void ApiServer::serve() {
  auto& conns = impl_->connections;
  const int ep = impl_->epoll_fd;
  std::optional<Clock::time_point> listen_paused_until;

  auto close_conn = [&](int fd) {
    ::epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
    ::close(fd);
    conns.erase(fd);
    open_ = conns.size();
  };
  auto set_write_interest = [&](Connection& c, bool want) {
    if (c.want_write == want && !c.peer_closed) return;
    c.want_write = want;
    epoll_event ev{};
    // After the client's EOF only writability matters (a level-triggered EPOLLRDHUP would spin).
    ev.events = c.peer_closed ? EPOLLOUT : (EPOLLIN | EPOLLRDHUP | (want ? EPOLLOUT : 0u));
    ev.data.fd = c.fd;
    ::epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
  };
  // Writes what the socket takes; false when the connection was closed.
  auto flush = [&](Connection& c) {
    while (c.written < c.out.size()) {
      const ssize_t n = ::send(c.fd, c.out.data() + c.written, c.out.size() - c.written,
                               MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        c.written += static_cast<std::size_t>(n);
      } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        set_write_interest(c, true);
        return true;
      } else {
        close_conn(c.fd);
        return false;
      }
    }
    c.out.clear();
    c.written = 0;
    set_write_interest(c, false);
    if (c.close_after_write) {
      close_conn(c.fd);
      return false;
    }
    return true;
  };
  auto respond = [&](Connection& c, const Response& r, bool keep_alive, Clock::time_point now) {
    c.out = format_response(r, keep_alive && !c.peer_closed);
    c.written = 0;
    c.write_start = now;
    c.close_after_write = !keep_alive || c.peer_closed;
    return flush(c);
  };
  // Answers every complete request in `in`, one at a time (the next once the last is written).
  auto serve_requests = [&](Connection& c, Clock::time_point now) {
    while (c.out.empty() && !c.in.empty()) {
      auto parsed = parse_request(c.in, limits_.max_header_bytes, limits_.max_body_bytes);
      if (parsed.outcome == ParsedRequest::Outcome::Incomplete) return true;
      if (parsed.outcome == ParsedRequest::Outcome::Error) {
        ++counters_.bad_requests;
        c.in.clear();
        return respond(c, error_response(parsed.error_status, parsed.error), false, now);
      }
      c.in.erase(0, parsed.consumed);
      ++counters_.requests;
      const auto& req = parsed.request;
      Response res = error_response(404, "no route for " + req.method + " " + req.path);
      if (req.method == "GET" && req.path == "/") res = route_index(routes_);
      for (const auto& route : routes_) {
        if (route.method != req.method || route.path != req.path || !route.handler) continue;
        try {
          res = route.handler(req);
        } catch (const std::exception& e) {
          res = error_response(500, e.what());
        }
        break;
      }
      const auto done = Clock::now();
      c.request_started = !c.in.empty();
      c.request_start = done;
      c.idle_since = done;
      if (!respond(c, res, parsed.keep_alive, done)) return false;
    }
    return true;
  };
  // Makes room at the limit: the oldest idle keep-alive connection, else the oldest request that
  // is slower than `slow_request` (a trickler); never one whose answer is being written.
  auto evict_one = [&](Clock::time_point now) {
    int idle = -1;
    int slow = -1;
    for (auto& [fd, c] : conns) {
      if (!c.out.empty()) continue;
      if (!c.request_started) {
        if (idle < 0 || c.idle_since < conns[idle].idle_since) idle = fd;
      } else if (now - c.request_start > limits_.slow_request) {
        if (slow < 0 || c.request_start < conns[slow].request_start) slow = fd;
      }
    }
    const int victim = idle >= 0 ? idle : slow;
    if (victim < 0) return false;
    ++counters_.evicted;
    close_conn(victim);
    return true;
  };
  auto accept_all = [&](Clock::time_point now) {
    for (;;) {
      const int fd = ::accept4(impl_->listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        // Out of descriptors (another part of vipd holds many): leave the rest in the backlog
        // for 50 ms rather than spin on a listener that stays readable.
        if (errno == EMFILE || errno == ENFILE) {
          epoll_event ev{};
          ::epoll_ctl(ep, EPOLL_CTL_DEL, impl_->listen_fd, &ev);
          listen_paused_until = now + std::chrono::milliseconds(50);
        }
        return;
      }
      ++counters_.accepted;
      if (conns.size() >= limits_.max_connections && !evict_one(now)) {
        ++counters_.refused_full;
        const auto text =
            format_response(error_response(503, "the API holds its maximum of " +
                                                    std::to_string(limits_.max_connections) +
                                                    " connections; try again"),
                            false);
        [[maybe_unused]] const auto n =
            ::send(fd, text.data(), text.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        ::close(fd);
        continue;
      }
      Connection c;
      c.fd = fd;
      c.idle_since = now;
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLRDHUP;
      ev.data.fd = fd;
      ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
      conns.emplace(fd, std::move(c));
      open_ = conns.size();
    }
  };
  auto on_readable = [&](Connection& c, Clock::time_point now) {
    // Input beyond one full request (headers + body) while an answer is pending is a client
    // that does not read: it is closed rather than buffered.
    const std::size_t cap = limits_.max_header_bytes + limits_.max_body_bytes + 4096;
    char buf[16384];
    for (;;) {
      const ssize_t n = ::recv(c.fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) {
        if (!c.request_started) {
          c.request_started = true;
          c.request_start = now;
        }
        c.in.append(buf, static_cast<std::size_t>(n));
        if (c.in.size() > cap) {
          close_conn(c.fd);
          return;
        }
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
      if (n < 0) {  // reset
        close_conn(c.fd);
        return;
      }
      // EOF: a client that half-closed after a whole request (printf ... | nc) still gets its
      // answer; an incomplete request is dropped.
      c.peer_closed = true;
      break;
    }
    if (!serve_requests(c, now)) return;
    if (c.peer_closed) {
      if (c.out.empty())
        close_conn(c.fd);
      else
        set_write_interest(c, true);
    }
  };
  // Deadlines: whole request, keep-alive idle, and response write.
  auto sweep = [&](Clock::time_point now) {
    std::vector<int> expired_request, expired_other;
    for (auto& [fd, c] : conns) {
      if (!c.out.empty()) {
        if (now - c.write_start > limits_.write_timeout) expired_other.push_back(fd);
      } else if (c.request_started) {
        if (now - c.request_start > limits_.request_timeout) expired_request.push_back(fd);
      } else if (now - c.idle_since > limits_.idle_timeout) {
        ++counters_.idle_closed;
        expired_other.push_back(fd);
      }
    }
    for (int fd : expired_other) close_conn(fd);
    for (int fd : expired_request) {
      ++counters_.request_timeouts;
      auto& c = conns[fd];
      c.in.clear();
      c.request_started = false;
      respond(c,
              error_response(408, "the request was not complete within " +
                                      std::to_string(limits_.request_timeout.count()) + " ms"),
              false, now);
    }
  };

  epoll_event events[64];
  auto last_sweep = Clock::now();
  for (;;) {
    const int n = ::epoll_wait(ep, events, 64, 50);
    const auto now = Clock::now();
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == impl_->wake_fd) {
        for (auto it = conns.begin(); it != conns.end(); it = conns.erase(it)) ::close(it->first);
        open_ = 0;
        return;
      }
      if (fd == impl_->listen_fd) {
        accept_all(now);
        continue;
      }
      const auto it = conns.find(fd);
      if (it == conns.end()) continue;
      auto& c = it->second;
      if ((events[i].events & EPOLLOUT) && !c.out.empty()) {
        if (!flush(c)) continue;
        if (!serve_requests(c, now)) continue;
      }
      if (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) on_readable(c, now);
    }
    if (listen_paused_until && now >= *listen_paused_until) {
      listen_paused_until.reset();
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = impl_->listen_fd;
      ::epoll_ctl(ep, EPOLL_CTL_ADD, impl_->listen_fd, &ev);
    }
    if (now - last_sweep >= std::chrono::milliseconds(20)) {
      sweep(now);
      last_sweep = now;
    }
  }
}

}  // namespace vipd::exporters
