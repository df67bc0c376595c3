// The single-threaded event loop: epoll + one timerfd (absolute CLOCK_MONOTONIC deadlines) +
// signalfd + an eventfd for work posted from other threads. It owns all VRRP state by running
// every callback on one thread; nothing slow may run in a callback.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "app/ports.h"
#include "vrrp/timers.h"

namespace vipd::app {

using vrrp::TimePoint;

class EventLoop final : public Scheduler {
 public:
  /// Blocks `signals` in the calling thread (create the loop before any other thread so that
  /// every thread inherits the mask) and delivers them through a signalfd.
  explicit EventLoop(const std::vector<int>& signals = {});
  ~EventLoop() override;
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  /// Calls `on_readable` whenever `fd` is readable (level-triggered). One callback per fd.
  void add_fd(int fd, Callback on_readable);
  void remove_fd(int fd);

  /// One-shot timer at an absolute steady-clock deadline. Returns an id for cancel_timer().
  TimerId add_timer(TimePoint deadline, Callback callback) override;
  /// Cancelling an expired or unknown id is a no-op.
  void cancel_timer(TimerId id) override;

  void on_signal(int signo, Callback callback);

  /// Thread-safe: queues `callback` to run on the loop thread and wakes the loop.
  void post(Callback callback) override;

  /// Runs until stop(). Each iteration stamps the heartbeat (see heartbeat()).
  void run();
  /// Thread-safe.
  void stop();

  [[nodiscard]] static TimePoint now();
  [[nodiscard]] TimePoint clock() const override { return now(); }
  /// Called (loop thread) with the text of an exception a callback threw; the loop goes on.
  void on_exception(std::function<void(const char*)> handler) {
    on_exception_ = std::move(handler);
  }
  /// Callbacks that threw (each one caught, reported, and the loop went on).
  [[nodiscard]] std::uint64_t callback_exceptions() const { return callback_exceptions_; }
  /// When the loop last completed an iteration; /healthz answers from it. Thread-safe.
  [[nodiscard]] TimePoint heartbeat() const {
    return TimePoint{vrrp::Duration{heartbeat_us_.load()}};
  }
  /// Wakes the loop at least this often so the heartbeat stays fresh while idle.
  void set_heartbeat_interval(vrrp::Duration interval) { heartbeat_interval_ = interval; }

 private:
  void arm_timerfd();
  void run_due_timers();
  void drain_posted();
  void drain_signals();
  void invoke(const Callback& callback);

  int epoll_fd_ = -1;
  int timer_fd_ = -1;
  int signal_fd_ = -1;
  int event_fd_ = -1;
  bool running_ = false;
  std::atomic<bool> stop_requested_{false};
  std::atomic<std::int64_t> heartbeat_us_{0};
  vrrp::Duration heartbeat_interval_{std::chrono::milliseconds(250)};

  std::unordered_map<int, Callback> fds_;
  std::multimap<TimePoint, TimerId> deadlines_;
  std::unordered_map<TimerId, std::pair<std::multimap<TimePoint, TimerId>::iterator, Callback>>
      timers_;
  TimerId next_timer_id_ = 1;
  std::unordered_map<int, Callback> signal_handlers_;

  std::function<void(const char*)> on_exception_;
  std::uint64_t callback_exceptions_ = 0;

  std::mutex posted_mutex_;
  std::vector<Callback> posted_;
};

}  // namespace vipd::app
