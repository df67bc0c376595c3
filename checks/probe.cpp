// Probe factory and the small text helpers the probes share.
#include "checks/probe.h"

#include <cstring>

namespace vipd::checks {

std::unique_ptr<Probe> make_probe(const config::Check& check) {
  switch (check.type) {
    case config::CheckType::Http:
      return make_http_probe(check);
    case config::CheckType::Tcp:
      return make_tcp_probe(check);
    case config::CheckType::Exec:
      return make_exec_probe(check);
    case config::CheckType::File:
      return make_file_probe(check);
    case config::CheckType::Link:
      return make_link_probe(check);
    case config::CheckType::Pid:
      break;
  }
  return nullptr;
}

std::string errno_text(int err) {
  char buf[128];
  // GNU strerror_r returns the message pointer (maybe not buf).
  return ::strerror_r(err, buf, sizeof buf);
}

std::string millis_text(std::chrono::milliseconds ms) { return std::to_string(ms.count()) + "ms"; }

std::string printable(std::string_view bytes, std::size_t max) {
  std::string out = "'";
  for (std::size_t i = 0; i < bytes.size() && i < max; ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c >= 0x7f) {
      out += '?';
    } else {
      out += static_cast<char>(c);
    }
  }
  if (bytes.size() > max) out += "...";
  out += "'";
  return out;
}

}  // namespace vipd::checks
