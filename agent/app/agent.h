// The agent: owns the loop, the links (an advert channel and an announcer per interface), the
// instances, the address set fed by netlink, the check runner and the API; handles signals
// (SIGTERM/SIGINT stop, SIGHUP reload). Everything outside comes through the Platform's ports.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "app/api_routes.h"
#include "app/connection_reset.h"
#include "app/drained_store.h"
#include "app/event_loop.h"
#include "app/group.h"
#include "app/instance.h"
#include "app/link.h"
#include "app/ports.h"
#include "app/realtime.h"
#include "app/route_instance.h"
#include "app/stats.h"
#include "checks/runner.h"
#include "config/config.h"
#include "exporters/api_server.h"
#include "exporters/metrics.h"
#include "exporters/snapshot.h"

namespace vipd::app {

/// The last known state of one check, as the loop sees it.
struct CheckStatus {
  checks::CheckUpdate last;
  bool seen = false;
};

class Agent {
 public:
  Agent(config::Config config, std::string version, Platform& platform);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  /// Checks the environment (capabilities, interfaces). Returns false after logging an
  /// actionable error for each problem.
  bool prepare();
  /// Runs until SIGTERM/SIGINT; returns the process exit code.
  int run();

  /// Everything the API shows (loop thread; never throws: unreadable addresses show as unknown).
  [[nodiscard]] exporters::Snapshot snapshot();

 private:
  class Api;  // the Controller the API routes call
  Link* open_link(const std::string& name, vrrp::Family family, std::vector<std::string>& errors);
  /// (Re)binds a link to the interface as it is now: facts, advert channel, announcer.
  void attach(Link& link, const InterfaceFacts& facts);
  [[nodiscard]] std::vector<vrrp::IpAddress> configured_vips() const;
  void close_unused_links();
  void on_readable(Link& link);
  void on_link_event(const InterfaceFacts& event);
  void on_address_event(const AddressEvent& event);
  /// Re-reads the IPv6 link-local address (the advert source) of the IPv6 links on `ifindex`
  /// after an address event for fe80::/10, and tells their instances when it changed.
  void reread_link_local(int ifindex);
  void on_resync();
  /// Reads every address once (start, lost events); failures are counted, the set is unknown.
  void read_addresses();
  void on_check_update(checks::CheckUpdate update);
  void reweigh(Instance& instance);
  /// (Re)creates the sync groups of config_ over the running instances.
  void build_groups();
  /// Passes each member's own fault on to its group (after link events, checks, start, reload).
  void sync_groups();
  [[nodiscard]] const GroupCoordinator* group_of(const Instance& instance) const;
  /// The vital (weight-0) checks of `instance` that have not settled yet: no result, or rising
  /// towards `rise` with every result so far a success. Its first election waits for them.
  [[nodiscard]] std::vector<std::string> unsettled_checks(const Instance& instance) const;
  /// Starts `instance` now, or, while vital checks have not settled, marks it waiting (INIT,
  /// "waiting for the first results of checks ...") instead of starting it in FAULT.
  void start_or_wait(Instance& instance);
  /// Starts the waiting instances whose checks have settled (after each check result).
  void start_ready();
  void start_checks();
  void reload();
  void stop();
  /// [agent] realtime_priority on the loop thread (this thread): at start and on every reload.
  void apply_realtime();
  bool start_api();
  std::vector<std::string> set_drained(const std::string& only, bool drain);
  /// Drains `inst` (before its start) when its name is in the saved drained set.
  void apply_saved_drain(Instance& inst);
  /// The configured VIPs that sit on the interface but were not added by vipd (the node's own
  /// addresses): an instance must not start over them (its leftover sweep would delete them).
  std::vector<vrrp::IpPrefix> foreign_vips(const config::Instance& cfg, int ifindex);
  std::unique_ptr<Instance> make_instance(const config::Instance& cfg,
                                          std::vector<std::string>& errors);
  /// A route-mode instance (issue 16): its kernel table and the job that drives it.
  struct RouteJob {
    std::unique_ptr<RouteTable> table;
    std::unique_ptr<RouteInstance> instance;
  };
  std::optional<RouteJob> make_route_job(const config::Instance& cfg,
                                         std::vector<std::string>& errors);
  /// The weighting of `cfg`'s tracked checks as the loop knows them now.
  [[nodiscard]] vrrp::Weighted weigh(const config::Instance& cfg) const;
  void reweigh(RouteJob& job);
  void start_route_job(RouteJob& job, const std::vector<RouteJob>& retiring = {});

  config::Config config_;
  std::string version_;
  Platform& platform_;
  EventLoop loop_;
  exporters::Metrics metrics_;
  std::unique_ptr<Controller> api_controller_;
  std::unique_ptr<exporters::ApiServer> api_;
  AgentStats stats_;
  std::unique_ptr<VipTable> vip_table_;
  // After the loop (its results are posted there), before the instances (they use it).
  std::unique_ptr<ResetWorker> resets_;
  std::unique_ptr<Watcher> watcher_;
  std::optional<AddressSet> addresses_;  // nullopt: unknown (the last read failed)
  Links links_;
  std::vector<std::unique_ptr<Instance>> instances_;
  std::set<std::string> waiting_;  // instances not started: their vital checks have not settled
  // After the instances: destroyed first, it unhooks them.
  std::vector<std::unique_ptr<GroupCoordinator>> groups_;
  std::vector<RouteJob> routes_;  // route-mode instances (after the loop: they use its timers)
  std::map<std::string, CheckStatus> checks_;
  std::unique_ptr<checks::Runner> runner_;
  DrainedStore drained_;
  TimePoint started_at_{};
  RealtimeStatus realtime_;
  bool realtime_warned_ = false;  // one warning per distinct refusal, not one per reload
  bool last_reload_ok_ = true;
  double last_reload_unix_ = 0;
};

}  // namespace vipd::app
