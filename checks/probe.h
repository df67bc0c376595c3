// Internal to checks/: the probe interface (one run of the I/O of a check) and its factories.
#pragma once

#include <sys/types.h>

#include <sys/stat.h>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "config/config.h"

namespace vipd::checks {

/// The raw outcome of one probe run, before rise/fall tracking.
struct ProbeResult {
  bool ok = false;
  bool immediate = false;  // a failure that skips `fall` (tracker.h lists which)
  int value = 0;           // file checks: the number in the file; else 0
  std::string error;       // why it failed; empty when ok
};

/// One periodic probe. run() does one bounded piece of I/O (at most about `timeout`) and returns
/// early when `stop_fd` (an eventfd the runner writes on stop) becomes readable.
class Probe {
 public:
  virtual ~Probe() = default;
  virtual ProbeResult run(int stop_fd) = 0;
  /// Called from another thread on stop: abort an in-flight run() that cannot poll stop_fd.
  virtual void cancel() {}
};

std::unique_ptr<Probe> make_http_probe(const config::Check& check);
std::unique_ptr<Probe> make_tcp_probe(const config::Check& check);
std::unique_ptr<Probe> make_exec_probe(const config::Check& check);
std::unique_ptr<Probe> make_file_probe(const config::Check& check);
std::unique_ptr<Probe> make_link_probe(const config::Check& check);
/// The periodic probe for `check.type` (not Pid: see PidWatch).
std::unique_ptr<Probe> make_probe(const config::Check& check);

/// The pid check is event driven rather than periodic: it owns a pidfd of the watched process and
/// an inotify watch on the pidfile's directory; the runner polls both and calls evaluate() when
/// either fires (and every `interval` as a safety net). See pid_probe.cpp for the rules.
class PidWatch {
 public:
  using Clock = std::chrono::steady_clock;
  /// `grace`: how long a missing/garbled pidfile is tolerated while the watched process is alive,
  /// and how long a reload may take to write its new PID after the watched process exited.
  PidWatch(std::string pidfile, std::chrono::milliseconds grace);
  ~PidWatch();
  PidWatch(const PidWatch&) = delete;
  PidWatch& operator=(const PidWatch&) = delete;

  ProbeResult evaluate(Clock::time_point now);
  /// Reads pending inotify events; true when one concerned the pidfile (or its directory).
  bool drain_events();

  [[nodiscard]] int pidfd() const { return tracked_ ? tracked_->fd : -1; }
  [[nodiscard]] int inotify_fd() const { return inotify_fd_; }
  [[nodiscard]] pid_t pid() const { return tracked_ ? tracked_->pid : 0; }
  /// When the pidfile grace ends, if one is running.
  [[nodiscard]] std::optional<Clock::time_point> grace_deadline() const;

  /// Identifies one version of the pidfile's content (rewrites change it).
  struct FileId {
    dev_t dev = 0;
    ino_t ino = 0;
    std::int64_t mtime_ns = 0;
    off_t size = 0;
    bool operator==(const FileId&) const = default;
  };

 private:
  struct Tracked {
    pid_t pid = 0;
    int fd = -1;
    std::uint64_t start_time = 0;  // /proc/PID/stat field 22, clock ticks since boot
    FileId file;
    std::string comm;  // /proc/PID/comm, to check a reload's new PID runs the same program
  };
  struct Reload {  // the watched process exited while its pidfile was being rewritten
    pid_t pid = 0;
    std::string comm;
  };
  struct Gone {  // a PID we saw exit (or not running) and the pidfile version that named it
    pid_t pid = 0;
    FileId file;
  };

  void ensure_watch();
  void drop_tracked();

  std::string pidfile_;
  std::string dir_;
  std::string base_;
  std::chrono::milliseconds grace_;
  int inotify_fd_ = -1;
  int watch_ = -1;
  std::optional<Tracked> tracked_;
  std::optional<Gone> gone_;
  std::optional<Reload> reload_;
  std::optional<Clock::time_point> bad_since_;
};

/// Small helpers shared by the probes.
std::string errno_text(int err);
std::string millis_text(std::chrono::milliseconds ms);
/// Printable, quoted and shortened copy of arbitrary bytes for error messages.
std::string printable(std::string_view bytes, std::size_t max = 40);

}  // namespace vipd::checks
