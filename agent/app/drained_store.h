// Drained instances survive a restart (DESIGN.md §7): one name per line in state_dir/drained,
// written atomically (a temporary file, then rename).
#pragma once

#include <set>
#include <string>

namespace vipd::app {

class DrainedStore {
 public:
  explicit DrainedStore(std::string state_dir) : dir_(std::move(state_dir)) {}
  void set_dir(std::string state_dir) { dir_ = std::move(state_dir); }
  /// Reads the saved set (a missing file is an empty set).
  void load();
  /// Marks or unmarks `name` and saves the set; a failure to save is logged (the drain still
  /// holds until vipd restarts).
  void set(const std::string& name, bool drained);
  [[nodiscard]] bool contains(const std::string& name) const { return names_.count(name) > 0; }
  /// The file, for messages.
  [[nodiscard]] std::string path() const;

 private:
  void save() const;
  std::string dir_;
  std::set<std::string> names_;
};

}  // namespace vipd::app
