// vipd.toml: the configuration model (DESIGN.md §3) and its parser/validator.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "vrrp/advertisement.h"
#include "vrrp/auth_hmac.h"
#include "vrrp/ip_address.h"

namespace vipd::config {

using Millis = std::chrono::milliseconds;

/// Where a value came from, for FILE:LINE:COL messages.
struct SourcePos {
  std::string file;
  std::uint32_t line = 0;
  std::uint32_t column = 0;

  friend bool operator==(const SourcePos&, const SourcePos&) = default;
};

struct Diagnostic {
  enum class Severity : std::uint8_t { Error, Warning } severity = Severity::Error;
  SourcePos pos;
  std::string message;
  /// "FILE:LINE:COL: error: MESSAGE" (or "warning:").
  [[nodiscard]] std::string format() const;
};

struct Agent {
  std::string node_name;                      // default: hostname
  std::string api_listen = "127.0.0.1:9555";  // "" disables the listener
  std::string log_level = "info";             // trace|debug|info|warn|error
  /// POST /v1/drain and /v1/undrain are enabled only when this names a file holding the bearer
  /// token (DESIGN.md §7). "" = the drain endpoints are off.
  std::string api_token_file;
  /// Where vipd keeps state that must survive a restart (the drained mark).
  std::string state_dir = "/var/lib/vipd";
  /// SCHED_RR priority of the VRRP loop thread (1..99); 0 = SCHED_OTHER. When the kernel refuses
  /// (no CAP_SYS_NICE, RLIMIT_RTPRIO too low) vipd warns once and runs as SCHED_OTHER.
  int realtime_priority = 10;
};

struct Garp {
  int repeat = 5;                   // frames per burst (each burst sends request + reply form)
  Millis interval{10};              // between frames of a burst
  Millis second_burst_after{5000};  // 0 = no second burst
  Millis refresh{0};                // 0 = no periodic refresh

  friend bool operator==(const Garp&, const Garp&) = default;
};

struct Track {
  std::string check;
  int weight = 0;
  SourcePos pos;

  friend bool operator==(const Track&, const Track&) = default;
};

/// How an instance moves its VIPs: VRRP on one segment (an address plus gratuitous ARP), or
/// routing (a host route per VIP in a kernel table that the host's FRR or BIRD announces by BGP;
/// issue 16, docs/route-mode.md).
enum class InstanceMode : std::uint8_t { Vrrp, Route };

/// `route = { table = N, protocol = P, replace = "delete-first" }` of a route-mode instance.
struct RouteOptions {
  std::uint32_t table = 0;    // 1..2^32-2, never local (255), main (254) or default (253)
  std::uint8_t protocol = 0;  // rtm_protocol of vipd's routes; never one zebra or BIRD owns
  /// How a new metric replaces the route (one netlink datagram either way): delete the old, then
  /// add the new (default; what FRR's zebra needs), or add the new, then delete the old (what
  /// BIRD's kernel protocol needs to re-export without a withdrawal). docs/route-mode.md.
  bool add_first = false;
  friend bool operator==(const RouteOptions&, const RouteOptions&) = default;
};

struct Instance {
  std::string name;
  InstanceMode mode = InstanceMode::Vrrp;
  RouteOptions route;  // mode == Route only
  std::string interface;
  std::uint8_t vrid = 0;
  std::uint8_t priority = 100;
  std::uint8_t version = 3;
  Millis advert_interval{1000};
  int group_size = 0;
  bool preempt = true;
  Millis preempt_delay{0};
  bool fast_preempt = true;  // extension, DESIGN.md §4
  bool make_before_break =
      true;  // extension: keep VIPs after a check FAULT until a new master is heard
  /// Extension: on releasing the VIPs, reset (SOCK_DESTROY) this node's TCP connections on them,
  /// so clients waiting on this node get a RST instead of their own timeout.
  bool reset_connections = true;
  std::vector<vrrp::IpPrefix> vips;
  vrrp::Family family = vrrp::Family::V4;  // of the VIPs (and peers): one family per instance
  std::vector<vrrp::IpAddress> unicast_peers;
  std::optional<vrrp::IpAddress> unicast_src;
  vrrp::ChecksumMode checksum = vrrp::ChecksumMode::Rfc9568;
  /// checksum = "auto": accept both VRRPv3/IPv4 forms and follow the peers'
  /// (vrrp/checksum_learner.h); `checksum` is then only the form tried first on receive.
  bool checksum_auto = true;
  /// A v3 Backup learns an advertised interval only within [ours / f, ours × f] (issue 12: a
  /// forged 40.95 s advert must not stretch every timer); 0 learns any (RFC 9568 as written).
  int learn_interval_factor = 4;
  /// At most one answer to lower-priority adverts per this while MASTER (issue 12); unset: the
  /// advert interval; 0: every one (RFC 9568 as written).
  std::optional<Millis> lower_priority_answer_interval;
  std::string auth_pass;  // v2 only, up to 8 bytes
  /// address_mismatch = "ignore": adverts for our VRID listing other addresses are dropped
  /// (default "process": RFC 9568 §7.1; a v2 non-owner's are always dropped, RFC 3768 §7.1).
  bool ignore_address_mismatch = false;
  /// auth_hmac (issue 12); the key bytes are secrets: never print them.
  std::optional<vrrp::auth::Policy> auth;
  Garp garp;
  std::vector<Track> track;
  std::vector<std::string> notify;  // argv
  SourcePos pos;

  friend bool operator==(const Instance&, const Instance&) = default;
};

enum class CheckType : std::uint8_t { Http, Pid, Tcp, Exec, File, Link };
/// "http", "pid", "tcp", "exec", "file", "link": the names the config file and /status use.
std::string_view to_string(CheckType type);

struct Check {
  std::string name;
  CheckType type = CheckType::Http;
  Millis interval{1000};
  Millis timeout{1000};
  int rise = 1;
  int fall = 1;
  // http
  std::string url;
  std::vector<int> expect_status{200};
  std::string expect_body;
  bool tls_verify = true;
  // pid
  std::string pidfile;
  // tcp
  std::string address;  // host:port
  // exec
  std::vector<std::string> command;
  // file
  std::string path;
  // link
  std::string interface;
  SourcePos pos;

  friend bool operator==(const Check&, const Check&) = default;
};

/// A sync group ([[group]], keepalived's vrrp_sync_group): its member instances change state
/// together (docs/configuration.md#group).
struct Group {
  std::string name;
  std::vector<std::string> instances;  // names of [[instance]] tables, at least one
  std::vector<std::string> notify;     // argv; appended: group, state
  SourcePos pos;

  friend bool operator==(const Group&, const Group&) = default;
};

struct Config {
  std::string path;
  Agent agent;
  std::vector<Instance> instances;
  std::vector<Check> checks;
  std::vector<Group> groups;
};

struct LoadResult {
  std::optional<Config> config;         // set when there are no errors (warnings allowed)
  std::vector<Diagnostic> diagnostics;  // every problem found, errors and warnings
  [[nodiscard]] bool ok() const { return config.has_value(); }
};

/// Parses and validates a file. Reports every problem (not only the first) with its position.
LoadResult load_file(const std::filesystem::path& path);
/// Same, from text (for tests); `name` is used as FILE in diagnostics.
LoadResult load_string(std::string_view text, std::string_view name);

/// Parses "10ms", "1.5s", "2m", "250us" into milliseconds (rounded down to whole ms is an error
/// if it loses precision below 1 ms). nullopt when malformed.
std::optional<Millis> parse_duration(std::string_view text);

}  // namespace vipd::config
