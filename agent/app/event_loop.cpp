// epoll + timerfd + signalfd + eventfd event loop.
#include "app/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <system_error>

namespace vipd::app {
namespace {

[[noreturn]] void fail(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

void watch(int epoll_fd, int fd) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) fail("epoll_ctl(ADD)");
}

}  // namespace

EventLoop::EventLoop(const std::vector<int>& signals) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) fail("epoll_create1");
  timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (timer_fd_ < 0) fail("timerfd_create");
  event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (event_fd_ < 0) fail("eventfd");
  sigset_t mask;
  sigemptyset(&mask);
  for (int s : signals) sigaddset(&mask, s);
  if (pthread_sigmask(SIG_BLOCK, &mask, nullptr) != 0) fail("pthread_sigmask");
  signal_fd_ = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (signal_fd_ < 0) fail("signalfd");
  watch(epoll_fd_, timer_fd_);
  watch(epoll_fd_, event_fd_);
  watch(epoll_fd_, signal_fd_);
  heartbeat_us_ = now().time_since_epoch().count();
}

EventLoop::~EventLoop() {
  for (int fd : {signal_fd_, event_fd_, timer_fd_, epoll_fd_})
    if (fd >= 0) close(fd);
}

TimePoint EventLoop::now() {
  return std::chrono::time_point_cast<vrrp::Duration>(std::chrono::steady_clock::now());
}

void EventLoop::add_fd(int fd, Callback on_readable) {
  watch(epoll_fd_, fd);
  fds_[fd] = std::move(on_readable);
}

void EventLoop::remove_fd(int fd) {
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  fds_.erase(fd);
}

EventLoop::TimerId EventLoop::add_timer(TimePoint deadline, Callback callback) {
  const TimerId id = next_timer_id_++;
  auto it = deadlines_.emplace(deadline, id);
  timers_.emplace(id, std::make_pair(it, std::move(callback)));
  if (deadlines_.begin() == it) arm_timerfd();
  return id;
}

void EventLoop::cancel_timer(TimerId id) {
  auto it = timers_.find(id);
  if (it == timers_.end()) return;
  deadlines_.erase(it->second.first);
  timers_.erase(it);
}

void EventLoop::on_signal(int signo, Callback callback) {
  signal_handlers_[signo] = std::move(callback);
}

void EventLoop::post(Callback callback) {
  {
    std::lock_guard lock(posted_mutex_);
    posted_.push_back(std::move(callback));
  }
  const std::uint64_t one = 1;
  [[maybe_unused]] auto n = write(event_fd_, &one, sizeof one);
}

void EventLoop::stop() {
  stop_requested_ = true;
  const std::uint64_t one = 1;
  [[maybe_unused]] auto n = write(event_fd_, &one, sizeof one);
}

void EventLoop::arm_timerfd() {
  // The earliest deadline, or the heartbeat, whichever comes first; absolute CLOCK_MONOTONIC
  // time (steady_clock is CLOCK_MONOTONIC on Linux), so a late wake-up never accumulates drift.
  TimePoint next = now() + heartbeat_interval_;
  if (!deadlines_.empty() && deadlines_.begin()->first < next) next = deadlines_.begin()->first;
  const auto us = next.time_since_epoch().count();
  itimerspec spec{};
  spec.it_value.tv_sec = static_cast<time_t>(us / 1'000'000);
  spec.it_value.tv_nsec = static_cast<long>((us % 1'000'000) * 1000);
  if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) spec.it_value.tv_nsec = 1;
  if (timerfd_settime(timer_fd_, TFD_TIMER_ABSTIME, &spec, nullptr) != 0) fail("timerfd_settime");
}

void EventLoop::invoke(const Callback& callback) {
  // No exception ends the loop (DESIGN.md: the agent keeps running): it is counted and reported.
  try {
    callback();
  } catch (const std::exception& e) {
    ++callback_exceptions_;
    if (on_exception_) on_exception_(e.what());
  } catch (...) {
    ++callback_exceptions_;
    if (on_exception_) on_exception_("unknown exception");
  }
}

void EventLoop::run_due_timers() {
  std::uint64_t expirations = 0;
  [[maybe_unused]] auto n = read(timer_fd_, &expirations, sizeof expirations);
  // Run every timer that is due; a callback may add or cancel timers.
  for (;;) {
    if (deadlines_.empty() || deadlines_.begin()->first > now()) break;
    const TimerId id = deadlines_.begin()->second;
    deadlines_.erase(deadlines_.begin());
    auto node = timers_.extract(id);
    if (!node.empty()) invoke(node.mapped().second);
  }
}

void EventLoop::drain_posted() {
  std::uint64_t count = 0;
  [[maybe_unused]] auto n = read(event_fd_, &count, sizeof count);
  std::vector<Callback> work;
  {
    std::lock_guard lock(posted_mutex_);
    work.swap(posted_);
  }
  for (auto& cb : work) invoke(cb);
}

void EventLoop::drain_signals() {
  signalfd_siginfo info{};
  while (read(signal_fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
    auto it = signal_handlers_.find(static_cast<int>(info.ssi_signo));
    if (it != signal_handlers_.end()) invoke(it->second);
  }
}

void EventLoop::run() {
  running_ = true;
  constexpr int kMaxEvents = 32;
  epoll_event events[kMaxEvents];
  while (!stop_requested_) {
    arm_timerfd();
    const int n = epoll_wait(epoll_fd_, events, kMaxEvents, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("epoll_wait");
    }
    // Readable sockets first, timers last: a process that was descheduled must see the adverts
    // queued meanwhile before its Master_Down expiry (RFC-CHECKLIST §4.4, late timers).
    bool timer_due = false;
    for (int i = 0; i < n && !stop_requested_; ++i) {
      const int fd = events[i].data.fd;
      if (fd == timer_fd_) {
        timer_due = true;
      } else if (fd == event_fd_) {
        drain_posted();
      } else if (fd == signal_fd_) {
        drain_signals();
      } else if (auto it = fds_.find(fd); it != fds_.end()) {
        auto cb = it->second;  // the callback may remove its own fd
        invoke(cb);
      }
    }
    if (timer_due && !stop_requested_) run_due_timers();
    // Timers that became due while other events were handled run in this iteration too.
    if (!deadlines_.empty() && deadlines_.begin()->first <= now()) run_due_timers();
    heartbeat_us_ = now().time_since_epoch().count();
  }
  running_ = false;
  stop_requested_ = false;
}

}  // namespace vipd::app
