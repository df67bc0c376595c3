// The event loop: timers in deadline order, cancel, posted work from other threads, fds.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <thread>

#include "agent/app/event_loop.h"

using namespace vipd::app;
using namespace std::chrono_literals;

TEST_CASE("timers fire in deadline order and cancelled ones never fire", "[loop]") {
  EventLoop loop;
  std::vector<int> fired;
  const auto t0 = EventLoop::now();
  loop.add_timer(t0 + 30ms, [&] {
    fired.push_back(3);
    loop.stop();
  });
  loop.add_timer(t0 + 10ms, [&] { fired.push_back(1); });
  const auto cancelled = loop.add_timer(t0 + 20ms, [&] { fired.push_back(99); });
  loop.add_timer(t0 + 20ms, [&] { fired.push_back(2); });
  loop.cancel_timer(cancelled);
  loop.run();
  CHECK(fired == std::vector<int>{1, 2, 3});
  CHECK(EventLoop::now() - t0 >= 30ms);
}

TEST_CASE("a timer fires close to its deadline", "[loop]") {
  EventLoop loop;
  const auto deadline = EventLoop::now() + 20ms;
  TimePoint fired_at{};
  loop.add_timer(deadline, [&] {
    fired_at = EventLoop::now();
    loop.stop();
  });
  loop.run();
  CHECK(fired_at >= deadline);
  // Generous bound: this is a correctness test, not a benchmark (bench/ measures jitter).
  CHECK(fired_at - deadline < 50ms);
}

TEST_CASE("work posted from another thread runs on the loop", "[loop]") {
  EventLoop loop;
  std::thread::id ran_on;
  std::thread poster([&] {
    loop.post([&] {
      ran_on = std::this_thread::get_id();
      loop.stop();
    });
  });
  loop.run();
  poster.join();
  CHECK(ran_on == std::this_thread::get_id());
}

TEST_CASE("readable fds call their callback and the heartbeat advances", "[loop]") {
  EventLoop loop;
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  std::string got;
  loop.add_fd(fds[0], [&] {
    char buf[8];
    const auto n = read(fds[0], buf, sizeof buf);
    got.assign(buf, static_cast<std::size_t>(n));
    loop.stop();
  });
  const auto before = loop.heartbeat();
  loop.add_timer(EventLoop::now() + 5ms, [&] { REQUIRE(write(fds[1], "hi", 2) == 2); });
  loop.run();
  CHECK(got == "hi");
  CHECK(loop.heartbeat() > before);
  loop.remove_fd(fds[0]);
  close(fds[0]);
  close(fds[1]);
}
