// Exec check: fork + execve of an argv (never a shell, never system()); exit 0 = up.
//
// Timeout: the child runs in its own process group; at `timeout` the group gets SIGTERM, and after
// a grace of timeout/2 (clamped to 50 ms..1 s) SIGKILL. On stop() it gets SIGKILL at once. The
// child is always reaped (waitid on its pidfd) before run() returns, so no zombie is left.
// stdout and stderr share one pipe; the first 4 KiB are kept for the failure reason.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
extern "C" {  // glibc 2.36's <sys/pidfd.h> lacks extern "C" (DEPS.md §5)
#include <sys/pidfd.h>
}

#include "checks/probe.h"

extern char** environ;

namespace vipd::checks {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::size_t kOutputMax = 4096;
constexpr std::size_t kReasonOutputMax = 512;

int ms_until(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(left) + 1;
}

// argv[0] without a slash is looked up in PATH here, before fork (execvp is not async-signal-safe).
std::string resolve(const std::string& cmd) {
  if (cmd.find('/') != std::string::npos) return cmd;
  const char* env = std::getenv("PATH");
  const std::string path = env != nullptr ? env : "/usr/local/bin:/usr/bin:/bin";
  std::size_t pos = 0;
  while (pos <= path.size()) {
    auto end = path.find(':', pos);
    if (end == std::string::npos) end = path.size();
    // push_back/append, not assignment of literals: GCC 12 -O2 reports a false -Wrestrict on
    // those (PR105329).
    std::string candidate(path, pos, end - pos);
    if (candidate.empty()) candidate.push_back('.');
    candidate.push_back('/');
    candidate.append(cmd);
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    pos = end + 1;
  }
  return {};
}

std::string trimmed(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

enum class End { Exited, TimedOut, Stopped };

class ExecProbe final : public Probe {
 public:
  explicit ExecProbe(const config::Check& c) : argv_(c.command), timeout_(c.timeout) {
    grace_ = std::clamp(timeout_ / 2, milliseconds(50), milliseconds(1000));
  }

  ProbeResult run(int stop_fd) override {
    ProbeResult r;
    if (argv_.empty()) {
      r.error = "empty command";
      return r;
    }
    const std::string path = resolve(argv_[0]);
    if (path.empty()) {
      r.error = "command not found in PATH: " + printable(argv_[0]);
      return r;
    }
    std::vector<char*> argv;
    for (auto& a : argv_) argv.push_back(a.data());
    argv.push_back(nullptr);

    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) {
      r.error = "pipe: " + errno_text(errno);
      return r;
    }
    const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    sigset_t empty;
    sigemptyset(&empty);

    const pid_t pid = ::fork();
    if (pid == 0) {
      // Child: async-signal-safe calls only.
      ::setpgid(0, 0);
      if (devnull >= 0) ::dup2(devnull, 0);
      ::dup2(out[1], 1);
      ::dup2(out[1], 2);
      ::sigprocmask(SIG_SETMASK, &empty, nullptr);  // the runner's threads block all signals
      ::signal(SIGPIPE, SIG_DFL);                   // httplib's server ignores it process-wide
      ::close_range(3, ~0U, 0);                     // fds without O_CLOEXEC must not leak
      ::execve(path.c_str(), argv.data(), environ);
      static const char msg[] = "vipd: execve failed\n";
      [[maybe_unused]] auto n = ::write(2, msg, sizeof msg - 1);
      ::_exit(127);
    }
    ::close(out[1]);
    if (devnull >= 0) ::close(devnull);
    if (pid < 0) {
      r.error = "fork: " + errno_text(errno);
      ::close(out[0]);
      return r;
    }
    ::setpgid(pid, pid);  // also here, so a kill(-pid) right after fork finds the group
    ::fcntl(out[0], F_SETFL, O_NONBLOCK);
    const int pidfd = ::pidfd_open(pid, 0);  // our unreaped child: its PID cannot be reused

    std::string output;
    int out_fd = out[0];
    auto read_output = [&] {
      char buf[1024];
      for (;;) {
        const ssize_t n = ::read(out_fd, buf, sizeof buf);
        if (n > 0) {
          const auto room = kOutputMax - std::min(kOutputMax, output.size());
          output.append(buf, std::min(room, static_cast<std::size_t>(n)));
          continue;
        }
        if (n == 0) {  // EOF
          ::close(out_fd);
          out_fd = -1;
        }
        return;
      }
    };

    End end = End::Exited;
    const auto deadline = Clock::now() + timeout_;
    bool exited = wait_exit(pidfd, pid, stop_fd, deadline, out_fd, read_output, end);
    if (!exited) {
      if (end == End::Stopped) {
        signal_group(pid, SIGKILL);
      } else {
        end = End::TimedOut;
        signal_group(pid, SIGTERM);
        End during_grace = End::Exited;
        if (!wait_exit(pidfd, pid, stop_fd, Clock::now() + grace_, out_fd, read_output,
                       during_grace)) {
          signal_group(pid, SIGKILL);
        }
      }
    }
    // Reap (blocks only briefly: the child has exited or was sent SIGKILL).
    siginfo_t si{};
    int rc;
    do {
      rc = pidfd >= 0 ? ::waitid(P_PIDFD, static_cast<id_t>(pidfd), &si, WEXITED)
                      : ::waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED);
    } while (rc != 0 && errno == EINTR);
    if (pidfd >= 0) ::close(pidfd);
    if (out_fd >= 0) {
      read_output();  // whatever is buffered; don't wait for grandchildren holding the pipe
      if (out_fd >= 0) ::close(out_fd);
    }

    const std::string text = trimmed(output);
    const std::string tail = text.empty() ? "" : ": " + printable(text, kReasonOutputMax);
    if (end == End::Stopped) {
      r.error = "cancelled";
    } else if (end == End::TimedOut) {
      r.error = "timeout after " + millis_text(timeout_) + " (killed)" + tail;
    } else if (si.si_code == CLD_EXITED && si.si_status == 0) {
      r.ok = true;
    } else if (si.si_code == CLD_EXITED) {
      r.error = "exit status " + std::to_string(si.si_status) + tail;
    } else {
      r.error = std::string("killed by signal ") + ::sigabbrev_np(si.si_status) + tail;
    }
    return r;
  }

 private:
  static void signal_group(pid_t pid, int sig) {
    if (::kill(-pid, sig) != 0) ::kill(pid, sig);
  }

  // Waits until the child exits (true), the deadline passes or stop_fd fires (false, `end` says
  // which), reading output meanwhile.
  template <class Read>
  static bool wait_exit(int pidfd, pid_t pid, int stop_fd, Clock::time_point deadline,
                        const int& out_fd, Read&& read_output, End& end) {
    for (;;) {
      pollfd p[3] = {{pidfd, POLLIN, 0}, {stop_fd, POLLIN, 0}, {out_fd, POLLIN, 0}};
      int timeout = ms_until(deadline);
      if (pidfd < 0) timeout = std::min(timeout, 10);  // no pidfd (old kernel): poll waitid
      const int n = ::poll(p, 3, timeout);
      if (n < 0 && errno != EINTR) return false;
      if (p[2].revents != 0) read_output();
      if (pidfd >= 0 && (p[0].revents & POLLIN)) return true;
      if (pidfd < 0) {
        siginfo_t si{};
        if (::waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
            si.si_pid == pid)
          return true;
      }
      if (p[1].revents & POLLIN) {
        end = End::Stopped;
        return false;
      }
      if (Clock::now() >= deadline) {
        end = End::TimedOut;
        return false;
      }
    }
  }

  std::vector<std::string> argv_;
  milliseconds timeout_;
  milliseconds grace_;
};

}  // namespace

std::unique_ptr<Probe> make_exec_probe(const config::Check& check) {
  return std::make_unique<ExecProbe>(check);
}

}  // namespace vipd::checks
