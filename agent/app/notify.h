// Runs notify hooks: argv, never a shell; detached so the loop never waits for them.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace vipd::app {

/// Starts argv[0] with args (no shell, no PATH lookup surprises: argv[0] should be absolute).
/// The child is double-forked so it is reaped by init and never becomes our zombie; we do not
/// wait for it to finish, only for its exec to succeed or fail. Returns why it could not be
/// started (e.g. "execv /etc/vipd/hook: No such file or directory"), or nothing on success.
std::optional<std::string> spawn_detached(const std::vector<std::string>& argv);

}  // namespace vipd::app
