// The check runner: one thread per check, each sleeping in poll() on the runner's stop eventfd
// (plus, for a pid check, the pidfd and the inotify fd), posting a CheckUpdate after every run.
#include "checks/runner.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <thread>

#include "checks/probe.h"
#include "checks/tracker.h"

namespace vipd::checks {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

int ms_until(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left + 1, INT32_MAX));
}

// The config validator rejects nonsense; this only keeps a zero interval from spinning a core.
milliseconds effective_interval(const config::Check& c) {
  return std::max(c.interval, milliseconds(10));
}

}  // namespace

struct Runner::Impl {
  std::vector<config::Check> checks;
  Post post;
  int stop_fd = -1;
  std::atomic<bool> stopping{false};
  bool started = false;
  std::vector<std::unique_ptr<Probe>> probes;  // index-aligned with checks; null for pid
  std::vector<std::thread> threads;

  bool stop_requested() const { return stopping.load(std::memory_order_acquire); }

  // The step every check thread takes after a run started at t0: the result goes to the tracker
  // and, with the tracker's verdict, to the agent. Returns when the next regular run is due:
  // Envoy's edge interval (probe faster while a change is pending, to confirm it sooner), else
  // the check's interval.
  Clock::time_point record_and_publish(const config::Check& c, Tracker& t, const ProbeResult& r,
                                       Clock::time_point t0) {
    const auto took = Clock::now() - t0;
    const Transition tr = t.record(r.ok, r.immediate);
    const auto interval = effective_interval(c);
    const auto next = t0 + (tr == Transition::Pending ? edge_interval(interval) : interval);
    if (stop_requested()) return next;  // a run cut short by stop() is not a result
    CheckUpdate u;
    u.check = c.name;
    u.type = c.type;
    u.up = t.up();
    u.changed = tr == Transition::Changed;
    u.pending = tr == Transition::Pending;
    u.last_ok = r.ok;
    u.immediate = r.immediate && !r.ok;
    u.consecutive = t.consecutive();
    u.value = r.value;
    u.duration = std::chrono::duration<double>(took);
    if (!r.ok) u.error = r.error.empty() ? std::string("failed") : r.error;
    try {
      post(std::move(u));
    } catch (...) {
      // The agent's post only queues; nothing sensible to do with an exception on this thread.
    }
    return next;
  }

  // Sleeps until `deadline` or stop; true when stopping.
  bool sleep_until(Clock::time_point deadline) const {
    for (;;) {
      pollfd p{stop_fd, POLLIN, 0};
      const int n = ::poll(&p, 1, ms_until(deadline));
      if (n > 0 || stop_requested()) return true;
      if (n == 0 && Clock::now() >= deadline) return false;
    }
  }

  void run_periodic(const config::Check& c, Probe& probe) {
    Tracker tracker(c.rise, c.fall);
    while (!stop_requested()) {
      const auto t0 = Clock::now();
      const ProbeResult r = probe.run(stop_fd);
      if (stop_requested()) return;
      if (sleep_until(record_and_publish(c, tracker, r, t0))) return;
    }
  }

  void run_pid(const config::Check& c) {
    Tracker tracker(c.rise, c.fall);
    PidWatch watch(c.pidfile, c.timeout);
    while (!stop_requested()) {
      const auto t0 = Clock::now();
      const ProbeResult r = watch.evaluate(t0);
      // Re-evaluate every interval as a safety net (and to count `rise`), at once when the
      // process exits (pidfd POLLIN) or the pidfile changes (inotify), and when a grace ends.
      auto deadline = record_and_publish(c, tracker, r, t0);
      if (const auto g = watch.grace_deadline(); g && *g > t0) deadline = std::min(deadline, *g);
      for (;;) {
        pollfd p[3] = {
            {stop_fd, POLLIN, 0}, {watch.inotify_fd(), POLLIN, 0}, {watch.pidfd(), POLLIN, 0}};
        const int n = ::poll(p, 3, ms_until(deadline));
        if (stop_requested() || (p[0].revents & POLLIN)) return;
        if (n < 0 && errno == EINTR) continue;
        if (p[2].revents != 0) break;  // the process exited
        if (p[1].revents != 0) {
          if (watch.drain_events()) break;  // the pidfile changed
          continue;                         // another file in the directory
        }
        if (Clock::now() >= deadline) break;
      }
    }
  }
};

Runner::Runner(std::vector<config::Check> checks, Post post) : impl_(std::make_unique<Impl>()) {
  impl_->checks = std::move(checks);
  impl_->post = std::move(post);
}

Runner::~Runner() { stop(); }

void Runner::start() {
  Impl& m = *impl_;
  if (m.started) return;
  m.started = true;
  m.stop_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  for (const auto& c : m.checks) {
    m.probes.push_back(c.type == config::CheckType::Pid ? nullptr : make_probe(c));
  }
  // Check threads block every signal: the agent's signalfd keeps receiving SIGTERM/SIGHUP, and a
  // write on a reset HTTP connection gets EPIPE instead of killing the process with SIGPIPE
  // (cpp-httplib's client does not use MSG_NOSIGNAL, DEPS.md §2). Threads inherit the mask.
  sigset_t all;
  sigset_t old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_BLOCK, &all, &old);
  for (std::size_t i = 0; i < m.checks.size(); ++i) {
    m.threads.emplace_back([&m, i] {
      const auto& c = m.checks[i];
      if (c.type == config::CheckType::Pid) {
        m.run_pid(c);
      } else {
        m.run_periodic(c, *m.probes[i]);
      }
    });
  }
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

void Runner::stop() {
  Impl& m = *impl_;
  if (!m.started || m.stop_requested()) return;
  m.stopping.store(true, std::memory_order_release);
  const std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(m.stop_fd, &one, sizeof one);  // level-triggered: never read
  for (auto& p : m.probes) {
    if (p) p->cancel();
  }
  for (auto& t : m.threads) t.join();
  m.threads.clear();
  ::close(m.stop_fd);
  m.stop_fd = -1;
}

}  // namespace vipd::checks
