// cpp-httplib server around the route table.
#include "exporters/api_server.h"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <chrono>

#include <nlohmann/json.hpp>

namespace vipd::exporters {

struct ApiServer::Impl {
  httplib::Server server;
};

Response route_index(const std::vector<Route>& routes) {
  nlohmann::json doc = nlohmann::json::array();
  for (const auto& r : routes)
    doc.push_back({{"method", r.method}, {"path", r.path}, {"help", r.help}});
  return {200, "application/json", doc.dump(2) + "\n"};
}

ApiServer::ApiServer(std::vector<Route> routes)
    : impl_(std::make_unique<Impl>()), routes_(std::move(routes)) {}

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
  const int port = std::stoi(listen.substr(colon + 1));
  auto& svr = impl_->server;
  // Two workers: the API is for scrapes and operators, not traffic (DEPS.md §2: default is 8).
  svr.new_task_queue = [] { return new httplib::ThreadPool(2); };
  svr.set_keep_alive_max_count(20);
  svr.set_read_timeout(5, 0);
  // httplib's default sets SO_REUSEPORT, which would let a second agent bind the same port
  // silently and steal half the scrapes. SO_REUSEADDR alone allows a quick restart.
  svr.set_socket_options([](int sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  svr.set_write_timeout(5, 0);
  auto adapt = [](const Route& route) {
    return [&route](const httplib::Request& req, httplib::Response& res) {
      Request r;
      r.method = req.method;
      r.path = req.path;
      r.body = req.body;
      for (const auto& [k, v] : req.headers) {
        std::string key = k;
        std::transform(key.begin(), key.end(), key.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        r.headers[key] = v;
      }
      const Response out = route.handler(r);
      res.status = out.status;
      res.set_content(out.body, out.content_type.c_str());
    };
  };
  // POST routes take the body through a ContentReader: cpp-httplib 0.11 reads the body of a
  // POST without Content-Length (and not chunked) until the client closes the connection, so
  // `curl -X POST URL` — no body, no Content-Length — hung until the 5 s read timeout. RFC 9112
  // §6.3: such a request has no body; only read one when its length is announced.
  auto adapt_post = [adapt](const Route& route) {
    return [handler = adapt(route)](const httplib::Request& req, httplib::Response& res,
                                    const httplib::ContentReader& content_reader) {
      httplib::Request copy = req;
      if (req.has_header("Content-Length") ||
          req.get_header_value("Transfer-Encoding").find("chunked") != std::string::npos) {
        content_reader([&copy](const char* data, std::size_t len) {
          // The API takes small JSON bodies; a larger one is cut (and then fails to parse).
          if (copy.body.size() + len > 64 * 1024) return false;
          copy.body.append(data, len);
          return true;
        });
      }
      handler(copy, res);
    };
  };
  for (const auto& route : routes_) {
    if (route.method == "GET")
      svr.Get(route.path, adapt(route));
    else if (route.method == "POST")
      svr.Post(route.path, adapt_post(route));
  }
  // The same hang for a body method on a path with no route (e.g. POST /v1/drain while the
  // drain routes are off): answer 404 at once without reading a body, as for GET.
  const auto not_found = [](const httplib::Request&, httplib::Response& res,
                            const httplib::ContentReader&) { res.status = 404; };
  svr.Post(".*", not_found);
  svr.Put(".*", not_found);
  svr.Patch(".*", not_found);
  svr.Delete(".*", not_found);
  svr.Get("/", [this](const httplib::Request&, httplib::Response& res) {
    const auto out = route_index(routes_);
    res.set_content(out.body, out.content_type.c_str());
  });
  const bool bound = port == 0 ? (port_ = svr.bind_to_any_port(host), port_ > 0)
                               : (port_ = port, svr.bind_to_port(host, port));
  if (!bound) {
    error = "cannot listen on " + listen +
            " (is another vipd or program using the port? set [agent] api_listen to a free "
            "HOST:PORT, or \"\" to disable the API)";
    return false;
  }
  thread_ = std::thread([this] { impl_->server.listen_after_bind(); });
  // httplib's stop() does nothing until the listen thread has marked the server running, so a
  // stop() right after start() would leave that thread in accept() forever: wait for it here.
  for (int i = 0; i < 2000 && !svr.is_running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return true;
}

void ApiServer::stop() {
  if (thread_.joinable()) {
    impl_->server.stop();
    thread_.join();
  }
}

}  // namespace vipd::exporters
