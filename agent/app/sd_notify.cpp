// The systemd notification protocol, spoken directly instead of through libsystemd (which pulls
// libgcrypt, libzstd, liblzma, liblz4 and libcap into every vipd process for one sendto: about
// 1 MB of resident memory). systemd documents the protocol as stable and open to reimplementation
// (sd_notify(3), "Service Manager Notifications"): one AF_UNIX datagram of newline-separated
// KEY=VALUE lines to the socket named by $NOTIFY_SOCKET; '@' at its start means the abstract
// namespace (the '@' becomes a NUL byte).
#include "app/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

namespace vipd::app::sd {

int notify_to(std::string_view address, std::string_view message) {
  if (address.empty()) return 0;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  // An abstract name may use the whole of sun_path (no terminating NUL); a path needs its NUL.
  const bool abstract = address.front() == '@';
  if (!abstract && address.front() != '/') return -EAFNOSUPPORT;
  if (address.size() > sizeof(addr.sun_path) - (abstract ? 0 : 1)) return -EINVAL;
  std::memcpy(addr.sun_path, address.data(), address.size());
  if (abstract) addr.sun_path[0] = '\0';
  // Abstract names are length-delimited, so the address length must not count a trailing NUL.
  const auto len =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address.size() + (abstract ? 0 : 1));

  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int rc = 0;
  const ssize_t n = ::sendto(fd, message.data(), message.size(), MSG_NOSIGNAL,
                             reinterpret_cast<const sockaddr*>(&addr), len);
  if (n < 0) {
    rc = -errno;
  } else if (static_cast<size_t>(n) != message.size()) {
    rc = -EMSGSIZE;  // a datagram is sent whole or not at all; kept for clarity
  }
  ::close(fd);
  return rc;
}

int notify(std::string_view message) {
  const char* address = std::getenv("NOTIFY_SOCKET");
  return address ? notify_to(address, message) : 0;
}

void ready() { notify("READY=1\nSTATUS=running"); }

void reloading() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const auto usec = static_cast<unsigned long long>(ts.tv_sec) * 1000000ULL +
                    static_cast<unsigned long long>(ts.tv_nsec) / 1000ULL;
  notify("RELOADING=1\nSTATUS=reloading\nMONOTONIC_USEC=" + std::to_string(usec));
}

void stopping() { notify("STOPPING=1\nSTATUS=stopping: masters release their VIPs"); }

}  // namespace vipd::app::sd
