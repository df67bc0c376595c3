// Detached notify hooks (double fork, execv, no shell).
#include "app/notify.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

namespace vipd::app {

bool spawn_detached(const std::vector<std::string>& args) {
  if (args.empty()) return false;
  // Everything the children need is prepared before fork: only async-signal-safe calls follow.
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t child = fork();
  if (child < 0) {
    spdlog::error("notify {}: fork failed: {}", args[0], std::strerror(errno));
    return false;
  }
  if (child == 0) {
    const pid_t grandchild = fork();
    if (grandchild == 0) {
      execv(argv[0], argv.data());
      _exit(127);
    }
    _exit(grandchild < 0 ? 1 : 0);
  }
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    spdlog::error("notify {}: could not start it", args[0]);
    return false;
  }
  return true;
}

}  // namespace vipd::app
