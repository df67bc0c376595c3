// The HTTP API: one cpp-httplib listener serving a route table {method, path, help, handler}.
// Handlers are plain functions of a request, so tests call them without a socket.
#pragma once

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

class ApiServer {
 public:
  explicit ApiServer(std::vector<Route> routes);
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  /// Binds "HOST:PORT" (PORT 0 = any) and serves on a background thread with a small pool.
  /// Returns false with an actionable `error` (e.g. the port is taken).
  bool start(const std::string& listen, std::string& error);
  void stop();
  [[nodiscard]] int port() const { return port_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::vector<Route> routes_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace vipd::exporters
