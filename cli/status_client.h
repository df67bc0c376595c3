// `vipd status` / `drain` / `undrain`: the HTTP client of a running agent's API (only the vipd
// executable links it; the agent itself never does).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace vipd::cli {

/// Fetches URL/status; prints a table (or the raw JSON with `json`). Returns the exit code:
/// 0 on success, 2 when the agent is not reachable (with a message that says what to check).
int run_status(const std::string& url, bool json);

/// `vipd drain` / `vipd undrain`: POST /v1/drain|undrain with the token from `token_file`; with
/// `wait` > 0 seconds, polls /status until no drained instance is MASTER any more.
int run_drain(const std::string& url, const std::string& token_file, const std::string& instance,
              bool drain, double wait);

/// The table for a /status document (pure; tested without an agent).
std::string render_status(const nlohmann::json& status);

}  // namespace vipd::cli
