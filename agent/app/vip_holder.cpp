// Holding and giving back the VIPs (vip_holder.h).
#include "app/vip_holder.h"

#include <algorithm>
#include <array>

#include <spdlog/spdlog.h>

namespace vipd::app {

// The removal waits because a RST can only leave while the VIP is still on this node: the kernel
// routes it from the socket's local address and refuses (ENETUNREACH) once that address is gone.
// Not longer than kResetDeadline, though: until the removal this node still answers ARP for the
// VIP. 10,000 connections take about 80 ms (docs/operations.md, "Connections on a failover").

VipHolder::VipHolder(Scheduler& scheduler, VipTable& table, ResetWorker* resets,
                     AgentStats& agent_stats, InstanceStats& stats, Conditions& conditions)
    : sched_(scheduler),
      table_(table),
      resets_(resets),
      agent_stats_(agent_stats),
      stats_(stats),
      conditions_(conditions) {}

VipHolder::~VipHolder() {
  if (deadline_) sched_.cancel_timer(*deadline_);
}

void VipHolder::configure(std::string instance, const InterfaceFacts& link,
                          std::vector<vrrp::IpPrefix> vips, bool reset_connections) {
  instance_ = std::move(instance);
  link_ = &link;
  vips_ = std::move(vips);
  reset_connections_ = reset_connections;
}

std::vector<vrrp::IpAddress> VipHolder::addresses() const {
  std::vector<vrrp::IpAddress> out;
  out.reserve(vips_.size());
  for (const auto& v : vips_) out.push_back(v.address);
  return out;
}

void VipHolder::remove_leftovers() {
  for (const auto& r : table_.remove(link_->index, vips_)) {
    if (r.ok && r.changed) {
      spdlog::warn("instance {}: removed leftover VIP {} from {} (left by an earlier run)",
                   instance_, r.vip.to_string(), link_->name);
      agent_stats_.count(VipOp::Remove, true);
    } else if (!r.ok) {
      spdlog::error("instance {}: cannot remove leftover VIP {}: {}", instance_, r.vip.to_string(),
                    r.error);
      agent_stats_.count(VipOp::Remove, false);
    }
  }
}

void VipHolder::acquire() {
  if (pending_) {
    // Taking over again before a release finished: the VIPs are still here, and stay.
    pending_.reset();
    if (deadline_) sched_.cancel_timer(*deadline_);
    deadline_.reset();
  }
  record(VipOp::Add, table_.add(link_->index, vips_));
}

void VipHolder::release(bool now) {
  if (pending_) return;  // already under way
  if (resets_ == nullptr || !reset_connections_) return remove();
  // Reset first, remove after: the RSTs need the VIP still on this node.
  if (now) {
    record_reset(resets_->run_now(addresses()));
    return remove();
  }
  // Off the loop: a large reset takes longer than the shortest advert interval.
  const auto generation = ++generation_;
  pending_ = generation;
  std::weak_ptr<int> alive = alive_;
  resets_->submit(addresses(), [this, alive, generation](const ResetResult& result) {
    if (alive.expired()) return;  // the instance was removed meanwhile
    record_reset(result);
    complete(generation);
  });
  deadline_ = sched_.add_timer(sched_.clock() + kResetDeadline, [this, generation] {
    deadline_.reset();
    if (pending_ != generation) return;
    conditions_.raise("connection_reset_slow",
                      "instance " + instance_ +
                          ": resetting the connections of the released VIPs takes longer than " +
                          std::to_string(kResetDeadline.count()) +
                          " ms; removing the VIPs now (connections not reset by then get no RST)");
    complete(generation);
  });
}

void VipHolder::finish_pending_release() {
  if (!pending_) return;
  if (resets_) record_reset(resets_->run_now(addresses()));
  complete(*pending_);
}

void VipHolder::complete(std::uint64_t generation) {
  if (pending_ != generation) return;  // taken over again, or done already
  pending_.reset();
  if (deadline_) sched_.cancel_timer(*deadline_);
  deadline_.reset();
  remove();
}

void VipHolder::remove() { record(VipOp::Remove, table_.remove(link_->index, vips_)); }

void VipHolder::record(VipOp op, const std::vector<VipOpResult>& results) {
  for (const auto& r : results) {
    agent_stats_.count(op, r.ok);
    if (!r.ok)
      spdlog::error("instance {}: cannot {} VIP {} on {}: {}", instance_, to_string(op),
                    r.vip.to_string(), link_->name, r.error);
  }
}

bool VipHolder::put_back(const vrrp::IpPrefix& vip) {
  if (std::find(vips_.begin(), vips_.end(), vip) == vips_.end()) return false;
  // Our own releases happen only when leaving MASTER, so a removal seen while MASTER came from
  // someone else (or a stale event): re-check and put it back.
  const std::array<vrrp::IpPrefix, 1> one{vip};
  if (table_.present(link_->index, one).front()) return false;
  const auto r = table_.add(link_->index, one).front();
  agent_stats_.count(VipOp::Readd, r.ok);
  ++stats_.vip_readded;
  if (!r.ok) {
    spdlog::error("instance {}: VIP {} was removed by someone else and cannot be put back: {}",
                  instance_, vip.to_string(), r.error);
    return false;
  }
  spdlog::warn("instance {}: VIP {} was removed from {} by someone else while MASTER; put back",
               instance_, vip.to_string(), link_->name);
  return true;
}

std::vector<vrrp::IpPrefix> VipHolder::repair() {
  std::vector<vrrp::IpPrefix> restored;
  const auto present = table_.present(link_->index, vips_);
  for (std::size_t i = 0; i < present.size() && i < vips_.size(); ++i)
    if (!present[i] && put_back(vips_[i])) restored.push_back(vips_[i]);
  return restored;
}

void VipHolder::record_reset(const ResetResult& r) {
  using Failure = ResetResult::Failure;
  stats_.connections_reset += r.reset;
  const double ms = static_cast<double>((r.dump_time + r.destroy_time).count()) / 1000.0;
  if (r.failure == Failure::None) {
    spdlog::info("instance {}: reset {} TCP connection(s) on the released VIPs ({:.1f} ms)",
                 instance_, r.reset, ms);
    return;
  }
  const std::string reason(to_string(r.failure));
  ++stats_.connection_reset_failures[reason];
  if (r.failure != Failure::Error && resets_ != nullptr && resets_->first_report(r.failure))
    spdlog::error(
        "cannot reset the connections of released VIPs: {}. Consequence: after a failover, a "
        "client with a request in flight to this node waits for its own timeout instead of "
        "getting a RST and retrying at once. Counted in "
        "vipd_connection_reset_failures_total{{reason=\"{}\"}}; set reset_connections = false "
        "to stop trying. (Logged once.)",
        r.error, reason);
  const std::string message = "instance " + instance_ + ": reset " + std::to_string(r.reset) +
                              " of " + std::to_string(r.matched) +
                              " TCP connection(s) on the released VIPs: " + r.error;
  conditions_.record("connection_reset", message);
  spdlog::warn("{} ({:.1f} ms)", message, ms);
}

}  // namespace vipd::app
