// Link check: carrier and operstate of an interface from /sys/class/net/IF/. Every failure is
// immediate (the kernel's view is not noisy): interface missing, administratively down (carrier
// reads EINVAL), no carrier, or operstate not up/unknown. Polled every `interval`.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "checks/probe.h"

namespace vipd::checks {
namespace {

// Reads a small sysfs attribute; returns false with errno set on failure.
bool read_attr(const std::string& path, std::string& out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[64];
  const ssize_t n = ::read(fd, buf, sizeof buf);
  const int err = errno;
  ::close(fd);
  if (n < 0) {
    errno = err;
    return false;
  }
  out.assign(buf, static_cast<std::size_t>(n));
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return true;
}

class LinkProbe final : public Probe {
 public:
  explicit LinkProbe(const config::Check& c) : ifname_(c.interface) {}

  ProbeResult run(int /*stop_fd*/) override {
    ProbeResult r;
    r.immediate = true;
    if (ifname_.empty() || ifname_.find('/') != std::string::npos || ifname_ == "." ||
        ifname_ == "..") {
      r.error = "invalid interface name " + printable(ifname_);
      return r;
    }
    const std::string dir = "/sys/class/net/" + ifname_ + "/";
    std::string operstate;
    if (!read_attr(dir + "operstate", operstate)) {
      r.error = errno == ENOENT ? "interface " + ifname_ + " not found"
                                : "interface " + ifname_ + ": " + errno_text(errno);
      return r;
    }
    std::string carrier;
    if (!read_attr(dir + "carrier", carrier)) {
      // The kernel refuses to report carrier (EINVAL) while the interface is admin down.
      r.error = errno == EINVAL ? "interface " + ifname_ + " is administratively down"
                                : "interface " + ifname_ + ": carrier: " + errno_text(errno);
      return r;
    }
    if (carrier != "1") {
      r.error = "interface " + ifname_ + ": no carrier (operstate " + operstate + ")";
      return r;
    }
    // "unknown" is normal for lo, tun and some virtual devices that do not report operstate.
    if (operstate != "up" && operstate != "unknown") {
      r.error = "interface " + ifname_ + ": operstate " + operstate;
      return r;
    }
    r.ok = true;
    r.immediate = false;
    return r;
  }

 private:
  std::string ifname_;
};

}  // namespace

std::unique_ptr<Probe> make_link_probe(const config::Check& check) {
  return std::make_unique<LinkProbe>(check);
}

}  // namespace vipd::checks
