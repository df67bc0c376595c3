// Detached notify hooks (double fork, execv, no shell). An exec failure in the grandchild is
// reported back through a close-on-exec pipe: EOF means the exec succeeded.
#include "app/notify.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vipd::app {
namespace {

void write_errno(int fd, int err) {
  while (write(fd, &err, sizeof err) < 0 && errno == EINTR) {
  }
}

}  // namespace

std::optional<std::string> spawn_detached(const std::vector<std::string>& args) {
  if (args.empty()) return "no program given";
  // Everything the children need is prepared before fork: only async-signal-safe calls follow.
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) return std::string("pipe: ") + std::strerror(errno);
  const pid_t child = fork();
  if (child < 0) {
    const int err = errno;
    close(report[0]);
    close(report[1]);
    return std::string("fork: ") + std::strerror(err);
  }
  if (child == 0) {
    close(report[0]);
    const pid_t grandchild = fork();
    if (grandchild == 0) {
      execv(argv[0], argv.data());
      write_errno(report[1], errno);
      _exit(127);
    }
    if (grandchild < 0) write_errno(report[1], errno);
    _exit(0);
  }
  close(report[1]);
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  // The grandchild holds the write end until its exec: EOF = started, an errno = failed.
  int err = 0;
  ssize_t n = 0;
  while ((n = read(report[0], &err, sizeof err)) < 0 && errno == EINTR) {
  }
  close(report[0]);
  if (n == static_cast<ssize_t>(sizeof err)) {
    return "execv " + args[0] + ": " + std::strerror(err);
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return "the helper process failed";
  return std::nullopt;
}

}  // namespace vipd::app
