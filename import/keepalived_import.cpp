// `vipd import`: keepalived.conf statements -> vipd TOML ([agent], [[instance]], [[check]],
// [[group]]), with FILE:LINE notes; the result is validated by vipd's own config loader.
#include "import/keepalived_import.h"

#include <algorithm>
#include <set>

#include "config/config.h"
#include "import/import_detail.h"
#include "vrrp/ip_address.h"

namespace vipd::import {
namespace detail {

std::string toml_string(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += c;
    }
  }
  return out + "\"";
}

std::string toml_array(const std::vector<std::string>& v) {
  std::string out = "[";
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + toml_string(v[i]);
  return out + "]";
}

}  // namespace detail

namespace {

using detail::Ctx;
using detail::Line;
using detail::toml_array;
using detail::toml_string;

struct Defs {
  std::map<std::string, const Stmt*> scripts, processes, files;
  int version = 2;              // keepalived's default VRRP version
  std::set<std::string> links;  // interfaces tracked: one link check each
  /// Members of a vrrp_sync_group without sync_group_tracking_weight → the group's name:
  /// keepalived ignores their track weights (a failure is a fault of the whole group).
  std::map<std::string, std::string> weightless;
};

std::string joined(const Stmt& s) {
  std::string out;
  for (const auto& a : s.args) out += (out.empty() ? "" : " ") + a;
  return out;
}

// Names listed in a block, one or several per line (`group { A B }` or one per line).
std::vector<std::pair<std::string, const Stmt*>> names_in(const Stmt& block) {
  std::vector<std::pair<std::string, const Stmt*>> out;
  for (const auto& k : block.children) {
    out.emplace_back(k.key, &k);
    for (const auto& a : k.args) out.emplace_back(a, &k);
  }
  return out;
}

void global_defs(const Stmt& g, Ctx& ctx, Defs& defs, std::vector<Line>& agent) {
  bool mail_warned = false;
  for (const auto& k : g.children) {
    if (k.key == "router_id" && !k.args.empty()) {
      agent.push_back({"node_name = " + toml_string(k.args[0]), &k});
    } else if (k.key == "vrrp_version") {
      if (const auto v = ctx.integer(k, 0, 2, 3)) defs.version = static_cast<int>(*v);
    } else if (k.key.rfind("notification_email", 0) == 0 || k.key.rfind("smtp_", 0) == 0) {
      if (!mail_warned) {
        ctx.warning(k,
                    "vipd sends no e-mail: alert on its metrics instead (the Prometheus rules "
                    "in packaging/prometheus/vipd-alerts.yml: split brain, flapping, check "
                    "failing, no peer heard)");
      }
      mail_warned = true;
    } else {
      ctx.note(k, "global_defs '" + k.key + "' has no vipd equivalent; ignored");
    }
  }
}

struct Track {
  std::string check;
  int weight;
  const Stmt* src;
};

class InstanceConverter {
 public:
  InstanceConverter(const Stmt& in, Ctx& ctx, Defs& defs) : in_(in), ctx_(ctx), defs_(defs) {}

  std::vector<Line> run() {
    add("name = " + toml_string(in_.args.empty() ? "" : in_.args[0]), in_);
    if (in_.args.empty()) ctx_.error(in_, "vrrp_instance without a name");
    version_ = defs_.version;
    for (const auto& k : in_.children) {
      if (k.key == "version") {
        if (const auto v = ctx_.integer(k, 0, 2, 3)) version_ = static_cast<int>(*v);
      }
    }
    for (const auto& k : in_.children) one(k);
    add("version = " + std::to_string(version_), in_);
    if (version_ == 3 && !ipv6_) {
      add("checksum = \"pseudo-header\"", in_);
      ctx_.note(in_,
                "VRRPv3 over IPv4: checksum = \"pseudo-header\", as keepalived computes it "
                "(vipd's default is RFC 9568's)");
    }
    if (version_ == 3 && !auth_.empty()) {
      ctx_.warning(*auth_at_,
                   "authentication is VRRPv2 only; keepalived ignores it with "
                   "version 3, and so does this file");
    } else if (!auth_.empty()) {
      add("auth_pass = " + toml_string(auth_), *auth_at_);
    }
    if (!vips_.empty()) {
      std::vector<std::string> v;
      for (const auto& [addr, at] : vips_) v.push_back(addr);
      add("vips = " + toml_array(v), *vips_.front().second);
    } else {
      ctx_.error(in_, "vrrp_instance has no virtual_ipaddress: vipd needs at least one VIP");
    }
    if (!peers_.empty()) add("unicast_peers = " + toml_array(peers_), *peers_at_);
    if (!src_ip_.empty()) {
      if (peers_.empty()) {
        ctx_.warning(*src_at_,
                     "mcast_src_ip: vipd sends multicast adverts from the interface's "
                     "primary address; make " +
                         src_ip_ + " that address");
      } else {
        add("unicast_src = " + toml_string(src_ip_), *src_at_);
      }
    }
    if (!garp_.empty()) add("garp = { " + garp_ + " }", in_);
    if (const auto g = defs_.weightless.find(in_.args.empty() ? "" : in_.args[0]);
        g != defs_.weightless.end()) {
      for (auto& tr : track_) {
        if (tr.weight == 0) continue;
        ctx_.note(*tr.src, "weight " + std::to_string(tr.weight) + " of '" + tr.check +
                               "' becomes 0: in vrrp_sync_group " + g->second +
                               " keepalived ignores members' weights (no "
                               "sync_group_tracking_weight), so a failure faults the group");
        tr.weight = 0;
      }
    }
    if (!track_.empty()) {
      std::string t = "track = [";
      for (std::size_t i = 0; i < track_.size(); ++i) {
        t += std::string(i ? ", " : " ") + "{ check = " + toml_string(track_[i].check) +
             ", weight = " + std::to_string(track_[i].weight) + " }";
      }
      add(t + " ]", *track_.front().src);
    }
    if (const auto argv = detail::notify_argv(notify_, "INSTANCE")) {
      add("notify = " + toml_array(*argv), *notify_at_);
      ctx_.note(*notify_at_,
                "notify scripts run through one /bin/sh dispatcher on the state "
                "vipd appends ($2); the scripts themselves are unchanged");
    }
    return lines_;
  }

 private:
  void add(std::string text, const Stmt& src) { lines_.push_back({std::move(text), &src}); }

  void one(const Stmt& k) {
    const std::string& key = k.key;
    if (key == "version") return;
    if (key == "state") {
      ctx_.note(k, "state " + joined(k) + ": vipd needs no initial state, the priority elects");
    } else if (key == "interface" && !k.args.empty()) {
      iface_ = k.args[0];
      add("interface = " + toml_string(iface_), k);
    } else if (key == "virtual_router_id") {
      if (const auto v = ctx_.integer(k, 0, 1, 255)) add("vrid = " + std::to_string(*v), k);
    } else if (key == "priority") {
      if (const auto v = ctx_.integer(k, 0, 1, 255)) add("priority = " + std::to_string(*v), k);
    } else if (key == "advert_int") {
      if (const auto v = ctx_.seconds(k, 0)) {
        add("advert_interval = \"" + detail::duration(*v) + "\"", k);
      }
    } else if (key == "nopreempt") {
      add("preempt = false", k);
    } else if (key == "preempt") {
      add("preempt = true", k);
    } else if (key == "preempt_delay") {
      if (const auto v = ctx_.seconds(k, 0)) {
        add("preempt_delay = \"" + detail::duration(*v) + "\"", k);
      }
    } else if (key == "mcast_src_ip" || key == "unicast_src_ip") {
      if (!k.args.empty()) src_ip_ = k.args[0];
      src_at_ = &k;
    } else if (key == "unicast_peer") {
      peers_at_ = &k;
      for (const auto& [name, at] : names_in(k)) {
        if (name == "min_ttl" || name == "max_ttl") {
          ctx_.note(*at, "unicast_peer " + name + " has no vipd equivalent; ignored");
          break;
        }
        peers_.push_back(name);
      }
    } else if (key == "authentication") {
      authentication(k);
    } else if (key == "virtual_ipaddress" || key == "virtual_ipaddress_excluded") {
      for (const auto& e : k.children) vip(e, key == "virtual_ipaddress_excluded");
    } else if (key == "track_script") {
      track(k, defs_.scripts, "vrrp_script");
    } else if (key == "track_process") {
      track(k, defs_.processes, "vrrp_track_process");
    } else if (key == "track_file") {
      track(k, defs_.files, "vrrp_track_file");
    } else if (key == "track_interface") {
      for (const auto& e : k.children) {
        int w = 0;
        if (e.args.size() == 2 && e.args[0] == "weight") {
          Stmt tmp = e;
          tmp.key = "weight";
          tmp.args.erase(tmp.args.begin());
          if (const auto v = ctx_.integer(tmp, 0, -254, 254)) w = static_cast<int>(*v);
        }
        defs_.links.insert(e.key);
        track_.push_back({"link-" + e.key, w, &e});
      }
    } else if (key == "notify_master" || key == "notify_backup" || key == "notify_fault" ||
               key == "notify") {
      const std::string s = joined(k);
      (key == "notify"          ? notify_.generic
       : key == "notify_master" ? notify_.master
       : key == "notify_backup" ? notify_.backup
                                : notify_.fault) = s;
      if (!notify_at_) notify_at_ = &k;
    } else if (key == "garp_master_delay") {
      if (const auto v = ctx_.seconds(k, 0))
        garp_field("second_burst_after", "\"" + detail::duration(*v) + "\"");
    } else if (key == "garp_master_repeat") {
      if (const auto v = ctx_.integer(k, 0, 1, 255)) garp_field("repeat", std::to_string(*v));
    } else if (key == "garp_master_refresh") {
      if (const auto v = ctx_.seconds(k, 0))
        garp_field("refresh", "\"" + detail::duration(*v) + "\"");
    } else if (key == "smtp_alert") {
      ctx_.warning(k, "smtp_alert: vipd sends no e-mail (packaging/prometheus/vipd-alerts.yml)");
    } else if (key == "dont_track_primary" || key == "accept" || key == "no_accept" ||
               key == "debug" || key == "strict_mode" || key == "garp_lower_prio_repeat" ||
               key == "garp_lower_prio_delay" || key == "lower_prio_no_advert" ||
               key == "higher_prio_send_advert" || key == "skip_check_adv_addr") {
      ctx_.note(k, "'" + key +
                       "' has no vipd equivalent; ignored (vipd: accept mode on, "
                       "re-GARP on a lower-priority advert)");
    } else if (key == "use_vmac" || key == "vmac_xmit_base") {
      ctx_.error(k, "'" + key + "' is not converted: vipd has no virtual MAC yet");
    } else if (key == "virtual_routes" || key == "virtual_rules") {
      ctx_.error(k, "'" + key + "' is not converted: vipd moves addresses, not routes or rules");
    } else if (key == "lvs_sync_daemon_interface") {
      ctx_.error(k, "'" + key + "' is not converted: LVS stays outside vipd");
    } else {
      ctx_.error(k, "vrrp_instance keyword '" + key + "' is not converted");
    }
  }

  void garp_field(const std::string& key, const std::string& value) {
    garp_ += (garp_.empty() ? "" : ", ") + key + " = " + value;
  }

  void authentication(const Stmt& k) {
    std::string type;
    for (const auto& e : k.children) {
      if (e.key == "auth_type" && !e.args.empty()) type = e.args[0];
      if (e.key == "auth_pass" && !e.args.empty()) {
        auth_ = e.args[0];
        auth_at_ = &e;
      }
    }
    if (type == "AH") {
      ctx_.error(k, "auth_type AH is not converted: vipd supports PASS (simple password) only");
      auth_.clear();
    } else if (type != "PASS") {
      ctx_.error(k, "authentication without auth_type PASS is not converted");
      auth_.clear();
    } else if (auth_.size() > 8) {
      ctx_.warning(*auth_at_,
                   "auth_pass is longer than 8 bytes: keepalived sends the first 8; "
                   "so does this file");
      auth_.resize(8);
    }
  }

  void vip(const Stmt& e, bool excluded) {
    std::string addr = e.key;
    if (addr.find('/') == std::string::npos)
      addr += addr.find(':') == std::string::npos ? "/32" : "/128";
    if (addr.find(':') != std::string::npos) ipv6_ = true;
    for (std::size_t i = 0; i < e.args.size(); ++i) {
      const std::string& o = e.args[i];
      const bool has_value = i + 1 < e.args.size();
      if (o == "dev" && has_value) {
        if (!iface_.empty() && e.args[i + 1] != iface_) {
          ctx_.error(e, "VIP " + e.key + " on dev " + e.args[i + 1] +
                            ": vipd adds an instance's VIPs on its interface (" + iface_ +
                            "); make a second instance for " + e.args[i + 1]);
          return;
        }
        ++i;
      } else if ((o == "label" || o == "brd" || o == "scope" || o == "broadcast") && has_value) {
        ctx_.note(e, "VIP option '" + o + " " + e.args[i + 1] + "' is not carried over");
        ++i;
      } else {
        ctx_.note(e, "VIP option '" + o + "' is not carried over");
      }
    }
    for (const auto& [a, at] : vips_) {
      if (a == addr) {
        ctx_.note(e, "VIP " + addr + " is listed twice (line " + std::to_string(at->line) +
                         "); written once");
        return;
      }
    }
    if (excluded) {
      ctx_.warning(e, "virtual_ipaddress_excluded " + e.key +
                          " becomes a VIP that vipd also "
                          "advertises: a keepalived peer counts an address-list mismatch");
    }
    vips_.emplace_back(addr, &e);
  }

  void track(const Stmt& k, const std::map<std::string, const Stmt*>& defs, const char* what) {
    for (const auto& e : k.children) {
      const auto it = defs.find(e.key);
      if (it == defs.end()) {
        ctx_.error(e,
                   std::string(k.key) + " " + e.key + ": no " + what + " " + e.key + " is defined");
        continue;
      }
      int w = 0;
      bool given = false;
      if (e.args.size() == 2 && e.args[0] == "weight") {
        Stmt tmp = e;
        tmp.key = "weight";
        tmp.args.erase(tmp.args.begin());
        if (const auto v = ctx_.integer(tmp, 0, -254, 254)) {
          w = static_cast<int>(*v);
          given = true;
        }
      } else if (!e.args.empty()) {
        ctx_.error(e, "track entry options '" + joined(e) + "' are not converted");
      }
      if (!given) {
        for (const auto& c : ctx_.checks) {
          if (c.src == it->second) w = c.weight;
        }
      }
      track_.push_back({e.key, w, &e});
    }
  }

  const Stmt& in_;
  Ctx& ctx_;
  Defs& defs_;
  std::vector<Line> lines_;
  int version_ = 2;
  bool ipv6_ = false;
  std::string iface_, auth_, src_ip_, garp_;
  const Stmt *auth_at_ = nullptr, *src_at_ = nullptr, *peers_at_ = nullptr, *notify_at_ = nullptr;
  std::vector<std::pair<std::string, const Stmt*>> vips_;
  std::vector<std::string> peers_;
  std::vector<Track> track_;
  detail::Notify notify_;
};

std::vector<Line> sync_group(const Stmt& g, Ctx& ctx) {
  std::vector<Line> out;
  out.push_back({"name = " + toml_string(g.args.empty() ? "" : g.args[0]), &g});
  detail::Notify n;
  const Stmt* notify_at = nullptr;
  for (const auto& k : g.children) {
    if (k.key == "group") {
      std::vector<std::string> members;
      for (const auto& [name, at] : names_in(k)) members.push_back(name);
      out.push_back({"instances = " + toml_array(members), &k});
    } else if (k.key == "notify" || k.key == "notify_master" || k.key == "notify_backup" ||
               k.key == "notify_fault") {
      (k.key == "notify"          ? n.generic
       : k.key == "notify_master" ? n.master
       : k.key == "notify_backup" ? n.backup
                                  : n.fault) = joined(k);
      if (!notify_at) notify_at = &k;
    } else if (k.key == "smtp_alert") {
      ctx.warning(k, "smtp_alert: vipd sends no e-mail (packaging/prometheus/vipd-alerts.yml)");
    } else if (k.key == "global_tracking" || k.key == "sync_group_tracking_weight") {
      ctx.note(k, "'" + k.key +
                      "': the members keep their weights; in vipd every member weighs all "
                      "members' checks (docs/configuration.md#group)");
    } else {
      ctx.error(k, "vrrp_sync_group keyword '" + k.key +
                       "' is not converted (members belong in `group { ... }`)");
    }
  }
  if (const auto argv = detail::notify_argv(n, "GROUP")) {
    out.push_back({"notify = " + toml_array(*argv), notify_at});
  }
  ctx.note(g,
           "vrrp_sync_group carried over as [[group]]: a fault in one member faults all and a "
           "member that takes over pulls the others to MASTER, as in keepalived; members are not "
           "pulled to BACKUP by each other, so give them the same priorities on each node "
           "(docs/configuration.md#group)");
  return out;
}

void emit(std::vector<Line>& out, const std::string& header, const std::vector<Line>& body,
          const Stmt* src) {
  out.push_back({"", src});
  out.push_back({header, src});
  for (const auto& l : body) out.push_back(l);
}

}  // namespace

bool ImportResult::complete() const {
  return std::none_of(notes.begin(), notes.end(),
                      [](const Note& n) { return n.kind == Note::Kind::Error; });
}

// keepalived's conditional configuration (`@ID keyword ...` lines, selected by `keepalived -i
// ID`) is refused line by line: which lines apply depends on the node.
std::vector<Stmt> drop_conditional(const std::vector<Stmt>& in, Ctx& ctx) {
  std::vector<Stmt> out;
  for (const auto& s : in) {
    if (!s.key.empty() && s.key[0] == '@') {
      ctx.error(s, "conditional line '" + s.key +
                       "' (keepalived -i CONFIG_ID) is not converted: "
                       "import the configuration of one node at a time, without @ prefixes");
      continue;
    }
    Stmt copy = s;
    copy.children = drop_conditional(s.children, ctx);
    out.push_back(std::move(copy));
  }
  return out;
}

ImportResult convert(const std::vector<Stmt>& all, bool validate) {
  Ctx ctx;
  const std::vector<Stmt> stmts = drop_conditional(all, ctx);
  Defs defs;
  std::vector<Line> agent, out;
  // Definitions first: instances refer to them by name wherever they are written.
  for (const auto& s : stmts) {
    const std::string name = s.args.empty() ? "" : s.args[0];
    if (s.key == "global_defs") global_defs(s, ctx, defs, agent);
    if (s.key == "vrrp_script") defs.scripts[name] = &s, detail::convert_script(s, ctx);
    if (s.key == "vrrp_track_process") {
      defs.processes[name] = &s, detail::convert_track_process(s, ctx);
    }
    if (s.key == "vrrp_track_file") defs.files[name] = &s, detail::convert_track_file(s, ctx);
    if (s.key == "vrrp_sync_group" &&
        std::none_of(s.children.begin(), s.children.end(), [](const Stmt& k) {
          return k.key == "sync_group_tracking_weight" || k.key == "global_tracking";
        })) {
      for (const auto& k : s.children)
        if (k.key == "group")
          for (const auto& [member, at] : names_in(k)) defs.weightless[member] = name;
    }
  }
  const Stmt* first = stmts.empty() ? nullptr : &stmts.front();
  out.push_back(
      {"# Converted by `vipd import` from keepalived.conf; review the notes it printed.", first});
  emit(out, "[agent]", agent, first);
  for (const auto& s : stmts) {
    if (s.key == "vrrp_instance")
      emit(out, "[[instance]]", InstanceConverter(s, ctx, defs).run(), &s);
  }
  for (const auto& iface : defs.links) {
    detail::CheckDef c;
    c.name = "link-" + iface;
    c.lines = {{"type = \"link\"", first}, {"interface = " + toml_string(iface), first}};
    ctx.checks.push_back(std::move(c));
  }
  for (const auto& c : ctx.checks) {
    std::vector<Line> body{{"name = " + toml_string(c.name), c.src}};
    for (const auto& l : c.lines) body.push_back(l);
    emit(out, "[[check]]", body, c.src);
  }
  for (const auto& s : stmts) {
    if (s.key == "vrrp_sync_group") emit(out, "[[group]]", sync_group(s, ctx), &s);
  }
  for (const auto& s : stmts) {
    if (s.key == "global_defs" || s.key == "vrrp_script" || s.key == "vrrp_track_process" ||
        s.key == "vrrp_track_file" || s.key == "vrrp_instance" || s.key == "vrrp_sync_group") {
      continue;
    }
    if (s.key == "virtual_server" || s.key == "virtual_server_group") {
      ctx.error(s, s.key +
                       " (LVS) is not converted: vipd moves addresses; the load balancing "
                       "stays in nginx/HAProxy");
    } else if (s.key.rfind("static_", 0) == 0) {
      ctx.error(s, s.key +
                       " is not converted: configure static addresses, routes and rules in "
                       "the host's network configuration");
    } else {
      ctx.error(s, "'" + s.key + "' is not converted");
    }
  }

  ImportResult r;
  for (const auto& l : out) r.toml += l.text + "\n";
  if (validate) {
    const auto loaded = config::load_string(r.toml, "vipd.toml");
    for (const auto& d : loaded.diagnostics) {
      const Stmt* src =
          d.pos.line >= 1 && d.pos.line <= out.size() ? out[d.pos.line - 1].src : nullptr;
      const bool err = d.severity == config::Diagnostic::Severity::Error;
      ctx.notes.push_back(
          {err ? Note::Kind::Error : Note::Kind::Warning,
           src ? src->file : std::string("vipd.toml"), src ? src->line : 0,
           std::string(err ? "vipd check refuses the result: " : "vipd check warns: ") +
               d.message});
    }
  }
  std::stable_sort(ctx.notes.begin(), ctx.notes.end(), [](const Note& a, const Note& b) {
    return a.file == b.file ? a.line < b.line : a.file < b.file;
  });
  r.notes = std::move(ctx.notes);
  return r;
}

ImportResult import_file(const std::string& path) {
  std::vector<Note> parse_notes;
  auto stmts = parse_file(path, parse_notes);
  ImportResult r = convert(stmts);
  r.notes.insert(r.notes.begin(), parse_notes.begin(), parse_notes.end());
  return r;
}

}  // namespace vipd::import
