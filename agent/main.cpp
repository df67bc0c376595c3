// vipd: command line (run, check, cleanup, status, drain, version).
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "app/agent.h"
#include "app/cleanup.h"
#include "cli/status_client.h"
#include "config/config.h"
#include "import/keepalived_import.h"
#include "platform_linux.h"

#ifndef VIPD_VERSION
#define VIPD_VERSION "0.0.0"
#endif

namespace {

void print_diagnostics(const vipd::config::LoadResult& result) {
  for (const auto& d : result.diagnostics) std::cerr << d.format() << "\n";
}

int cmd_check(const std::string& path) {
  const auto result = vipd::config::load_file(path);
  print_diagnostics(result);
  if (!result.ok()) {
    std::size_t errors = 0;
    for (const auto& d : result.diagnostics)
      if (d.severity == vipd::config::Diagnostic::Severity::Error) ++errors;
    std::cerr << path << ": " << errors << " error(s); the configuration is not valid\n";
    return 1;
  }
  std::cout << path << ": the configuration is valid (" << result.config->instances.size()
            << " instance(s), " << result.config->checks.size() << " check(s))\n";
  return 0;
}

int cmd_cleanup(const std::string& path) {
  const auto result = vipd::config::load_file(path);
  if (!result.ok()) {
    print_diagnostics(result);
    std::cerr << path << ": the configuration has errors; no VIP removed\n";
    return 1;
  }
  vipd::LinuxPlatform platform;
  const int vips = vipd::app::cleanup_vips(*result.config, platform, std::cout, std::cerr);
  const int routes = vipd::app::cleanup_routes(*result.config, platform, std::cout, std::cerr);
  return vips != 0 ? vips : routes;
}

int cmd_run(const std::string& path) {
  auto logger = spdlog::stderr_color_mt("vipd");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  auto result = vipd::config::load_file(path);
  for (const auto& d : result.diagnostics)
    spdlog::log(d.severity == vipd::config::Diagnostic::Severity::Error ? spdlog::level::err
                                                                        : spdlog::level::warn,
                "{}", d.format());
  if (!result.ok()) {
    spdlog::error("{}: the configuration has errors; not starting (vipd check -c {} lists them)",
                  path, path);
    return 1;
  }
  spdlog::set_level(spdlog::level::from_str(result.config->agent.log_level));
  spdlog::info("vipd {} starting on node {} with {}", VIPD_VERSION, result.config->agent.node_name,
               path);
  vipd::LinuxPlatform platform;
  vipd::app::Agent agent(std::move(*result.config), VIPD_VERSION, platform);
  if (!agent.prepare()) {
    spdlog::error("not starting: fix the problems above");
    return 1;
  }
  const int rc = agent.run();
  spdlog::info("stopped");
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vipd: a high-availability sidecar for nginx and HAProxy (VRRP v3/v2)"};
  app.require_subcommand(0, 1);
  std::string config_path = "/etc/vipd/vipd.toml";
  app.add_option("-c,--config", config_path, "configuration file")->capture_default_str();
  bool version_flag = false;  // `vipd --version`, as operators type it (same as `vipd version`)
  app.add_flag("-V,--version", version_flag, "print version and build information");

  auto* run = app.add_subcommand("run", "run the agent in the foreground (default)");
  run->add_option("-c,--config", config_path, "configuration file")->capture_default_str();
  auto* check = app.add_subcommand("check", "validate the configuration (exit 1 on error)");
  check->add_option("-c,--config", config_path, "configuration file")->capture_default_str();
  auto* cleanup = app.add_subcommand(
      "cleanup", "remove this configuration's VIPs (after a crash; the unit's ExecStopPost)");
  cleanup->add_option("-c,--config", config_path, "configuration file")->capture_default_str();
  auto* status = app.add_subcommand("status", "print the state of a running agent");
  std::string url = "http://127.0.0.1:9555";
  bool json = false;
  status->add_option("--url", url, "the agent's API address")->capture_default_str();
  status->add_flag("--json", json, "print the raw /status document");
  auto* version = app.add_subcommand("version", "print version and build information");
  auto* import = app.add_subcommand(
      "import",
      "convert a keepalived.conf to vipd TOML on stdout (notes on stderr; exit 1 when "
      "something could not be carried over)");
  std::string import_path;
  import->add_option("file", import_path, "keepalived.conf")->required();
  std::string token_file = "/etc/vipd/api.token";
  std::string instance;
  double wait = 10;
  auto* drain = app.add_subcommand("drain", "planned handover: hand the VIPs to a peer");
  auto* undrain = app.add_subcommand("undrain", "undo a drain");
  for (auto* sub : {drain, undrain}) {
    sub->add_option("--url", url, "the agent's API address")->capture_default_str();
    sub->add_option("--token-file", token_file, "file holding the API bearer token")
        ->capture_default_str();
    sub->add_option("--instance", instance, "only this instance (default: all)");
  }
  drain->add_option("--wait", wait, "seconds to wait for the handover (0: do not wait)")
      ->capture_default_str();

  CLI11_PARSE(app, argc, argv);

  if (*version || version_flag) {
    std::cout << "vipd " << VIPD_VERSION << " (C++" << __cplusplus / 100 % 100 << ", "
              << __VERSION__ << ", built " << __DATE__ << ")\n";
    return 0;
  }
  if (*check) return cmd_check(config_path);
  if (*import) {
    const auto r = vipd::import::import_file(import_path);
    for (const auto& n : r.notes) std::cerr << n.format() << "\n";
    std::cout << r.toml;
    if (!r.complete()) {
      std::cerr << import_path
                << ": not everything could be carried over (errors above); the output holds "
                   "the rest\n";
      return 1;
    }
    return 0;
  }
  if (*cleanup) return cmd_cleanup(config_path);
  if (*status) return vipd::cli::run_status(url, json);
  if (*drain) return vipd::cli::run_drain(url, token_file, instance, true, wait);
  if (*undrain) return vipd::cli::run_drain(url, token_file, instance, false, 0);
  return cmd_run(config_path);
}
