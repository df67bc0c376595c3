// systemd readiness protocol (sd_notify(3)) for `Type=notify` units. Every call is a no-op when
// the process was not started by systemd ($NOTIFY_SOCKET unset): containers, the lab, a shell.
#pragma once

namespace vipd::app::sd {

/// READY=1: the API listens and the instances have started.
void ready();
/// RELOADING=1 (+ MONOTONIC_USEC): a SIGHUP reload begins; follow it with ready().
void reloading();
/// STOPPING=1: a graceful stop begins (masters release their VIPs).
void stopping();

}  // namespace vipd::app::sd
