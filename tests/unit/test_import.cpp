// `vipd import` (issue 14): keepalived.conf reader and converter, on Debian's keepalived samples
// (tests/fixtures/keepalived/debian, copied from /usr/share/doc/keepalived/samples of keepalived
// 2.2.7) and on configs in the style of the common nginx-HA tutorials (.../tutorial).
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config/config.h"
#include "import/keepalived_import.h"

using vipd::import::Note;

namespace {

const std::string kDir = std::string(VIPD_FIXTURES) + "/keepalived/";

bool has_note(const vipd::import::ImportResult& r, Note::Kind kind, int line,
              const std::string& text) {
  for (const auto& n : r.notes) {
    if (n.kind == kind && (line == 0 || n.line == line) &&
        n.message.find(text) != std::string::npos) {
      return true;
    }
  }
  return false;
}

std::string dump(const vipd::import::ImportResult& r) {
  std::string out;
  for (const auto& n : r.notes) out += n.format() + "\n";
  return out + r.toml;
}

vipd::import::ImportResult from_text(const std::string& text) {
  std::vector<Note> notes;
  auto stmts = vipd::import::parse_text(text, "k.conf", ".", notes);
  auto r = vipd::import::convert(stmts);
  r.notes.insert(r.notes.begin(), notes.begin(), notes.end());
  return r;
}

}  // namespace

TEST_CASE("import: reader handles comments, quotes, one-line blocks, bad braces", "[import]") {
  std::vector<Note> notes;
  const auto s = vipd::import::parse_text(
      "! comment\n# comment\nvrrp_sync_group G { group { A B } }  # trailing\n"
      "vrrp_script s {\n  script \"/bin/x a  b\" ! not an argument\n}\n",
      "k.conf", ".", notes);
  INFO(notes.size());
  REQUIRE(notes.empty());
  REQUIRE(s.size() == 2);
  CHECK(s[0].key == "vrrp_sync_group");
  CHECK(s[0].line == 3);
  REQUIRE(s[0].children.size() == 1);
  CHECK(s[0].children[0].key == "group");
  REQUIRE(s[0].children[0].children.size() == 1);
  CHECK(s[0].children[0].children[0].key == "A");
  CHECK(s[0].children[0].children[0].args == std::vector<std::string>{"B"});
  REQUIRE(s[1].children.size() == 1);
  CHECK(s[1].children[0].args == std::vector<std::string>{"/bin/x a  b"});
  CHECK(s[1].children[0].line == 5);

  notes.clear();
  (void)vipd::import::parse_text("vrrp_instance X {\n  interface eth0\n", "k.conf", ".", notes);
  REQUIRE(notes.size() == 1);
  CHECK(notes[0].format() ==
        "k.conf:2: error: unbalanced '{': a block is not closed at the end "
        "of the file");
  notes.clear();
  (void)vipd::import::parse_text("}\ninclude /nonexistent/*.conf\n", "k.conf", ".", notes);
  REQUIRE(notes.size() == 2);
  CHECK(notes[0].kind == Note::Kind::Warning);  // includes are read while tokenizing
  CHECK(notes[0].line == 2);
  CHECK(notes[1].format() == "k.conf:1: error: unbalanced '}'");
}

TEST_CASE("import: every Debian keepalived VRRP sample converts or is refused with the reason",
          "[import]") {
  struct Case {
    const char* file;
    bool complete;
    int line;            // of the first reason expected (0: any)
    const char* reason;  // an error note's text, or for a converted file a line of the TOML
  };
  const std::vector<Case> cases = {
      {"keepalived.conf.vrrp", true, 0,
       "vips = [\"192.168.200.16/32\", \"192.168.200.17/32\", "
       "\"192.168.200.18/32\"]"},
      {"keepalived.conf.vrrp.localcheck", true, 0, "address = \"127.0.0.1:443\""},
      {"keepalived.conf.vrrp.scripts", true, 0, "instances = [\"VI_2\", \"VI_3\"]"},
      {"keepalived.conf.vrrp.sync", true, 0, "name = \"G2\""},
      {"keepalived.conf.SSL_GET", false, 19, "auth_type AH is not converted"},
      {"keepalived.conf.conditional_conf", false, 3, "conditional line '@high'"},
      {"keepalived.conf.sample", false, 26, "virtual_server (LVS) is not converted"},
      {"keepalived.conf.track_interface", false, 25, "on dev eth1: vipd adds an instance's VIPs"},
      {"keepalived.conf.vrrp.lvs_syncd", false, 11, "'lvs_sync_daemon_interface' is not converted"},
      {"keepalived.conf.vrrp.routes", false, 25, "'virtual_routes' is not converted"},
      {"keepalived.conf.vrrp.rules", false, 24, "'virtual_rules' is not converted"},
      {"keepalived.conf.vrrp.static_ipaddress", false, 7, "static_ipaddress is not converted"},
  };
  for (const auto& c : cases) {
    const auto r = vipd::import::import_file(kDir + "debian/" + c.file);
    INFO(c.file);
    INFO(dump(r));
    CHECK(r.complete() == c.complete);
    if (c.complete) {
      CHECK(r.toml.find(c.reason) != std::string::npos);
      const auto loaded = vipd::config::load_string(r.toml, "out.toml");
      CHECK(loaded.ok());  // what `vipd check` would say of the output
    } else {
      CHECK(has_note(r, Note::Kind::Error, c.line, c.reason));
    }
  }
}

TEST_CASE("import: tutorial-style configs convert completely", "[import]") {
  SECTION("nginx pair with unicast, PASS auth, a weighted script and notify_*") {
    const auto r = vipd::import::import_file(kDir + "tutorial/nginx-ha-unicast.conf");
    INFO(dump(r));
    REQUIRE(r.complete());
    const auto loaded = vipd::config::load_string(r.toml, "out.toml");
    REQUIRE(loaded.ok());
    const auto& cfg = *loaded.config;
    CHECK(cfg.agent.node_name == "web-a");
    REQUIRE(cfg.instances.size() == 1);
    const auto& in = cfg.instances[0];
    CHECK(in.version == 2);  // keepalived's default
    CHECK(in.priority == 110);
    CHECK(in.auth_pass == "s3cr3t");
    CHECK(in.unicast_peers.size() == 1);
    CHECK(in.unicast_src.has_value());
    REQUIRE(in.track.size() == 1);
    CHECK(in.track[0].check == "chk_nginx");
    CHECK(in.track[0].weight == -20);
    REQUIRE(in.notify.size() == 4);
    CHECK(in.notify[0] == "/bin/sh");
    CHECK(in.notify[2].find("MASTER) /etc/keepalived/notify.sh master ;;") != std::string::npos);
    REQUIRE(cfg.checks.size() == 1);
    CHECK(cfg.checks[0].command == std::vector<std::string>{"/usr/bin/pidof", "nginx"});
    CHECK(cfg.checks[0].fall == 2);
    CHECK(has_note(r, Note::Kind::Note, 15, "polls for a process: a vipd pid check"));
    CHECK(has_note(r, Note::Kind::Warning, 7, "vipd sends no e-mail"));
    CHECK(has_note(r, Note::Kind::Note, 37, "VIP option 'label eth0:vip' is not carried over"));
  }
  SECTION("sync group through an include, nopreempt, track_interface, weight 0") {
    const auto r = vipd::import::import_file(kDir + "tutorial/sync-group.conf");
    INFO(dump(r));
    REQUIRE(r.complete());
    const auto loaded = vipd::config::load_string(r.toml, "out.toml");
    REQUIRE(loaded.ok());
    const auto& cfg = *loaded.config;
    REQUIRE(cfg.groups.size() == 1);
    CHECK(cfg.groups[0].instances == std::vector<std::string>{"OUTSIDE", "INSIDE"});
    REQUIRE(cfg.instances.size() == 2);
    CHECK_FALSE(cfg.instances[0].preempt);
    REQUIRE(cfg.instances[0].track.size() == 2);
    CHECK(cfg.instances[0].track[0].weight == 0);
    CHECK(cfg.instances[0].track[1].check == "link-eth1");
    CHECK(has_note(r, Note::Kind::Warning, 16, "mcast_src_ip"));
    CHECK(has_note(r, Note::Kind::Note, 4, "vrrp_sync_group carried over as [[group]]"));
  }
  SECTION("active-active, VRRPv3, sub-second adverts, track_file, garp") {
    const auto r = vipd::import::import_file(kDir + "tutorial/active-active-v3.conf");
    INFO(dump(r));
    REQUIRE(r.complete());
    const auto loaded = vipd::config::load_string(r.toml, "out.toml");
    REQUIRE(loaded.ok());
    const auto& cfg = *loaded.config;
    REQUIRE(cfg.instances.size() == 2);
    CHECK(cfg.instances[0].version == 3);
    CHECK(cfg.instances[0].checksum == vipd::vrrp::ChecksumMode::PseudoHeader);
    CHECK(cfg.instances[0].advert_interval == vipd::config::Millis{100});
    CHECK(cfg.instances[0].garp.repeat == 3);
    CHECK(cfg.instances[1].priority == 100);
    REQUIRE(cfg.checks.size() == 2);
    CHECK(cfg.checks[1].type == vipd::config::CheckType::File);
  }
}

TEST_CASE("import: what cannot be carried over is an error at its line", "[import]") {
  const auto r = from_text(
      "vrrp_instance X {\n"                                                     // 1
      "  interface eth0\n"                                                      // 2
      "  virtual_router_id 300\n"                                               // 3
      "  use_vmac\n"                                                            // 4
      "  track_script {\n    missing\n  }\n"                                    // 5-7
      "  virtual_ipaddress {\n    198.18.0.100/24\n    198.18.0.100/24\n  }\n"  // 8-11
      "  advert_int 0.5\n"                                                      // 12
      "}\n");
  INFO(dump(r));
  CHECK_FALSE(r.complete());
  CHECK(has_note(r, Note::Kind::Error, 3, "'virtual_router_id 300': expected an integer 1..255"));
  CHECK(has_note(r, Note::Kind::Error, 4, "'use_vmac' is not converted"));
  CHECK(has_note(r, Note::Kind::Error, 6, "track_script missing: no vrrp_script missing"));
  CHECK(has_note(r, Note::Kind::Note, 10, "listed twice"));
  // v2 (keepalived's default) with a sub-second interval: vipd check refuses it, at line 12.
  CHECK(has_note(r, Note::Kind::Error, 12, "vipd check refuses the result"));
}

TEST_CASE("import: a sync group member's track weights become 0 unless the group allows them",
          "[import][group]") {
  const auto dir =
      std::filesystem::temp_directory_path() / ("vipd-import-group-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto conf = [&](const std::string& extra) {
    const auto path = (dir / "keepalived.conf").string();
    std::ofstream(path) << "vrrp_script chk { script \"/usr/bin/pidof nginx\"\n interval 1 }\n"
                           "vrrp_sync_group G {\n group {\n A\n }\n"
                        << extra
                        << "}\nvrrp_instance A {\n interface eth0\n virtual_router_id 51\n"
                           " priority 100\n virtual_ipaddress {\n 198.18.0.100/24\n }\n"
                           " track_script {\n chk weight -20\n }\n}\n";
    return path;
  };
  // keepalived ignores the weight (a failure faults the group): so does the converted file.
  auto r = vipd::import::import_file(conf(""));
  INFO(r.toml);
  auto loaded = vipd::config::load_string(r.toml, "out.toml");
  REQUIRE(loaded.ok());
  REQUIRE(loaded.config->instances[0].track.size() == 1);
  CHECK(loaded.config->instances[0].track[0].weight == 0);
  CHECK(has_note(r, Note::Kind::Note, 16, "weight -20 of 'chk' becomes 0"));
  // sync_group_tracking_weight: keepalived applies it, and so does vipd.
  r = vipd::import::import_file(conf(" sync_group_tracking_weight\n"));
  loaded = vipd::config::load_string(r.toml, "out.toml");
  REQUIRE(loaded.ok());
  CHECK(loaded.config->instances[0].track[0].weight == -20);
  std::filesystem::remove_all(dir);
}
