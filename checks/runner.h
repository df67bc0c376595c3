// The check runner: runs every configured probe off the VRRP loop and posts results to it.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"

namespace vipd::checks {

/// What the loop learns after each probe run of one check (after rise/fall tracking).
struct CheckUpdate {
  std::string check;
  config::CheckType type = config::CheckType::Http;
  bool up = false;       // tracked state after rise/fall (starts false until `rise` OKs)
  bool changed = false;  // `up` flipped with this result
  bool last_ok = false;  // the raw result of this run
  int consecutive = 0;   // consecutive results equal to last_ok
  int value = 0;         // file checks: the number in the file (priority delta); else 0
  std::chrono::duration<double> duration{};  // how long the probe took
  std::optional<std::string> error;          // why the last run failed; nullopt when it passed
  bool pending = false;    // last_ok disagrees with `up` but rise/fall is not reached yet
  bool immediate = false;  // this failure skipped `fall` (process gone, carrier lost)
};

/// Runs the checks on threads of its own; never blocks the caller. `post` is called from those
/// threads (it must be thread-safe; the agent queues the update and wakes its loop via eventfd).
/// One thread per check: updates of one check arrive in order; different checks interleave.
/// `post` is called after every run, Unchanged included (for /status and metrics); the first
/// update of each check comes right after start(). No `post` call happens after stop() returns,
/// and a run cut short by stop() is never posted. docs/checks.md has the semantics.
class Runner {
 public:
  using Post = std::function<void(CheckUpdate)>;
  Runner(std::vector<config::Check> checks, Post post);
  ~Runner();  // stops and joins everything, killing exec children
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  void start();  // starts every check's thread; a second call does nothing
  void stop();   // wakes and joins every thread promptly, killing exec children; idempotent

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vipd::checks
