// HTTP/1.1 framing for the API server (RFC 9112): parse one request from the bytes received so
// far, and format a response. Pure functions: no sockets, so the limits are unit-tested directly.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "exporters/api_server.h"

namespace vipd::exporters {

struct ParsedRequest {
  enum class Outcome { Incomplete, Complete, Error };
  Outcome outcome = Outcome::Incomplete;
  Request request;
  std::size_t consumed = 0;  // bytes of the buffer this request took (Complete only)
  bool keep_alive = true;    // HTTP/1.1 default; `Connection: close` or HTTP/1.0 turn it off
  int error_status = 0;      // Error: 400, 413, 431 or 501
  std::string error;         // Error: why, for the answer's body
};

/// Parses the request at the start of `buffer`. A request without Content-Length has no body
/// (RFC 9112 §6.3); Transfer-Encoding is not accepted (501), nor a body or header block larger
/// than the limits (413, 431).
ParsedRequest parse_request(std::string_view buffer, std::size_t max_header_bytes,
                            std::size_t max_body_bytes);

/// The status line, Content-Type, Content-Length and Connection headers, and the body.
std::string format_response(const Response& response, bool keep_alive);

}  // namespace vipd::exporters
