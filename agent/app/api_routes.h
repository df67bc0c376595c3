// The API's routes (/status, /metrics, /healthz, /v1/drain, /v1/undrain). They run on the API
// server's threads and reach the agent only through the narrow Controller below.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "exporters/api_server.h"
#include "exporters/snapshot.h"
#include "vrrp/timers.h"

namespace vipd::app {

class Controller {
 public:
  virtual ~Controller() = default;
  /// Everything /status shows, built on the loop thread; nullopt when the loop did not answer
  /// within a second. Also refreshes the metrics' gauges.
  virtual std::optional<exporters::Snapshot> snapshot() = 0;
  /// The Prometheus text (the last values when the loop is stalled).
  virtual std::string metrics_text() = 0;
  /// How long ago the loop last completed an iteration.
  [[nodiscard]] virtual vrrp::Duration heartbeat_age() const = 0;
  /// Drains (or undrains) the instance `only`, or every instance when empty. Returns the names
  /// changed (empty: no such instance); nullopt when the loop did not answer within a second.
  virtual std::optional<std::vector<std::string>> set_drained(const std::string& only,
                                                              bool drain) = 0;
};

/// The route table; the drain routes exist only with a token file (re-read on every call).
std::vector<exporters::Route> api_routes(Controller& controller, const std::string& token_file);

}  // namespace vipd::app
