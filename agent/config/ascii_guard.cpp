// Finds non-ASCII characters outside TOML strings and comments (see ascii_guard.h).
#include "config/ascii_guard.h"

namespace vipd::config {

std::optional<TextPosition> non_ascii_outside_strings(std::string_view text) {
  enum class In { Code, Comment, Basic, Literal, MultiBasic, MultiLiteral };
  In in = In::Code;
  TextPosition pos;
  // The last character in code that is not a space or tab. A quote opens a string only where TOML
  // lets one start — a value after '=', '[' or ',' or '{', or a key at the start of a line or
  // after '.' — so `x = 0/64"…` cannot hide what follows from this check (fuzz_config found that
  // toml++ then scans the "string" as part of a bare value).
  unsigned char last = '\n';
  const auto may_open_string = [&] {
    return last == '=' || last == '[' || last == ',' || last == '{' || last == '\n' || last == '.';
  };
  const auto starts = [&](std::size_t i, std::string_view s) {
    return text.substr(i, s.size()) == s;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    const TextPosition here = pos;
    // Advance the position: a new line, or one more character (UTF-8 continuation bytes do not
    // start a character).
    if (c == '\n') {
      ++pos.line;
      pos.column = 1;
    } else if ((c & 0xC0) != 0x80) {
      ++pos.column;
    }
    switch (in) {
      case In::Code: {
        if (c >= 0x80) return here;
        const bool quote_opens = may_open_string();
        if (c != ' ' && c != '\t') last = c;
        if (c == '#') {
          in = In::Comment;
        } else if (!quote_opens) {
          // not a place where a string starts: the quote is code (toml++ reports it)
        } else if (starts(i, "\"\"\"")) {
          in = In::MultiBasic;
          i += 2;
          pos.column += 2;
        } else if (starts(i, "'''")) {
          in = In::MultiLiteral;
          i += 2;
          pos.column += 2;
        } else if (c == '"') {
          in = In::Basic;
        } else if (c == '\'') {
          in = In::Literal;
        }
        break;
      }
      case In::Comment:
        if (c == '\n') {
          in = In::Code;
          last = '\n';
        }
        break;
      case In::Basic:
        if (c == '\\' && i + 1 < text.size() && text[i + 1] != '\n') {
          ++i;  // the escaped character (a quote or backslash) does not end the string
          if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++pos.column;
        } else if (c == '"' || c == '\n') {  // an unterminated string is toml++'s to report
          in = In::Code;
          last = c;
        }
        break;
      case In::Literal:
        if (c == '\'' || c == '\n') {
          in = In::Code;
          last = c;
        }
        break;
      case In::MultiBasic:
      case In::MultiLiteral: {
        const char quote = in == In::MultiBasic ? '"' : '\'';
        if (in == In::MultiBasic && c == '\\' && i + 1 < text.size()) {
          ++i;
          if (text[i] == '\n') {
            ++pos.line;
            pos.column = 1;
          } else if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
            ++pos.column;
          }
        } else if (c == static_cast<unsigned char>(quote) && i + 2 < text.size() &&
                   text[i + 1] == quote && text[i + 2] == quote) {
          i += 2;
          pos.column += 2;
          // Up to two more quotes belong to the string's content (TOML 1.0 §String).
          for (int extra = 0; extra < 2 && i + 1 < text.size() && text[i + 1] == quote; ++extra) {
            ++i;
            ++pos.column;
          }
          in = In::Code;
          last = c;
        }
        break;
      }
    }
  }
  return std::nullopt;
}

}  // namespace vipd::config
