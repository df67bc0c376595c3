// The API's pure parts: /status JSON contract, metrics exposition, the route index, `vipd status`.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "cli/status_client.h"
#include "exporters/api_server.h"
#include "exporters/metrics.h"
#include "exporters/status_json.h"

using namespace vipd;

namespace {

exporters::Snapshot sample() {
  exporters::Snapshot s;
  s.node = "web-a";
  s.version = "0.1.0";
  s.uptime_seconds = 812.4;
  exporters::InstanceView i;
  i.name = "web";
  i.vrid = 51;
  i.interface = "eth0";
  i.version = 3;
  i.state = vipd::vrrp::State::Master;
  i.since = "2026-11-22T10:00:00Z";
  i.since_seconds = 12.5;
  i.reason = "master-down timer expired (no advert from 198.18.0.12 for 3.61s)";
  i.reason_code = "master_down";
  i.base_priority = 100;
  i.effective_priority = 100;
  i.contributions.push_back({"nginx-http", -60, true, 0});
  i.master_address = "198.18.0.11";
  i.master_priority = 100;
  i.master_last_seen_seconds = 0.0;
  i.advert_interval_ms = 1000;
  i.master_down_interval_ms = 3609;
  i.vips.push_back({"198.18.0.100/24", true});
  i.counters.adverts_sent = 7;
  i.counters.transitions[{vipd::vrrp::State::Backup, vipd::vrrp::State::Master,
                          vipd::vrrp::Reason::MasterDown}] = 1;
  s.instances.push_back(i);
  exporters::CheckView c;
  c.name = "nginx-http";
  c.type = "http";
  c.up = true;
  c.consecutive = 12;
  c.last_duration_ms = 0.8;
  c.ran = true;
  s.checks.push_back(c);
  s.counters.drop(vipd::vrrp::DropReason::BadChecksum);
  s.counters.drop(vipd::vrrp::DropReason::BadChecksum);
  s.counters.drop(vipd::vrrp::DropReason::BadChecksum);
  s.counters.count(vipd::app::VipOp::Add, true);
  s.realtime = {10, "SCHED_RR", 10, std::nullopt};
  return s;
}

}  // namespace

TEST_CASE("/status carries every field of the DESIGN.md §7 contract", "[api]") {
  const auto doc = exporters::status_json(sample());
  for (const char* key : {"node", "version", "uptime_seconds", "instances", "checks"})
    CHECK(doc.contains(key));
  const auto& i = doc["instances"][0];
  for (const char* key :
       {"name", "vrid", "interface", "family", "version", "state", "since", "reason", "priority",
        "master", "advert_interval_ms", "master_down_interval_ms", "vips"})
    CHECK(i.contains(key));
  CHECK(i["state"] == "MASTER");
  CHECK(i["family"] == "ipv4");
  CHECK(i["priority"]["base"] == 100);
  CHECK(i["priority"]["contributions"][0]["check"] == "nginx-http");
  CHECK(i["priority"]["contributions"][0]["applied"] == 0);
  CHECK(i["master"]["address"] == "198.18.0.11");
  CHECK(i["master"]["last_seen_seconds"] == 0.0);
  CHECK(i["vips"][0]["address"] == "198.18.0.100/24");
  CHECK(i["vips"][0]["present"] == true);
  const auto& c = doc["checks"][0];
  for (const char* key : {"name", "type", "up", "consecutive", "last_duration_ms", "last_error"})
    CHECK(c.contains(key));
  CHECK(c["last_error"].is_null());
}

TEST_CASE("/status agent.realtime: requested, in force, and why not", "[api]") {
  auto doc = exporters::status_json(sample());
  const auto& rt = doc["agent"]["realtime"];
  CHECK(rt["requested_priority"] == 10);
  CHECK(rt["policy"] == "SCHED_RR");
  CHECK(rt["priority"] == 10);
  CHECK(rt["error"].is_null());
  auto s = sample();
  s.realtime = {10, "SCHED_OTHER", 0, "not permitted: no CAP_SYS_NICE"};
  doc = exporters::status_json(s);
  CHECK(doc["agent"]["realtime"]["policy"] == "SCHED_OTHER");
  CHECK(doc["agent"]["realtime"]["error"] == "not permitted: no CAP_SYS_NICE");
}

TEST_CASE("metrics carry the DESIGN.md §7 names and pass promtool when it is available",
          "[api][metrics]") {
  exporters::Metrics m("0.1.0");
  m.update(sample());
  m.observe_check("nginx-http", 0.0008, true);
  m.observe_failover("web", 0.004);
  const auto text = m.serialize();
  for (const char* name :
       {"vipd_vrrp_state{instance=\"web\",state=\"MASTER\"} 1",
        "vipd_vrrp_state{instance=\"web\",state=\"BACKUP\"} 0",
        "vipd_vrrp_priority{instance=\"web\",kind=\"effective\"} 100",
        "vipd_vrrp_transitions_total{from=\"BACKUP\",instance=\"web\",reason=\"master_down\",to="
        "\"MASTER\"} 1",
        "vipd_vrrp_adverts_sent_total{instance=\"web\"} 7",
        "vipd_vrrp_packets_dropped_total{reason=\"bad_checksum\"} 3",
        "vipd_vip_present{address=\"198.18.0.100/24\",instance=\"web\"} 1",
        "vipd_vip_operations_total{op=\"add\",result=\"ok\"} 1",
        "vipd_check_up{check=\"nginx-http\"} 1",
        "vipd_check_duration_seconds_bucket{check=\"nginx-http\",le=\"0.001\"} 1",
        "vipd_failover_duration_seconds_bucket{instance=\"web\",le=\"0.005\"} 1",
        "vipd_build_info{version=\"0.1.0\"} 1", "vipd_config_reload_success 1",
        "vipd_realtime_priority{kind=\"requested\"} 10",
        "vipd_realtime_priority{kind=\"effective\"} 10"}) {
    INFO(name);
    CHECK(text.find(name) != std::string::npos);
  }
  // Counters follow the snapshot: a second update with a larger count adds only the difference.
  auto s = sample();
  s.instances[0].counters.adverts_sent = 10;
  m.update(s);
  CHECK(m.serialize().find("vipd_vrrp_adverts_sent_total{instance=\"web\"} 10") !=
        std::string::npos);
  // Refused: requested stays, effective drops to 0 (SCHED_OTHER).
  s.realtime = {20, "SCHED_OTHER", 0, "not permitted"};
  m.update(s);
  CHECK(m.serialize().find("vipd_realtime_priority{kind=\"requested\"} 20") != std::string::npos);
  CHECK(m.serialize().find("vipd_realtime_priority{kind=\"effective\"} 0") != std::string::npos);

  const char* promtool = std::getenv("PROMTOOL");
  if (promtool == nullptr || *promtool == '\0') {
    WARN("promtool lint not run here: PROMTOOL is not set (the netns metrics test runs it)");
    return;
  }
  const std::string path = "/tmp/vipd-metrics-test.prom";
  std::ofstream(path) << m.serialize();
  const int rc = std::system((std::string(promtool) + " check metrics < " + path).c_str());
  CHECK(rc == 0);
  std::remove(path.c_str());
}

TEST_CASE("event histograms and check run counters exist at 0 before their first observation",
          "[api][metrics]") {
  // rate()/increase() cannot see the first observation of a series that is created by it.
  exporters::Metrics m("0.1.0");
  m.update(sample());
  const auto text = m.serialize();
  for (const char* line : {"vipd_failover_duration_seconds_count{instance=\"web\"} 0",
                           "vipd_check_duration_seconds_count{check=\"nginx-http\"} 0",
                           "vipd_check_runs_total{check=\"nginx-http\",result=\"ok\"} 0",
                           "vipd_check_runs_total{check=\"nginx-http\",result=\"fail\"} 0"}) {
    INFO(line);
    CHECK(text.find(line) != std::string::npos);
  }
}

TEST_CASE("GET / lists the route table", "[api]") {
  std::vector<exporters::Route> routes{{"GET", "/status", "state", nullptr},
                                       {"POST", "/v1/drain", "drain", nullptr}};
  const auto r = exporters::route_index(routes);
  CHECK(r.status == 200);
  CHECK(r.body.find("/v1/drain") != std::string::npos);
  CHECK(r.body.find("\"help\": \"state\"") != std::string::npos);
}

TEST_CASE("the API server serves its routes on a real socket", "[api]") {
  exporters::ApiServer server({{"GET", "/healthz", "liveness", [](const exporters::Request&) {
                                  return exporters::Response{200, "text/plain", "ok\n"};
                                }}});
  std::string error;
  REQUIRE(server.start("127.0.0.1:0", error));
  REQUIRE(server.port() > 0);
  // A second server on the same port fails with an actionable message.
  exporters::ApiServer second({});
  CHECK_FALSE(second.start("127.0.0.1:" + std::to_string(server.port()), error));
  CHECK(error.find("api_listen") != std::string::npos);
  server.stop();
}

namespace {

/// Sends a raw HTTP request to 127.0.0.1:port and returns what came back within 2 s.
std::string raw_exchange(int port, const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::send(fd, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size())) {
    char buf[4096];
    ssize_t n;
    while (out.find("\r\n\r\n") == std::string::npos && (n = ::recv(fd, buf, sizeof buf, 0)) > 0)
      out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

}  // namespace

TEST_CASE("a POST without Content-Length is answered at once (no body), one with a body is read",
          "[api]") {
  // `curl -X POST URL` sends neither Content-Length nor a body: RFC 9112 §6.3 says it has none.
  std::string seen_body = "unset";
  exporters::ApiServer server(
      {{"POST", "/v1/drain", "drain", [&seen_body](const exporters::Request& r) {
          seen_body = r.body;
          return exporters::Response{401, "application/json", "{}\n"};
        }}});
  std::string error;
  REQUIRE(server.start("127.0.0.1:0", error));
  const auto t0 = std::chrono::steady_clock::now();
  const auto reply =
      raw_exchange(server.port(), "POST /v1/drain HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n");
  const auto took = std::chrono::steady_clock::now() - t0;
  CHECK(reply.rfind("HTTP/1.1 401", 0) == 0);
  CHECK(took < std::chrono::milliseconds(500));
  CHECK(seen_body.empty());
  const auto with_body = raw_exchange(
      server.port(),
      "POST /v1/drain HTTP/1.1\r\nHost: x\r\nContent-Length: 17\r\n\r\n{\"instance\": \"a\"}");
  CHECK(with_body.rfind("HTTP/1.1 401", 0) == 0);
  CHECK(seen_body == "{\"instance\": \"a\"}");
  // A body method on a path without a route: 404 at once, not after the read timeout.
  const auto t1 = std::chrono::steady_clock::now();
  const auto none = raw_exchange(server.port(), "POST /v1/undrain HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(none.rfind("HTTP/1.1 404", 0) == 0);
  CHECK(std::chrono::steady_clock::now() - t1 < std::chrono::milliseconds(500));
  server.stop();
}

TEST_CASE("vipd status renders a readable table", "[api][cli]") {
  const auto table = cli::render_status(exporters::status_json(sample()));
  CHECK(table.find("instance web  VRID 51 on eth0") != std::string::npos);
  CHECK(table.find("state      MASTER") != std::string::npos);
  CHECK(table.find("why        master-down timer expired") != std::string::npos);
  CHECK(table.find("nginx-http") != std::string::npos);
  CHECK(table.find("198.18.0.100/24  present") != std::string::npos);
  CHECK(table.find("master     198.18.0.11 priority 100") != std::string::npos);
  CHECK(table.find("loop thread SCHED_RR priority 10\n") != std::string::npos);
  auto grouped = sample();
  grouped.groups.push_back({"edge",
                            "FAULT",
                            2.0,
                            "member inside is in fault: outside FAULT, inside FAULT",
                            {"outside", "inside"},
                            "inside",
                            {{"FAULT", 1}},
                            {}});
  const auto with_group = cli::render_status(exporters::status_json(grouped));
  CHECK(with_group.find("group edge  (outside, inside)\n  state      FAULT") != std::string::npos);
  CHECK(with_group.find("why        member inside is in fault") != std::string::npos);
  auto routed = sample();
  exporters::RouteInstanceView r;
  r.name = "edge";
  r.table = 198;
  r.protocol = 99;
  r.metric = 106;
  r.reason = "check nginx-pid is down (weight 0): routes withdrawn";
  r.base_priority = r.effective_priority = 150;
  r.vips = {{"198.19.0.100/32", std::nullopt, true, ""},
            {"198.19.0.101/32", std::nullopt, false, "local route: injected"}};
  routed.route_instances.push_back(r);
  const auto with_route = cli::render_status(exporters::status_json(routed));
  CHECK(with_route.find("instance edge  route mode, table 198 protocol 99\n"
                        "  routes     NOT installed, metric 106") != std::string::npos);
  CHECK(with_route.find("why        check nginx-pid is down (weight 0)") != std::string::npos);
  CHECK(with_route.find("vip        198.19.0.100/32  withdrawn, local route\n") !=
        std::string::npos);
  CHECK(with_route.find("198.19.0.101/32  withdrawn  ERROR local route: injected") !=
        std::string::npos);
  auto refused = sample();
  refused.realtime = {10, "SCHED_OTHER", 0, "not permitted"};
  CHECK(cli::render_status(exporters::status_json(refused))
            .find("loop thread SCHED_OTHER  (realtime_priority 10 refused: not permitted)") !=
        std::string::npos);
}

TEST_CASE("vipd status says clearly when the agent is not reachable", "[api][cli]") {
  // Port 1 on loopback: nothing listens there.
  CHECK(cli::run_status("http://127.0.0.1:1", false) == 2);
}
