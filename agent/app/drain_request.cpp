// Validation of the drain/undrain request body (see drain_request.h).
#include "app/drain_request.h"

#include <cctype>

#include <nlohmann/json.hpp>

namespace vipd::app {
namespace {

constexpr const char* kShape =
    "send {\"instance\": \"NAME\"} for one instance, or an empty body for every instance";

bool blank(const std::string& s) {
  for (const unsigned char c : s)
    if (!std::isspace(c)) return false;
  return true;
}

std::string type_name(const nlohmann::json& j) {
  if (j.is_array()) return "an array";
  if (j.is_string()) return "a string";
  if (j.is_number()) return "a number";
  if (j.is_boolean()) return "a boolean";
  if (j.is_null()) return "null";
  return "an object";
}

DrainBodyError refuse(const std::string& what) { return {what + ": " + kShape}; }

}  // namespace

std::variant<DrainTarget, DrainBodyError> parse_drain_body(const std::string& body) {
  if (blank(body)) return DrainTarget{};
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(body);
  } catch (const nlohmann::json::exception&) {
    return refuse("the body is not JSON");
  }
  if (!doc.is_object()) return refuse("the body is " + type_name(doc) + ", not a JSON object");
  for (const auto& [key, value] : doc.items()) {
    if (key != "instance") return refuse("unknown key '" + key + "' (the only key is 'instance')");
  }
  const auto it = doc.find("instance");
  if (it == doc.end())
    return refuse("the object names no instance (an empty object does not mean every instance)");
  if (!it->is_string()) return refuse("'instance' is " + type_name(*it) + ", not a string");
  auto name = it->get<std::string>();
  if (name.empty()) return refuse("'instance' is an empty string");
  return DrainTarget{std::move(name)};
}

}  // namespace vipd::app
