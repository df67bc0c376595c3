// Agent: wiring of loop, links, instances, netlink events, checks, signals and reload.
#include "app/agent.h"

#include <linux/capability.h>

#include <algorithm>
#include <csignal>

#include <spdlog/spdlog.h>

#include "app/advert_filters.h"
#include "app/reload_policy.h"
#include "app/sd_notify.h"

namespace vipd::app {
namespace {

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

Agent::Agent(config::Config config, std::string version, Platform& platform)
    : config_(std::move(config)),
      version_(std::move(version)),
      platform_(platform),
      loop_({SIGTERM, SIGINT, SIGHUP}),
      metrics_(version_),
      drained_(config_.agent.state_dir) {
  loop_.on_exception([this](const char* what) {
    ++stats_.loop_exceptions;
    spdlog::error("an event handler failed and was skipped (the agent keeps running): {}", what);
  });
}

Agent::~Agent() {
  if (api_) api_->stop();
  if (runner_) runner_->stop();
  groups_.clear();
  instances_.clear();
  routes_.clear();
  for (auto& [key, link] : links_)
    if (link->channel) loop_.remove_fd(link->channel->fd());
}

std::vector<vrrp::IpAddress> Agent::configured_vips() const {
  std::vector<vrrp::IpAddress> vips;
  for (const auto& inst : config_.instances)
    for (const auto& v : inst.vips) vips.push_back(v.address);
  return vips;
}

void Agent::attach(Link& link, const InterfaceFacts& facts) {
  // Throws (with the fix in its text) when a socket cannot be opened.
  if (link.channel) loop_.remove_fd(link.channel->fd());
  link.channel.reset();
  link.facts = facts;
  const auto unknown =
      link.family == vrrp::Family::V4 ? vrrp::IpAddress{} : vrrp::IpAddress::v6({});
  link.channel = platform_.advert_channel(facts, link.own_source().value_or(unknown));
  link.announcer = platform_.announcer(facts);
  Link* raw = &link;
  loop_.add_fd(raw->channel->fd(), [this, raw] { on_readable(*raw); });
}

Link* Agent::open_link(const std::string& name, vrrp::Family family,
                       std::vector<std::string>& errors) {
  const LinkKey key{name, family};
  if (auto it = links_.find(key); it != links_.end()) return it->second.get();
  std::string error;
  // Never pick one of our VIPs as the primary (advert source), e.g. a leftover from a crash.
  auto info = platform_.lookup_interface(name, error, configured_vips());
  if (!info) {
    errors.push_back(error);
    return nullptr;
  }
  auto link = std::make_unique<Link>();
  link->family = family;
  link->hmac = platform_.hmac();
  link->usable = info->usable();
  try {
    attach(*link, *info);
  } catch (const std::exception& e) {
    errors.push_back(std::string("interface ") + name + ": " + e.what());
    return nullptr;
  }
  Link* raw = link.get();
  links_[key] = std::move(link);
  return raw;
}

std::unique_ptr<Instance> Agent::make_instance(const config::Instance& cfg,
                                               std::vector<std::string>& errors) {
  Link* link = open_link(cfg.interface, cfg.family, errors);
  if (!link) return nullptr;
  // An IPv6 instance on an interface without a link-local address (yet) is not refused: it
  // waits in FAULT (Instance::missing_source) until on_address_event sees one appear.
  const auto& primary = link->facts.primary_v4;
  if (cfg.family == vrrp::Family::V4 && !primary && !cfg.unicast_src) {
    // Was the only address one of our VIPs? Then the operator configured the node's own address
    // as a VIP (or the interface holds nothing but a leftover VIP): say that, not "no IPv4".
    std::string ignored;
    const auto raw = platform_.lookup_interface(cfg.interface, ignored, {});
    for (const auto& vip : cfg.vips) {
      if (raw && raw->primary_v4 && vip.address == *raw->primary_v4) {
        errors.push_back("instance " + cfg.name + ": VIP " + vip.to_string() +
                         " is the only IPv4 address on " + cfg.interface +
                         ": if it is this node's own address, it cannot be a VIP (a VIP must be "
                         "an address that no node owns permanently); VRRP adverts also need a "
                         "source address of the node's own: add one or set unicast_src");
        return nullptr;
      }
    }
    errors.push_back("instance " + cfg.name + ": interface " + cfg.interface +
                     " has no IPv4 address, and VRRP adverts need one as their source: add one "
                     "(ip addr add ADDR/LEN dev " +
                     cfg.interface + ") or set unicast_src");
    return nullptr;
  }
  for (const auto& vip : cfg.vips) {
    if (primary && vip.address == *primary) {
      errors.push_back("instance " + cfg.name + ": VIP " + vip.to_string() +
                       " is this node's own address on " + cfg.interface +
                       "; a VIP must be an address that no node owns permanently");
      return nullptr;
    }
  }
  if (const auto theirs = foreign_vips(cfg, link->facts.index); !theirs.empty()) {
    errors.push_back("instance " + cfg.name + ": VIP " + theirs.front().to_string() + " is on " +
                     cfg.interface +
                     " and vipd did not add it: it is this node's own address (or another "
                     "program's, e.g. a keepalived still running). A VIP must be an address no "
                     "node owns permanently: take it out of vips, or delete it from the "
                     "interface (ip addr del " +
                     theirs.front().to_string() + " dev " + cfg.interface + ") if nothing owns it");
    return nullptr;
  }
  auto inst = std::make_unique<Instance>(cfg, *link, loop_, *vip_table_, stats_, resets_.get());
  inst->on_failover = [this](const std::string& name, double secs) {
    metrics_.observe_failover(name, secs);
  };
  return inst;
}

std::optional<Agent::RouteJob> Agent::make_route_job(const config::Instance& cfg,
                                                     std::vector<std::string>& errors) {
  RouteJob job;
  try {
    job.table = platform_.route_table(cfg.route.table, cfg.route.protocol, cfg.route.add_first);
  } catch (const std::exception& e) {
    errors.push_back("instance " + cfg.name + " (route): " + e.what());
    return std::nullopt;
  }
  job.instance = std::make_unique<RouteInstance>(cfg, *job.table, loop_);
  return job;
}

void Agent::start_route_job(RouteJob& job, const std::vector<RouteJob>& retiring) {
  const auto& c = job.instance->config();
  spdlog::info("instance {}: route mode, {} VIP(s) in table {} protocol {}, priority {}", c.name,
               c.vips.size(), c.route.table, c.route.protocol, c.priority);
  // The start-up sweep keeps what the other route instances hold (they may share the protocol).
  std::vector<const RouteInstance*> running;
  for (const auto& j : routes_) running.push_back(j.instance.get());
  for (const auto& j : retiring) running.push_back(j.instance.get());
  job.instance->start(running);
}

std::vector<vrrp::IpPrefix> Agent::foreign_vips(const config::Instance& cfg, int ifindex) {
  AddressSet foreign;
  try {
    foreign = vip_table_->foreign_addresses();
  } catch (const std::exception& e) {
    ++stats_.address_read_errors;
    spdlog::warn(
        "instance {}: cannot read who added the addresses on {} ({}); a VIP found there "
        "is taken for a leftover",
        cfg.name, cfg.interface, e.what());
    return {};
  }
  std::vector<vrrp::IpPrefix> out;
  for (const auto& vip : cfg.vips)
    if (foreign.count({ifindex, vip}) > 0) out.push_back(vip);
  return out;
}

bool Agent::prepare() {
  std::vector<std::string> errors;
  if (!platform_.has_capability(CAP_NET_RAW))
    errors.emplace_back(
        "missing capability CAP_NET_RAW: vipd needs it for the VRRP raw socket and gratuitous "
        "ARP. Run as root, or grant it: systemd AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW; "
        "docker/podman cap_add: [NET_ADMIN, NET_RAW]; or setcap cap_net_admin,cap_net_raw+ep vipd");
  if (!platform_.has_capability(CAP_NET_ADMIN))
    errors.emplace_back(
        "missing capability CAP_NET_ADMIN: vipd needs it to add and remove the VIPs. Run as root, "
        "or grant it: systemd AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW; docker/podman "
        "cap_add: [NET_ADMIN, NET_RAW]; or setcap cap_net_admin,cap_net_raw+ep vipd");
  if (!errors.empty()) {
    for (const auto& e : errors) spdlog::error("{}", e);
    return false;
  }
  try {
    vip_table_ = platform_.vip_table();
    resets_ = std::make_unique<ResetWorker>(loop_, platform_.reset_connections());
    watcher_ = platform_.watcher(Watcher::Handlers{
        [this](const InterfaceFacts& e) { on_link_event(e); },
        [this](const AddressEvent& e) { on_address_event(e); }, [this] { on_resync(); }});
  } catch (const std::exception& e) {
    spdlog::error("netlink: {}", e.what());
    return false;
  }
  read_addresses();
  for (const auto& cfg : config_.instances) {
    if (cfg.mode == config::InstanceMode::Route) {
      if (auto job = make_route_job(cfg, errors)) routes_.push_back(std::move(*job));
    } else if (auto inst = make_instance(cfg, errors)) {
      instances_.push_back(std::move(inst));
    }
  }
  for (const auto& e : errors) spdlog::error("{}", e);
  install_advert_filters(links_, instances_);
  return errors.empty();
}

void Agent::read_addresses() {
  try {
    addresses_ = vip_table_->addresses();
  } catch (const std::exception& e) {
    ++stats_.address_read_errors;
    addresses_.reset();
    spdlog::warn(
        "cannot read the interface addresses ({}); /status shows the VIPs as unknown "
        "until the next netlink event resync",
        e.what());
  }
}

void Agent::on_readable(Link& link) {
  // The instances on this interface, and this node's own advert sources on it.
  std::vector<const vrrp::Receiver*> receivers;
  std::vector<Instance*> targets;
  std::vector<vrrp::IpAddress> own;
  if (const auto source = link.own_source()) own.push_back(*source);
  for (const auto& inst : instances_) {
    if (&inst->link() != &link) continue;
    receivers.push_back(&inst->receiver());
    targets.push_back(inst.get());
    if (inst->config().unicast_src) own.push_back(*inst->config().unicast_src);
  }
  for (int i = 0; i < 256; ++i) {
    auto datagram = link.channel->receive();
    if (!datagram) break;
    const auto admission = vrrp::admit(*datagram, own, receivers);
    switch (admission.outcome) {
      case vrrp::Admission::Outcome::Own:
        break;  // our own advert (unicast mode, or a looped copy): not news
      case vrrp::Admission::Outcome::Dropped:
        stats_.drop(admission.reason);
        if (admission.vrid_matched) targets[admission.receiver]->refused(admission, *datagram);
        break;
      case vrrp::Admission::Outcome::Accepted:
        // auth_hmac (issue 12): a dropped advert reaches no state.
        if (const auto reason = targets[admission.receiver]->authenticate(*datagram)) {
          stats_.drop(*reason);
          break;
        }
        targets[admission.receiver]->receive(admission, datagram->source);
        break;
    }
  }
}

void Agent::on_link_event(const InterfaceFacts& event) {
  for (auto& [key, link] : links_) {
    const std::string& name = key.first;
    const int index = link->facts.index;
    if (index != event.index && name != event.name) continue;
    if (index != event.index && event.exists) {
      // The interface came back under a new index: rebuild the channel and the announcer.
      std::string error;
      auto info = platform_.lookup_interface(name, error, configured_vips());
      if (!info) continue;
      try {
        attach(*link, *info);
        install_advert_filters(links_, instances_);
        spdlog::info("interface {} is back (index {})", name, info->index);
        // Its address (the IPv6 link-local one above all) may differ from before.
        for (auto& inst : instances_)
          if (&inst->link() == link.get()) inst->source_changed();
      } catch (const std::exception& e) {
        spdlog::error("interface {} is back but cannot be used: {}", name, e.what());
        link->channel.reset();
        continue;
      }
    } else if (index != event.index) {
      continue;
    }
    const bool usable = event.usable();
    // A deleted interface first reports admin-down, then DELLINK: the second event changes no
    // usability but must still update the reason ("vanished").
    if (usable == link->usable && event.exists) continue;
    link->usable = usable;
    const std::string why = !event.exists     ? "interface " + name + " vanished"
                            : !event.admin_up ? "interface " + name + " is administratively down"
                            : !event.carrier  ? "interface " + name + " lost its carrier"
                                              : "interface " + name + " is up";
    spdlog::log(usable ? spdlog::level::info : spdlog::level::warn, "{}", why);
    for (auto& inst : instances_)
      if (&inst->link() == link.get()) inst->link_changed(usable, why);
  }
  sync_groups();
}

void Agent::on_address_event(const AddressEvent& event) {
  if (addresses_) {
    if (event.added)
      addresses_->insert({event.ifindex, event.prefix});
    else
      addresses_->erase({event.ifindex, event.prefix});
  }
  if (event.prefix.address.is_link_local_v6()) reread_link_local(event.ifindex);
  if (event.added) return;
  for (auto& inst : instances_)
    if (inst->link().facts.index == event.ifindex) inst->vip_removed(event.prefix);
}

void Agent::reread_link_local(int ifindex) {
  bool changed = false;
  for (auto& [key, link] : links_) {
    if (key.second != vrrp::Family::V6 || link->facts.index != ifindex) continue;
    std::string error;
    const auto info = platform_.lookup_interface(key.first, error, configured_vips());
    if (!info || info->index != ifindex) continue;  // gone or renumbered: on_link_event's job
    if (info->link_local_v6 == link->facts.link_local_v6) continue;
    spdlog::info("interface {}: IPv6 advert source {} (was {})", key.first,
                 info->link_local_v6 ? info->link_local_v6->to_string() : "none",
                 link->facts.link_local_v6 ? link->facts.link_local_v6->to_string() : "none");
    link->facts.link_local_v6 = info->link_local_v6;
    for (auto& inst : instances_)
      if (&inst->link() == link.get()) inst->source_changed();
    changed = true;
  }
  if (changed) sync_groups();
}

void Agent::on_resync() {
  spdlog::warn("netlink events were lost (receive buffer overrun): re-reading links and addresses");
  read_addresses();
  for (auto& [key, link] : links_) {
    const std::string& name = key.first;
    std::string error;
    auto info = platform_.lookup_interface(name, error, {});
    InterfaceFacts ev;
    ev.index = link->facts.index;
    ev.name = name;
    ev.exists = info.has_value();
    if (info) {
      ev.admin_up = info->admin_up;
      ev.carrier = info->carrier;
    }
    on_link_event(ev);
  }
  for (const auto& [key, link] : links_)
    if (key.second == vrrp::Family::V6) reread_link_local(link->facts.index);
  for (auto& inst : instances_) inst->resync();
  sync_groups();
}

void Agent::on_check_update(checks::CheckUpdate update) {
  auto& status = checks_[update.check];
  const bool weight_changed =
      !status.seen || status.last.up != update.up || status.last.value != update.value;
  if (update.changed || !status.seen)
    spdlog::log(update.up ? spdlog::level::info : spdlog::level::warn, "check {}: {}{}",
                update.check, update.up ? "up" : "down",
                update.error ? " (" + *update.error + ")" : std::string());
  metrics_.observe_check(update.check, update.duration.count(), update.last_ok);
  status.last = std::move(update);
  status.seen = true;
  if (!weight_changed) return;
  for (auto& inst : instances_) reweigh(*inst);
  for (auto& job : routes_) reweigh(job);
  sync_groups();
  start_ready();
}

const GroupCoordinator* Agent::group_of(const Instance& instance) const {
  for (const auto& g : groups_) {
    const auto& names = g->config().instances;
    if (std::find(names.begin(), names.end(), instance.config().name) != names.end())
      return g.get();
  }
  return nullptr;
}

void Agent::build_groups() {
  groups_.clear();
  for (const auto& cfg : config_.groups) {
    auto group = std::make_unique<GroupCoordinator>(cfg, loop_);
    std::vector<Instance*> members;
    for (const auto& name : cfg.instances)
      for (auto& inst : instances_)
        if (inst->config().name == name) members.push_back(inst.get());
    group->set_members(std::move(members));
    groups_.push_back(std::move(group));
  }
}

void Agent::sync_groups() {
  for (auto& g : groups_) g->sync_faults();
}

std::vector<std::string> Agent::unsettled_checks(const Instance& instance) const {
  std::vector<std::string> out;
  const auto* group = group_of(instance);
  const auto tracks = group ? group_tracks(config_, group->config()) : instance.config().track;
  for (const auto& t : tracks) {
    if (t.weight != 0) continue;  // a weighted check only lowers the priority while it rises
    const auto it = checks_.find(t.check);
    const bool seen = it != checks_.end() && it->second.seen;
    // Settled: up, or its last result failed (a real fault, worth its log line). Rising (only
    // successes so far, `rise` not reached) is not a fault yet.
    if (!seen || (!it->second.last.up && it->second.last.last_ok)) out.push_back(t.check);
  }
  return out;
}

void Agent::start_or_wait(Instance& instance) {
  const auto& name = instance.config().name;
  const auto pending = unsettled_checks(instance);
  if (pending.empty()) {
    waiting_.erase(name);
    instance.start();
    return;
  }
  std::string list;
  for (const auto& c : pending) list += (list.empty() ? "" : ", ") + c;
  // Not a fault: the checks have not answered yet (DESIGN.md §6: a cold node never claims the
  // VIP, and it does not here either: it takes no part in the election until they have).
  if (waiting_.insert(name).second)
    spdlog::info(
        "instance {}: waiting for the first results of checks {} before the first "
        "election",
        name, list);
}

void Agent::start_ready() {
  if (waiting_.empty()) return;
  sync_groups();
  for (auto& inst : instances_) {
    if (!waiting_.count(inst->config().name) || !unsettled_checks(*inst).empty()) continue;
    waiting_.erase(inst->config().name);
    inst->start();
  }
  for (auto& g : groups_) g->observe();
}

void Agent::reweigh(Instance& instance) { instance.apply_weights(weigh(instance.config())); }

void Agent::reweigh(RouteJob& job) { job.instance->apply_weights(weigh(job.instance->config())); }

vrrp::Weighted Agent::weigh(const config::Instance& cfg) const {
  std::vector<vrrp::TrackedCheck> tracked;
  std::vector<vrrp::TrackedFile> files;
  // A sync group's members weigh every member's checks (app/group.h: a lower priority in one
  // member is a lower priority in all, so the peer's members preempt together). Route-mode
  // instances are never members.
  const GroupCoordinator* group = nullptr;
  for (const auto& g : groups_) {
    const auto& names = g->config().instances;
    if (cfg.mode == config::InstanceMode::Vrrp &&
        std::find(names.begin(), names.end(), cfg.name) != names.end())
      group = g.get();
  }
  const auto tracks = group ? group_tracks(config_, group->config()) : cfg.track;
  for (const auto& t : tracks) {
    const auto it = checks_.find(t.check);
    const bool seen = it != checks_.end() && it->second.seen;
    const bool up = seen && it->second.last.up;
    const auto type = std::find_if(config_.checks.begin(), config_.checks.end(),
                                   [&](const config::Check& k) { return k.name == t.check; });
    // keepalived track_file: the number in the file (vrrp::weigh applies the rules).
    if (type != config_.checks.end() && type->type == config::CheckType::File)
      files.push_back({t.check, t.weight, up, seen ? it->second.last.value : 0});
    else
      tracked.push_back({t.check, t.weight, up});
  }
  return vrrp::weigh(cfg.priority, tracked, 0, files);
}

void Agent::start_checks() {
  if (config_.checks.empty()) return;
  runner_ = std::make_unique<checks::Runner>(config_.checks, [this](checks::CheckUpdate u) {
    loop_.post([this, u = std::move(u)]() mutable { on_check_update(std::move(u)); });
  });
  runner_->start();
}

void Agent::apply_realtime() {
  const auto before = realtime_;
  realtime_ = apply_realtime_priority(config_.agent.realtime_priority);
  if (!realtime_.error.empty()) {
    // One warning, repeated only when the request or the refusal changes (not on every reload).
    if (!realtime_warned_ || before.requested != realtime_.requested ||
        before.error != realtime_.error)
      spdlog::warn(
          "realtime_priority = {}: {}; the VRRP loop runs as {} and its timers can fire late "
          "on a busy machine. {}",
          realtime_.requested, realtime_.error, realtime_.policy, realtime_.fix);
    realtime_warned_ = true;
    return;
  }
  realtime_warned_ = false;
  if (before.policy != realtime_.policy || before.priority != realtime_.priority)
    spdlog::info(
        "VRRP loop thread: {}{}", realtime_.policy,
        realtime_.priority > 0 ? " priority " + std::to_string(realtime_.priority) : std::string());
}

int Agent::run() {
  started_at_ = EventLoop::now();
  last_reload_unix_ = unix_now();
  // Before any thread or child exists; SCHED_RESET_ON_FORK keeps all of them SCHED_OTHER.
  apply_realtime();
  loop_.on_signal(SIGTERM, [this] {
    sd::stopping();
    stop();
  });
  loop_.on_signal(SIGINT, [this] {
    sd::stopping();
    stop();
  });
  loop_.on_signal(SIGHUP, [this] {
    sd::reloading();
    reload();
    sd::ready();
  });
  if (watcher_) loop_.add_fd(watcher_->fd(), [this] { watcher_->dispatch(); });
  if (!start_api()) return 1;
  // Checks start as failing (DESIGN.md §6), so the first weighting is the pessimistic one.
  for (auto& inst : instances_) reweigh(*inst);
  // A drain survives a restart (state_dir/drained): applied before the first election, so a
  // drained node that reboots never preempts the VIPs back.
  drained_.load();
  for (auto& inst : instances_) apply_saved_drain(*inst);
  build_groups();
  for (auto& inst : instances_) reweigh(*inst);  // with the groups' merged checks
  sync_groups();  // a member whose interface is down starts its whole group in FAULT
  for (auto& inst : instances_) {
    spdlog::info(
        "instance {}: VRID {} on {} (index {}), priority {}, VRRPv{}, advert every {} ms, "
        "VIPs {}",
        inst->config().name, inst->config().vrid, inst->link().facts.name, inst->link().facts.index,
        inst->config().priority, inst->config().version, inst->config().advert_interval.count(),
        inst->config().vips.size());
    start_or_wait(*inst);
  }
  for (auto& job : routes_) {
    reweigh(job);
    if (drained_.contains(job.instance->config().name))
      job.instance->set_drained(
          true, "drained before this start (" + drained_.path() + "; vipd undrain to undo)");
    start_route_job(job);
  }
  start_checks();
  sd::ready();  // systemd Type=notify: the API listens and the instances run
  loop_.run();
  return 0;
}

void Agent::close_unused_links() {
  for (auto it = links_.begin(); it != links_.end();) {
    const bool used = std::any_of(instances_.begin(), instances_.end(),
                                  [&](const auto& i) { return &i->link() == it->second.get(); });
    if (used) {
      ++it;
      continue;
    }
    if (it->second->channel) loop_.remove_fd(it->second->channel->fd());
    it = links_.erase(it);
  }
}

void Agent::stop() {
  spdlog::info("stopping: masters send priority 0 and release their VIPs");
  if (runner_) runner_->stop();
  for (auto& inst : instances_) inst->shutdown();
  for (auto& job : routes_) job.instance->shutdown();
  loop_.stop();
}

void Agent::reload() {
  spdlog::info("SIGHUP: reloading {}", config_.path);
  auto result = config::load_file(config_.path);
  for (const auto& d : result.diagnostics)
    spdlog::log(d.severity == config::Diagnostic::Severity::Error ? spdlog::level::err
                                                                  : spdlog::level::warn,
                "{}", d.format());
  last_reload_unix_ = unix_now();
  if (!result.ok()) {
    last_reload_ok_ = false;
    spdlog::error(
        "reload refused: the new configuration has errors; the running configuration "
        "stays in force");
    return;
  }
  auto next = std::move(*result.config);
  // Transactional: phase 1 builds every new or changed instance without starting it; any error
  // refuses the whole reload and the running configuration stays untouched. Phase 2 swaps.
  // Unchanged instances keep their state and their VIPs (nothing flaps).
  std::vector<std::string> errors;
  std::vector<std::unique_ptr<Instance>> created;
  std::map<std::string, const config::Instance*> soft_updates;  // name → its new config
  std::vector<RouteJob> created_routes;
  for (const auto& cfg : next.instances) {
    if (cfg.mode == config::InstanceMode::Route) {
      auto it = std::find_if(routes_.begin(), routes_.end(), [&](const RouteJob& j) {
        return j.instance->config().name == cfg.name;
      });
      if (it != routes_.end() && it->instance->can_update(cfg)) {
        soft_updates[cfg.name] = &cfg;
      } else if (auto job = make_route_job(cfg, errors)) {
        created_routes.push_back(std::move(*job));
      }
      continue;
    }
    auto it = std::find_if(instances_.begin(), instances_.end(),
                           [&](const auto& i) { return i->config().name == cfg.name; });
    if (it != instances_.end() && (*it)->can_update(cfg)) {
      soft_updates[cfg.name] = &cfg;
      continue;
    }
    if (auto inst = make_instance(cfg, errors)) created.push_back(std::move(inst));
  }
  if (!errors.empty()) {
    for (const auto& e : errors) spdlog::error("{}", e);
    last_reload_ok_ = false;
    spdlog::error(
        "reload refused: the new configuration cannot run here; the running "
        "configuration stays in force");
    created.clear();
    created_routes.clear();
    close_unused_links();
    return;
  }
  groups_.clear();  // rebuilt below over the instances that run after the reload
  // Route instances changed or removed retire AFTER their successors have started: the new
  // routes go in first (or take the old ones over), then the old ones go (make before break).
  std::vector<RouteJob> kept_routes;
  std::vector<RouteJob> retiring_routes;
  for (auto& job : routes_) {
    const auto& name = job.instance->config().name;
    if (auto soft = soft_updates.find(name);
        soft != soft_updates.end() && soft->second->mode == config::InstanceMode::Route) {
      job.instance->update(*soft->second);
      kept_routes.push_back(std::move(job));
    } else {
      retiring_routes.push_back(std::move(job));
    }
  }
  std::vector<std::unique_ptr<Instance>> kept;
  for (auto& inst : instances_) {
    const auto& name = inst->config().name;
    if (auto soft = soft_updates.find(name); soft != soft_updates.end()) {
      inst->update(*soft->second);
      kept.push_back(std::move(inst));
    } else {
      spdlog::info("instance {}: {}", name,
                   std::any_of(next.instances.begin(), next.instances.end(),
                               [&](const auto& c) { return c.name == name; })
                       ? "changed in a way that needs a restart"
                       : "removed from the configuration");
      inst->shutdown();
    }
  }
  const bool checks_changed = !same_checks(config_.checks, next.checks);
  config_ = std::move(next);
  drained_.set_dir(config_.agent.state_dir);
  instances_ = std::move(kept);
  for (auto it = waiting_.begin(); it != waiting_.end();)  // removed or restarted below
    it = std::any_of(instances_.begin(), instances_.end(),
                     [&](const auto& i) { return i->config().name == *it; })
             ? std::next(it)
             : waiting_.erase(it);
  routes_ = std::move(kept_routes);
  for (auto& job : created_routes) {
    const auto& name = job.instance->config().name;
    for (auto& old : retiring_routes)
      if (old.instance->config().name == name) job.instance->adopt(*old.instance);
    routes_.push_back(std::move(job));
    reweigh(routes_.back());
    if (drained_.contains(name))
      routes_.back().instance->set_drained(true, "drained before this start");
    start_route_job(routes_.back(), retiring_routes);
  }
  for (auto& job : retiring_routes) {
    spdlog::info("instance {} (route): changed or removed: its other routes are withdrawn",
                 job.instance->config().name);
    job.instance->shutdown();
  }
  retiring_routes.clear();
  for (auto& inst : created) {
    Instance* raw = inst.get();
    instances_.push_back(std::move(inst));
    reweigh(*raw);
    apply_saved_drain(*raw);  // an instance restarted by a reload stays drained
    start_or_wait(*raw);
  }
  if (checks_changed) {
    spdlog::info("checks changed: restarting the check runner");
    if (runner_) runner_->stop();
    std::map<std::string, CheckStatus> carried;
    for (const auto& c : config_.checks)
      if (auto it = checks_.find(c.name); it != checks_.end()) carried[c.name] = it->second;
    checks_ = std::move(carried);
    start_checks();
  }
  close_unused_links();
  install_advert_filters(links_, instances_);
  build_groups();
  for (auto& inst : instances_) reweigh(*inst);
  sync_groups();
  for (auto& job : routes_) reweigh(job);
  apply_realtime();
  last_reload_ok_ = true;
  spdlog::info("reload done: {} instance(s) running", instances_.size() + routes_.size());
}

}  // namespace vipd::app
