// libFuzzer harness for the configuration loader (`vipd check`): arbitrary bytes as a TOML file.
// Properties: no crash, no hang (libFuzzer's -timeout); a result is valid exactly when no error
// was reported; every diagnostic names the file and a position.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "config/config.h"

namespace {

void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_config: property violated: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto result = vipd::config::load_string(text, "fuzz.toml");
  bool any_error = false;
  for (const auto& d : result.diagnostics) {
    any_error = any_error || d.severity == vipd::config::Diagnostic::Severity::Error;
    require(d.format().rfind("fuzz.toml:", 0) == 0, "a diagnostic without FILE:LINE:COL");
  }
  require(result.ok() == !any_error, "ok() disagrees with the error diagnostics");
  return 0;
}
