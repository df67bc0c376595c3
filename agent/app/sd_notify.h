// systemd readiness protocol (sd_notify(3)) for `Type=notify` units, spoken directly (no
// libsystemd). Every call is a no-op when the process was not started by systemd ($NOTIFY_SOCKET
// unset): containers, the lab, a shell.
#pragma once

#include <string_view>

namespace vipd::app::sd {

/// READY=1: the API listens and the instances have started.
void ready();
/// RELOADING=1 (+ MONOTONIC_USEC): a SIGHUP reload begins; follow it with ready().
void reloading();
/// STOPPING=1: a graceful stop begins (masters release their VIPs).
void stopping();

/// Sends one notification datagram to `address` (a $NOTIFY_SOCKET value): an absolute path, or
/// '@' followed by an abstract-namespace name. Returns 0 on success, -errno on failure
/// (-EAFNOSUPPORT for an address of another form, e.g. a relative path or "vsock:...", which vipd
/// does not speak). An empty `address` sends nothing and returns 0.
int notify_to(std::string_view address, std::string_view message);

/// notify_to($NOTIFY_SOCKET, message); 0 without sending when the variable is unset or empty.
int notify(std::string_view message);

}  // namespace vipd::app::sd
