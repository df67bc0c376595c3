// The fake LAN: a discrete event queue executing the state machine's actions like the agent does.
#include "sim_lan.h"

#include <algorithm>

namespace vipd::sim {

using namespace vrrp;

int SimLan::add_node(InstanceParams params) {
  nodes_.push_back(Node{StateMachine(std::move(params))});
  const int n = size() - 1;
  for (int other = 0; other < n; ++other) {
    links_[{n, other}] = LinkKnobs{};
    links_[{other, n}] = LinkKnobs{};
  }
  return n;
}

void SimLan::schedule(TimePoint when, std::function<void()> run) {
  queue_.push(Item{std::max(when, now_), seq_++, std::move(run)});
}

void SimLan::at(TimePoint when, std::function<void()> step) { schedule(when, std::move(step)); }

void SimLan::start(int node, TimePoint when) {
  schedule(when, [this, node] {
    nodes_[node].alive = true;
    deliver(node, event::Startup{});
  });
}

void SimLan::crash(int node, TimePoint when) {
  schedule(when, [this, node] {
    Node& n = nodes_[node];
    n.alive = false;
    n.holds_vips = false;  // the kernel's address goes with the host in this model
    ++n.incarnation;
  });
}

void SimLan::restart(int node, TimePoint when) {
  schedule(when, [this, node] {
    Node& n = nodes_[node];
    n.sm = StateMachine(n.sm.params());
    n.holds_vips = false;
    ++n.incarnation;
    n.alive = true;
    deliver(node, event::Startup{});
  });
}

void SimLan::inject(int node, Event event, TimePoint when) {
  schedule(when, [this, node, event = std::move(event)] { deliver(node, event); });
}

void SimLan::set_all_links(const LinkKnobs& knobs) {
  for (auto& [key, link] : links_) link = knobs;
}

void SimLan::set_partitioned(bool partitioned) {
  for (auto& [key, link] : links_) link.partitioned = partitioned;
}

Duration SimLan::max_delay() const {
  Duration worst{0};
  for (const auto& [key, link] : links_) worst = std::max(worst, link.delay + link.jitter);
  return worst;
}

void SimLan::run_until(TimePoint until) {
  while (!queue_.empty() && queue_.top().at <= until) {
    Item item = queue_.top();
    queue_.pop();
    now_ = item.at;
    item.run();
  }
  now_ = until;
}

void SimLan::deliver(int node, const Event& event) {
  if (!nodes_[node].alive) return;
  execute(node, nodes_[node].sm.handle(event, now_));
}

// What the agent does with each action. Timer expiries are delivered for every ArmTimer, even
// after a re-arm or a cancel — the harshest agent possible — so the state machine's stale-timer
// handling is exercised on every run.
void SimLan::execute(int node, const Actions& actions) {
  Node& n = nodes_[node];
  for (const Action& action : actions) {
    if (const auto* send = std::get_if<action::SendAdvert>(&action)) {
      broadcast(node, send->priority);
    } else if (const auto* arm = std::get_if<action::ArmTimer>(&action)) {
      const std::uint64_t incarnation = n.incarnation;
      const Timer timer = arm->timer;
      schedule(arm->deadline, [this, node, incarnation, timer] {
        if (nodes_[node].incarnation != incarnation) return;
        if (timer == Timer::MasterDown) {
          deliver(node, event::MasterDownTimerExpired{});
        } else {
          deliver(node, event::AdverTimerExpired{});
        }
      });
    } else if (std::holds_alternative<action::AcquireVips>(action)) {
      n.holds_vips = true;
    } else if (std::holds_alternative<action::ReleaseVips>(action)) {
      n.holds_vips = false;
    } else if (const auto* changed = std::get_if<action::StateChanged>(&action)) {
      transitions_.push_back(Transition{now_, node, changed->from, changed->to, changed->reason});
    }
  }
}

void SimLan::broadcast(int from, std::uint8_t priority) {
  sent_.push_back(Sent{now_, from, priority});
  const InstanceParams& p = nodes_[from].sm.params();
  Advertisement advert;
  advert.version = p.version;
  advert.vrid = p.vrid;
  advert.priority = priority;
  advert.advert_interval = p.advert_interval;
  advert.family = p.primary_address.family;
  for (const IpAddress& vip : p.vips) advert.addresses.push_back(vip);
  for (int to = 0; to < size(); ++to) {
    if (to == from) continue;
    const LinkKnobs& link = links_[{from, to}];
    if (link.partitioned) continue;
    if (link.loss > 0 && std::bernoulli_distribution(link.loss)(rng_)) continue;
    Duration delay = link.delay;
    if (link.jitter.count() > 0) {
      delay += Duration{std::uniform_int_distribution<std::int64_t>(0, link.jitter.count())(rng_)};
    }
    TimePoint& last = last_arrival_[{from, to}];
    last = std::max(last, now_ + delay);
    const std::uint64_t incarnation = nodes_[to].incarnation;
    schedule(last, [this, to, incarnation, advert, source = p.primary_address] {
      if (nodes_[to].incarnation != incarnation) return;
      deliver(to, event::AdvertReceived{advert, source});
    });
  }
}

std::vector<int> SimLan::masters() const {
  std::vector<int> found;
  for (int i = 0; i < size(); ++i) {
    if (nodes_[i].alive && nodes_[i].sm.state() == State::Master) found.push_back(i);
  }
  return found;
}

std::vector<int> SimLan::vip_holders() const {
  std::vector<int> found;
  for (int i = 0; i < size(); ++i) {
    if (nodes_[i].holds_vips) found.push_back(i);
  }
  return found;
}

std::optional<SimLan::Transition> SimLan::first_master_after(TimePoint after, int node) const {
  for (const Transition& t : transitions_) {
    if (t.at >= after && t.to == State::Master && (node < 0 || t.node == node)) return t;
  }
  return std::nullopt;
}

}  // namespace vipd::sim
