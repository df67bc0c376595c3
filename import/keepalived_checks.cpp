// `vipd import`: keepalived's vrrp_script, vrrp_track_process and vrrp_track_file definitions ->
// vipd [[check]] tables, and the notify_* scripts -> one vipd notify argv.
#include <unistd.h>

#include <cmath>

#include "import/import_detail.h"

namespace vipd::import::detail {
namespace {

constexpr std::string_view kShellChars = "|&;<>$`*?()[]{}'\\\n";

std::string basename_of(const std::string& p) {
  const auto s = p.rfind('/');
  return s == std::string::npos ? p : p.substr(s + 1);
}

}  // namespace

std::string resolve_program(const std::string& name, Ctx& ctx, const Stmt& at) {
  if (!name.empty() && name[0] == '/') return name;
  for (const char* dir :
       {"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}) {
    const std::string p = std::string(dir) + "/" + name;
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  ctx.warning(at, "'" + name + "' is not found on this machine; written as /usr/bin/" + name +
                      " (vipd runs argv[0] as an absolute path, without a PATH search)");
  return "/usr/bin/" + name;
}

std::vector<std::string> script_argv(const std::string& script, Ctx& ctx, const Stmt& at) {
  if (script.find_first_of(kShellChars) != std::string::npos) {
    ctx.warning(at, "script \"" + script +
                        "\" uses shell syntax: converted to [\"/bin/sh\", \"-c\", ...]; vipd "
                        "otherwise runs argv without a shell");
    return {"/bin/sh", "-c", script};
  }
  std::vector<std::string> argv;
  std::string w;
  for (const char c : script) {
    if (c == ' ' || c == '\t') {
      if (!w.empty()) argv.push_back(std::move(w));
      w.clear();
    } else {
      w += c;
    }
  }
  if (!w.empty()) argv.push_back(std::move(w));
  if (argv.empty()) return argv;
  argv[0] = resolve_program(argv[0], ctx, at);
  // The usual nginx/HAProxy liveness scripts: vipd has a better check for each.
  const std::string prog = basename_of(argv[0]);
  const std::string target = argv.back();
  if ((prog == "killall" && argv.size() == 3 && argv[1] == "-0") ||
      (prog == "pidof" && argv.size() >= 2) || (prog == "pgrep" && argv.size() >= 2)) {
    ctx.note(at, "'" + script +
                     "' polls for a process: a vipd pid check wakes on its exit "
                     "instead ([[check]] type = \"pid\", pidfile = \"/run/" +
                     basename_of(target) + ".pid\"; docs/checks.md#pid)");
  } else if (prog == "curl" || prog == "wget") {
    for (const auto& a : argv) {
      if (a.rfind("http://", 0) == 0 || a.rfind("https://", 0) == 0) {
        ctx.note(at, "'" + script +
                         "' is an HTTP probe: a vipd http check does it without a "
                         "process per run ([[check]] type = \"http\", url = \"" +
                         a + "\"; docs/checks.md#http)");
        break;
      }
    }
  }
  return argv;
}

std::optional<long> Ctx::integer(const Stmt& s, std::size_t i, long min, long max) {
  if (s.args.size() <= i) {
    error(s, "'" + s.key + "' needs a value");
    return std::nullopt;
  }
  const std::string& t = s.args[i];
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(t.c_str(), &end, 10);
  if (t.empty() || *end != '\0' || errno != 0 || v < min || v > max) {
    error(s, "'" + s.key + " " + t + "': expected an integer " + std::to_string(min) + ".." +
                 std::to_string(max));
    return std::nullopt;
  }
  return v;
}

std::optional<double> Ctx::seconds(const Stmt& s, std::size_t i) {
  if (s.args.size() <= i) {
    error(s, "'" + s.key + "' needs a value");
    return std::nullopt;
  }
  char* end = nullptr;
  const double v = std::strtod(s.args[i].c_str(), &end);
  if (s.args[i].empty() || *end != '\0' || !std::isfinite(v) || v < 0 || v > 3600) {
    error(s, "'" + s.key + " " + s.args[i] + "': expected seconds");
    return std::nullopt;
  }
  return v;
}

std::string duration(double seconds) {
  const long ms = std::lround(seconds * 1000);
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

void convert_script(const Stmt& def, Ctx& ctx) {
  CheckDef c;
  c.name = def.args.empty() ? "" : def.args[0];
  c.src = &def;
  std::string type = "exec";
  for (const auto& k : def.children) {
    if (k.key == "script" && k.args.size() == 1 && k.args[0].rfind("</dev/tcp/", 0) == 0) {
      // bash's "</dev/tcp/HOST/PORT" connect test: exactly a vipd tcp check.
      const std::string rest = k.args[0].substr(10);
      const auto slash = rest.find('/');
      if (slash != std::string::npos) {
        type = "tcp";
        c.lines.push_back(
            {"address = " + toml_string(rest.substr(0, slash) + ":" + rest.substr(slash + 1)), &k});
        ctx.note(k, "'" + k.args[0] + "' (a bash connect test) became a tcp check");
        continue;
      }
    }
    if (k.key == "script") {
      if (k.args.empty()) {
        ctx.error(k, "script needs a command");
        continue;
      }
      std::string script = k.args[0];
      for (std::size_t i = 1; i < k.args.size(); ++i) script += " " + k.args[i];
      const auto argv = script_argv(script, ctx, k);
      c.lines.push_back({"command = " + toml_array(argv), &k});
    } else if (k.key == "interval") {
      if (const auto v = ctx.seconds(k, 0)) {
        c.lines.push_back({"interval = \"" + duration(*v) + "\"", &k});
      }
    } else if (k.key == "timeout") {
      if (const auto v = ctx.seconds(k, 0)) {
        c.lines.push_back({"timeout = \"" + duration(*v) + "\"", &k});
      }
    } else if (k.key == "weight") {
      if (const auto v = ctx.integer(k, 0, -253, 253)) c.weight = static_cast<int>(*v);
      if (k.args.size() > 1 && k.args[1] == "reverse") {
        ctx.error(k, "'weight ... reverse' is not converted: vipd has no reversed weight");
      }
    } else if (k.key == "rise" || k.key == "fall") {
      if (const auto v = ctx.integer(k, 0, 1, 100)) {
        c.lines.push_back({k.key + " = " + std::to_string(*v), &k});
      }
    } else if (k.key == "user") {
      ctx.warning(k,
                  "'user' is not converted: vipd runs exec checks as its own user (the "
                  "systemd unit's, not root)");
    } else if (k.key == "init_fail") {
      ctx.note(k, "init_fail: vipd checks always start as failing until `rise` successes");
    } else {
      ctx.error(k, "vrrp_script keyword '" + k.key + "' is not converted");
    }
  }
  c.lines.insert(c.lines.begin(), {"type = \"" + type + "\"", &def});
  // keepalived's defaults (interval 1s, rise 1, fall 1) written out: vipd's differ.
  bool has_rise = false, has_fall = false, has_interval = false;
  for (const auto& l : c.lines) {
    has_rise |= l.text.rfind("rise", 0) == 0;
    has_fall |= l.text.rfind("fall", 0) == 0;
    has_interval |= l.text.rfind("interval", 0) == 0;
  }
  if (!has_interval) c.lines.push_back({"interval = \"1s\"", &def});
  if (!has_rise) c.lines.push_back({"rise = 1", &def});
  if (!has_fall) c.lines.push_back({"fall = 1", &def});
  ctx.checks.push_back(std::move(c));
}

void convert_track_process(const Stmt& def, Ctx& ctx) {
  CheckDef c;
  c.name = def.args.empty() ? "" : def.args[0];
  c.src = &def;
  c.lines.push_back({"type = \"exec\"", &def});
  for (const auto& k : def.children) {
    if (k.key == "process" && !k.args.empty()) {
      if (k.args.size() > 1) {
        ctx.error(k, "process with arguments is not converted (pgrep -x matches the name only)");
      }
      const auto pgrep = resolve_program("pgrep", ctx, k);
      c.lines.push_back({"command = " + toml_array({pgrep, "-x", k.args[0]}), &k});
      ctx.note(
          k, "track_process '" + k.args[0] +
                 "' became an exec check running pgrep every "
                 "second; a pid check on its pidfile reacts in milliseconds (docs/checks.md#pid)");
    } else if (k.key == "weight") {
      if (const auto v = ctx.integer(k, 0, -253, 253)) c.weight = static_cast<int>(*v);
    } else if (k.key == "quorum") {
      if (const auto v = ctx.integer(k, 0, 1, 65535); v && *v != 1) {
        ctx.error(k, "quorum " + std::to_string(*v) + " is not converted (vipd: one process)");
      }
    } else if (k.key == "delay") {
      if (const auto v = ctx.seconds(k, 0)) {
        c.lines.push_back({"interval = \"" + duration(std::max(*v, 0.01)) + "\"", &k});
      }
    } else {
      ctx.error(k, "vrrp_track_process keyword '" + k.key + "' is not converted");
    }
  }
  ctx.checks.push_back(std::move(c));
}

void convert_track_file(const Stmt& def, Ctx& ctx) {
  CheckDef c;
  c.name = def.args.empty() ? "" : def.args[0];
  c.src = &def;
  c.weight = 1;  // keepalived's default for track_file
  c.lines.push_back({"type = \"file\"", &def});
  for (const auto& k : def.children) {
    if (k.key == "file" && !k.args.empty()) {
      c.lines.push_back({"path = " + toml_string(k.args[0]), &k});
    } else if (k.key == "weight") {
      if (const auto v = ctx.integer(k, 0, -254, 254)) c.weight = static_cast<int>(*v);
    } else if (k.key == "init_file") {
      ctx.warning(k, "init_file is not converted: vipd reads an absent file as 0 (no change)");
    } else {
      ctx.error(k, "vrrp_track_file keyword '" + k.key + "' is not converted");
    }
  }
  ctx.checks.push_back(std::move(c));
}

std::optional<std::vector<std::string>> notify_argv(const Notify& n, const char* kind) {
  if (!n.any()) return std::nullopt;
  // vipd appends (NAME, STATE[, PRIORITY]) to one argv on every change: $1 $2 $3 in the shell.
  // keepalived's `notify` got "TYPE NAME STATE PRIORITY"; notify_master/backup/fault only their
  // own arguments, each on its state.
  std::string sh;
  if (!n.generic.empty()) sh += n.generic + " " + kind + " \"$1\" \"$2\" \"$3\"\n";
  const std::pair<const char*, const std::string*> per_state[] = {
      {"MASTER", &n.master}, {"BACKUP", &n.backup}, {"FAULT", &n.fault}};
  std::string cases;
  for (const auto& [state, script] : per_state) {
    if (!script->empty()) cases += std::string(state) + ") " + *script + " ;; ";
  }
  if (!cases.empty()) sh += "case \"$2\" in " + cases + "esac\n";
  return std::vector<std::string>{"/bin/sh", "-c", sh, "vipd-notify"};
}

}  // namespace vipd::import::detail
