// In-process simulation (STYLE.md rule 10): StateMachine nodes on a fake LAN with a fake clock and
// a discrete event queue. Links lose, delay and partition adverts under a seeded std::mt19937.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <queue>
#include <random>
#include <utility>
#include <vector>

#include "vrrp/state_machine.h"

namespace vipd::sim {

using vrrp::Duration;
using vrrp::TimePoint;

/// One direction of one link.
struct LinkKnobs {
  double loss = 0.0;         // probability an advert is lost
  Duration delay{0};         // fixed one-way delay
  Duration jitter{0};        // plus uniform [0, jitter]; never reorders (FIFO)
  bool partitioned = false;  // everything is lost
};

class SimLan {
 public:
  struct Transition {
    TimePoint at;
    int node;
    vrrp::State from, to;
    vrrp::Reason reason;
  };
  struct Sent {
    TimePoint at;
    int node;
    std::uint8_t priority;
  };

  explicit SimLan(std::uint32_t seed) : rng_(seed) {}

  /// Adds a node; returns its index. Nothing runs until start().
  int add_node(vrrp::InstanceParams params);
  std::mt19937& rng() { return rng_; }

  // --- Scheduling scenario steps (each runs at `at` in simulated time).
  void start(int node, TimePoint at);
  /// The process dies: it stops sending and hears nothing (no priority-0 advert).
  void crash(int node, TimePoint at);
  /// A fresh process (a new StateMachine) starts on a crashed node.
  void restart(int node, TimePoint at);
  void inject(int node, vrrp::Event event, TimePoint at);
  void at(TimePoint when, std::function<void()> step);

  // --- Links.
  LinkKnobs& link(int from, int to) { return links_[{from, to}]; }
  void set_all_links(const LinkKnobs& knobs);
  void set_partitioned(bool partitioned);  // every link at once
  /// The worst one-way delivery time over all links.
  [[nodiscard]] Duration max_delay() const;

  /// Runs the event queue until simulated time `until` (inclusive).
  void run_until(TimePoint until);

  [[nodiscard]] TimePoint now() const { return now_; }
  [[nodiscard]] int size() const { return static_cast<int>(nodes_.size()); }
  [[nodiscard]] const vrrp::StateMachine& node(int i) const { return nodes_[i].sm; }
  [[nodiscard]] bool alive(int i) const { return nodes_[i].alive; }
  [[nodiscard]] bool holds_vips(int i) const { return nodes_[i].holds_vips; }
  /// Live nodes in MASTER.
  [[nodiscard]] std::vector<int> masters() const;
  /// Nodes that hold the VIPs (alive or not: a crashed node's address is gone with it).
  [[nodiscard]] std::vector<int> vip_holders() const;
  [[nodiscard]] const std::vector<Transition>& transitions() const { return transitions_; }
  [[nodiscard]] const std::vector<Sent>& sent() const { return sent_; }
  /// The first time at or after `after` that any node (or `node`) became MASTER.
  [[nodiscard]] std::optional<Transition> first_master_after(TimePoint after, int node = -1) const;

 private:
  struct Node {
    vrrp::StateMachine sm;
    bool alive = false;
    bool holds_vips = false;
    std::uint64_t incarnation = 0;  // events for an earlier process are dropped
  };
  struct Item {
    TimePoint at;
    std::uint64_t seq;
    std::function<void()> run;
  };
  struct Later {
    bool operator()(const Item& a, const Item& b) const {
      return a.at != b.at ? a.at > b.at : a.seq > b.seq;
    }
  };

  void schedule(TimePoint when, std::function<void()> run);
  void deliver(int node, const vrrp::Event& event);
  void execute(int node, const vrrp::Actions& actions);
  void broadcast(int from, std::uint8_t priority);

  std::mt19937 rng_;
  TimePoint now_{};
  std::uint64_t seq_ = 0;
  std::priority_queue<Item, std::vector<Item>, Later> queue_;
  std::vector<Node> nodes_;
  std::map<std::pair<int, int>, LinkKnobs> links_;
  /// Links are FIFO like an Ethernet segment: jitter delays but never reorders adverts.
  std::map<std::pair<int, int>, TimePoint> last_arrival_;
  std::vector<Transition> transitions_;
  std::vector<Sent> sent_;
};

}  // namespace vipd::sim
