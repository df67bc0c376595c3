// Route mode (issue 16): `route = { table = N, protocol = P }` of an [[instance]] with
// mode = "route", the host-route rule for its VIPs, and the VRRP keys that mean nothing there.
#include <string>
#include <string_view>
#include <vector>

#include "config/sections.h"

namespace vipd::config::detail {
namespace {

// Keys of a VRRP instance that a route-mode instance ignores: it sends no adverts, owns no
// interface address and announces nothing on a segment.
const std::vector<std::string_view> kVrrpOnlyKeys = {"interface",
                                                     "vrid",
                                                     "version",
                                                     "advert_interval",
                                                     "group_size",
                                                     "preempt",
                                                     "preempt_delay",
                                                     "fast_preempt",
                                                     "unicast_peers",
                                                     "unicast_src",
                                                     "checksum",
                                                     "address_mismatch",
                                                     "auth_pass",
                                                     "garp",
                                                     "make_before_break",
                                                     "reset_connections",
                                                     "learn_interval_factor",
                                                     "lower_priority_answer_interval"};

/// Why a kernel route protocol number cannot be vipd's, or "" when it can. Zebra (FRR 8.4,
/// zebra/rt_netlink.c is_selfroute) ignores kernel routes whose protocol is one of its own — the
/// route is never imported, so nothing is announced; BIRD's kernel protocol treats protocol 12
/// (bird) as its own leftovers and removes them; 0..4 belong to the kernel (unspec, redirect,
/// kernel, boot, static): sweeping "our" leftovers would delete the host's routes.
std::string protocol_problem(std::int64_t p) {
  if (p <= 4) {
    return "is reserved by the kernel (0 unspec, 1 redirect, 2 kernel, 3 boot, 4 static); vipd "
           "removes every route of its protocol at start, so it needs one nobody else uses";
  }
  if (p == 11 || p == 42 || (p >= 186 && p <= 198)) {
    return "is one of FRR's own protocols (11 zebra, 42 babel, 186 bgp ... 196 static, 198 "
           "srte): zebra ignores kernel routes with its own protocol numbers, so `ip import-table` "
           "would never see them and nothing would be announced";
  }
  if (p == 12) {
    return "is BIRD's own protocol (12 bird): BIRD's kernel protocol removes such routes as its "
           "own leftovers";
  }
  return {};
}

std::string table_problem(std::int64_t t) {
  switch (t) {
    case 253:
      return "is the kernel's 'default' table";
    case 254:
      return "is the kernel's 'main' table: this node would forward by the route itself; use a "
             "table of its own that the routing daemon imports (e.g. 198)";
    case 255:
      return "is the kernel's 'local' table (vipd already puts the VIP's `local` route there); "
             "use a table of its own that the routing daemon imports (e.g. 198)";
    default:
      return {};
  }
}

void read_route_table(TableReader& parent, Instance& in, Diags& diags) {
  const auto* n = parent.node("route");
  if (!n) {
    diags.error(parent.pos(),
                "mode = \"route\" needs 'route = { table = N, protocol = P }': the kernel table "
                "the routing daemon imports (e.g. 198) and vipd's route protocol (e.g. 99)");
    return;
  }
  const auto* tbl = n->as_table();
  if (!tbl) {
    diags.error(diags.pos(*n),
                "'route' must be a table, e.g. { table = 198, protocol = 99 }, not " +
                    std::string(type_phrase(n->type())));
    return;
  }
  TableReader r(*tbl, "route", diags);
  r.reject_unknown({"table", "protocol", "replace"});
  std::int64_t table = 0;
  // RT_TABLE_UNSPEC (0) is no table; 2^32-1 is RT_TABLE_MAX, kept out as iproute2 does.
  if (r.integer("table", 1, 4'294'967'294LL, table, true)) {
    if (const auto why = table_problem(table); !why.empty()) {
      diags.error(r.pos_of("table"), "route table " + std::to_string(table) + " " + why);
    } else {
      in.route.table = static_cast<std::uint32_t>(table);
    }
  }
  std::int64_t protocol = 0;
  if (r.integer("protocol", 0, 255, protocol, true)) {
    if (const auto why = protocol_problem(protocol); !why.empty()) {
      diags.error(r.pos_of("protocol"), "route protocol " + std::to_string(protocol) + " " + why +
                                            " (99 is a good choice)");
    } else {
      in.route.protocol = static_cast<std::uint8_t>(protocol);
    }
  }
  std::string replace = "delete-first";
  if (r.string("replace", replace)) {
    if (replace == "add-first") {
      in.route.add_first = true;
    } else if (replace != "delete-first") {
      diags.error(r.pos_of("replace"),
                  "route replace = \"" + replace +
                      "\": expected \"delete-first\" (default; FRR's zebra withdraws the prefix "
                      "when one of two metrics goes) or \"add-first\" (BIRD: re-exports without "
                      "a withdrawal)" +
                      did_you_mean(replace, {"delete-first", "add-first"}));
    }
  }
}

}  // namespace

void read_route_mode(TableReader& r, Instance& in, Diags& diags) {
  read_route_table(r, in, diags);
  for (const auto& v : in.vips) {
    const int host = v.address.family == vrrp::Family::V4 ? 32 : 128;
    if (v.length != host) {
      diags.error(r.pos_of("vips"), "VIP " + v.to_string() +
                                        " must be a host route in route mode (write \"" +
                                        v.address.to_string() + "/" + std::to_string(host) +
                                        "\"): each VIP is announced as its own route");
    }
  }
  for (const auto key : kVrrpOnlyKeys) {
    if (r.has(key)) {
      diags.warning(r.pos_of(key), "'" + std::string(key) +
                                       "' has no effect in route mode (no VRRP: the routing "
                                       "daemon announces the VIP's route)");
    }
  }
}

}  // namespace vipd::config::detail
