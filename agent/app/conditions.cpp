// Conditions shown in /status (conditions.h).
#include "app/conditions.h"

#include <chrono>

#include <spdlog/spdlog.h>

namespace vipd::app {

using namespace std::chrono_literals;

void Conditions::record(const std::string& key, const std::string& message) {
  seen_[key] = {message, clock_.clock()};
}

void Conditions::raise(const std::string& key, const std::string& message) {
  const auto now = clock_.clock();
  seen_[key] = {message, now};
  auto it = logged_.find(key);
  if (it != logged_.end() && now - it->second < 10s) return;
  logged_[key] = now;
  spdlog::warn("{}", message);
}

std::vector<std::string> Conditions::current() const {
  std::vector<std::string> out;
  const auto now = clock_.clock();
  for (const auto& [key, entry] : seen_)
    if (now - entry.second < 60s) out.push_back(entry.first);
  return out;
}

}  // namespace vipd::app
