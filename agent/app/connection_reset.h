// Runs the connection resets of released VIPs (the ResetConnections port) off the event loop: one
// worker thread takes one job at a time and posts its result back to the loop. With 10,000
// connections a reset takes tens of milliseconds, longer than the shortest advert interval, so it
// must not run on the loop thread (docs/operations.md, "Connections on a failover").
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <set>
#include <span>
#include <thread>
#include <vector>

#include "app/ports.h"
#include "vrrp/ip_address.h"

namespace vipd::app {

class ResetWorker {
 public:
  /// The port: resets the connections of a set of local addresses (net::reset_connections; a
  /// fake in tests). Called on the worker thread, and on the loop thread by run_now().
  using Reset = ResetConnections;
  /// Receives a job's result, on the loop thread.
  using Done = std::function<void(const ResetResult&)>;

  ResetWorker(Scheduler& loop, Reset reset);
  /// Finishes the job under way (bounded by the reset's own timeouts), drops the queued ones.
  ~ResetWorker();
  ResetWorker(const ResetWorker&) = delete;
  ResetWorker& operator=(const ResetWorker&) = delete;

  /// Queues a reset; `done` is posted to the loop when it has run.
  void submit(std::vector<vrrp::IpAddress> addresses, Done done);
  /// Runs a reset on the calling thread and returns its result (shutdown, where the loop stops
  /// right after and nothing else is waiting).
  ResetResult run_now(std::span<const vrrp::IpAddress> addresses) { return reset_(addresses); }
  /// True the first time a failure kind is reported (loop thread), so that a kernel that cannot
  /// destroy sockets is explained once in the log, not at every failover.
  bool first_report(ResetResult::Failure failure) { return reported_.insert(failure).second; }

 private:
  struct Job {
    std::vector<vrrp::IpAddress> addresses;
    Done done;
  };
  void work();

  Scheduler& loop_;
  Reset reset_;
  std::set<ResetResult::Failure> reported_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> jobs_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace vipd::app
