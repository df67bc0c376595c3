// Runs notify hooks: argv, never a shell; detached so the loop never waits for them.
#pragma once

#include <string>
#include <vector>

namespace vipd::app {

/// Starts argv[0] with args (no shell, no PATH lookup surprises: argv[0] should be absolute).
/// The child is double-forked so it is reaped by init and never becomes our zombie; we do not
/// wait for it. Returns false (and logs) when it could not be started.
bool spawn_detached(const std::vector<std::string>& argv);

}  // namespace vipd::app
