// File check, the maintenance knob: absent = up with value 0; an integer = up with that value
// (a priority delta); anything else, or an unreadable file, = down with the reason (counted
// toward `fall`). Unlike keepalived's track_file (unparsable reads as 0), garbage fails: an
// operator who writes "maintenance" into the file means "get off this node", not "no change".
// The value is clamped to -254..254 (priority is clamped to 1..254 anyway).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>

#include "checks/probe.h"

namespace vipd::checks {
namespace {

constexpr std::size_t kMaxRead = 256;

class FileProbe final : public Probe {
 public:
  explicit FileProbe(const config::Check& c) : path_(c.path) {}

  ProbeResult run(int /*stop_fd*/) override {
    ProbeResult r;
    const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
      if (errno == ENOENT) {
        r.ok = true;  // absent: no change
        return r;
      }
      r.error = path_ + ": " + errno_text(errno);
      return r;
    }
    std::string text(kMaxRead, '\0');
    const ssize_t n = ::read(fd, text.data(), text.size());
    const int err = errno;
    ::close(fd);
    if (n < 0) {
      r.error = path_ + ": " + errno_text(err);
      return r;
    }
    text.resize(static_cast<std::size_t>(n));
    const auto b = text.find_first_not_of(" \t\r\n");
    if (b == std::string::npos) {
      r.ok = true;  // empty (touch FILE): no change, like absent
      return r;
    }
    const auto e = text.find_last_not_of(" \t\r\n");
    std::string_view num(text.data() + b, e - b + 1);
    if (num.front() == '+') num.remove_prefix(1);
    long long v = 0;
    const auto [ptr, ec] = std::from_chars(num.data(), num.data() + num.size(), v);
    if (ec == std::errc::result_out_of_range) {
      v = num.front() == '-' ? -254 : 254;
    } else if (ec != std::errc() || ptr != num.data() + num.size() || num.empty()) {
      r.error =
          path_ + ": not an integer: " + printable(std::string_view(text).substr(b, e - b + 1));
      return r;
    }
    r.ok = true;
    r.value = static_cast<int>(std::clamp(v, -254LL, 254LL));
    return r;
  }

 private:
  std::string path_;
};

}  // namespace

std::unique_ptr<Probe> make_file_probe(const config::Check& check) {
  return std::make_unique<FileProbe>(check);
}

}  // namespace vipd::checks
