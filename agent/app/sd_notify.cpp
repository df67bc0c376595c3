// Thin wrapper over libsystemd's sd_notify(): keeps <systemd/sd-daemon.h> out of the agent.
#include "app/sd_notify.h"

#include <systemd/sd-daemon.h>

#include <ctime>
#include <string>

namespace vipd::app::sd {

void ready() { sd_notify(0, "READY=1\nSTATUS=running"); }

void reloading() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const auto usec = static_cast<unsigned long long>(ts.tv_sec) * 1000000ULL +
                    static_cast<unsigned long long>(ts.tv_nsec) / 1000ULL;
  const std::string msg = "RELOADING=1\nSTATUS=reloading\nMONOTONIC_USEC=" + std::to_string(usec);
  sd_notify(0, msg.c_str());
}

void stopping() { sd_notify(0, "STOPPING=1\nSTATUS=stopping: masters release their VIPs"); }

}  // namespace vipd::app::sd
