// PID check: pidfile -> pidfd_open -> the runner wakes on POLLIN when the process exits (no
// polling loop); inotify on the pidfile's directory follows rewrites.
//
// Rules (a real death is immediate: the process is gone, a retry cannot bring it back):
// - The pidfile names PID P. If P is the process already watched (nginx -s reload, HAProxy
//   master-worker USR2, the same PID rewritten), nothing happens: no reopen, no down.
// - A new P (nginx binary upgrade writes the new master's PID) is adopted: pidfd_open(P), then
//   /proc/P/stat's start time (field 22) is read and the pidfd is checked again, so the start time
//   belongs to the process the pidfd holds. The old pidfd is dropped.
// - The watched process exits:
//   * the pidfile still holds the same content (same inode, mtime, size) naming the dead PID, or
//     it is gone (nginx and HAProxy unlink it on a clean stop): down at once, "process P exited".
//     P is never reopened from that content: a process that later gets P is someone else.
//   * the pidfile names a new PID: adopted (as above) if it runs the same program (/proc/P/comm
//     equal to the dead one's), so a reload that rewrote the file first never goes down.
//   * the pidfile exists but is empty, garbled or rewritten with the dead PID: a reload is under
//     way (classic HAProxy `-D -sf OLD` truncates the pidfile, signals OLD and writes the new PID
//     ~6 ms later, issue 14): up for a grace of `timeout` while waiting for the new PID, down
//     after.
// - Pidfile missing, unreadable, empty or not a PID while the watched process is alive: the same
//   grace (nginx's binary upgrade renames nginx.pid to nginx.pid.oldbin before the new master
//   writes nginx.pid). After the grace it is down even though the process lives.
// Limitation: a stale pidfile left by a crash before vipd started, whose PID now belongs to an
// unrelated process, cannot be told apart without a name check; pair the PID check with an HTTP
// check (docs/checks.md).
#include "checks/probe.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <climits>
extern "C" {  // glibc 2.36's <sys/pidfd.h> lacks extern "C" (DEPS.md §5)
#include <sys/pidfd.h>
}

namespace vipd::checks {
namespace {

bool readable_now(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & POLLIN) != 0;
}

// /proc/PID/stat field 22 (starttime). The comm field (2) may contain spaces and ')', so parse
// from the last ')'.
std::optional<std::uint64_t> start_time(pid_t pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/stat";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char buf[1024];
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return std::nullopt;
  std::string_view s(buf, static_cast<std::size_t>(n));
  const auto rp = s.rfind(')');
  if (rp == std::string_view::npos) return std::nullopt;
  s.remove_prefix(rp + 1);
  // Fields after ')' start at field 3; field 22 is the 20th of them.
  for (int field = 3; field <= 22; ++field) {
    const auto b = s.find_first_not_of(' ');
    if (b == std::string_view::npos) return std::nullopt;
    s.remove_prefix(b);
    const auto e = s.find(' ');
    const std::string_view tok = s.substr(0, e);
    if (field == 22) {
      std::uint64_t v = 0;
      const auto [p, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), v);
      if (ec != std::errc()) return std::nullopt;
      return v;
    }
    if (e == std::string_view::npos) return std::nullopt;
    s.remove_prefix(e);
  }
  return std::nullopt;
}

// /proc/PID/comm (the program name, readable without ptrace rights); "" when unreadable.
std::string comm_of(pid_t pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/comm";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  char buf[64];
  const ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  if (n <= 0) return {};
  std::string out(buf, static_cast<std::size_t>(n));
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

struct PidfileRead {
  std::optional<pid_t> pid;
  std::string error;
  PidWatch::FileId file;
};

PidfileRead read_pidfile(const std::string& path) {
  PidfileRead out;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    out.error = "pidfile " + path + ": " + errno_text(errno);
    return out;
  }
  struct stat st {};
  if (::fstat(fd, &st) == 0) {
    out.file = {st.st_dev, st.st_ino,
                static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
                st.st_size};
  }
  char buf[64];
  const ssize_t n = ::read(fd, buf, sizeof buf);
  const int err = errno;
  ::close(fd);
  if (n < 0) {
    out.error = "pidfile " + path + ": " + errno_text(err);
    return out;
  }
  std::string_view s(buf, static_cast<std::size_t>(n));
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) {
    out.error = "pidfile " + path + " is empty";
    return out;
  }
  const auto e = s.find_last_not_of(" \t\r\n");
  const std::string_view num = s.substr(b, e - b + 1);
  long v = 0;
  const auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), v);
  if (ec != std::errc() || p != num.data() + num.size() || v <= 0 || v > INT_MAX) {
    out.error = "pidfile " + path + " does not hold a PID: " + printable(num);
    return out;
  }
  out.pid = static_cast<pid_t>(v);
  return out;
}

ProbeResult success() {
  ProbeResult r;
  r.ok = true;
  return r;
}

ProbeResult failure(std::string why) {
  ProbeResult r;
  r.immediate = true;
  r.error = std::move(why);
  return r;
}

}  // namespace

PidWatch::PidWatch(std::string pidfile, std::chrono::milliseconds grace)
    : pidfile_(std::move(pidfile)), grace_(grace) {
  const auto slash = pidfile_.rfind('/');
  dir_ = slash == std::string::npos ? "." : (slash == 0 ? "/" : pidfile_.substr(0, slash));
  base_ = slash == std::string::npos ? pidfile_ : pidfile_.substr(slash + 1);
  inotify_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  ensure_watch();
}

PidWatch::~PidWatch() {
  drop_tracked();
  if (inotify_fd_ >= 0) ::close(inotify_fd_);
}

void PidWatch::drop_tracked() {
  if (tracked_ && tracked_->fd >= 0) ::close(tracked_->fd);
  tracked_.reset();
}

void PidWatch::ensure_watch() {
  if (inotify_fd_ < 0 || watch_ >= 0) return;
  // The directory, not the file: the file is replaced (rename) and deleted; the directory stays.
  watch_ = ::inotify_add_watch(inotify_fd_, dir_.c_str(),
                               IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE |
                                   IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR);
}

bool PidWatch::drain_events() {
  bool relevant = false;
  alignas(inotify_event) char buf[4096];
  for (;;) {
    const ssize_t n = ::read(inotify_fd_, buf, sizeof buf);
    if (n <= 0) break;
    for (ssize_t off = 0; off < n;) {
      const auto* ev = reinterpret_cast<const inotify_event*>(buf + off);
      if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) {
        watch_ = -1;  // the directory went away; ensure_watch() retries on each evaluation
        relevant = true;
      } else if (ev->mask & IN_Q_OVERFLOW) {
        relevant = true;
      } else if (ev->len > 0 && base_ == ev->name) {
        relevant = true;
      }
      off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
    }
  }
  if (watch_ < 0 && inotify_fd_ >= 0) {
    // Re-arm on a new fd so stale events of the old watch cannot confuse us.
    ::close(inotify_fd_);
    inotify_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    ensure_watch();
  }
  return relevant;
}

std::optional<PidWatch::Clock::time_point> PidWatch::grace_deadline() const {
  if (!bad_since_ || (!tracked_ && !reload_)) return std::nullopt;
  return *bad_since_ + grace_;
}

ProbeResult PidWatch::evaluate(Clock::time_point now) {
  ensure_watch();
  std::string exited;
  std::optional<FileId> exited_file;
  if (tracked_ && readable_now(tracked_->fd)) {
    gone_ = Gone{tracked_->pid, tracked_->file};
    exited = "process " + std::to_string(tracked_->pid) + " exited";
    exited_file = tracked_->file;
    reload_ = Reload{tracked_->pid, tracked_->comm};
    drop_tracked();
  }

  PidfileRead pf = read_pidfile(pidfile_);
  const bool file_exists = pf.file.ino != 0;
  // A reload is under way when the watched process exited and the pidfile still exists but was
  // rewritten since it named that process (emptied, garbled, or not yet the new PID).
  if (exited_file && !(file_exists && pf.file != *exited_file)) reload_.reset();
  if (reload_ && !file_exists) reload_.reset();  // unlinked: a clean stop, not a reload

  if (!pf.pid || (reload_ && *pf.pid == reload_->pid)) {
    if (tracked_ || reload_) {
      if (!bad_since_) bad_since_ = now;
      if (now - *bad_since_ < grace_) return success();
      const std::string what =
          pf.pid ? "pidfile " + pidfile_ + " still names process " + std::to_string(*pf.pid)
                 : pf.error;
      if (tracked_) {
        return failure(what + " (process " + std::to_string(tracked_->pid) +
                       " still running; pidfile gone for " + millis_text(grace_) + ")");
      }
      const std::string dead = std::to_string(reload_->pid);
      reload_.reset();
      return failure("process " + dead + " exited; " + what + " (no new PID within " +
                     millis_text(grace_) + ")");
    }
    bad_since_.reset();
    return failure(exited.empty() ? pf.error : exited + "; " + pf.error);
  }
  bad_since_.reset();

  const pid_t pid = *pf.pid;
  if (tracked_ && tracked_->pid == pid) {
    tracked_->file = pf.file;  // same process, pidfile rewritten (reload): nothing to do
    return success();
  }
  if (gone_ && gone_->pid == pid && gone_->file == pf.file) {
    return failure(exited.empty()
                       ? "process " + std::to_string(pid) + " exited (pidfile not rewritten since)"
                       : exited);
  }

  const int fd = ::pidfd_open(pid, 0);
  if (fd < 0) {
    const int err = errno;
    gone_ = Gone{pid, pf.file};
    reload_.reset();
    if (err == ESRCH) {
      return failure((exited.empty() ? "" : exited + "; ") + "process " + std::to_string(pid) +
                     " from " + pidfile_ + " is not running");
    }
    return failure("pidfd_open(" + std::to_string(pid) + "): " + errno_text(err));
  }
  const auto st = start_time(pid);
  std::string comm = comm_of(pid);
  // Read after pidfd_open: if the pidfd is still not readable now, the process it holds was alive
  // when /proc/PID/stat and comm were read, so they describe that very process.
  if (!st || readable_now(fd)) {
    ::close(fd);
    gone_ = Gone{pid, pf.file};
    reload_.reset();
    return failure("process " + std::to_string(pid) + " from " + pidfile_ + " exited");
  }
  if (reload_ && !reload_->comm.empty() && comm != reload_->comm) {
    // After a death, a new PID must be the same program (PID reuse guard).
    ::close(fd);
    gone_ = Gone{pid, pf.file};
    const std::string was = reload_->comm;
    reload_.reset();
    return failure((exited.empty() ? "" : exited + "; ") + "process " + std::to_string(pid) +
                   " from " + pidfile_ + " is '" + comm + "', not '" + was + "'");
  }
  drop_tracked();
  tracked_ = Tracked{pid, fd, *st, pf.file, std::move(comm)};
  gone_.reset();
  reload_.reset();
  return success();
}

}  // namespace vipd::checks
