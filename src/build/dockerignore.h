#pragma once

#include <string>
#include <string_view>
#include <vector>

// .dockerignore as Docker reads it (moby/patternmatcher and its ignorefile reader): one
// pattern a line, '#' comments, '!' exceptions, paths cleaned ("./a/../b/" is "b") and made
// relative ("/a" is "a"); '*' and '?' within one path element, '**' across any number of
// them, '[...]' classes, '\' escapes. A path is excluded by the last pattern that matches it
// or one of its parent directories.

namespace berth::build {

struct IgnorePattern {
  std::string pattern;  // cleaned, without '!'
  bool exception = false;
  int line = 0;
};

// Reads a .dockerignore. Throws berth::Error (kInvalidArgument) naming the line for a
// malformed pattern (an unterminated '[').
std::vector<IgnorePattern> ParseDockerignore(std::string_view text);

// Cleans a path the way Go's filepath.Clean does ("a//b/./c/.." -> "a/b"; "" -> ".").
std::string CleanPath(std::string_view path);

// Whether `pattern` (Docker's syntax) matches the whole of `path` (both '/'-separated).
bool PatternMatch(std::string_view pattern, std::string_view path);

class IgnoreMatcher {
 public:
  IgnoreMatcher() = default;
  explicit IgnoreMatcher(std::vector<IgnorePattern> patterns);

  // Whether `path` (relative to the context root) is excluded from the context.
  bool Excluded(std::string_view path) const;
  // Whether anything under the excluded directory `dir` could be re-included by an exception
  // (the walker must then descend into it).
  bool MayReinclude(std::string_view dir) const;
  bool empty() const { return patterns_.empty(); }
  const std::vector<IgnorePattern>& patterns() const { return patterns_; }

 private:
  std::vector<IgnorePattern> patterns_;
};

}  // namespace berth::build
