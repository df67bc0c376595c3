// `vipd status` / `drain` / `undrain`: human rendering of /status and the API client.
#include "cli/status_client.h"

#include <httplib.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

namespace vipd::cli {
namespace {

std::string fmt_seconds(double s) {
  char buf[32];
  if (s < 1)
    std::snprintf(buf, sizeof buf, "%.0fms", s * 1000);
  else if (s < 120)
    std::snprintf(buf, sizeof buf, "%.1fs", s);
  else if (s < 7200)
    std::snprintf(buf, sizeof buf, "%.0fm", s / 60);
  else
    std::snprintf(buf, sizeof buf, "%.1fh", s / 3600);
  return buf;
}

std::string str(const nlohmann::json& j) {
  if (j.is_null()) return "-";
  if (j.is_string()) return j.get<std::string>();
  return j.dump();
}

}  // namespace

std::string render_status(const nlohmann::json& s) {
  std::ostringstream out;
  out << "node " << str(s.value("node", nlohmann::json())) << "  vipd "
      << str(s.value("version", nlohmann::json())) << "  up "
      << fmt_seconds(s.value("uptime_seconds", 0.0)) << "\n";
  const auto rt = s.value("agent", nlohmann::json::object()).value("realtime", nlohmann::json());
  if (rt.is_object()) {
    out << "loop thread " << str(rt.value("policy", nlohmann::json()));
    if (rt.value("priority", 0) > 0) out << " priority " << rt["priority"];
    if (!rt.value("error", nlohmann::json()).is_null())
      out << "  (realtime_priority " << rt.value("requested_priority", 0)
          << " refused: " << str(rt["error"]) << ")";
    out << "\n";
  }
  for (const auto& i : s.value("instances", nlohmann::json::array())) {
    out << "\ninstance " << str(i["name"]) << "  VRID " << i["vrid"] << " on "
        << str(i["interface"]) << "  VRRPv" << i["version"] << "\n";
    out << "  state      " << str(i["state"]) << " for "
        << fmt_seconds(i.value("since_seconds", 0.0)) << " (since " << str(i["since"]) << ")\n";
    out << "  why        " << str(i["reason"]) << "\n";
    const auto& p = i["priority"];
    out << "  priority   " << p["effective"] << " effective, " << p["base"] << " base\n";
    for (const auto& c : p.value("contributions", nlohmann::json::array())) {
      char line[160];
      std::snprintf(line, sizeof line, "    %-20s %-5s weight %4d  applied %+d\n",
                    str(c["check"]).c_str(), c.value("up", false) ? "up" : "DOWN",
                    c.value("weight", 0), c.value("applied", 0));
      out << line;
    }
    const auto& m = i["master"];
    out << "  master     " << str(m["address"]) << " priority " << m["priority"];
    if (!m["last_seen_seconds"].is_null())
      out << ", last advert " << fmt_seconds(m["last_seen_seconds"].get<double>()) << " ago";
    out << "\n";
    out << "  timers     advert " << i["advert_interval_ms"] << " ms, master-down "
        << i["master_down_interval_ms"] << " ms\n";
    for (const auto& v : i.value("vips", nlohmann::json::array()))
      out << "  vip        " << str(v["address"])
          << (!v.contains("present") || v["present"].is_null() ? "  unknown"
              : v["present"].get<bool>()                       ? "  present"
                                                               : "  absent")
          << "\n";
    if (i.contains("fault") && !i["fault"].is_null())
      out << "  FAULT      " << str(i["fault"]) << "\n";
    if (i.value("drained", false)) out << "  DRAINED    (vipd undrain to undo)\n";
    if (i.value("holding_vips", false))
      out << "  holding    VIPs kept until a new master is heard (make-before-break)\n";
    for (const auto& w : i.value("warnings", nlohmann::json::array()))
      out << "  WARNING    " << str(w) << "\n";
  }
  for (const auto& g : s.value("groups", nlohmann::json::array())) {
    std::string members;
    for (const auto& m : g.value("members", nlohmann::json::array()))
      members += (members.empty() ? "" : ", ") + str(m);
    out << "\ngroup " << str(g["name"]) << "  (" << members << ")\n";
    out << "  state      " << str(g["state"]) << " for "
        << fmt_seconds(g.value("since_seconds", 0.0)) << "\n";
    out << "  why        " << str(g["reason"]) << "\n";
    for (const auto& w : g.value("warnings", nlohmann::json::array()))
      out << "  WARNING    " << str(w) << "\n";
  }
  for (const auto& r : s.value("route_instances", nlohmann::json::array())) {
    out << "\ninstance " << str(r["name"]) << "  route mode, table " << r["table"] << " protocol "
        << r["protocol"] << "\n";
    out << "  routes     " << (r.value("installed", false) ? "installed" : "NOT installed")
        << ", metric " << r["metric"] << " for " << fmt_seconds(r.value("since_seconds", 0.0))
        << "\n";
    out << "  why        " << str(r["reason"]) << "\n";
    const auto& p = r["priority"];
    out << "  priority   " << p["effective"] << " effective, " << p["base"] << " base\n";
    for (const auto& v : r.value("vips", nlohmann::json::array())) {
      out << "  vip        " << str(v["address"])
          << (v.value("installed", false) ? "  metric " + str(v["metric"]) : "  withdrawn")
          << (v.value("local", false) ? ", local route" : "");
      if (!v.value("error", nlohmann::json()).is_null()) out << "  ERROR " << str(v["error"]);
      out << "\n";
    }
    if (r.value("drained", false)) out << "  DRAINED    (vipd undrain to undo)\n";
  }
  const auto checks = s.value("checks", nlohmann::json::array());
  if (!checks.empty()) {
    out << "\nchecks\n";
    for (const auto& c : checks) {
      char line[256];
      std::snprintf(line, sizeof line, "  %-20s %-5s %-5s x%-4d %8.1f ms  %s\n",
                    str(c["name"]).c_str(), str(c["type"]).c_str(),
                    c.value("up", false) ? "up" : "DOWN", c.value("consecutive", 0),
                    c.value("last_duration_ms", 0.0), str(c["last_error"]).c_str());
      out << line;
    }
  }
  return out.str();
}

int run_drain(const std::string& url, const std::string& token_file, const std::string& instance,
              bool drain, double wait) {
  std::signal(SIGPIPE, SIG_IGN);
  std::ifstream in(token_file);
  std::stringstream content;
  content << in.rdbuf();
  std::string token = content.str();
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  if (!in || token.empty()) {
    std::cerr << "vipd " << (drain ? "drain" : "undrain") << ": cannot read the token from "
              << token_file << " (it is the file named by [agent] api_token_file)\n";
    return 2;
  }
  httplib::Client client(url);
  client.set_connection_timeout(std::chrono::milliseconds(1000));
  client.set_read_timeout(std::chrono::milliseconds(3000));
  httplib::Headers headers{{"Authorization", "Bearer " + token}};
  const std::string body = instance.empty() ? "" : nlohmann::json{{"instance", instance}}.dump();
  auto res = client.Post(drain ? "/v1/drain" : "/v1/undrain", headers, body, "application/json");
  if (!res) {
    std::cerr << "vipd: cannot reach the agent at " << url << " ("
              << httplib::to_string(res.error()) << ")\n";
    return 2;
  }
  if (res->status == 404 && res->body.find("error") == std::string::npos) {
    std::cerr << "vipd: the agent at " << url
              << " has no drain endpoint: set [agent] api_token_file in its configuration\n";
    return 2;
  }
  if (res->status != 202) {
    std::cerr << "vipd: " << res->status << ": " << res->body;
    return 2;
  }
  std::cout << res->body;
  if (!drain || wait <= 0) return 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(wait);
  while (std::chrono::steady_clock::now() < deadline) {
    auto st = client.Get("/status");
    if (st && st->status == 200) {
      bool still_master = false;
      const auto doc = nlohmann::json::parse(st->body);  // must outlive the loop
      for (const auto& i : doc["instances"])
        if ((instance.empty() || i["name"] == instance) && i["state"] == "MASTER")
          still_master = true;
      if (!still_master) {
        std::cout << "handed over: no drained instance is MASTER any more\n";
        return 0;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::cerr << "vipd drain: still MASTER after " << wait
            << "s: no other router took over (the VIPs stay here until one does)\n";
  return 1;
}

int run_status(const std::string& url, bool json) {
  std::signal(SIGPIPE, SIG_IGN);  // a client-only program must ignore SIGPIPE itself (DEPS.md §2)
  httplib::Client client(url);
  client.set_connection_timeout(std::chrono::milliseconds(1000));
  client.set_read_timeout(std::chrono::milliseconds(3000));
  auto res = client.Get("/status");
  if (!res) {
    std::cerr << "vipd status: cannot reach the agent at " << url << " ("
              << httplib::to_string(res.error())
              << "). Is vipd running, and is [agent] api_listen set to this address? "
                 "Use --url to point elsewhere.\n";
    return 2;
  }
  if (res->status != 200) {
    std::cerr << "vipd status: " << url << "/status answered " << res->status << ": " << res->body;
    return 2;
  }
  if (json) {
    std::cout << res->body;
    return 0;
  }
  try {
    std::cout << render_status(nlohmann::json::parse(res->body));
  } catch (const std::exception& e) {
    std::cerr << "vipd status: the answer from " << url
              << " is not a vipd /status document: " << e.what() << "\n";
    return 2;
  }
  return 0;
}

}  // namespace vipd::cli
