// Instance: drives one StateMachine and executes its actions (STYLE.md rules 1, 6, 7).
#include "app/instance.h"

#include <algorithm>
#include <cstring>

#include <spdlog/spdlog.h>

#include "app/notify.h"
#include "app/reload_policy.h"

namespace vipd::app {
namespace {

using namespace std::chrono_literals;

// How long a release waits for its connection reset before removing the VIPs anyway. The removal
// waits because a RST can only leave while the VIP is still on this node: the kernel routes it
// from the socket's local address and refuses (ENETUNREACH) once that address is gone. Not
// longer than this, though: until the removal this node still answers ARP for the VIP. 10,000
// connections take about 80 ms (docs/operations.md, "Connections on a failover").
constexpr auto kResetDeadline = 500ms;

vrrp::InstanceParams params_from(const config::Instance& cfg, const Link& link) {
  vrrp::InstanceParams p;
  p.vrid = cfg.vrid;
  p.version = cfg.version;
  p.priority = cfg.priority;
  p.advert_interval = std::chrono::duration_cast<vrrp::Centiseconds>(cfg.advert_interval);
  p.preempt = cfg.preempt;
  p.preempt_delay = std::chrono::duration_cast<vrrp::Duration>(cfg.preempt_delay);
  p.fast_preempt = cfg.fast_preempt;
  p.group_size = cfg.group_size;
  if (p.group_size == 0 && cfg.unicast_peers.size() == 1) p.group_size = 2;  // DESIGN.md §4
  p.primary_address =
      cfg.unicast_src ? *cfg.unicast_src : link.primary_v4.value_or(vrrp::IpAddress{});
  // RFC 9568 §5.2.5: "Count IPvX Addr" is one octet, so an advert lists at most 255 addresses.
  // These are the addresses we advertise and compare peers' adverts with; with more VIPs, all are
  // still installed and announced by GARP (vrrp::encode refuses more than 255).
  for (const auto& v : cfg.vips)
    if (p.vips.size() < 255) p.vips.push_back(v.address);
  return p;
}

double seconds(vrrp::Duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

Instance::Instance(config::Instance cfg, Link& link, EventLoop& loop, net::VipManager& vips,
                   AgentStats& agent_stats, ResetWorker* resets)
    : cfg_(std::move(cfg)),
      link_(link),
      loop_(loop),
      vip_manager_(vips),
      agent_stats_(agent_stats),
      resets_(resets),
      machine_(params_from(cfg_, link)) {
  weighted_.effective = cfg_.priority;
  const auto n = std::min<std::size_t>(cfg_.auth_pass.size(), auth_data_.size());
  std::memcpy(auth_data_.data(), cfg_.auth_pass.data(), n);
}

Instance::~Instance() {
  for (auto& [t, id] : timers_) loop_.cancel_timer(id);
  if (release_deadline_) loop_.cancel_timer(*release_deadline_);
  cancel_announcements();
}

void Instance::start() {
  // DESIGN.md §5: a VIP left over from a crash is removed before the first election, so that it
  // is never in two places.
  const auto removed = vip_manager_.remove(link_.ifindex, cfg_.vips);
  for (const auto& r : removed) {
    if (r.ok && r.changed) {
      spdlog::warn("instance {}: removed leftover VIP {} from {} (left by an earlier run)",
                   cfg_.name, r.vip.to_string(), link_.name);
      ++agent_stats_.vip_operations[{"remove", "ok"}];
    } else if (!r.ok) {
      spdlog::error("instance {}: cannot remove leftover VIP {}: {}", cfg_.name, r.vip.to_string(),
                    r.error);
      ++agent_stats_.vip_operations[{"remove", "error"}];
    }
  }
  if (!link_.usable) link_fault_ = "interface " + link_.name + " is down";
  if (link_fault_ || check_fault_) {
    fault_raised_ = true;
    feed(vrrp::event::FaultRaised{link_fault_ ? vrrp::Reason::LinkDown : vrrp::Reason::Fault,
                                  link_fault_ ? *link_fault_ : *check_fault_});
  }
  feed(vrrp::event::PriorityChanged{weighted_.effective});
  feed(vrrp::event::Startup{});
}

void Instance::shutdown() {
  stopping_ = true;
  // A release still waiting for its reset finishes now, here: the loop stops after this.
  if (pending_release_) {
    if (resets_) record_reset(resets_->run_now(vip_addresses()));
    complete_release(*pending_release_);
  }
  feed(vrrp::event::Shutdown{});
}

void Instance::feed(const vrrp::Event& event) {
  for (const auto& action : machine_.handle(event, EventLoop::now())) execute(action);
}

void Instance::execute(const vrrp::Action& action) {
  std::visit(
      [this](const auto& a) {
        using T = std::decay_t<decltype(a)>;
        if constexpr (std::is_same_v<T, vrrp::action::SendAdvert>) {
          send_advert(a.priority);
        } else if constexpr (std::is_same_v<T, vrrp::action::ArmTimer>) {
          if (auto it = timers_.find(a.timer); it != timers_.end()) loop_.cancel_timer(it->second);
          const auto timer = a.timer;
          timers_[timer] = loop_.add_timer(a.deadline, [this, timer] {
            timers_.erase(timer);
            switch (timer) {
              case vrrp::Timer::MasterDown:
                return feed(vrrp::event::MasterDownTimerExpired{});
              case vrrp::Timer::Adver:
                return feed(vrrp::event::AdverTimerExpired{});
              case vrrp::Timer::Release:
                return feed(vrrp::event::ReleaseTimerExpired{});
            }
          });
        } else if constexpr (std::is_same_v<T, vrrp::action::CancelTimer>) {
          if (auto it = timers_.find(a.timer); it != timers_.end()) {
            loop_.cancel_timer(it->second);
            timers_.erase(it);
          }
        } else if constexpr (std::is_same_v<T, vrrp::action::AcquireVips>) {
          acquire_vips();
        } else if constexpr (std::is_same_v<T, vrrp::action::ReleaseVips>) {
          release_vips();
        } else if constexpr (std::is_same_v<T, vrrp::action::Announce>) {
          if (a.why == vrrp::action::Announce::Why::LowerPriorityHeard) {
            // One re-announcement burst per second at most: a peer that keeps sending lower
            // adverts (it cannot hear us) must not turn into a GARP flood.
            const auto now = EventLoop::now();
            if (last_reannounce_ && now - *last_reannounce_ < 1s) return;
            last_reannounce_ = now;
            warn_limited("lower_priority_heard",
                         "instance " + cfg_.name +
                             ": heard a lower-priority advert while MASTER (split brain healing); "
                             "re-announcing the VIPs");
          }
          cancel_announcements();
          announce_burst(std::max(cfg_.garp.repeat, 1), false);
        } else if constexpr (std::is_same_v<T, vrrp::action::StateChanged>) {
          last_transition_ = {a.from, a.to, a.reason, a.explanation, EventLoop::now()};
          ++stats_.transitions[{a.from, a.to, a.reason}];
          spdlog::info("instance {}: state {} -> {} (reason {}): {}", cfg_.name,
                       vrrp::to_string(a.from), vrrp::to_string(a.to), vrrp::to_string(a.reason),
                       a.explanation);
          notify(a.to);
        } else if constexpr (std::is_same_v<T, vrrp::action::Notice>) {
          ++stats_.notices[a.key];
          // RFC 9568 §7.1: an address-list mismatch is logged and processed, not dropped; it is
          // still counted under its drop reason, as docs/metrics.md says.
          if (a.key == "address_list_mismatch")
            agent_stats_.drop(vrrp::DropReason::AddressListMismatch);
          if (a.level == vrrp::action::Notice::Level::Warning)
            warn_limited(a.key, "instance " + cfg_.name + ": " + a.message);
          else
            spdlog::info("instance {}: {}", cfg_.name, a.message);
        }
      },
      action);
}

vrrp::IpAddress Instance::source_address() const {
  if (cfg_.unicast_src) return *cfg_.unicast_src;
  return link_.primary_v4.value_or(vrrp::IpAddress{});
}

std::vector<vrrp::IpAddress> Instance::vip_addresses() const {
  std::vector<vrrp::IpAddress> out;
  for (const auto& v : cfg_.vips) out.push_back(v.address);
  return out;
}

void Instance::send_advert(std::uint8_t priority) {
  if (!link_.socket) return;
  vrrp::Advertisement adv;
  adv.version = cfg_.version;
  adv.vrid = cfg_.vrid;
  adv.priority = priority;
  adv.advert_interval = std::chrono::duration_cast<vrrp::Centiseconds>(cfg_.advert_interval);
  adv.family = cfg_.vips.empty() ? vrrp::Family::V4 : cfg_.vips.front().address.family;
  adv.addresses = machine_.params().vips;  // at most 255 (params_from)
  if (cfg_.version == 2 && !cfg_.auth_pass.empty()) {
    adv.auth_type = vrrp::AuthType::SimplePassword;
    adv.auth_data = auth_data_;
  }
  const auto src = source_address();
  static const auto kGroup = *vrrp::IpAddress::parse("224.0.0.18");
  std::vector<vrrp::IpAddress> destinations = cfg_.unicast_peers;
  if (destinations.empty()) destinations.push_back(kGroup);
  link_.socket->set_source(src);
  for (const auto& dst : destinations) {
    const auto bytes = vrrp::encode(adv, {src, dst}, cfg_.checksum);
    if (int err = link_.socket->send(bytes, dst); err != 0) {
      ++stats_.send_errors;
      warn_limited("send_error", "instance " + cfg_.name + ": sending an advert to " +
                                     dst.to_string() + " failed: " + std::strerror(err));
    } else {
      ++stats_.adverts_sent;
    }
  }
}

void Instance::acquire_vips() {
  // Failover duration starts at the last advert we heard from the old master; an election at
  // start-up, with no master ever heard, is not a failover.
  takeover_from_ = last_advert_heard_;
  if (pending_release_) {
    // Taking over again before a release finished: the VIPs are still here, and stay.
    pending_release_.reset();
    if (release_deadline_) loop_.cancel_timer(*release_deadline_);
    release_deadline_.reset();
  }
  record_vip_operations("add", vip_manager_.add(link_.ifindex, cfg_.vips));
}

void Instance::record_vip_operations(const char* op, const std::vector<net::VipOpResult>& results) {
  for (const auto& r : results) {
    ++agent_stats_.vip_operations[{op, r.ok ? "ok" : "error"}];
    if (!r.ok)
      spdlog::error("instance {}: cannot {} VIP {} on {}: {}", cfg_.name, op, r.vip.to_string(),
                    link_.name, r.error);
  }
}

void Instance::release_vips() {
  cancel_announcements();
  if (pending_release_) return;  // already under way
  if (resets_ == nullptr || !cfg_.reset_connections) return remove_vips();
  // Reset first, remove after: the RSTs need the VIP still on this node (kResetDeadline).
  const auto addresses = vip_addresses();
  if (stopping_) {
    record_reset(resets_->run_now(addresses));
    return remove_vips();
  }
  // Off the loop: a large reset takes longer than the shortest advert interval.
  const auto generation = ++release_generation_;
  pending_release_ = generation;
  std::weak_ptr<int> alive = alive_;
  resets_->submit(addresses, [this, alive, generation](const net::ResetResult& result) {
    if (alive.expired()) return;  // the instance was removed meanwhile
    record_reset(result);
    complete_release(generation);
  });
  release_deadline_ = loop_.add_timer(EventLoop::now() + kResetDeadline, [this, generation] {
    release_deadline_.reset();
    if (pending_release_ != generation) return;
    warn_limited("connection_reset_slow",
                 "instance " + cfg_.name +
                     ": resetting the connections of the released VIPs takes longer than " +
                     std::to_string(kResetDeadline.count()) +
                     " ms; removing the VIPs now (connections not reset by then get no RST)");
    complete_release(generation);
  });
}

void Instance::complete_release(std::uint64_t generation) {
  if (pending_release_ != generation) return;  // taken over again, or done already
  pending_release_.reset();
  if (release_deadline_) loop_.cancel_timer(*release_deadline_);
  release_deadline_.reset();
  remove_vips();
}

void Instance::remove_vips() {
  record_vip_operations("remove", vip_manager_.remove(link_.ifindex, cfg_.vips));
}

void Instance::record_reset(const net::ResetResult& r) {
  using Failure = net::ResetResult::Failure;
  stats_.connections_reset += r.reset;
  const double ms = static_cast<double>((r.dump_time + r.destroy_time).count()) / 1000.0;
  if (r.failure == Failure::None) {
    spdlog::info("instance {}: reset {} TCP connection(s) on the released VIPs ({:.1f} ms)",
                 cfg_.name, r.reset, ms);
    return;
  }
  const std::string reason(net::to_string(r.failure));
  ++stats_.connection_reset_failures[reason];
  if (r.failure != Failure::Error && resets_ != nullptr && resets_->first_report(r.failure))
    spdlog::error(
        "cannot reset the connections of released VIPs: {}. Consequence: after a failover, a "
        "client with a request in flight to this node waits for its own timeout instead of "
        "getting a RST and retrying at once. Counted in "
        "vipd_connection_reset_failures_total{{reason=\"{}\"}}; set reset_connections = false "
        "to stop trying. (Logged once.)",
        r.error, reason);
  const std::string message = "instance " + cfg_.name + ": reset " + std::to_string(r.reset) +
                              " of " + std::to_string(r.matched) +
                              " TCP connection(s) on the released VIPs: " + r.error;
  conditions_["connection_reset"] = {message, EventLoop::now()};
  spdlog::warn("{} ({:.1f} ms)", message, ms);
}

void Instance::announce_burst(int left, bool second) {
  if (machine_.state() != vrrp::State::Master || !link_.garp) return;
  const int frames = link_.garp->announce(vip_addresses());
  stats_.garp_sent += static_cast<std::uint64_t>(frames);
  if (takeover_from_) {
    // The first GARP of a takeover is out: that closes the failover measurement.
    stats_.last_failover_seconds = seconds(EventLoop::now() - *takeover_from_);
    ++stats_.failovers;
    spdlog::info(
        "instance {}: VIPs installed and announced {:.1f} ms after the last advert "
        "from the previous master",
        cfg_.name, stats_.last_failover_seconds * 1000);
    takeover_from_.reset();
    if (on_failover) on_failover(cfg_.name, stats_.last_failover_seconds);
  }
  // A burst is `repeat` rounds `interval` apart; then one second burst after
  // `second_burst_after` (keepalived: garp_master_delay); then, if configured, one round every
  // `refresh` (keepalived: garp_master_refresh) for as long as we are MASTER.
  const auto now = EventLoop::now();
  const auto& g = cfg_.garp;
  if (left > 1) {
    garp_timers_.push_back(loop_.add_timer(
        now + g.interval, [this, left, second] { announce_burst(left - 1, second); }));
  } else if (!second && g.second_burst_after.count() > 0) {
    garp_timers_.push_back(loop_.add_timer(now + g.second_burst_after,
                                           [this] { announce_burst(cfg_.garp.repeat, true); }));
  } else if (g.refresh.count() > 0) {
    garp_timers_.push_back(loop_.add_timer(now + g.refresh, [this] { announce_burst(1, true); }));
  }
}

void Instance::cancel_announcements() {
  for (auto id : garp_timers_) loop_.cancel_timer(id);
  garp_timers_.clear();
}

void Instance::receive(const net::ReceivedPacket& packet) {
  using vrrp::DropReason;
  const bool unicast = !cfg_.unicast_peers.empty();
  if (unicast) {
    if (packet.destination.is_multicast()) return agent_stats_.drop(DropReason::WrongDestination);
    if (std::find(cfg_.unicast_peers.begin(), cfg_.unicast_peers.end(), packet.source) ==
        cfg_.unicast_peers.end()) {
      warn_limited("not_a_peer", "instance " + cfg_.name + ": advert from " +
                                     packet.source.to_string() + " ignored: not in unicast_peers");
      return agent_stats_.drop(DropReason::NotAPeer);
    }
  } else {
    if (!packet.destination.is_multicast()) return agent_stats_.drop(DropReason::WrongDestination);
    // RFC 9568 §7.1: TTL must be 255 (multicast only; unicast may cross a router).
    if (packet.ttl != 255) return agent_stats_.drop(DropReason::Ttl);
  }
  vrrp::DecodeExpectations expect;
  expect.version = cfg_.version;
  expect.preferred_mode = cfg_.checksum;
  if (cfg_.version == 2 && !cfg_.auth_pass.empty()) {
    expect.auth_type = vrrp::AuthType::SimplePassword;
    expect.auth_data = auth_data_;
  }
  auto result = vrrp::decode(packet.payload, {packet.source, packet.destination}, expect);
  if (!result.ok()) {
    agent_stats_.drop(result.reason);
    if (result.reason == DropReason::AuthType || result.reason == DropReason::AuthMismatch)
      warn_limited("auth", "instance " + cfg_.name + ": advert from " + packet.source.to_string() +
                               " failed authentication (" +
                               std::string(vrrp::to_string(result.reason)) + ")");
    return;
  }
  auto& decoded = *result.decoded;
  const auto& adv = decoded.advert;
  // RFC 3768 §7.1: a v2 advert with another interval MUST be discarded.
  const auto ours = std::chrono::duration_cast<vrrp::Centiseconds>(cfg_.advert_interval);
  if (cfg_.version == 2 && adv.advert_interval != ours) {
    warn_limited("interval_mismatch",
                 "instance " + cfg_.name + ": v2 advert from " + packet.source.to_string() +
                     " with interval " + std::to_string(adv.advert_interval.count() / 100) +
                     "s dropped (ours is " + std::to_string(ours.count() / 100) + "s)");
    return agent_stats_.drop(DropReason::IntervalMismatch);
  }
  if (cfg_.version == 3 && adv.family == vrrp::Family::V4 &&
      decoded.verified_with != cfg_.checksum) {
    ++agent_stats_.checksum_mode_mismatch;
    warn_limited(
        "checksum_mode",
        "instance " + cfg_.name + ": peer " + packet.source.to_string() +
            " computes VRRPv3 checksums in " + std::string(vrrp::to_string(decoded.verified_with)) +
            " mode, this node in " + std::string(vrrp::to_string(cfg_.checksum)) +
            " mode; its adverts are accepted, but the peer rejects ours: set checksum = \"" +
            std::string(vrrp::to_string(decoded.verified_with)) +
            "\" on this instance (keepalived and FRR use pseudo-header)");
  }
  ++stats_.adverts_received;
  last_advert_heard_ = EventLoop::now();
  feed(vrrp::event::AdvertReceived{adv, packet.source});
}

void Instance::set_drained(bool drained, const std::string& why) {
  if (drained)
    feed(vrrp::event::DrainRequested{why});
  else
    feed(vrrp::event::DrainCancelled{why});
}

void Instance::link_changed(bool usable, const std::string& why) {
  if (usable)
    link_fault_.reset();
  else
    link_fault_ = why;
  apply_fault();
}

void Instance::apply_weights(const vrrp::Weighted& weighted) {
  const bool priority_changed = weighted.effective != weighted_.effective;
  weighted_ = weighted;
  check_fault_ = weighted.fault ? std::optional<std::string>("check " + *weighted.fault + " failed")
                                : std::nullopt;
  if (machine_.state() == vrrp::State::Init && !fault_raised_) return;  // applied at start()
  // A MASTER advertises a changed priority at once (the state machine decides, see
  // StateMachine::on(PriorityChanged)); a fault raised below then resigns with priority 0.
  if (priority_changed && !check_fault_)
    feed(vrrp::event::PriorityChanged{weighted.effective});
  else if (priority_changed)
    feed(vrrp::event::PriorityChanged{weighted.effective, /*announce=*/false});
  apply_fault();
}

void Instance::apply_fault() {
  const bool want = link_fault_ || check_fault_;
  if (machine_.state() == vrrp::State::Init && !fault_raised_) return;  // not started yet
  if (want && !fault_raised_) {
    fault_raised_ = true;
    feed(vrrp::event::FaultRaised{link_fault_ ? vrrp::Reason::LinkDown : vrrp::Reason::Fault,
                                  link_fault_ ? *link_fault_ : *check_fault_});
  } else if (!want && fault_raised_) {
    fault_raised_ = false;
    feed(vrrp::event::FaultCleared{"fault cleared"});
  }
}

std::optional<std::string> Instance::fault() const {
  if (link_fault_) return link_fault_;
  return check_fault_;
}

void Instance::vip_removed(const vrrp::IpPrefix& vip) {
  if (machine_.state() != vrrp::State::Master) return;
  if (std::find(cfg_.vips.begin(), cfg_.vips.end(), vip) == cfg_.vips.end()) return;
  // Our own releases happen only when leaving MASTER, so a removal seen while MASTER came from
  // someone else (or a stale event): re-check and put it back.
  const std::array<vrrp::IpPrefix, 1> one{vip};
  if (vip_manager_.present(link_.ifindex, one).front()) return;
  const auto r = vip_manager_.add(link_.ifindex, one).front();
  ++agent_stats_.vip_operations[{"readd", r.ok ? "ok" : "error"}];
  ++stats_.vip_readded;
  if (r.ok) {
    spdlog::warn("instance {}: VIP {} was removed from {} by someone else while MASTER; put back",
                 cfg_.name, vip.to_string(), link_.name);
    if (link_.garp)
      stats_.garp_sent += static_cast<std::uint64_t>(link_.garp->announce({{vip.address}}));
  } else {
    spdlog::error("instance {}: VIP {} was removed by someone else and cannot be put back: {}",
                  cfg_.name, vip.to_string(), r.error);
  }
}

void Instance::resync() {
  if (machine_.state() != vrrp::State::Master) return;
  const auto present = vip_manager_.present(link_.ifindex, cfg_.vips);
  for (std::size_t i = 0; i < present.size(); ++i)
    if (!present[i]) vip_removed(cfg_.vips[i]);
}

std::vector<bool> Instance::vips_present(const net::VipManager::AddressSet& addresses) const {
  return net::VipManager::present(addresses, link_.ifindex, cfg_.vips);
}

bool Instance::update(const config::Instance& cfg) {
  if (!can_update(cfg)) return false;
  cfg_ = cfg;
  return true;
}

bool Instance::can_update(const config::Instance& cfg) const { return soft_change_only(cfg_, cfg); }

void Instance::notify(vrrp::State state) {
  if (cfg_.notify.empty()) return;
  std::vector<std::string> args = cfg_.notify;
  args.push_back(cfg_.name);
  args.emplace_back(vrrp::to_string(state));
  args.push_back(std::to_string(machine_.effective_priority()));
  if (const auto error = spawn_detached(args)) {
    ++stats_.notices["notify_failed"];
    warn_limited("notify_failed", "instance " + cfg_.name + ": notify hook for state " +
                                      std::string(vrrp::to_string(state)) +
                                      " could not run: " + *error +
                                      " (check the notify path and its execute permission)");
  }
}

std::vector<std::string> Instance::warnings() const {
  // A condition is shown while it keeps happening: for 60 s after it was last seen.
  std::vector<std::string> out;
  const auto now = EventLoop::now();
  for (const auto& [key, entry] : conditions_)
    if (now - entry.second < 60s) out.push_back(entry.first);
  return out;
}

void Instance::warn_limited(const std::string& key, const std::string& message) {
  // At most one line per key every 10 s (RFC 9568 §7.1: log, rate-limited).
  const auto now = EventLoop::now();
  conditions_[key] = {message, now};
  auto it = warned_.find(key);
  if (it != warned_.end() && now - it->second < 10s) return;
  warned_[key] = now;
  spdlog::warn("{}", message);
}

}  // namespace vipd::app
