// The HTTP API: one listener serving a route table {method, path, help, handler}.
// Handlers are plain functions of a request, so tests call them without a socket.
// The listener is a small epoll server (exporters/http_connection.h parses): a local process
// must not be able to starve it (issue 13), so every request has a whole-request deadline, idle
// keep-alive connections are closed, and the number of connections is bounded.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace vipd::exporters {

struct Request {
  std::string method;
  std::string path;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

struct Route {
  std::string method;
  std::string path;
  std::string help;
  std::function<Response(const Request&)> handler;
};

/// `GET /` lists the routes (generated from the table, as Envoy's admin /help is).
Response route_index(const std::vector<Route>& routes);

/// What one client may hold of the API. The defaults are what vipd runs with.
struct ApiLimits {
  /// Connections held at once (lowered at start to what RLIMIT_NOFILE leaves, minus 128 for
  /// the agent's own descriptors). 1024 holds the 200 trickling + 500 idle clients of the issue 13
  /// load without churning them. At the limit a new connection first evicts the oldest idle
  /// keep-alive connection, else the oldest request slower than `slow_request`; when every
  /// connection is busy it is answered 503 and closed.
  std::size_t max_connections = 1024;
  /// From a request's first byte to its last: a client trickling a byte a second gets 408 and
  /// is closed after this, however often it sends (not a per-read timeout).
  std::chrono::milliseconds request_timeout{5000};
  /// A keep-alive connection with no request in progress is closed after this.
  std::chrono::milliseconds idle_timeout{5000};
  /// A request in progress for longer than this may be evicted when the table is full.
  std::chrono::milliseconds slow_request{1000};
  /// A response not taken by the client within this is dropped with its connection.
  std::chrono::milliseconds write_timeout{5000};
  int backlog = 1024;
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_body_bytes = 64 * 1024;
};

/// Counters of what the limits did (read from any thread).
struct ApiCounters {
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> refused_full{0};      // answered 503: every slot busy
  std::atomic<std::uint64_t> evicted{0};           // closed to make room for a new connection
  std::atomic<std::uint64_t> request_timeouts{0};  // 408: request not complete in time
  std::atomic<std::uint64_t> idle_closed{0};
  std::atomic<std::uint64_t> bad_requests{0};  // 400/413/431/501
};

class ApiServer {
 public:
  explicit ApiServer(std::vector<Route> routes, ApiLimits limits = {});
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  /// Binds "HOST:PORT" (PORT 0 = any) and serves from one background thread (handlers run on
  /// it: they answer from a snapshot and wait at most 1 s for the VRRP loop).
  /// Returns false with an actionable `error` (e.g. the port is taken).
  bool start(const std::string& listen, std::string& error);
  void stop();
  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] const ApiCounters& counters() const { return counters_; }
  /// Connections held now (for tests and /status).
  [[nodiscard]] std::size_t connections() const { return open_.load(); }

 private:
  struct Impl;
  void serve();
  std::unique_ptr<Impl> impl_;
  std::vector<Route> routes_;
  ApiLimits limits_;
  ApiCounters counters_;
  std::atomic<std::size_t> open_{0};
  std::thread thread_;
  int port_ = 0;
};

}  // namespace vipd::exporters
