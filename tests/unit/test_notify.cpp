// Notify hooks: argv executed directly, detached, and a failure to start reported with its reason.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "app/notify.h"

namespace fs = std::filesystem;
using vipd::app::spawn_detached;

namespace {

std::string wait_for_file(const fs::path& path) {
  for (int i = 0; i < 200; ++i) {  // the hook is detached: give it up to 2 s
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    if (!text.str().empty() && text.str().back() == '\n') return text.str();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return {};
}

}  // namespace

TEST_CASE("a notify hook runs with its arguments, without a shell", "[notify]") {
  const fs::path dir = fs::temp_directory_path() / ("vipd-notify-" + std::to_string(getpid()));
  fs::create_directories(dir);
  const fs::path out = dir / "args";
  // The arguments reach the program verbatim: a shell would expand "$HOME" and split "a b".
  const auto error =
      spawn_detached({"/bin/sh", "-c", "printf '%s|' \"$@\" > \"$0\"; echo >> \"$0\"", out.string(),
                      "web", "MASTER", "$HOME", "a b"});
  CHECK_FALSE(error.has_value());
  CHECK(wait_for_file(out) == "web|MASTER|$HOME|a b|\n");
  fs::remove_all(dir);
}

TEST_CASE("a notify hook that cannot start says why", "[notify]") {
  const auto missing = spawn_detached({"/nonexistent/vipd-hook", "web", "MASTER", "150"});
  REQUIRE(missing.has_value());
  CHECK(*missing == "execv /nonexistent/vipd-hook: No such file or directory");

  const fs::path dir = fs::temp_directory_path() / ("vipd-notify-x-" + std::to_string(getpid()));
  fs::create_directories(dir);
  const fs::path script = dir / "hook.sh";
  std::ofstream(script) << "#!/bin/sh\nexit 0\n";
  fs::permissions(script, fs::perms::owner_read | fs::perms::owner_write);
  const auto not_executable = spawn_detached({script.string()});
  REQUIRE(not_executable.has_value());
  // root may execute files without an x bit only if some x bit is set: none is, so EACCES.
  CHECK(not_executable->find("Permission denied") != std::string::npos);
  fs::remove_all(dir);

  CHECK(spawn_detached({}).value() == "no program given");
}
