// The connection-reset worker thread.
#include "app/connection_reset.h"

#include <pthread.h>
#include <sched.h>

namespace vipd::app {

ResetWorker::ResetWorker(EventLoop& loop, Reset reset)
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
  // A thread inherits its creator's scheduling policy. Whatever the loop thread runs at, a reset
  // (kernel work for every socket) must never compete with it at real-time priority.
  const sched_param normal{};
  pthread_setschedparam(pthread_self(), SCHED_OTHER, &normal);
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
