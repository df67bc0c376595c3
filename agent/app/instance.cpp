// Instance: drives one StateMachine and executes its actions (STYLE.md rules 1, 6, 7).
#include "app/instance.h"

#include <algorithm>
#include <cstring>

#include <spdlog/spdlog.h>

#include "app/notify.h"
#include "app/reload_policy.h"
#include "vrrp/ipv6_payload.h"

namespace vipd::app {
namespace {

/// unicast_src, or the link's own source: the primary IPv4 address, or the IPv6 link-local one.
vrrp::IpAddress source_of(const config::Instance& cfg, const Link& link) {
  if (cfg.unicast_src) return *cfg.unicast_src;
  const auto unknown = cfg.family == vrrp::Family::V4 ? vrrp::IpAddress{} : vrrp::IpAddress::v6({});
  return link.own_source().value_or(unknown);
}

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
  if (cfg.lower_priority_answer_interval)
    p.lower_answer_interval =
        std::chrono::duration_cast<vrrp::Duration>(*cfg.lower_priority_answer_interval);
  if (p.group_size == 0 && cfg.unicast_peers.size() == 1) p.group_size = 2;  // DESIGN.md §4
  p.primary_address = source_of(cfg, link);
  // RFC 9568 §5.2.5: "Count IPvX Addr" is one octet, so an advert lists at most 255 addresses.
  // These are the addresses we advertise and compare peers' adverts with; with more VIPs, all are
  // still installed and announced by GARP (vrrp::encode refuses more than 255).
  for (const auto& v : cfg.vips)
    if (p.vips.size() < 255) p.vips.push_back(v.address);
  return p;
}

}  // namespace

Instance::Instance(config::Instance cfg, Link& link, Scheduler& scheduler, VipTable& vips,
                   AgentStats& agent_stats, ResetWorker* resets)
    : cfg_(std::move(cfg)),
      link_(link),
      sched_(scheduler),
      agent_stats_(agent_stats),
      conditions_(scheduler),
      vips_(scheduler, vips, resets, agent_stats, stats_, conditions_),
      announcements_(scheduler, [this] { return announce_round(); }),
      machine_(params_from(cfg_, link)),
      trust_(cfg_, link.hmac) {
  weighted_.effective = cfg_.priority;
  announcements_.on_failover = [this](double secs) {
    spdlog::info(
        "instance {}: VIPs installed and announced {:.1f} ms after the last advert "
        "from the previous master",
        cfg_.name, secs * 1000);
    stats_.last_failover_seconds = secs;
    stats_.failovers = announcements_.failovers();
    if (on_failover) on_failover(cfg_.name, secs);
  };
  configure_jobs();
}

Instance::~Instance() {
  for (auto& [t, id] : timers_) sched_.cancel_timer(id);
  sched_.cancel_timer(action_retry_);
}

void Instance::configure_jobs() {
  const auto n = std::min<std::size_t>(cfg_.auth_pass.size(), auth_data_.size());
  auth_data_ = {};
  std::memcpy(auth_data_.data(), cfg_.auth_pass.data(), n);
  vips_.configure(cfg_.name, link_.facts, cfg_.vips, cfg_.reset_connections);
  announcements_.set_garp(cfg_.garp);
  receiver_.vrid = cfg_.vrid;
  receiver_.version = cfg_.version;
  receiver_.checksum = trust_.preferred_checksum();
  receiver_.advert_interval = std::chrono::duration_cast<vrrp::Centiseconds>(cfg_.advert_interval);
  receiver_.unicast_peers = cfg_.unicast_peers;
  receiver_.vips = machine_.params().vips;
  receiver_.drop_address_mismatch = cfg_.ignore_address_mismatch;
  receiver_.auth_type = vrrp::AuthType::None;
  receiver_.auth_data = {};
  if (cfg_.version == 2 && !cfg_.auth_pass.empty()) {
    receiver_.auth_type = vrrp::AuthType::SimplePassword;
    receiver_.auth_data = auth_data_;
  }
}

void Instance::start() {
  // DESIGN.md §5: a VIP left over from a crash is removed before the first election, so that it
  // is never in two places.
  vips_.remove_leftovers();
  if (!link_.usable)
    fault_.set_link("interface " + link_.facts.name + " is down");
  else if (auto why = missing_source())
    fault_.set_link(*why);
  if (auto edge = fault_.edge()) feed(*edge);
  feed(vrrp::event::PriorityChanged{weighted_.effective});
  feed(vrrp::event::Startup{});
}

void Instance::shutdown() {
  stopping_ = true;
  // A release still waiting for its reset finishes now, here: the loop stops after this.
  vips_.finish_pending_release();
  feed(vrrp::event::Shutdown{});
}

void Instance::feed(const vrrp::Event& event) {
  std::optional<std::string> failure;
  for (const auto& action : machine_.handle(event, sched_.clock())) {
    try {
      execute(action);
    } catch (const std::exception& e) {
      // An adapter that throws must not end the agent (DESIGN.md: no exception ends it): the
      // failure is counted, shown and logged; the next actions still run.
      ++stats_.action_failures;
      conditions_.raise("action_failed",
                        "instance " + cfg_.name + ": an action failed: " + e.what());
      failure = e.what();
    }
  }
  if (failure) action_failed(*failure);
}

void Instance::action_failed(const std::string& what) {
  if (stopping_) return;
  // Issue 15: an instance that cannot do what its state demands must not hold (or claim) the
  // VIPs half-way: it goes to FAULT (priority 0 if it was MASTER) and tries again later.
  fault_.set_action("an action failed: " + what);
  sched_.cancel_timer(action_retry_);
  action_retry_ = sched_.add_timer(sched_.clock() + kActionRetry, [this] {
    action_retry_ = 0;
    fault_.set_action(std::nullopt);
    apply_fault();
  });
  apply_fault();
}

void Instance::arm(vrrp::Timer timer, TimePoint deadline) {
  if (auto it = timers_.find(timer); it != timers_.end()) sched_.cancel_timer(it->second);
  timers_[timer] = sched_.add_timer(deadline, [this, timer] {
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
}

void Instance::execute(const vrrp::Action& action) {
  std::visit(
      [this](const auto& a) {
        using T = std::decay_t<decltype(a)>;
        if constexpr (std::is_same_v<T, vrrp::action::SendAdvert>) {
          send_advert(a.priority);
        } else if constexpr (std::is_same_v<T, vrrp::action::ArmTimer>) {
          arm(a.timer, a.deadline);
        } else if constexpr (std::is_same_v<T, vrrp::action::CancelTimer>) {
          if (auto it = timers_.find(a.timer); it != timers_.end()) {
            sched_.cancel_timer(it->second);
            timers_.erase(it);
          }
        } else if constexpr (std::is_same_v<T, vrrp::action::AcquireVips>) {
          // The failover is measured from the last advert heard from the old master; an election
          // at start-up, with no master ever heard, is not a failover.
          announcements_.mark_takeover(last_advert_heard_);
          vips_.acquire();
        } else if constexpr (std::is_same_v<T, vrrp::action::ReleaseVips>) {
          announcements_.cancel();
          vips_.release(stopping_);
        } else if constexpr (std::is_same_v<T, vrrp::action::Announce>) {
          if (a.why == vrrp::action::Announce::Why::LowerPriorityHeard) {
            if (!announcements_.reannounce()) return;
            conditions_.raise("lower_priority_heard",
                              "instance " + cfg_.name +
                                  ": heard a lower-priority advert while MASTER (split brain "
                                  "healing); re-announcing the VIPs");
            return;
          }
          announcements_.start();
        } else if constexpr (std::is_same_v<T, vrrp::action::StateChanged>) {
          last_transition_ = {a.from, a.to, a.reason, a.explanation, sched_.clock()};
          ++stats_.transitions[{a.from, a.to, a.reason}];
          spdlog::info("instance {}: state {} -> {} (reason {}): {}", cfg_.name,
                       vrrp::to_string(a.from), vrrp::to_string(a.to), vrrp::to_string(a.reason),
                       a.explanation);
          notify(a.to);
          if (on_state_changed) on_state_changed(*this);
        } else if constexpr (std::is_same_v<T, vrrp::action::Notice>) {
          ++stats_.notices[a.key];
          if (a.level == vrrp::action::Notice::Level::Warning)
            conditions_.raise(a.key, "instance " + cfg_.name + ": " + a.message);
          else
            spdlog::info("instance {}: {}", cfg_.name, a.message);
        }
      },
      action);
}

vrrp::IpAddress Instance::source_address() const { return source_of(cfg_, link_); }

void Instance::send_advert(std::uint8_t priority) {
  if (!link_.channel) return;
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
  // RFC 9568 §5.1.1.2, §5.1.2.2: the VRRP multicast group of the instance's family.
  static const auto kGroup4 = *vrrp::IpAddress::parse("224.0.0.18");
  static const auto kGroup6 = *vrrp::IpAddress::parse("ff02::12");
  std::vector<vrrp::IpAddress> destinations = cfg_.unicast_peers;
  if (destinations.empty())
    destinations.push_back(adv.family == vrrp::Family::V6 ? kGroup6 : kGroup4);
  const auto form = trust_.send_form();  // checksum = "auto" alternates until a peer is heard
  std::vector<std::uint8_t> trailer;     // auth_hmac: one trailer for every copy
  for (const auto& dst : destinations) {
    auto bytes = vrrp::encode(adv, {src, dst}, form);
    if (dst == destinations.front()) trailer = trust_.trailer(bytes, src, AdvertTrust::wall_now());
    bytes.insert(bytes.end(), trailer.begin(), trailer.end());
    // IPv6: the checksum covers the whole payload, trailer included (keepalived 2.4.3 lets the
    // kernel verify it so, and drops anything else before it reaches the VRRP code).
    if (!trailer.empty() && adv.family == vrrp::Family::V6)
      vrrp::checksum_whole_ipv6_payload(bytes, {src, dst});
    if (int err = link_.channel->send(bytes, src, dst); err != 0) {
      ++stats_.send_errors;
      conditions_.raise("send_error", "instance " + cfg_.name + ": sending an advert to " +
                                          dst.to_string() + " failed: " + std::strerror(err));
    } else {
      ++stats_.adverts_sent;
    }
  }
}

std::optional<int> Instance::announce_round() {
  if (machine_.state() != vrrp::State::Master || !link_.announcer) return std::nullopt;
  const int frames = link_.announcer->announce(vips_.addresses());
  stats_.garp_sent += static_cast<std::uint64_t>(frames);
  return frames;
}

void Instance::refused(const vrrp::Admission& admission, const vrrp::Datagram& datagram) {
  using vrrp::DropReason;
  const auto from = datagram.source.to_string();
  switch (admission.reason) {
    case DropReason::NotAPeer:
      conditions_.raise("not_a_peer", "instance " + cfg_.name + ": advert from " + from +
                                          " ignored: not in unicast_peers");
      break;
    case DropReason::AuthType:
    case DropReason::AuthMismatch:
      conditions_.raise("auth", "instance " + cfg_.name + ": advert from " + from +
                                    " failed authentication (" +
                                    std::string(vrrp::to_string(admission.reason)) + ")");
      break;
    case DropReason::IntervalMismatch: {
      // The interval is byte 5 of a v2 advert (whole seconds); admission got that far.
      const int theirs = datagram.payload.size() > 5 ? datagram.payload[5] : 0;
      const auto ours = std::chrono::duration_cast<vrrp::Centiseconds>(cfg_.advert_interval);
      conditions_.raise("interval_mismatch", "instance " + cfg_.name + ": v2 advert from " + from +
                                                 " with interval " + std::to_string(theirs) +
                                                 "s dropped (ours is " +
                                                 std::to_string(ours.count() / 100) + "s)");
      break;
    }
    default:
      break;
  }
}

std::optional<vrrp::DropReason> Instance::authenticate(const vrrp::Datagram& datagram) {
  const auto verdict = trust_.admit(datagram.payload, datagram.source, AdvertTrust::wall_now());
  if (!verdict.drop) return std::nullopt;
  conditions_.raise("auth", "instance " + cfg_.name + ": advert from " +
                                datagram.source.to_string() +
                                " dropped: " + std::string(vrrp::to_string(*verdict.drop)));
  return verdict.drop;
}

void Instance::receive(const vrrp::Admission& admission, const vrrp::IpAddress& source) {
  const auto& decoded = *admission.decoded;
  const auto ours = std::chrono::duration_cast<vrrp::Centiseconds>(cfg_.advert_interval);
  if (cfg_.version == 3 && !trust_.interval_learnable(decoded.advert.advert_interval)) {
    // issue 12: a forged 40.95 s advert must not stretch every timer (learn_interval_factor).
    agent_stats_.drop(vrrp::DropReason::IntervalOutOfBounds);
    conditions_.raise("interval_out_of_bounds",
                      "instance " + cfg_.name + ": advert from " + source.to_string() +
                          " with interval " +
                          std::to_string(decoded.advert.advert_interval.count() * 10) +
                          " ms ignored: outside learn_interval_factor = " +
                          std::to_string(cfg_.learn_interval_factor) + " of ours (" +
                          std::to_string(ours.count() * 10) + " ms)");
    return;
  }
  if (const auto learnt = trust_.heard(source, decoded.verified_with)) {
    spdlog::info("instance {}: {}", cfg_.name, *learnt);
    receiver_.checksum = trust_.preferred_checksum();
  }
  if (admission.other_checksum_form && !cfg_.checksum_auto) {
    ++agent_stats_.checksum_mode_mismatch;
    const std::string theirs(vrrp::to_string(decoded.verified_with));
    conditions_.raise("checksum_mode",
                      "instance " + cfg_.name + ": peer " + source.to_string() +
                          " computes VRRPv3 checksums in " + theirs + " mode, this node in " +
                          std::string(vrrp::to_string(cfg_.checksum)) +
                          " mode; its adverts are accepted, but the peer rejects ours: set "
                          "checksum = \"" +
                          theirs + "\" on this instance (keepalived and FRR use pseudo-header)");
  }
  // RFC 9568 §7.1: an address-list mismatch is logged and processed, not dropped: another router
  // uses our VRID with other addresses (a VRID conflict, issue 14). Counted as such, not as a
  // drop; address_mismatch = "ignore" drops these in admission instead.
  if (admission.address_list_mismatch) {
    ++agent_stats_.vrid_conflicts;
    conditions_.raise("vrid_conflict",
                      "instance " + cfg_.name + ": router " + source.to_string() +
                          " advertises VRID " + std::to_string(cfg_.vrid) +
                          " with other addresses than ours; its adverts take part in our "
                          "election (give it another VRID, or set address_mismatch = "
                          "\"ignore\")");
  }
  ++stats_.adverts_received;
  last_advert_heard_ = sched_.clock();
  feed(vrrp::event::AdvertReceived{decoded.advert, source});
  if (const auto suppressed = machine_.answers_suppressed(); suppressed != 0) {
    // The throttle on answers to lower-priority adverts (issue 12), counted beside the notices.
    stats_.notices["lower_priority_answer_suppressed"] = suppressed;
  }
}

void Instance::set_drained(bool drained, const std::string& why) {
  if (drained)
    feed(vrrp::event::DrainRequested{why});
  else
    feed(vrrp::event::DrainCancelled{why});
}

void Instance::link_changed(bool usable, const std::string& why) {
  // Up again is not enough over IPv6: the link-local address comes back after the link.
  fault_.set_link(usable ? missing_source() : std::optional<std::string>(why));
  apply_fault();
}

std::optional<std::string> Instance::missing_source() const {
  if (cfg_.family != vrrp::Family::V6 || cfg_.unicast_src || link_.own_source())
    return std::nullopt;
  return "interface " + link_.facts.name +
         " has no IPv6 link-local address (yet): VRRP adverts over IPv6 are sent from it "
         "(RFC 9568 §5.1.2.1); waiting for one (is IPv6 enabled on it? sysctl net.ipv6.conf." +
         link_.facts.name + ".disable_ipv6 = 0)";
}

void Instance::source_changed() {
  machine_.set_primary_address(source_of(cfg_, link_));
  if (!link_.usable) return;  // the link's own fault stands; link_changed() re-checks
  fault_.set_link(missing_source());
  apply_fault();
}

void Instance::apply_weights(const vrrp::Weighted& weighted) {
  const bool priority_changed = weighted.effective != weighted_.effective;
  weighted_ = weighted;
  fault_.set_check(weighted.fault
                       ? std::optional<std::string>("check " + *weighted.fault + " failed")
                       : std::nullopt);
  if (machine_.state() == vrrp::State::Init && !fault_.raised()) return;  // applied at start()
  // A MASTER advertises a changed priority at once (the state machine decides, see
  // StateMachine::on(PriorityChanged)); a fault raised below then resigns with priority 0.
  if (priority_changed)
    feed(vrrp::event::PriorityChanged{weighted.effective, /*announce=*/!weighted.fault});
  apply_fault();
}

void Instance::group_takeover(const std::string& why) { feed(vrrp::event::GroupTakeover{why}); }

void Instance::set_group_fault(std::optional<std::string> why) {
  fault_.set_group(std::move(why));
  apply_fault();
}

std::optional<std::string> Instance::own_fault() const {
  if (auto own = fault_.own_reason()) return own;
  // Before start() the link's state is not in the latch yet (start() puts it there).
  if (!link_.usable && machine_.state() == vrrp::State::Init)
    return "interface " + link_.facts.name + " is down";
  if (machine_.state() == vrrp::State::Init) return missing_source();
  return std::nullopt;
}

void Instance::apply_fault() {
  if (machine_.state() == vrrp::State::Init && !fault_.raised()) return;  // not started yet
  if (auto edge = fault_.edge()) feed(*edge);
}

void Instance::vip_removed(const vrrp::IpPrefix& vip) {
  if (machine_.state() != vrrp::State::Master) return;
  if (vips_.put_back(vip) && link_.announcer)
    stats_.garp_sent += static_cast<std::uint64_t>(link_.announcer->announce({{vip.address}}));
}

void Instance::resync() {
  if (machine_.state() != vrrp::State::Master) return;
  for (const auto& vip : vips_.repair())
    if (link_.announcer)
      stats_.garp_sent += static_cast<std::uint64_t>(link_.announcer->announce({{vip.address}}));
}

std::vector<bool> Instance::vips_present(const AddressSet& addresses) const {
  return present_in(addresses, link_.facts.index, cfg_.vips);
}

bool Instance::update(const config::Instance& cfg) {
  if (!can_update(cfg)) return false;
  cfg_ = cfg;
  configure_jobs();
  trust_.reconfigure(cfg_);  // key rotation: replay marks and the sequence carry on
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
    conditions_.raise("notify_failed", "instance " + cfg_.name + ": notify hook for state " +
                                           std::string(vrrp::to_string(state)) +
                                           " could not run: " + *error +
                                           " (check the notify path and its execute permission)");
  }
}

}  // namespace vipd::app
