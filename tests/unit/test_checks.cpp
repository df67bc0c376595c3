// Tests of checks/: the pure tracker (tables), every probe against real servers, processes,
// files and interfaces, and the runner (updates, edge interval, prompt stop).
#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "checks/probe.h"
#include "checks/runner.h"
#include "checks/tracker.h"

using namespace vipd;
using namespace vipd::checks;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

config::Check make_check(config::CheckType type, std::string name = "c") {
  config::Check c;
  c.name = std::move(name);
  c.type = type;
  return c;
}

// A real HTTP server on 127.0.0.1 (DEPS.md §2: bind_to_any_port + listen_after_bind).
struct TestServer {
  httplib::Server svr;
  int port = 0;
  std::thread thread;
  TestServer() {
    svr.new_task_queue = [] { return new httplib::ThreadPool(2); };
    svr.Get("/ok", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("all ok", "text/plain");
    });
    svr.Get("/fail", [](const httplib::Request&, httplib::Response& res) {
      res.status = 503;
      res.set_content("down", "text/plain");
    });
    svr.Get("/slow", [](const httplib::Request&, httplib::Response& res) {
      std::this_thread::sleep_for(milliseconds(300));
      res.set_content("late", "text/plain");
    });
    port = svr.bind_to_any_port("127.0.0.1");
    thread = std::thread([this] { svr.listen_after_bind(); });
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    while (!svr.is_running() && Clock::now() < deadline) std::this_thread::yield();
  }
  ~TestServer() {
    svr.stop();
    thread.join();
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port) + path;
  }
};

// A socket that listens and never accepts: the kernel completes the handshake, nobody answers.
struct SilentServer {
  int fd = -1;
  int port = 0;
  explicit SilentServer(int backlog = 16) {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd, backlog) == 0);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~SilentServer() { ::close(fd); }
};

// A port nobody listens on (bound once to learn a free number, then closed).
int closed_port() {
  SilentServer s;
  return s.port;
}

// A child process that lives until killed.
pid_t spawn_sleeper() {
  const pid_t pid = ::fork();
  if (pid == 0) {
    for (;;) ::pause();
  }
  REQUIRE(pid > 0);
  return pid;
}

void kill_and_reap(pid_t pid) {
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

bool no_children() {
  siginfo_t si{};
  return ::waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == -1 && errno == ECHILD;
}

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/vipd-checks-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
}
// Atomic replacement, as a careful daemon writes its pidfile.
void replace_file(const std::string& path, const std::string& text) {
  write_file(path + ".tmp", text);
  std::filesystem::rename(path + ".tmp", path);
}

// Records the runner's posts; waits with deadlines.
struct Recorder {
  struct Entry {
    Clock::time_point at;
    CheckUpdate u;
  };
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Entry> entries;

  Runner::Post post() {
    return [this](CheckUpdate u) {
      std::lock_guard lock(mu);
      entries.push_back({Clock::now(), std::move(u)});
      cv.notify_all();
    };
  }
  // Waits for an update (after index `from`) matching `pred`; returns its index or -1.
  template <class Pred>
  long wait_for(Pred pred, milliseconds timeout, std::size_t from = 0) {
    std::unique_lock lock(mu);
    long found = -1;
    cv.wait_for(lock, timeout, [&] {
      for (std::size_t i = from; i < entries.size(); ++i) {
        if (pred(entries[i].u)) {
          found = static_cast<long>(i);
          return true;
        }
      }
      return false;
    });
    return found;
  }
  std::size_t size() {
    std::lock_guard lock(mu);
    return entries.size();
  }
  Entry at(std::size_t i) {
    std::lock_guard lock(mu);
    return entries.at(i);
  }
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Tracker (pure)

TEST_CASE("tracker: table of rise/fall transitions", "[checks][tracker]") {
  using T = Transition;
  struct Step {
    bool ok;
    bool immediate;
    T expect;
    bool up;
  };
  struct Row {
    const char* name;
    int rise;
    int fall;
    std::vector<Step> steps;
  };
  const std::vector<Row> rows = {
      {"starts down; failures keep it down", 2, 2, {{false, false, T::Unchanged, false}}},
      {"rise 1: first success is up", 1, 1, {{true, false, T::Changed, true}}},
      {"rise 3 needs three in a row",
       3,
       1,
       {{true, false, T::Pending, false},
        {true, false, T::Pending, false},
        {true, false, T::Changed, true},
        {true, false, T::Unchanged, true}}},
      {"a failure resets the rise count",
       2,
       1,
       {{true, false, T::Pending, false},
        {false, false, T::Unchanged, false},
        {true, false, T::Pending, false},
        {true, false, T::Changed, true}}},
      {"fall 2: one failure is pending, two go down",
       1,
       2,
       {{true, false, T::Changed, true},
        {false, false, T::Pending, true},
        {false, false, T::Changed, false}}},
      {"a success between failures resets the fall count",
       1,
       2,
       {{true, false, T::Changed, true},
        {false, false, T::Pending, true},
        {true, false, T::Unchanged, true},
        {false, false, T::Pending, true}}},
      {"immediate failure ignores fall",
       1,
       5,
       {{true, false, T::Changed, true}, {false, true, T::Changed, false}}},
      {"immediate failure while a fall is pending",
       1,
       3,
       {{true, false, T::Changed, true},
        {false, false, T::Pending, true},
        {false, true, T::Changed, false}}},
      {"no immediate up: rise still applies after an immediate down",
       2,
       1,
       {{true, false, T::Pending, false},
        {true, false, T::Changed, true},
        {false, true, T::Changed, false},
        {true, false, T::Pending, false},
        {true, false, T::Changed, true}}},
      {"rise/fall below 1 act as 1",
       0,
       -3,
       {{true, false, T::Changed, true}, {false, false, T::Changed, false}}},
  };
  for (const auto& row : rows) {
    SECTION(row.name) {
      Tracker t(row.rise, row.fall);
      CHECK_FALSE(t.up());
      CHECK(t.consecutive() == 0);
      for (std::size_t i = 0; i < row.steps.size(); ++i) {
        INFO("step " << i);
        const auto& s = row.steps[i];
        CHECK(t.record(s.ok, s.immediate) == s.expect);
        CHECK(t.up() == s.up);
        CHECK(t.last_ok() == s.ok);
      }
    }
  }
}

TEST_CASE("tracker: consecutive counts equal raw results", "[checks][tracker]") {
  Tracker t(2, 2);
  t.record(true);
  t.record(true);
  t.record(true);
  CHECK(t.consecutive() == 3);
  t.record(false);
  CHECK(t.consecutive() == 1);
  t.record(false);
  CHECK(t.consecutive() == 2);
}

TEST_CASE("edge interval: interval/4, at least 10 ms, at most interval", "[checks][tracker]") {
  CHECK(edge_interval(milliseconds(1000)) == milliseconds(250));
  CHECK(edge_interval(milliseconds(200)) == milliseconds(50));
  CHECK(edge_interval(milliseconds(20)) == milliseconds(10));
  CHECK(edge_interval(milliseconds(5)) == milliseconds(5));
}

// ---------------------------------------------------------------------------------------------
// HTTP

TEST_CASE("http: status set and body substring against a real server", "[checks][http]") {
  TestServer server;
  auto c = make_check(config::CheckType::Http);
  c.timeout = milliseconds(1000);

  SECTION("200 with the expected body is up") {
    c.url = server.url("/ok");
    c.expect_body = "ok";
    const auto r = make_http_probe(c)->run(-1);
    CHECK(r.ok);
    CHECK(r.error.empty());
  }
  SECTION("503 is not in the expected set") {
    c.url = server.url("/fail");
    const auto r = make_http_probe(c)->run(-1);
    CHECK_FALSE(r.ok);
    CHECK_FALSE(r.immediate);
    CHECK(r.error == "status 503 not in [200]");
  }
  SECTION("503 accepted when listed") {
    c.url = server.url("/fail");
    c.expect_status = {200, 503};
    CHECK(make_http_probe(c)->run(-1).ok);
  }
  SECTION("body mismatch is named") {
    c.url = server.url("/ok");
    c.expect_body = "healthy";
    const auto r = make_http_probe(c)->run(-1);
    CHECK_FALSE(r.ok);
    CHECK(r.error == "body does not contain 'healthy'");
  }
  SECTION("a slow handler beyond the timeout is a read timeout") {
    c.url = server.url("/slow");
    c.timeout = milliseconds(100);
    const auto r = make_http_probe(c)->run(-1);
    CHECK_FALSE(r.ok);
    CHECK(r.error == "read timeout after 100ms");
  }
  SECTION("a bad url fails with the reason, every run") {
    c.url = "ftp://x/";
    const auto r = make_http_probe(c)->run(-1);
    CHECK_FALSE(r.ok);
    CHECK(r.error.find("scheme must be http or https") != std::string::npos);
  }
}

TEST_CASE("http: a server that never answers times out within timeout + slack", "[checks][http]") {
  SilentServer silent;
  auto c = make_check(config::CheckType::Http);
  c.url = "http://127.0.0.1:" + std::to_string(silent.port) + "/";
  for (const int t : {100, 250}) {
    c.timeout = milliseconds(t);
    const auto t0 = Clock::now();
    const auto r = make_http_probe(c)->run(-1);
    const double took = ms_since(t0);
    std::printf("[checks] http read timeout %d ms: returned after %.1f ms\n", t, took);
    CHECK_FALSE(r.ok);
    CHECK(r.error == "read timeout after " + std::to_string(t) + "ms");
    CHECK(took >= t - 5);
    CHECK(took < t + 150);
  }
}

TEST_CASE("http: a full accept queue is a connect timeout", "[checks][http]") {
  // listen(0) queues one connection; once the queue is full the kernel drops further SYNs, so a
  // connect hangs until the client's connect timeout (not cpp-httplib's 300 s default).
  SilentServer full(0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(full.port));
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    fillers.push_back(fd);
  }
  std::this_thread::sleep_for(milliseconds(20));  // let the handshakes of the fillers complete
  auto c = make_check(config::CheckType::Http);
  c.url = "http://127.0.0.1:" + std::to_string(full.port) + "/";
  c.timeout = milliseconds(150);
  const auto t0 = Clock::now();
  const auto r = make_http_probe(c)->run(-1);
  const double took = ms_since(t0);
  std::printf("[checks] http connect timeout 150 ms: returned after %.1f ms (%s)\n", took,
              r.error.c_str());
  for (int fd : fillers) ::close(fd);
  CHECK_FALSE(r.ok);
  CHECK(r.error == "connect timeout after 150ms");
  CHECK(took >= 145);
  CHECK(took < 150 + 150);
}

TEST_CASE("http: https with tls_verify on and off", "[checks][http]") {
  TempDir dir;
  const auto cert = dir.file("cert.pem");
  const auto key = dir.file("key.pem");
  const std::string cmd =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -keyout " + key +
      " -out " + cert + " >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) {  // test fixture only; the probes never use a shell
    WARN("openssl not available; https test skipped");
    return;
  }
  httplib::SSLServer svr(cert.c_str(), key.c_str());
  REQUIRE(svr.is_valid());
  svr.new_task_queue = [] { return new httplib::ThreadPool(2); };
  svr.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok", "text/plain");
  });
  const int port = svr.bind_to_any_port("127.0.0.1");
  std::thread th([&] { svr.listen_after_bind(); });
  while (!svr.is_running()) std::this_thread::yield();

  auto c = make_check(config::CheckType::Http);
  c.url = "https://127.0.0.1:" + std::to_string(port) + "/healthz";
  c.expect_body = "ok";
  c.timeout = milliseconds(2000);
  const auto verified = make_http_probe(c)->run(-1);
  CHECK_FALSE(verified.ok);
  CHECK(verified.error.find("certificate verification failed") != std::string::npos);
  c.tls_verify = false;
  const auto unverified = make_http_probe(c)->run(-1);
  CHECK(unverified.ok);
  CHECK(unverified.error.empty());
  svr.stop();
  th.join();
}

TEST_CASE("http: a closed port is refused fast", "[checks][http]") {
  auto c = make_check(config::CheckType::Http);
  c.url = "http://127.0.0.1:" + std::to_string(closed_port()) + "/";
  c.timeout = milliseconds(1000);
  const auto t0 = Clock::now();
  const auto r = make_http_probe(c)->run(-1);
  const double took = ms_since(t0);
  CHECK_FALSE(r.ok);
  CHECK(r.error.find("refused or unreachable") != std::string::npos);
  CHECK(took < 100);
}

TEST_CASE("http: cancel() aborts an in-flight request", "[checks][http]") {
  SilentServer silent;
  auto c = make_check(config::CheckType::Http);
  c.url = "http://127.0.0.1:" + std::to_string(silent.port) + "/";
  c.timeout = milliseconds(3000);
  auto probe = make_http_probe(c);
  const auto t0 = Clock::now();
  std::thread canceller([&] {
    std::this_thread::sleep_for(milliseconds(50));
    probe->cancel();
  });
  const auto r = probe->run(-1);
  canceller.join();
  CHECK_FALSE(r.ok);
  CHECK(ms_since(t0) < 1000);
}

// ---------------------------------------------------------------------------------------------
// TCP

TEST_CASE("tcp: connect to a listener, refused on a closed port", "[checks][tcp]") {
  auto c = make_check(config::CheckType::Tcp);
  c.timeout = milliseconds(500);
  SECTION("listening") {
    SilentServer s;
    c.address = "127.0.0.1:" + std::to_string(s.port);
    const auto r = make_tcp_probe(c)->run(-1);
    CHECK(r.ok);
  }
  SECTION("closed") {
    c.address = "127.0.0.1:" + std::to_string(closed_port());
    const auto t0 = Clock::now();
    const auto r = make_tcp_probe(c)->run(-1);
    CHECK_FALSE(r.ok);
    CHECK_FALSE(r.immediate);
    CHECK(r.error.find("Connection refused") != std::string::npos);
    CHECK(ms_since(t0) < 100);
  }
  SECTION("malformed address") {
    c.address = "localhost";
    const auto r = make_tcp_probe(c)->run(-1);
    CHECK_FALSE(r.ok);
    CHECK(r.error.find("expected host:port") != std::string::npos);
  }
  SECTION("IPv6 literal") {
    c.address = "[::1]:" + std::to_string(closed_port());
    const auto r = make_tcp_probe(c)->run(-1);
    CHECK_FALSE(r.ok);
    CHECK(r.error.find("connect to [::1]") != std::string::npos);
  }
}

// ---------------------------------------------------------------------------------------------
// Exec

TEST_CASE("exec: exit status, output in the reason, timeout kills and reaps", "[checks][exec]") {
  REQUIRE(no_children());
  auto c = make_check(config::CheckType::Exec);
  c.timeout = milliseconds(1000);
  SECTION("true is up") {
    c.command = {"true"};
    CHECK(make_exec_probe(c)->run(-1).ok);
  }
  SECTION("false is down, counted") {
    c.command = {"/bin/false"};
    const auto r = make_exec_probe(c)->run(-1);
    CHECK_FALSE(r.ok);
    CHECK_FALSE(r.immediate);
    CHECK(r.error == "exit status 1");
  }
  SECTION("stdout and stderr are in the reason; argv is not a shell line") {
    c.command = {"sh", "-c", "echo out; echo err >&2; exit 3", "ignored;$(reboot)"};
    const auto r = make_exec_probe(c)->run(-1);
    CHECK_FALSE(r.ok);
    CHECK(r.error == "exit status 3: 'out\\nerr'");
  }
  SECTION("missing command") {
    c.command = {"vipd-no-such-command"};
    const auto r = make_exec_probe(c)->run(-1);
    CHECK_FALSE(r.ok);
    CHECK(r.error.find("command not found") != std::string::npos);
  }
  SECTION("output is bounded") {
    c.command = {"sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x; exit 1"};
    const auto r = make_exec_probe(c)->run(-1);
    CHECK_FALSE(r.ok);
    CHECK(r.error.size() < 700);
  }
  SECTION("timeout: SIGTERM, reaped, no zombie") {
    c.command = {"sleep", "10"};
    c.timeout = milliseconds(100);
    const auto t0 = Clock::now();
    const auto r = make_exec_probe(c)->run(-1);
    const double took = ms_since(t0);
    std::printf("[checks] exec timeout 100 ms (SIGTERM honoured): returned after %.1f ms\n", took);
    CHECK_FALSE(r.ok);
    CHECK(r.error.rfind("timeout after 100ms (killed)", 0) == 0);
    CHECK(took < 100 + 150);
  }
  SECTION("timeout: SIGTERM ignored, SIGKILL after the grace") {
    c.command = {"sh", "-c", "trap '' TERM; sleep 10"};
    c.timeout = milliseconds(100);  // grace = 50 ms
    const auto t0 = Clock::now();
    const auto r = make_exec_probe(c)->run(-1);
    const double took = ms_since(t0);
    std::printf("[checks] exec timeout 100 ms (SIGTERM ignored): returned after %.1f ms\n", took);
    CHECK_FALSE(r.ok);
    CHECK(r.error.rfind("timeout after 100ms (killed)", 0) == 0);
    CHECK(took >= 145);
    CHECK(took < 100 + 50 + 200);
  }
  SECTION("stop_fd ends a run at once") {
    c.command = {"sleep", "10"};
    c.timeout = milliseconds(5000);
    const int efd = ::eventfd(0, EFD_CLOEXEC);
    std::thread stopper([efd] {
      std::this_thread::sleep_for(milliseconds(50));
      const std::uint64_t one = 1;
      [[maybe_unused]] auto n = ::write(efd, &one, sizeof one);
    });
    const auto t0 = Clock::now();
    const auto r = make_exec_probe(c)->run(efd);
    stopper.join();
    ::close(efd);
    CHECK_FALSE(r.ok);
    CHECK(r.error == "cancelled");
    CHECK(ms_since(t0) < 200);
  }
  CHECK(no_children());
}

// ---------------------------------------------------------------------------------------------
// File

TEST_CASE("file: absent, a number, garbage", "[checks][file]") {
  TempDir dir;
  auto c = make_check(config::CheckType::File);
  c.path = dir.file("maintenance");
  auto probe = make_file_probe(c);

  auto r = probe->run(-1);
  CHECK(r.ok);
  CHECK(r.value == 0);

  write_file(c.path, "-50\n");
  r = probe->run(-1);
  CHECK(r.ok);
  CHECK(r.value == -50);

  write_file(c.path, "  +20 ");
  r = probe->run(-1);
  CHECK(r.ok);
  CHECK(r.value == 20);

  write_file(c.path, "100000000000000000000000");
  r = probe->run(-1);
  CHECK(r.ok);
  CHECK(r.value == 254);

  write_file(c.path, "");
  r = probe->run(-1);
  CHECK(r.ok);
  CHECK(r.value == 0);

  write_file(c.path, "maintenance\n");
  r = probe->run(-1);
  CHECK_FALSE(r.ok);
  CHECK_FALSE(r.immediate);
  CHECK(r.error == c.path + ": not an integer: 'maintenance'");

  write_file(c.path, "12abc");
  CHECK_FALSE(probe->run(-1).ok);

  std::filesystem::remove(c.path);
  std::filesystem::create_directory(c.path);
  r = probe->run(-1);
  CHECK_FALSE(r.ok);
  CHECK(r.error.find("Is a directory") != std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Link

TEST_CASE("link: lo is up, a missing interface is down at once", "[checks][link]") {
  auto c = make_check(config::CheckType::Link);
  c.interface = "lo";
  CHECK(make_link_probe(c)->run(-1).ok);
  c.interface = "vipdnosuch0";
  const auto r = make_link_probe(c)->run(-1);
  CHECK_FALSE(r.ok);
  CHECK(r.immediate);
  CHECK(r.error == "interface vipdnosuch0 not found");
  c.interface = "../lo";
  CHECK_FALSE(make_link_probe(c)->run(-1).ok);
}

// ---------------------------------------------------------------------------------------------
// PID (PidWatch directly: deterministic; time is passed in)

TEST_CASE("pid: pidfile problems are immediate failures with a reason", "[checks][pid]") {
  TempDir dir;
  const auto pidfile = dir.file("nginx.pid");
  PidWatch w(pidfile, milliseconds(100));
  const auto now = Clock::now();

  auto r = w.evaluate(now);
  CHECK_FALSE(r.ok);
  CHECK(r.immediate);
  CHECK(r.error == "pidfile " + pidfile + ": No such file or directory");

  write_file(pidfile, "garbage\n");
  r = w.evaluate(now);
  CHECK_FALSE(r.ok);
  CHECK(r.immediate);
  CHECK(r.error == "pidfile " + pidfile + " does not hold a PID: 'garbage'");

  write_file(pidfile, "");
  CHECK(w.evaluate(now).error == "pidfile " + pidfile + " is empty");

  write_file(pidfile, "-5");
  CHECK_FALSE(w.evaluate(now).ok);

  // A PID that is not running: reap a child so its PID is free.
  const pid_t dead = spawn_sleeper();
  kill_and_reap(dead);
  write_file(pidfile, std::to_string(dead) + "\n");
  r = w.evaluate(now);
  CHECK_FALSE(r.ok);
  CHECK(r.error.find("is not running") != std::string::npos);
}

TEST_CASE("pid: follows rewrites, tolerates a brief gap, never reopens an exited PID",
          "[checks][pid]") {
  TempDir dir;
  const auto pidfile = dir.file("nginx.pid");
  const pid_t a = spawn_sleeper();
  write_file(pidfile, std::to_string(a) + "\n");
  PidWatch w(pidfile, milliseconds(100));
  REQUIRE(w.inotify_fd() >= 0);
  auto now = Clock::now();
  REQUIRE(w.evaluate(now).ok);
  CHECK(w.pid() == a);
  const int fd_a = w.pidfd();

  // Same PID rewritten (nginx -s reload keeps the master): same pidfd, still up.
  write_file(pidfile, std::to_string(a) + "\n");
  CHECK(w.drain_events());
  CHECK(w.evaluate(now).ok);
  CHECK(w.pidfd() == fd_a);

  // Binary upgrade: nginx.pid renamed to .oldbin, then the new master writes nginx.pid.
  std::filesystem::rename(pidfile, pidfile + ".oldbin");
  CHECK(w.drain_events());
  CHECK(w.evaluate(now).ok);  // inside the grace: the old master still serves
  REQUIRE(w.grace_deadline().has_value());
  CHECK(*w.grace_deadline() == now + milliseconds(100));
  const pid_t b = spawn_sleeper();
  replace_file(pidfile, std::to_string(b) + "\n");
  CHECK(w.drain_events());
  CHECK(w.evaluate(now).ok);
  CHECK(w.pid() == b);
  CHECK_FALSE(w.grace_deadline().has_value());
  kill_and_reap(a);  // the old master quits: not watched any more

  // The pidfile disappears while b lives: up during the grace, down after it.
  std::filesystem::remove(pidfile);
  now = Clock::now();
  CHECK(w.evaluate(now).ok);
  auto r = w.evaluate(now + milliseconds(100));
  CHECK_FALSE(r.ok);
  CHECK(r.immediate);
  CHECK(r.error.find("still running") != std::string::npos);

  // Back again: up.
  write_file(pidfile, std::to_string(b) + "\n");
  CHECK(w.evaluate(now).ok);

  // b exits: the pidfd fires; down; the unchanged pidfile is never trusted again for that PID.
  ::kill(b, SIGKILL);
  pollfd p{w.pidfd(), POLLIN, 0};
  REQUIRE(::poll(&p, 1, 2000) == 1);
  r = w.evaluate(Clock::now());
  CHECK_FALSE(r.ok);
  CHECK(r.immediate);
  CHECK(r.error == "process " + std::to_string(b) + " exited");
  r = w.evaluate(Clock::now());
  CHECK(r.error == "process " + std::to_string(b) + " exited (pidfile not rewritten since)");
  ::waitpid(b, nullptr, 0);
  CHECK(w.pidfd() == -1);
  CHECK(no_children());
}

// Forks a child that renames itself (/proc/PID/comm) and sleeps: another program, as far as the
// pid check's PID-reuse guard can tell.
pid_t spawn_named(const char* name) {
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_NAME, name);
    ::close(ready[0]);
    (void)!::write(ready[1], "x", 1);
    for (;;) ::pause();
  }
  REQUIRE(pid > 0);
  ::close(ready[1]);
  char c = 0;
  REQUIRE(::read(ready[0], &c, 1) == 1);  // the name is set before the parent looks at it
  ::close(ready[0]);
  return pid;
}

TEST_CASE("pid: classic HAProxy reload (truncate, old exits, new PID later) never goes down",
          "[checks][pid]") {
  TempDir dir;
  const auto pidfile = dir.file("haproxy.pid");
  const pid_t old_pid = spawn_sleeper();
  write_file(pidfile, std::to_string(old_pid) + "\n");
  PidWatch w(pidfile, milliseconds(100));
  auto now = Clock::now();
  REQUIRE(w.evaluate(now).ok);

  // haproxy -sf OLD: the new process truncates the pidfile, signals OLD, OLD exits at once.
  write_file(pidfile, "");
  CHECK(w.evaluate(now).ok);  // the old one still runs: the pidfile grace
  ::kill(old_pid, SIGKILL);
  pollfd p{w.pidfd(), POLLIN, 0};
  REQUIRE(::poll(&p, 1, 2000) == 1);
  auto r = w.evaluate(now + milliseconds(5));
  CHECK(r.ok);  // a reload under way: the file was rewritten since it named OLD
  CHECK(w.pid() == 0);
  REQUIRE(w.grace_deadline().has_value());
  CHECK(*w.grace_deadline() == now + milliseconds(100));  // one grace, not restarted
  ::waitpid(old_pid, nullptr, 0);

  // ~6 ms later the new PID is written: adopted (same program), still up.
  const pid_t new_pid = spawn_sleeper();
  write_file(pidfile, std::to_string(new_pid) + "\n");
  r = w.evaluate(now + milliseconds(11));
  CHECK(r.ok);
  CHECK(w.pid() == new_pid);
  CHECK_FALSE(w.grace_deadline().has_value());

  // A real death afterwards (pidfile untouched) is still immediate.
  ::kill(new_pid, SIGKILL);
  p = {w.pidfd(), POLLIN, 0};
  REQUIRE(::poll(&p, 1, 2000) == 1);
  r = w.evaluate(now + milliseconds(12));
  CHECK_FALSE(r.ok);
  CHECK(r.immediate);
  CHECK(r.error == "process " + std::to_string(new_pid) + " exited");
  ::waitpid(new_pid, nullptr, 0);
  CHECK(no_children());
}

TEST_CASE("pid: a reload that never writes a new PID goes down when the grace ends",
          "[checks][pid]") {
  TempDir dir;
  const auto pidfile = dir.file("haproxy.pid");
  const pid_t a = spawn_sleeper();
  write_file(pidfile, std::to_string(a) + "\n");
  PidWatch w(pidfile, milliseconds(100));
  const auto now = Clock::now();
  REQUIRE(w.evaluate(now).ok);
  kill_and_reap(a);
  write_file(pidfile, "");  // emptied after the exit, before vipd looked
  CHECK(w.evaluate(now).ok);
  CHECK(w.evaluate(now + milliseconds(99)).ok);
  const auto r = w.evaluate(now + milliseconds(100));
  CHECK_FALSE(r.ok);
  CHECK(r.immediate);
  CHECK(r.error == "process " + std::to_string(a) + " exited; pidfile " + pidfile +
                       " is empty (no new PID within 100ms)");
  CHECK_FALSE(w.evaluate(now + milliseconds(200)).ok);  // and stays down
}

TEST_CASE("pid: a death with the pidfile untouched or unlinked is down at once", "[checks][pid]") {
  TempDir dir;
  const auto pidfile = dir.file("nginx.pid");
  const pid_t a = spawn_sleeper();
  write_file(pidfile, std::to_string(a) + "\n");
  PidWatch w(pidfile, milliseconds(1000));
  const auto now = Clock::now();
  REQUIRE(w.evaluate(now).ok);

  SECTION("untouched") {
    kill_and_reap(a);
    const auto r = w.evaluate(now);
    CHECK_FALSE(r.ok);
    CHECK(r.immediate);
    CHECK(r.error == "process " + std::to_string(a) + " exited");
    CHECK_FALSE(w.grace_deadline().has_value());
  }
  SECTION("unlinked (nginx and HAProxy remove it on a clean stop)") {
    std::filesystem::remove(pidfile);
    CHECK(w.evaluate(now).ok);  // still alive: the pidfile grace
    kill_and_reap(a);
    const auto r = w.evaluate(now + milliseconds(1));
    CHECK_FALSE(r.ok);
    CHECK(r.immediate);
    CHECK(r.error.starts_with("process " + std::to_string(a) + " exited; pidfile " + pidfile));
  }
}

TEST_CASE("pid: after a death, a new PID running another program is refused (PID reuse)",
          "[checks][pid]") {
  TempDir dir;
  const auto pidfile = dir.file("haproxy.pid");
  const pid_t a = spawn_named("haproxy");
  write_file(pidfile, std::to_string(a) + "\n");
  PidWatch w(pidfile, milliseconds(100));
  const auto now = Clock::now();
  REQUIRE(w.evaluate(now).ok);
  write_file(pidfile, "");
  kill_and_reap(a);
  CHECK(w.evaluate(now).ok);
  const pid_t other = spawn_named("not-haproxy");
  write_file(pidfile, std::to_string(other) + "\n");
  auto r = w.evaluate(now + milliseconds(5));
  CHECK_FALSE(r.ok);
  CHECK(r.immediate);
  CHECK(r.error == "process " + std::to_string(other) + " from " + pidfile +
                       " is 'not-haproxy', not 'haproxy'");
  kill_and_reap(other);

  // The same program is adopted.
  const pid_t b = spawn_named("haproxy");
  const pid_t c = spawn_named("haproxy");
  write_file(pidfile, std::to_string(b) + "\n");
  REQUIRE(w.evaluate(now).ok);
  write_file(pidfile, "");
  kill_and_reap(b);
  CHECK(w.evaluate(now).ok);
  write_file(pidfile, std::to_string(c) + "\n");
  CHECK(w.evaluate(now + milliseconds(5)).ok);
  CHECK(w.pid() == c);
  kill_and_reap(c);
  CHECK(no_children());
}

// ---------------------------------------------------------------------------------------------
// Runner

TEST_CASE("runner: pid check goes down on process exit without polling", "[checks][runner][pid]") {
  TempDir dir;
  auto c = make_check(config::CheckType::Pid, "nginx-pid");
  c.pidfile = dir.file("nginx.pid");
  c.interval = milliseconds(5000);  // the safety-net re-evaluation never fires in this test
  c.timeout = milliseconds(100);
  const pid_t a = spawn_sleeper();
  write_file(c.pidfile, std::to_string(a) + "\n");

  Recorder rec;
  Runner runner({c}, rec.post());
  runner.start();
  const long up_at = rec.wait_for([](const CheckUpdate& u) { return u.up; }, milliseconds(2000));
  REQUIRE(up_at >= 0);
  CHECK(rec.at(0).u.changed);
  CHECK(rec.at(0).u.type == config::CheckType::Pid);

  SECTION("same PID rewritten: no down") {
    const auto before = rec.size();
    for (int i = 0; i < 5; ++i) write_file(c.pidfile, std::to_string(a) + "\n");
    // Each rewrite wakes the check (inotify); wait for those evaluations.
    REQUIRE(rec.wait_for([](const CheckUpdate&) { return true; }, milliseconds(2000), before) >= 0);
    CHECK(rec.wait_for([](const CheckUpdate& u) { return !u.up; }, milliseconds(200), before) ==
          -1);
    kill_and_reap(a);
  }
  SECTION("pidfile rewritten to a new PID: followed") {
    const pid_t b = spawn_sleeper();
    const auto before = rec.size();
    replace_file(c.pidfile, std::to_string(b) + "\n");
    REQUIRE(rec.wait_for([](const CheckUpdate&) { return true; }, milliseconds(2000), before) >= 0);
    kill_and_reap(a);  // the old process is no longer the one watched
    CHECK(rec.wait_for([](const CheckUpdate& u) { return !u.up; }, milliseconds(200), before) ==
          -1);
    const auto t_kill = Clock::now();
    ::kill(b, SIGKILL);
    const long down =
        rec.wait_for([](const CheckUpdate& u) { return !u.up; }, milliseconds(2000), before);
    REQUIRE(down >= 0);
    const auto e = rec.at(static_cast<std::size_t>(down));
    CHECK(e.u.error == "process " + std::to_string(b) + " exited");
    CHECK(e.u.immediate);
    std::printf("[checks] pid wake latency (new PID after rewrite): %.3f ms\n",
                std::chrono::duration<double, std::milli>(e.at - t_kill).count());
    ::waitpid(b, nullptr, 0);
  }
  SECTION("kill: down at once, immediate, with the reason") {
    const auto before = rec.size();
    const auto t_kill = Clock::now();
    ::kill(a, SIGKILL);
    const long down =
        rec.wait_for([](const CheckUpdate& u) { return !u.up; }, milliseconds(2000), before);
    REQUIRE(down >= 0);
    const auto e = rec.at(static_cast<std::size_t>(down));
    const double latency = std::chrono::duration<double, std::milli>(e.at - t_kill).count();
    std::printf("[checks] pid wake latency (SIGKILL -> post): %.3f ms\n", latency);
    CHECK(latency < 50);
    CHECK(e.u.changed);
    CHECK(e.u.immediate);
    CHECK(e.u.error == "process " + std::to_string(a) + " exited");
    ::waitpid(a, nullptr, 0);
  }
  SECTION("garbage pidfile: down after the grace, with the reason") {
    const auto before = rec.size();
    write_file(c.pidfile, "not-a-pid\n");
    const long down =
        rec.wait_for([](const CheckUpdate& u) { return !u.up; }, milliseconds(2000), before);
    REQUIRE(down >= 0);
    CHECK(
        rec.at(static_cast<std::size_t>(down)).u.error->find("does not hold a PID: 'not-a-pid'") !=
        std::string::npos);
    // Down after the grace is a state, not a loop: no re-evaluation until something changes.
    const auto after = rec.size();
    std::this_thread::sleep_for(milliseconds(100));
    CHECK(rec.size() - after <= 1);
    kill_and_reap(a);
  }
  const auto t0 = Clock::now();
  runner.stop();
  CHECK(ms_since(t0) < 100);
  CHECK(no_children());
}

TEST_CASE("runner: rise confirmed at the edge interval, updates carry the details",
          "[checks][runner]") {
  TestServer server;
  auto http = make_check(config::CheckType::Http, "nginx-http");
  http.url = server.url("/ok");
  http.interval = milliseconds(400);  // edge interval 100 ms
  http.timeout = milliseconds(200);
  http.rise = 3;
  auto file = make_check(config::CheckType::File, "maintenance");
  file.path = "/nonexistent/vipd/maintenance";
  file.interval = milliseconds(50);

  Recorder rec;
  Runner runner({http, file}, rec.post());
  const auto t0 = Clock::now();
  runner.start();
  const long up = rec.wait_for([](const CheckUpdate& u) { return u.check == "nginx-http" && u.up; },
                               milliseconds(2000));
  REQUIRE(up >= 0);
  const auto e = rec.at(static_cast<std::size_t>(up));
  const double took = std::chrono::duration<double, std::milli>(e.at - t0).count();
  std::printf("[checks] http rise=3 at interval 400 ms confirmed after %.1f ms\n", took);
  CHECK(took < 400);  // without the edge interval it would take 800 ms
  CHECK(e.u.changed);
  CHECK(e.u.consecutive == 3);
  CHECK(e.u.duration.count() > 0);
  CHECK_FALSE(e.u.error.has_value());
  {
    std::lock_guard lock(rec.mu);
    int pending = 0;
    for (const auto& x : rec.entries) pending += x.u.check == "nginx-http" && x.u.pending;
    CHECK(pending == 2);
  }
  CHECK(rec.wait_for([](const CheckUpdate& u) { return u.check == "maintenance" && u.up; },
                     milliseconds(1000)) >= 0);
  runner.stop();
  const auto n = rec.size();
  std::this_thread::sleep_for(milliseconds(100));
  CHECK(rec.size() == n);  // nothing is posted after stop() returns
}

TEST_CASE("runner: a failing HTTP check goes down after fall, others unaffected by a hang",
          "[checks][runner]") {
  TestServer server;
  SilentServer silent;
  auto good = make_check(config::CheckType::Http, "good");
  good.url = server.url("/ok");
  good.interval = milliseconds(50);
  auto bad = make_check(config::CheckType::Http, "bad");
  bad.url = server.url("/fail");
  bad.interval = milliseconds(50);
  auto hung = make_check(config::CheckType::Http, "hung");
  hung.url = "http://127.0.0.1:" + std::to_string(silent.port) + "/";
  hung.timeout = milliseconds(3000);
  hung.interval = milliseconds(50);

  Recorder rec;
  Runner runner({good, bad, hung}, rec.post());
  runner.start();
  // While "hung" sits in its 3 s read, "good" keeps posting.
  CHECK(rec.wait_for(
            [](const CheckUpdate& u) { return u.check == "good" && u.up && u.consecutive >= 5; },
            milliseconds(2000)) >= 0);
  const long b =
      rec.wait_for([](const CheckUpdate& u) { return u.check == "bad"; }, milliseconds(1000));
  REQUIRE(b >= 0);
  const auto e = rec.at(static_cast<std::size_t>(b));
  CHECK_FALSE(e.u.up);
  CHECK(e.u.error == "status 503 not in [200]");
  CHECK(rec.wait_for([](const CheckUpdate& u) { return u.check == "hung"; }, milliseconds(0)) ==
        -1);
  const auto t0 = Clock::now();
  runner.stop();  // cancels the hung request
  const double took = ms_since(t0);
  std::printf("[checks] runner stop with a hung HTTP probe: %.1f ms\n", took);
  CHECK(took < 100);
  CHECK(rec.wait_for([](const CheckUpdate& u) { return u.check == "hung"; }, milliseconds(0)) ==
        -1);
}

TEST_CASE("runner: stop kills a running exec child promptly", "[checks][runner][exec]") {
  REQUIRE(no_children());
  auto c = make_check(config::CheckType::Exec, "slow-script");
  c.command = {"sleep", "30"};
  c.timeout = milliseconds(10000);
  Recorder rec;
  Runner runner({c}, rec.post());
  runner.start();
  // Wait until the child exists (it is our child: the runner forked it in this process).
  const auto deadline = Clock::now() + std::chrono::seconds(2);
  while (no_children() && Clock::now() < deadline) std::this_thread::sleep_for(milliseconds(1));
  REQUIRE_FALSE(no_children());
  const auto t0 = Clock::now();
  runner.stop();
  const double took = ms_since(t0);
  std::printf("[checks] runner stop with a running exec child: %.1f ms\n", took);
  CHECK(took < 100);
  CHECK(no_children());
  CHECK(rec.size() == 0);
}
