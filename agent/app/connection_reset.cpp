// The connection-reset worker thread.
#include "app/connection_reset.h"

#include <pthread.h>

namespace vipd::app {

ResetWorker::ResetWorker(Scheduler& loop, Reset reset)
    : loop_(loop), reset_(std::move(reset)), thread_([this] { work(); }) {}

ResetWorker::~ResetWorker() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    jobs_.clear();
  }
  wake_.notify_one();
  thread_.join();
}

void ResetWorker::submit(std::vector<vrrp::IpAddress> addresses, Done done) {
  {
    std::lock_guard lock(mutex_);
    jobs_.push_back({std::move(addresses), std::move(done)});
  }
  wake_.notify_one();
}

void ResetWorker::work() {
  // Runs SCHED_OTHER even when the loop thread is real-time: apply_realtime_priority() sets
  // SCHED_RESET_ON_FORK, so no thread created from the loop inherits the real-time policy.
  pthread_setname_np(pthread_self(), "vipd-reset");
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    auto result = reset_(job.addresses);
    loop_.post([done = std::move(job.done), result = std::move(result)] { done(result); });
  }
}

}  // namespace vipd::app
