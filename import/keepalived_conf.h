// keepalived.conf reader for `vipd import`: tokens with file:line, `!`/`#` comments, quoted
// strings, `include` (glob, relative to the including file), blocks in braces -> a tree.
#pragma once

#include <string>
#include <vector>

namespace vipd::import {

/// One note for the operator: "FILE:LINE: note|warning|error: MESSAGE".
struct Note {
  enum class Kind { Note, Warning, Error } kind = Kind::Note;
  std::string file;
  int line = 0;
  std::string message;
  [[nodiscard]] std::string format() const;
};

/// One statement: `keyword arg arg ... [{ children }]`.
struct Stmt {
  std::string key;
  std::vector<std::string> args;
  std::vector<Stmt> children;
  bool block = false;
  std::string file;
  int line = 0;
};

/// Parses `path` (following includes). Problems (unreadable file, unbalanced braces, include
/// depth) are appended to `notes` as errors.
std::vector<Stmt> parse_file(const std::string& path, std::vector<Note>& notes);
/// Parses text (for tests); includes resolve relative to `dir`.
std::vector<Stmt> parse_text(const std::string& text, const std::string& name,
                             const std::string& dir, std::vector<Note>& notes);

}  // namespace vipd::import
