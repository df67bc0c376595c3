// A pre-parse check: TOML 1.0 allows non-ASCII characters only inside strings and comments.
// Debian's toml++ 3.3.0 reaches __builtin_unreachable() (undefined behaviour: a crash or worse in
// a release build) on some non-ASCII code points where it expects whitespace, e.g. U+00A1..U+0499
// outside a string (found by tests/fuzz/fuzz_config.cpp). Such a file is invalid TOML anyway: it
// is refused with its position before toml++ sees it.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace vipd::config {

struct TextPosition {
  std::uint32_t line = 1;    // 1-based
  std::uint32_t column = 1;  // 1-based, in characters (UTF-8 code points)
};

/// The position of the first byte >= 0x80 that is outside every string and comment, if any.
std::optional<TextPosition> non_ascii_outside_strings(std::string_view text);

}  // namespace vipd::config
