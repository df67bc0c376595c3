// The drained-state store (drained_store.h).
#include "app/drained_store.h"

#include <filesystem>
#include <fstream>

#include <spdlog/spdlog.h>

#include "app/text.h"

namespace vipd::app {

std::string DrainedStore::path() const {
  return (std::filesystem::path(dir_) / "drained").string();
}

void DrainedStore::load() {
  std::ifstream in(path());
  std::string line;
  while (std::getline(in, line))
    if (!trim(line).empty()) names_.insert(trim(line));
}

void DrainedStore::set(const std::string& name, bool drained) {
  if (drained)
    names_.insert(name);
  else
    names_.erase(name);
  save();
}

void DrainedStore::save() const {
  const std::filesystem::path dir = dir_;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  const auto tmp = dir / "drained.tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    for (const auto& name : names_) out << name << "\n";
    if (!out) {
      spdlog::error(
          "cannot save the drained state to {}: the drain holds until vipd restarts (check that "
          "state_dir exists and is writable)",
          tmp.string());
      return;
    }
  }
  std::filesystem::rename(tmp, dir / "drained", ec);
  if (ec) spdlog::error("cannot save the drained state in {}: {}", dir.string(), ec.message());
}

}  // namespace vipd::app
