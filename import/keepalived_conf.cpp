// keepalived.conf tokenizer and tree builder (see keepalived_conf.h). keepalived's grammar is line
// oriented: a statement is the words of one line; `{` opens a block of statements, `}` closes
// it; `!` and `#` start a comment outside quotes.
#include "import/keepalived_conf.h"

#include <glob.h>

#include <fstream>
#include <optional>
#include <sstream>

namespace vipd::import {
namespace {

constexpr int kMaxIncludeDepth = 8;

struct Token {
  std::string text;
  bool quoted = false;
  bool newline = false;  // end of a line
  std::string file;
  int line = 0;
};

void tokenize(const std::string& text, const std::string& file, const std::string& dir, int depth,
              std::vector<Token>& out, std::vector<Note>& notes);

void include(const std::string& pattern, const Token& at, const std::string& dir, int depth,
             std::vector<Token>& out, std::vector<Note>& notes) {
  if (depth >= kMaxIncludeDepth) {
    notes.push_back(
        {Note::Kind::Error, at.file, at.line,
         "include nested deeper than " + std::to_string(kMaxIncludeDepth) + " levels (a loop?)"});
    return;
  }
  const std::string full = !pattern.empty() && pattern[0] == '/' ? pattern : dir + "/" + pattern;
  glob_t g{};
  const int rc = ::glob(full.c_str(), 0, nullptr, &g);
  if (rc != 0) {
    notes.push_back({Note::Kind::Warning, at.file, at.line,
                     "include " + pattern + ": no file matches (keepalived skips it too)"});
    ::globfree(&g);
    return;
  }
  for (std::size_t i = 0; i < g.gl_pathc; ++i) {
    const std::string path = g.gl_pathv[i];
    std::ifstream in(path);
    if (!in) {
      notes.push_back({Note::Kind::Error, at.file, at.line, "include " + path + ": cannot read"});
      continue;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    const auto slash = path.rfind('/');
    tokenize(ss.str(), path, slash == std::string::npos ? "." : path.substr(0, slash), depth + 1,
             out, notes);
  }
  ::globfree(&g);
}

void tokenize(const std::string& text, const std::string& file, const std::string& dir, int depth,
              std::vector<Token>& out, std::vector<Note>& notes) {
  std::istringstream lines(text);
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    ++n;
    std::vector<Token> words;
    std::size_t i = 0;
    while (i < line.size()) {
      const char c = line[i];
      if (c == ' ' || c == '\t' || c == '\r') {
        ++i;
      } else if (c == '!' || c == '#') {
        break;
      } else if (c == '{' || c == '}') {
        words.push_back({std::string(1, c), false, false, file, n});
        ++i;
      } else if (c == '"') {
        const auto end = line.find('"', i + 1);
        if (end == std::string::npos) {
          notes.push_back({Note::Kind::Error, file, n, "unterminated quoted string"});
          words.push_back({line.substr(i + 1), true, false, file, n});
          break;
        }
        words.push_back({line.substr(i + 1, end - i - 1), true, false, file, n});
        i = end + 1;
      } else {
        std::size_t j = i;
        while (j < line.size() && line[j] != ' ' && line[j] != '\t' && line[j] != '\r' &&
               line[j] != '{' && line[j] != '}' && line[j] != '"') {
          ++j;
        }
        words.push_back({line.substr(i, j - i), false, false, file, n});
        i = j;
      }
    }
    if (!words.empty() && !words[0].quoted && words[0].text == "include") {
      if (words.size() != 2) {
        notes.push_back({Note::Kind::Error, file, n, "include takes one file name or pattern"});
      } else {
        include(words[1].text, words[0], dir, depth, out, notes);
      }
      continue;
    }
    for (auto& w : words) out.push_back(std::move(w));
    out.push_back({"", false, true, file, n});
  }
}

// Builds statements from tokens[pos..] until a `}` (inside a block) or the end.
std::vector<Stmt> build(const std::vector<Token>& t, std::size_t& pos, bool inside,
                        std::vector<Note>& notes) {
  std::vector<Stmt> out;
  std::optional<Stmt> cur;
  auto flush = [&] {
    if (cur) out.push_back(std::move(*cur));
    cur.reset();
  };
  while (pos < t.size()) {
    const Token& tok = t[pos++];
    if (tok.newline) {
      flush();
    } else if (!tok.quoted && tok.text == "{") {
      if (!cur) cur = Stmt{"", {}, {}, false, tok.file, tok.line};  // anonymous block
      cur->block = true;
      auto kids = build(t, pos, true, notes);
      for (auto& k : kids) cur->children.push_back(std::move(k));
      flush();
    } else if (!tok.quoted && tok.text == "}") {
      flush();
      if (!inside)
        notes.push_back({Note::Kind::Error, tok.file, tok.line, "unbalanced '}'"});
      else
        return out;
    } else if (!cur) {
      cur = Stmt{tok.text, {}, {}, false, tok.file, tok.line};
    } else {
      cur->args.push_back(tok.text);
    }
  }
  flush();
  if (inside && !t.empty()) {
    notes.push_back({Note::Kind::Error, t.back().file, t.back().line,
                     "unbalanced '{': a block is not closed at the end of the file"});
  }
  return out;
}

}  // namespace

std::string Note::format() const {
  static const char* const kKind[] = {"note", "warning", "error"};
  return file + ":" + std::to_string(line) + ": " + kKind[static_cast<int>(kind)] + ": " + message;
}

std::vector<Stmt> parse_text(const std::string& text, const std::string& name,
                             const std::string& dir, std::vector<Note>& notes) {
  std::vector<Token> tokens;
  tokenize(text, name, dir, 0, tokens, notes);
  std::size_t pos = 0;
  return build(tokens, pos, false, notes);
}

std::vector<Stmt> parse_file(const std::string& path, std::vector<Note>& notes) {
  std::ifstream in(path);
  if (!in) {
    notes.push_back({Note::Kind::Error, path, 0, "cannot read the file"});
    return {};
  }
  std::stringstream ss;
  ss << in.rdbuf();
  const auto slash = path.rfind('/');
  return parse_text(ss.str(), path, slash == std::string::npos ? "." : path.substr(0, slash),
                    notes);
}

}  // namespace vipd::import
