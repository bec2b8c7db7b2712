#include "build/dockerignore.h"

#include "base/error.h"

namespace berth::build {
namespace {

// Checks the syntax of `p` ('[' closed, '\' not last); an error message or "".
std::string PatternError(std::string_view p) {
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == '\\') {
      if (i + 1 >= p.size()) return "a trailing '\\' escapes nothing";
      ++i;
    } else if (p[i] == '[') {
      size_t j = i + 1;
      if (j < p.size() && p[j] == '^') ++j;
      bool any = false;
      while (j < p.size() && (p[j] != ']' || !any)) {
        if (p[j] == '\\') ++j;
        any = true;
        ++j;
      }
      if (j >= p.size()) return "unterminated '[' character class";
      i = j;
    }
  }
  return {};
}

// Matches a '[...]' class at p[i] against c; advances i past it.
bool MatchClass(std::string_view p, size_t& i, char c) {
  ++i;  // '['
  bool negate = false;
  if (i < p.size() && p[i] == '^') {
    negate = true;
    ++i;
  }
  bool matched = false;
  bool first = true;
  while (i < p.size() && (p[i] != ']' || first)) {
    first = false;
    char lo = p[i];
    if (lo == '\\' && i + 1 < p.size()) lo = p[++i];
    ++i;
    char hi = lo;
    if (i + 1 < p.size() && p[i] == '-' && p[i + 1] != ']') {
      hi = p[i + 1];
      i += 2;
      if (hi == '\\' && i < p.size()) hi = p[i++];
    }
    if (c >= lo && c <= hi) matched = true;
  }
  ++i;  // ']'
  return matched != negate;
}

// Matches p[pi:] against s[si:]. `failed` remembers the (pi, si) pairs already known not to
// match, which keeps patterns with many stars linear in practice instead of exponential.
class Matcher {
 public:
  Matcher(std::string_view p, std::string_view s)
      : p_(p), s_(s), failed_((p.size() + 1) * (s.size() + 1), false) {}

  bool Match(size_t pi, size_t si) {
    size_t slot = pi * (s_.size() + 1) + si;
    if (failed_[slot]) return false;
    bool ok = Step(pi, si);
    if (!ok) failed_[slot] = true;
    return ok;
  }

 private:
  bool Step(size_t pi, size_t si) {
    std::string_view p = p_, s = s_;
    while (pi < p.size()) {
      char c = p[pi];
      if (c == '*') {
        if (pi + 1 < p.size() && p[pi + 1] == '*') {
          // "**" at the end matches anything; elsewhere (a "/" after it is eaten) zero or
          // more leading path elements: nothing, or anything up to and including a '/'.
          size_t after = pi + 2;
          if (after < p.size() && p[after] == '/') ++after;
          if (after >= p.size()) return true;
          if (Match(after, si)) return true;
          for (size_t k = si; k < s.size(); ++k) {
            if (s[k] == '/' && Match(after, k + 1)) return true;
          }
          return false;
        }
        for (size_t k = si; k <= s.size(); ++k) {
          if (Match(pi + 1, k)) return true;
          if (k < s.size() && s[k] == '/') break;
        }
        return false;
      }
      if (si >= s.size()) return false;
      if (c == '?') {
        if (s[si] == '/') return false;
        ++pi;
        ++si;
      } else if (c == '[') {
        if (s[si] == '/' || !MatchClass(p, pi, s[si])) return false;
        ++si;
      } else {
        if (c == '\\' && pi + 1 < p.size()) c = p[++pi];
        if (s[si] != c) return false;
        ++pi;
        ++si;
      }
    }
    return si == s.size();
  }

  std::string_view p_, s_;
  std::vector<bool> failed_;
};

}  // namespace

std::string CleanPath(std::string_view path) {
  bool abs = !path.empty() && path[0] == '/';
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i <= path.size()) {
    size_t slash = path.find('/', i);
    std::string_view part =
        path.substr(i, slash == std::string_view::npos ? std::string_view::npos : slash - i);
    i = slash == std::string_view::npos ? path.size() + 1 : slash + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty() && parts.back() != "..") {
        parts.pop_back();
      } else if (!abs) {
        parts.push_back(part);
      }
      continue;
    }
    parts.push_back(part);
  }
  std::string out = abs ? "/" : "";
  for (size_t k = 0; k < parts.size(); ++k) {
    if (k > 0) out += '/';
    out += parts[k];
  }
  return out.empty() ? "." : out;
}

bool PatternMatch(std::string_view pattern, std::string_view path) {
  if (!PatternError(pattern).empty()) return false;
  // A leading "**" followed by plain text is a suffix test ("**.go" matches "a/b.go", "**/x"
  // also matches "x"), as patternmatcher classifies it.
  if (pattern.substr(0, 2) == "**" &&
      pattern.find_first_of("*?[]\\", 2) == std::string_view::npos) {
    std::string_view suffix = pattern.substr(2);
    if (path.size() >= suffix.size() && path.substr(path.size() - suffix.size()) == suffix) {
      return true;
    }
    return !suffix.empty() && suffix[0] == '/' && path == suffix.substr(1);
  }
  return Matcher(pattern, path).Match(0, 0);
}

std::vector<IgnorePattern> ParseDockerignore(std::string_view text) {
  std::vector<IgnorePattern> out;
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  int line = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view l = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line;
    if (!l.empty() && l[0] == '#') continue;
    auto trim = [](std::string_view s) {
      while (!s.empty() && isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
      while (!s.empty() && isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
      return s;
    };
    l = trim(l);
    if (l.empty()) continue;
    IgnorePattern p;
    p.line = line;
    if (l[0] == '!') {
      p.exception = true;
      l = trim(l.substr(1));
    }
    if (p.exception && l.empty()) {
      ThrowInvalid(".dockerignore:" + std::to_string(line) + ": illegal exclusion pattern: \"!\"");
    }
    std::string pat;
    if (!l.empty()) {
      pat = CleanPath(l);
      if (pat.size() > 1 && pat[0] == '/') pat = pat.substr(1);
    }
    std::string err = PatternError(pat);
    if (!err.empty()) {
      ThrowInvalid(".dockerignore:" + std::to_string(line) + ": bad pattern \"" + pat +
                   "\": " + err);
    }
    p.pattern = std::move(pat);
    out.push_back(std::move(p));
  }
  return out;
}

IgnoreMatcher::IgnoreMatcher(std::vector<IgnorePattern> patterns) : patterns_(std::move(patterns)) {
  for (const IgnorePattern& p : patterns_) {
    std::string err = PatternError(p.pattern);
    if (!err.empty()) ThrowInvalid("bad .dockerignore pattern \"" + p.pattern + "\": " + err);
  }
}

bool IgnoreMatcher::Excluded(std::string_view path) const {
  std::string clean = CleanPath(path);
  bool matched = false;
  for (const IgnorePattern& p : patterns_) {
    // An exclusion cannot change an already excluded path, nor an exception an included one.
    if (p.exception != matched) continue;
    bool m = PatternMatch(p.pattern, clean);
    // ... or one of its parent directories.
    for (size_t slash = clean.find('/'); !m && slash != std::string::npos;
         slash = clean.find('/', slash + 1)) {
      m = PatternMatch(p.pattern, std::string_view(clean).substr(0, slash));
    }
    if (m) matched = !p.exception;
  }
  return matched;
}

bool IgnoreMatcher::MayReinclude(std::string_view dir) const {
  std::string clean = CleanPath(dir);
  for (const IgnorePattern& p : patterns_) {
    if (!p.exception) continue;
    // Conservative: any exception with a wildcard, or one that names something below dir.
    if (p.pattern.find_first_of("*?[\\") != std::string::npos) return true;
    if (p.pattern.size() > clean.size() && p.pattern.compare(0, clean.size(), clean) == 0 &&
        p.pattern[clean.size()] == '/') {
      return true;
    }
  }
  return false;
}

}  // namespace berth::build
