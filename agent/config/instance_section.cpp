// Reads and validates the [[instance]] sections of vipd.toml: VRRP parameters (RFC 9568 / RFC
// 3768 limits), addresses, GARP, tracking, and the rules that span instances.
#include <algorithm>
#include <map>
#include <tuple>

#include "config/sections.h"
#include "config/vip_rules.h"

namespace vipd::config::detail {
namespace {

const std::vector<std::string_view> kInstanceKeys = {"name",
                                                     "interface",
                                                     "vrid",
                                                     "priority",
                                                     "version",
                                                     "advert_interval",
                                                     "group_size",
                                                     "preempt",
                                                     "preempt_delay",
                                                     "fast_preempt",
                                                     "vips",
                                                     "unicast_peers",
                                                     "unicast_src",
                                                     "checksum",
                                                     "address_mismatch",
                                                     "auth_pass",
                                                     "auth",
                                                     "learn_interval_factor",
                                                     "lower_priority_answer_interval",
                                                     "garp",
                                                     "track",
                                                     "notify",
                                                     "make_before_break",
                                                     "reset_connections",
                                                     "mode",
                                                     "route"};

constexpr Millis kMaxDelay{3'600'000};
constexpr std::string_view kFamilyName[] = {"IPv4", "IPv6"};

std::string_view family_name(vrrp::Family f) { return kFamilyName[static_cast<int>(f)]; }

std::string line_ref(const SourcePos& p) { return "line " + std::to_string(p.line); }

/// Reads state shared across instances while walking [[instance]] in order.
struct Seen {
  std::map<std::string, SourcePos, std::less<>> names;
  // (interface, vrid, family): IPv4 and IPv6 virtual routers with one VRID are distinct
  // (RFC 9568 §1), so only the same family collides.
  std::map<std::tuple<std::string, int, vrrp::Family>, std::pair<std::string, SourcePos>> vrids;
  std::map<vrrp::IpAddress, std::pair<std::string, SourcePos>> vips;
};

void read_vips(TableReader& r, Instance& in, Seen& seen, Diags& diags) {
  std::vector<std::string> texts;
  std::vector<SourcePos> where;
  if (!r.string_array("vips", texts, &where, true)) return;
  if (texts.empty()) {
    diags.error(r.pos_of("vips"),
                "'vips' must list at least one address, e.g. "
                "[\"198.18.0.100/24\"]");
    return;
  }
  std::optional<vrrp::Family> family;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const auto prefix = vrrp::IpPrefix::parse(texts[i]);
    if (!prefix) {
      const bool no_len =
          texts[i].find('/') == std::string::npos && vrrp::IpAddress::parse(texts[i]).has_value();
      diags.error(where[i],
                  "invalid VIP \"" + texts[i] + "\": " +
                      (no_len ? "missing prefix length (write \"" + texts[i] +
                                    (texts[i].find(':') == std::string::npos ? "/24" : "/64") +
                                    "\" or the length of the subnet)"
                              : std::string("expected ADDRESS/PREFIX, e.g. "
                                            "\"198.18.0.100/24\"")));
      continue;
    }
    const auto& addr = prefix->address;
    if (addr.is_multicast() || addr.is_unspecified()) {
      diags.error(where[i], "VIP " + texts[i] + " is not a unicast address");
      continue;
    }
    if (const auto why = vip_unusable(*prefix)) {
      diags.error(where[i], "VIP " + texts[i] + " cannot be a VIP: it " + *why);
      continue;
    }
    if (!family) {
      family = addr.family;
    } else if (addr.family != *family) {
      diags.error(where[i], "VIP " + texts[i] + " is " + std::string(family_name(addr.family)) +
                                " but this instance's first VIP is " +
                                std::string(family_name(*family)) +
                                ": one address family per instance (use another [[instance]])");
      continue;
    }
    const auto dup = std::find_if(in.vips.begin(), in.vips.end(),
                                  [&](const vrrp::IpPrefix& p) { return p.address == addr; });
    if (dup != in.vips.end()) {
      diags.error(where[i], "VIP " + addr.to_string() + " is listed twice");
      continue;
    }
    if (const auto it = seen.vips.find(addr); it != seen.vips.end()) {
      diags.error(where[i], "VIP " + addr.to_string() + " is already configured in instance '" +
                                it->second.first + "' (" + line_ref(it->second.second) + ")");
    } else if (!in.name.empty()) {
      seen.vips.emplace(addr, std::pair(in.name, where[i]));
    }
    in.vips.push_back(*prefix);
  }
  if (family) in.family = *family;
}

/// " is a VIP of this instance" / " is a VIP of instance 'db' (line 12)" when `addr` is one.
std::string as_vip(const vrrp::IpAddress& addr, const Instance& in, const Seen& seen) {
  for (const auto& v : in.vips)
    if (v.address == addr) return " is a VIP of this instance";
  if (const auto it = seen.vips.find(addr); it != seen.vips.end())
    return " is a VIP of instance '" + it->second.first + "' (" + line_ref(it->second.second) + ")";
  return {};
}

void read_unicast(TableReader& r, Instance& in, const Seen& seen, bool family_known, Diags& diags) {
  std::vector<std::string> texts;
  std::vector<SourcePos> where;
  if (r.string_array("unicast_peers", texts, &where)) {
    for (std::size_t i = 0; i < texts.size(); ++i) {
      const auto addr = vrrp::IpAddress::parse(texts[i]);
      if (!addr) {
        diags.error(where[i], "invalid unicast peer \"" + texts[i] +
                                  "\": expected an IP address without prefix length");
      } else if (addr->is_multicast() || addr->is_unspecified()) {
        diags.error(where[i], "unicast peer " + texts[i] + " is not a unicast address");
      } else if (family_known && addr->family != in.family) {
        diags.error(where[i],
                    "unicast peer " + texts[i] + " is " + std::string(family_name(addr->family)) +
                        " but this instance's VIPs are " + std::string(family_name(in.family)));
      } else if (std::find(in.unicast_peers.begin(), in.unicast_peers.end(), *addr) !=
                 in.unicast_peers.end()) {
        diags.error(where[i], "unicast peer " + texts[i] + " is listed twice");
      } else if (const auto vip = as_vip(*addr, in, seen); !vip.empty()) {
        diags.error(where[i], "unicast peer " + texts[i] + vip +
                                  ": a peer is another router's own address, never a VIP");
      } else {
        in.unicast_peers.push_back(*addr);
      }
    }
  }
  std::string src;
  if (r.string("unicast_src", src) && !src.empty()) {
    const auto addr = vrrp::IpAddress::parse(src);
    if (!addr) {
      diags.error(r.pos_of("unicast_src"), "invalid unicast_src \"" + src +
                                               "\": expected an IP address without prefix length");
    } else if (family_known && addr->family != in.family) {
      diags.error(r.pos_of("unicast_src"),
                  "unicast_src " + src + " is " + std::string(family_name(addr->family)) +
                      " but this instance's VIPs are " + std::string(family_name(in.family)));
    } else if (std::find(in.unicast_peers.begin(), in.unicast_peers.end(), *addr) !=
               in.unicast_peers.end()) {
      diags.error(r.pos_of("unicast_src"),
                  "unicast_src " + src + " is also listed in unicast_peers");
    } else if (const auto vip = as_vip(*addr, in, seen); !vip.empty()) {
      diags.error(r.pos_of("unicast_src"),
                  "unicast_src " + src + vip +
                      ": the advert source must be this node's own address, which stays when "
                      "the VIPs move");
    } else {
      in.unicast_src = *addr;
      if (!r.has("unicast_peers") || texts.empty()) {
        diags.warning(r.pos_of("unicast_src"),
                      "unicast_src has no effect without unicast_peers (multicast is used)");
      }
    }
  }
}

/// RFC 9568 §5.2.7: v3 carries centiseconds (12 bits: 10 ms..40.95 s); RFC 3768 §5.3.7: v2
/// carries whole seconds (8 bits: 1..255 s).
void validate_advert_interval(TableReader& r, const Instance& in, Diags& diags) {
  const auto ms = in.advert_interval.count();
  const auto text = format_duration(in.advert_interval);
  const auto pos = r.pos_of("advert_interval");
  if (in.version == 3) {
    if (ms < 10 || ms > 40'950) {
      diags.error(pos, "advert_interval " + text + " is out of range for VRRPv3 (10ms..40.95s)");
    } else if (ms % 10 != 0) {
      diags.error(pos, "advert_interval " + text +
                           " is not a multiple of 10ms (VRRPv3 carries centiseconds)");
    }
    return;
  }
  if (ms < 1000) {
    diags.error(pos, "advert_interval " + text +
                         " is sub-second, but VRRPv2 advertises in whole seconds (1s..255s); use "
                         "version = 3 for sub-second intervals");
  } else if (ms % 1000 != 0) {
    diags.error(pos, "advert_interval " + text +
                         " is not a whole number of seconds (VRRPv2 carries whole seconds)");
  } else if (ms > 255'000) {
    diags.error(pos, "advert_interval " + text + " is out of range for VRRPv2 (1s..255s)");
  }
}

void read_address_mismatch(TableReader& r, Instance& in, Diags& diags) {
  std::string mode;
  if (!r.string("address_mismatch", mode)) return;
  if (mode == "ignore") {
    in.ignore_address_mismatch = true;
  } else if (mode != "process") {
    diags.error(r.pos_of("address_mismatch"),
                "invalid address_mismatch \"" + mode + "\": expected \"process\" or \"ignore\"");
  }
}

void read_checksum_and_auth(TableReader& r, Instance& in, Diags& diags) {
  std::string mode;
  if (r.string("checksum", mode)) {
    static const std::vector<std::string_view> kModes = {"auto", "rfc9568", "pseudo-header"};
    in.checksum_auto = mode == "auto";
    if (mode == "auto") {
      in.checksum = vrrp::ChecksumMode::Rfc9568;
    } else if (mode == "rfc9568") {
      in.checksum = vrrp::ChecksumMode::Rfc9568;
    } else if (mode == "pseudo-header") {
      in.checksum = vrrp::ChecksumMode::PseudoHeader;
    } else {
      diags.error(r.pos_of("checksum"),
                  "invalid checksum \"" + mode +
                      "\": expected \"auto\", \"rfc9568\" or \"pseudo-header\"" +
                      did_you_mean(mode, kModes));
    }
    if (in.version == 2) {
      diags.warning(r.pos_of("checksum"),
                    "'checksum' has no effect with version = 2 (the VRRPv2 checksum never "
                    "covers a pseudo-header)");
    } else if (in.family == vrrp::Family::V6 && !in.vips.empty()) {
      diags.warning(r.pos_of("checksum"),
                    "'checksum' only affects IPv4: VRRPv3 over IPv6 always includes the "
                    "pseudo-header");
    }
  }
  if (r.string("auth_pass", in.auth_pass) && !in.auth_pass.empty()) {
    if (in.version != 2) {
      diags.error(r.pos_of("auth_pass"),
                  "auth_pass is VRRPv2-only (VRRPv3 has no "
                  "authentication); remove it or set version = 2");
    } else if (in.auth_pass.size() > 8) {
      diags.error(r.pos_of("auth_pass"),
                  "auth_pass is " + std::to_string(in.auth_pass.size()) +
                      " bytes; VRRPv2 simple password authentication carries at most 8");
    }
  }
}

void read_garp(TableReader& parent, Garp& g, Diags& diags) {
  const auto* n = parent.node("garp");
  if (!n) return;
  const auto* tbl = n->as_table();
  if (!tbl) {
    diags.error(diags.pos(*n),
                "'garp' must be a table, e.g. { repeat = 5, interval = \"10ms\" }"
                ", not " +
                    std::string(type_phrase(n->type())));
    return;
  }
  TableReader r(*tbl, "garp", diags);
  r.reject_unknown({"repeat", "interval", "second_burst_after", "refresh"});
  r.integer_as("repeat", 1, 100, g.repeat);
  r.duration("interval", Millis{0}, Millis{1000}, g.interval);
  r.duration("second_burst_after", Millis{0}, kMaxDelay, g.second_burst_after);
  if (r.duration("refresh", Millis{0}, Millis{86'400'000}, g.refresh) && g.refresh.count() > 0 &&
      g.refresh < Millis{1000}) {
    diags.error(r.pos_of("refresh"), "garp refresh " + format_duration(g.refresh) +
                                         " is below 1s: it would flood the segment (\"0s\" "
                                         "disables the refresh)");
  }
  const auto burst = g.interval * (g.repeat - 1);
  if (g.second_burst_after.count() > 0 && g.second_burst_after <= burst) {
    diags.warning(r.pos_of("second_burst_after"),
                  "garp second_burst_after " + format_duration(g.second_burst_after) +
                      " starts before the first burst ends (" + format_duration(burst) + ")");
  }
}

bool timer_driven(CheckType t) {
  return t == CheckType::Http || t == CheckType::Tcp || t == CheckType::Exec ||
         t == CheckType::File;
}

void read_track(TableReader& parent, Instance& in, const Config& cfg,
                std::vector<CheckMeta>& check_meta, Diags& diags) {
  const auto* n = parent.node("track");
  if (!n) return;
  const auto* arr = n->as_array();
  if (!arr) {
    diags.error(diags.pos(*n),
                "'track' must be an array of tables like [{ check = \"name\", "
                "weight = -50 }], not " +
                    std::string(type_phrase(n->type())));
    return;
  }
  if (in.priority == 255 && !arr->empty()) {
    diags.warning(diags.pos(*n),
                  "priority 255 (address owner) is never weighted: the track "
                  "entries have no effect");
  }
  // RFC 9568 §6.1: Skew_Time = ((256 - Priority) * Master_Adver_Interval) / 256,
  // Master_Down_Interval = 3 * Master_Adver_Interval + Skew_Time.
  const auto adv = in.advert_interval.count();
  const Millis master_down{3 * adv + ((256 - in.priority) * adv) / 256};
  std::vector<std::string_view> names;
  for (const auto& c : cfg.checks) names.push_back(c.name);
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const auto& el = *arr->get(i);
    const auto* tbl = el.as_table();
    if (!tbl) {
      diags.error(diags.pos(el), "'track[" + std::to_string(i) +
                                     "]' must be a table like { check = \"name\", weight = -50 }"
                                     ", not " +
                                     std::string(type_phrase(el.type())));
      continue;
    }
    TableReader r(*tbl, "track entry", diags);
    r.reject_unknown({"check", "weight"});
    Track t;
    t.pos = diags.pos(el);
    r.integer_as("weight", -254, 254, t.weight);
    if (!r.string("check", t.check, true)) continue;
    const auto it = std::find_if(cfg.checks.begin(), cfg.checks.end(),
                                 [&](const Check& c) { return c.name == t.check; });
    if (it == cfg.checks.end()) {
      diags.error(r.pos_of("check"), "track refers to check '" + t.check +
                                         "', which no [[check]] defines" +
                                         did_you_mean(t.check, names));
      continue;
    }
    const auto dup = std::find_if(in.track.begin(), in.track.end(),
                                  [&](const Track& o) { return o.check == t.check; });
    if (dup != in.track.end()) {
      diags.error(r.pos_of("check"),
                  "check '" + t.check + "' is tracked twice by instance '" + in.name + "'");
      continue;
    }
    check_meta[static_cast<std::size_t>(it - cfg.checks.begin())].tracked = true;
    const auto detect = it->interval * it->fall;
    if (timer_driven(it->type) && detect > master_down && in.priority != 255 &&
        in.mode == InstanceMode::Vrrp) {
      diags.warning(r.pos_of("check"),
                    "check '" + t.check + "' needs up to " + format_duration(detect) +
                        " (interval " + format_duration(it->interval) + " x fall " +
                        std::to_string(it->fall) + ") to notice a failure, longer than instance '" +
                        in.name + "''s master-down interval (" + format_duration(master_down) +
                        ")");
    }
    in.track.push_back(std::move(t));
  }
}

void read_notify(TableReader& r, Instance& in, Diags& diags) {
  std::vector<SourcePos> where;
  if (!r.string_array("notify", in.notify, &where) || in.notify.empty()) return;
  if (in.notify.front().empty() || in.notify.front().front() != '/') {
    diags.error(where.front(),
                "notify[0] must be an absolute path (argv is executed directly: "
                "no shell, no PATH search), got \"" +
                    in.notify.front() + "\"");
  }
}

void read_instance(const toml::table& tbl, Config& cfg, std::vector<CheckMeta>& check_meta,
                   Seen& seen, Diags& diags) {
  TableReader r(tbl, "[[instance]]", diags);
  r.reject_unknown(kInstanceKeys);
  Instance in;
  in.pos = r.pos();
  std::string mode;
  if (r.string("mode", mode)) {
    if (mode == "route") {
      in.mode = InstanceMode::Route;
    } else if (mode != "vrrp") {
      diags.error(r.pos_of("mode"), "invalid mode \"" + mode +
                                        "\": expected \"vrrp\" (default) or \"route\"" +
                                        did_you_mean(mode, {"vrrp", "route"}));
    }
  }
  const bool vrrp_mode = in.mode == InstanceMode::Vrrp;
  if (vrrp_mode && r.has("route")) {
    diags.error(r.pos_of("route"), "'route' applies only to mode = \"route\"");
  }
  if (r.string("name", in.name, true)) {
    if (in.name.empty()) {
      diags.error(r.pos_of("name"), "instance 'name' must not be empty");
    } else if (const auto it = seen.names.find(in.name); it != seen.names.end()) {
      diags.error(r.pos_of("name"), "duplicate instance name '" + in.name + "' (first defined at " +
                                        line_ref(it->second) + ")");
      in.name.clear();  // keeps the cross-instance maps about the first one
    } else {
      seen.names.emplace(in.name, r.pos_of("name"));
    }
  }
  bool interface_ok = false;
  if (r.string("interface", in.interface, vrrp_mode)) {
    const auto problem = validate_interface_name(in.interface);
    interface_ok = problem.empty();
    if (!interface_ok) {
      diags.error(r.pos_of("interface"),
                  "invalid interface name \"" + in.interface + "\": " + problem);
    }
  }
  const bool vrid_ok = r.integer_as("vrid", 1, 255, in.vrid, vrrp_mode) && vrrp_mode;
  r.integer_as("priority", 1, 255, in.priority);
  const bool version_ok = r.integer_as("version", 2, 3, in.version);
  const bool interval_ok =
      r.duration("advert_interval", Millis{1}, Millis{3'600'000}, in.advert_interval);
  r.integer_as("group_size", 0, 255, in.group_size);
  r.boolean("preempt", in.preempt);
  r.duration("preempt_delay", Millis{0}, kMaxDelay, in.preempt_delay);
  r.boolean("fast_preempt", in.fast_preempt);
  r.boolean("make_before_break", in.make_before_break);
  r.boolean("reset_connections", in.reset_connections);
  r.integer_as("learn_interval_factor", 0, 64, in.learn_interval_factor);
  if (Millis gap{}; r.duration("lower_priority_answer_interval", Millis{0}, Millis{3'600'000}, gap))
    in.lower_priority_answer_interval = gap;
  read_vips(r, in, seen, diags);
  const bool family_known = !in.vips.empty();
  read_unicast(r, in, seen, family_known, diags);
  read_checksum_and_auth(r, in, diags);
  read_auth(r, in, diags);
  read_garp(r, in.garp, diags);
  read_address_mismatch(r, in, diags);
  read_notify(r, in, diags);
  if (!vrrp_mode) read_route_mode(r, in, diags);

  if (interval_ok || !r.has("advert_interval")) validate_advert_interval(r, in, diags);
  if (version_ok && in.version == 2 && family_known && in.family == vrrp::Family::V6) {
    diags.error(r.pos_of("version"),
                "VRRPv2 (RFC 3768) is IPv4-only; use version = 3 for IPv6 "
                "VIPs");
  }
  if (!in.preempt && in.preempt_delay.count() > 0) {
    diags.warning(r.pos_of("preempt_delay"), "preempt_delay has no effect with preempt = false");
  }
  if (!in.unicast_peers.empty() && in.group_size != 0 &&
      static_cast<std::size_t>(in.group_size) != in.unicast_peers.size() + 1) {
    diags.warning(r.pos_of("group_size"),
                  "group_size = " + std::to_string(in.group_size) + " but unicast_peers lists " +
                      std::to_string(in.unicast_peers.size()) + " peer(s), a group of " +
                      std::to_string(in.unicast_peers.size() + 1));
  }
  if (vrid_ok && interface_ok && family_known && !in.name.empty()) {
    const auto key = std::tuple(in.interface, int{in.vrid}, in.family);
    if (const auto it = seen.vrids.find(key); it != seen.vrids.end()) {
      diags.error(r.pos_of("vrid"),
                  "VRID " + std::to_string(in.vrid) + " (" + std::string(family_name(in.family)) +
                      ") is already used on interface " + in.interface + " by instance '" +
                      it->second.first + "' (" + line_ref(it->second.second) + ")");
    } else {
      seen.vrids.emplace(key, std::pair(in.name, r.pos_of("vrid")));
    }
  }
  read_track(r, in, cfg, check_meta, diags);
  cfg.instances.push_back(std::move(in));
}

}  // namespace

void read_instances(const toml::array& arr, Config& cfg, std::vector<CheckMeta>& check_meta,
                    Diags& diags) {
  Seen seen;
  for (std::size_t i = 0; i < arr.size(); ++i) {
    const auto& node = *arr.get(i);
    if (const auto* tbl = node.as_table()) {
      read_instance(*tbl, cfg, check_meta, seen, diags);
    } else {
      diags.error(diags.pos(node), "'instance[" + std::to_string(i) + "]' must be a table, not " +
                                       std::string(type_phrase(node.type())));
    }
  }
}

}  // namespace vipd::config::detail
