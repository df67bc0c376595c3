// The agent: owns the loop, the links (sockets per interface), the instances, the netlink
// watcher and the check runner; handles signals (SIGTERM/SIGINT stop, SIGHUP reload).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "app/connection_reset.h"
#include "app/event_loop.h"
#include "app/instance.h"
#include "app/realtime.h"
#include "app/stats.h"
#include "checks/runner.h"
#include "config/config.h"
#include "exporters/api_server.h"
#include "exporters/metrics.h"
#include "exporters/snapshot.h"
#include "net/interface.h"
#include "net/netlink_watcher.h"
#include "net/vip_manager.h"

namespace vipd::app {

/// The last known state of one check, as the loop sees it.
struct CheckStatus {
  checks::CheckUpdate last;
  bool seen = false;
};

class Agent {
 public:
  Agent(config::Config config, std::string version);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  /// Checks the environment (capabilities, interfaces). Returns false after logging an
  /// actionable error for each problem.
  bool prepare();
  /// Runs until SIGTERM/SIGINT; returns the process exit code.
  int run();

  // Read access for the API (loop thread only).
  [[nodiscard]] const config::Config& config() const { return config_; }
  [[nodiscard]] const std::vector<std::unique_ptr<Instance>>& instances() const {
    return instances_;
  }
  [[nodiscard]] const std::map<std::string, CheckStatus>& checks() const { return checks_; }
  [[nodiscard]] const AgentStats& stats() const { return stats_; }
  [[nodiscard]] EventLoop& loop() { return loop_; }
  [[nodiscard]] TimePoint started_at() const { return started_at_; }
  [[nodiscard]] bool last_reload_ok() const { return last_reload_ok_; }
  [[nodiscard]] double last_reload_unix() const { return last_reload_unix_; }
  /// Everything the API shows (loop thread).
  [[nodiscard]] exporters::Snapshot snapshot() const;

 private:
  Link* open_link(const std::string& name, std::vector<std::string>& errors);
  /// (Re)binds a link to the interface as it is now: index, MAC, primary, socket, GARP sender.
  void attach(Link& link, const net::InterfaceInfo& info);
  [[nodiscard]] std::vector<vrrp::IpAddress> configured_vips() const;
  void close_unused_links();
  void on_readable(Link& link);
  void on_link_event(const net::LinkEvent& event);
  void on_address_event(const net::AddressEvent& event);
  void on_resync();
  void on_check_update(checks::CheckUpdate update);
  void reweigh(Instance& instance);
  void start_checks();
  void reload();
  void stop();
  /// [agent] realtime_priority on the loop thread (this thread): at start and on every reload.
  void apply_realtime();
  bool start_api();
  std::vector<exporters::Route> routes();
  std::optional<exporters::Snapshot> snapshot_from_any_thread();
  exporters::Response drain_route(const exporters::Request& request, bool drain);
  /// Drained instances survive a restart (DESIGN.md §7): one name per line in state_dir.
  void save_drained();
  void load_drained();
  /// Drains `inst` (before its start) when its name is in the saved drained set.
  void apply_saved_drain(Instance& inst);
  std::unique_ptr<Instance> make_instance(const config::Instance& cfg,
                                          std::vector<std::string>& errors);

  config::Config config_;
  std::string version_;
  EventLoop loop_;
  exporters::Metrics metrics_;
  std::unique_ptr<exporters::ApiServer> api_;
  AgentStats stats_;
  std::unique_ptr<net::VipManager> vip_manager_;
  // After the loop (its results are posted there), before the instances (they use it).
  std::unique_ptr<ResetWorker> resets_;
  std::unique_ptr<net::NetlinkWatcher> watcher_;
  std::map<std::string, std::unique_ptr<Link>> links_;
  std::vector<std::unique_ptr<Instance>> instances_;
  std::map<std::string, CheckStatus> checks_;
  std::unique_ptr<checks::Runner> runner_;
  std::set<std::string> drained_;
  TimePoint started_at_{};
  RealtimeStatus realtime_;
  bool realtime_warned_ = false;  // one warning per distinct refusal, not one per reload
  bool last_reload_ok_ = true;
  double last_reload_unix_ = 0;
};

}  // namespace vipd::app
