// POST /v1/drain and /v1/undrain body shapes (issue 13: a typo drained every instance).
#include <catch2/catch.hpp>

#include "app/drain_request.h"

using vipd::app::DrainBodyError;
using vipd::app::DrainTarget;
using vipd::app::parse_drain_body;

namespace {

std::string refused(const std::string& body) {
  const auto r = parse_drain_body(body);
  const auto* e = std::get_if<DrainBodyError>(&r);
  return e ? e->reason : std::string();
}

}  // namespace

TEST_CASE("an empty body means every instance", "[api][drain]") {
  for (const char* body : {"", "  \n", "\r\n"}) {
    INFO(body);
    const auto r = parse_drain_body(body);
    REQUIRE(std::holds_alternative<DrainTarget>(r));
    CHECK_FALSE(std::get<DrainTarget>(r).instance.has_value());
  }
}

TEST_CASE("{\"instance\": NAME} names one instance", "[api][drain]") {
  const auto r = parse_drain_body(R"({"instance": "web"})");
  REQUIRE(std::holds_alternative<DrainTarget>(r));
  CHECK(std::get<DrainTarget>(r).instance == "web");
  CHECK(std::get<DrainTarget>(parse_drain_body(" {\"instance\":\"db\"}\n")).instance == "db");
}

TEST_CASE("wrong-shaped bodies are refused with the reason, never read as 'all'", "[api][drain]") {
  struct Case {
    const char* body;
    const char* says;
  };
  for (const auto& c : std::initializer_list<Case>{
           {R"({"instanc":"web"})", "unknown key 'instanc'"},
           {"{}", "names no instance"},
           {"[1,2,3]", "is an array"},
           {R"("web")", "is a string"},
           {"web", "not JSON"},
           {"null", "is null"},
           {"42", "is a number"},
           {R"({"instance": 7})", "'instance' is a number"},
           {R"({"instance": null})", "'instance' is null"},
           {R"({"instance": ["web"]})", "'instance' is an array"},
           {R"({"instance": ""})", "empty string"},
           {R"({"instance": "web", "force": true})", "unknown key 'force'"},
           {R"({"instance": "web")", "not JSON"},
       }) {
    INFO(c.body);
    const auto reason = refused(c.body);
    CHECK(reason.find(c.says) != std::string::npos);
    // Every refusal names the accepted shapes.
    CHECK(reason.find(R"({"instance": "NAME"})") != std::string::npos);
  }
}
