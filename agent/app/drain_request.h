// The body of POST /v1/drain and /v1/undrain, checked against its documented shape (docs/api.md)
// before anything changes: a typo must never drain every instance on the node (issue 13).
#pragma once

#include <optional>
#include <string>
#include <variant>

namespace vipd::app {

/// What a valid body asks for.
struct DrainTarget {
  /// The instance named by `{"instance": "NAME"}`; empty for "every instance", which only an
  /// empty (or whitespace-only) body asks for.
  std::optional<std::string> instance;
};

/// A refused body: the sentence for the 400 answer.
struct DrainBodyError {
  std::string reason;
};

/// Accepts exactly two shapes: an empty body (every instance) and a JSON object with the one key
/// `instance` holding a non-empty string. Anything else — not JSON, an array, a string, `{}`,
/// an unknown key such as `instanc`, a non-string or empty name — is refused with the reason.
std::variant<DrainTarget, DrainBodyError> parse_drain_body(const std::string& body);

}  // namespace vipd::app
