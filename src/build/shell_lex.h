#pragma once

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

// Variable substitution in Dockerfile words, by the rules of BuildKit's shell lexer: `$v`,
// `${v}`, `${v:-w}` `${v-w}` `${v:+w}` `${v+w}` `${v:?msg}` `${v?msg}`, the pattern forms
// `${v#p}` `${v##p}` `${v%p}` `${v%%p}`, single quotes (literal), double quotes (expanding),
// and the Dockerfile's escape character. Quotes and escapes are removed from the result.

namespace berth::build {

// The value of a variable, or nullopt when it is not set.
using Lookup = std::function<std::optional<std::string>(std::string_view name)>;

struct ExpandStats {
  std::set<std::string> matched;    // names looked up and found
  std::set<std::string> unmatched;  // names used plainly ($v, ${v}) and not set
};

class ShellLex {
 public:
  explicit ShellLex(char escape = '\\') : escape_(escape) {}

  // Expands `word` as one word: whitespace is kept as is. Throws berth::Error
  // (kInvalidArgument) on an unterminated quote, a missing '}', a bad substitution or a
  // `${v:?msg}` whose variable is unset.
  std::string ProcessWord(std::string_view word, const Lookup& env,
                          ExpandStats* stats = nullptr) const;

  // Expands `text` and splits it into words at unquoted whitespace, including whitespace that
  // unquoted expansions produce ("" is an empty word).
  std::vector<std::string> ProcessWords(std::string_view text, const Lookup& env,
                                        ExpandStats* stats = nullptr) const;

  // Expands the body of an unquoted heredoc as a shell would: only `$` expansions and the
  // escape character before `$`, the escape character or a newline are special; quotes are
  // kept as written.
  std::string ProcessHeredoc(std::string_view body, const Lookup& env,
                             ExpandStats* stats = nullptr) const;

  char escape() const { return escape_; }

 private:
  char escape_;
};

}  // namespace berth::build
