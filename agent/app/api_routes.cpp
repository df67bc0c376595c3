// The API's routes (api_routes.h).
#include "app/api_routes.h"

#include <chrono>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "app/drain_request.h"
#include "app/text.h"
#include "exporters/status_json.h"

namespace vipd::app {
namespace {

using namespace std::chrono_literals;
using exporters::Request;
using exporters::Response;

Response json_response(int status, const nlohmann::json& body) {
  return {status, "application/json", body.dump(2) + "\n"};
}

Response loop_unavailable() {
  return json_response(503, {{"error", "the VRRP loop did not answer within 1s"}});
}

Response drain_route(Controller& controller, const std::string& token_file, const Request& request,
                     bool drain) {
  // Bearer token from a file, re-read on every call so it can be rotated without a reload.
  std::ifstream in(token_file);
  std::stringstream content;
  content << in.rdbuf();
  const std::string token = trim(content.str());
  if (!in || token.empty())
    return json_response(
        503, {{"error", "the token file " + token_file + " cannot be read or is empty"}});
  const auto auth = request.headers.find("authorization");
  if (auth == request.headers.end() || auth->second.rfind("Bearer ", 0) != 0)
    return json_response(401, {{"error", "missing 'Authorization: Bearer TOKEN' header"}});
  if (!constant_time_equal(trim(auth->second.substr(7)), token))
    return json_response(403, {{"error", "wrong token"}});
  const auto parsed = parse_drain_body(request.body);
  if (const auto* bad = std::get_if<DrainBodyError>(&parsed))
    return json_response(400, {{"error", bad->reason}});
  const std::string only = std::get<DrainTarget>(parsed).instance.value_or("");
  const auto changed = controller.set_drained(only, drain);
  if (!changed) return loop_unavailable();
  if (changed->empty()) return json_response(404, {{"error", "no instance named '" + only + "'"}});
  return json_response(
      202, {{drain ? "drained" : "undrained", *changed},
            {"message", drain ? "a MASTER advertises priority 0 and releases its VIPs once "
                                "another router is heard as master; watch /status"
                              : "back to normal priority and preemption"}});
}

}  // namespace

std::vector<exporters::Route> api_routes(Controller& controller, const std::string& token_file) {
  std::vector<exporters::Route> table = {
      {"GET", "/status", "state of every instance and check, with the reason for each decision",
       [&controller](const Request&) {
         auto s = controller.snapshot();
         if (!s) return loop_unavailable();
         return Response{200, "application/json", exporters::status_json(*s).dump(2) + "\n"};
       }},
      {"GET", "/metrics", "Prometheus metrics (text format 0.0.4)",
       [&controller](const Request&) {
         // Gauges are refreshed from a snapshot when the loop answers; a stalled loop still
         // gets its last values served (and /healthz says it is stalled).
         controller.snapshot();
         return Response{200, "text/plain; version=0.0.4; charset=utf-8",
                         controller.metrics_text()};
       }},
      {"GET", "/healthz", "200 while the VRRP loop is alive (its heartbeat is under 750ms old)",
       [&controller](const Request&) {
         // The loop stamps its heartbeat on every iteration and wakes at least every 250 ms
         // when idle (EventLoop's heartbeat interval): 750 ms is three missed wake-ups, so a
         // stalled loop reads 503 within 750 ms — under the documented "within one second"
         // whatever the heartbeat's age when the stall began (a 1 s threshold could only
         // promise 1 s plus the request's own latency).
         const auto age = controller.heartbeat_age();
         if (age < 750ms) return Response{200, "text/plain", "ok\n"};
         return Response{
             503, "text/plain",
             "stalled: the VRRP loop has not run for " +
                 std::to_string(
                     std::chrono::duration_cast<std::chrono::milliseconds>(age).count()) +
                 " ms\n"};
       }},
  };
  if (!token_file.empty()) {
    table.push_back({"POST", "/v1/drain",
                     "planned handover: resign, keep the VIPs until a peer is master, then "
                     "release (bearer token; body {\"instance\": NAME} or all)",
                     [&controller, token_file](const Request& r) {
                       return drain_route(controller, token_file, r, true);
                     }});
    table.push_back({"POST", "/v1/undrain", "undo a drain (bearer token)",
                     [&controller, token_file](const Request& r) {
                       return drain_route(controller, token_file, r, false);
                     }});
  }
  return table;
}

}  // namespace vipd::app
