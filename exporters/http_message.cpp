// HTTP/1.1 request parsing and response formatting for the API server (see http_message.h).
#include "exporters/http_message.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace vipd::exporters {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

ParsedRequest fail(int status, std::string why) {
  ParsedRequest p;
  p.outcome = ParsedRequest::Outcome::Error;
  p.error_status = status;
  p.error = std::move(why);
  p.keep_alive = false;
  return p;
}

const char* reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 202:
      return "Accepted";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 408:
      return "Request Timeout";
    case 413:
      return "Content Too Large";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

}  // namespace

ParsedRequest parse_request(std::string_view buffer, std::size_t max_header_bytes,
                            std::size_t max_body_bytes) {
  // RFC 9112 §2.2: ignore empty lines before a request line (left over from a previous body).
  std::size_t start = 0;
  while (start + 1 < buffer.size() && buffer[start] == '\r' && buffer[start + 1] == '\n')
    start += 2;
  const auto end = buffer.find("\r\n\r\n", start);
  if (end == std::string_view::npos) {
    if (buffer.size() - start > max_header_bytes)
      return fail(431, "the request line and headers exceed " + std::to_string(max_header_bytes) +
                           " bytes");
    return {};
  }
  if (end - start > max_header_bytes)
    return fail(
        431, "the request line and headers exceed " + std::to_string(max_header_bytes) + " bytes");
  const std::string_view head = buffer.substr(start, end - start);
  ParsedRequest p;
  auto line_end = head.find("\r\n");
  const std::string_view line = head.substr(0, line_end);
  const auto sp1 = line.find(' ');
  const auto sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1 || sp1 == 0)
    return fail(400, "malformed request line");
  const std::string_view version = line.substr(sp2 + 1);
  if (version != "HTTP/1.1" && version != "HTTP/1.0") return fail(400, "not HTTP/1.x");
  p.keep_alive = version == "HTTP/1.1";
  p.request.method = std::string(line.substr(0, sp1));
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (target.empty() || target.front() != '/') return fail(400, "the target is not a path");
  p.request.path = std::string(target.substr(0, target.find('?')));
  std::size_t content_length = 0;
  while (line_end != std::string_view::npos) {
    const auto next = head.find("\r\n", line_end + 2);
    const std::string_view field = head.substr(line_end + 2, next - (line_end + 2));
    line_end = next;
    const auto colon = field.find(':');
    if (colon == std::string_view::npos || colon == 0) return fail(400, "malformed header field");
    const std::string name = lower(field.substr(0, colon));
    const std::string_view value = trim(field.substr(colon + 1));
    if (name == "content-length") {
      std::size_t n = 0;
      const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || ptr != value.data() + value.size() || value.empty())
        return fail(400, "bad Content-Length");
      if (p.request.headers.count(name) && n != content_length)
        return fail(400, "conflicting Content-Length headers");
      content_length = n;
    } else if (name == "transfer-encoding") {
      return fail(501, "Transfer-Encoding is not accepted: send Content-Length");
    } else if (name == "connection") {
      const auto v = lower(value);
      if (v.find("close") != std::string::npos) p.keep_alive = false;
      if (v.find("keep-alive") != std::string::npos) p.keep_alive = true;
    }
    p.request.headers[name] = std::string(value);
  }
  if (content_length > max_body_bytes)
    return fail(413, "the body exceeds " + std::to_string(max_body_bytes) + " bytes");
  const std::size_t body_start = end + 4;
  if (buffer.size() - body_start < content_length) return {};
  p.request.body = std::string(buffer.substr(body_start, content_length));
  p.consumed = body_start + content_length;
  p.outcome = ParsedRequest::Outcome::Complete;
  return p;
}

std::string format_response(const Response& response, bool keep_alive) {
  std::string out =
      "HTTP/1.1 " + std::to_string(response.status) + " " + reason_phrase(response.status) + "\r\n";
  if (!response.content_type.empty()) out += "Content-Type: " + response.content_type + "\r\n";
  out += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
  out += keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
  out += response.body;
  return out;
}

}  // namespace vipd::exporters
