#include "build/shell_lex.h"

#include <fnmatch.h>

#include <cctype>

#include "base/error.h"

namespace berth::build {
namespace {

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool IsNameChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }
bool IsSpecialParam(char c) {
  return c == '@' || c == '*' || c == '#' || c == '?' || c == '-' || c == '$' || c == '!' ||
         c == '0';
}

// Collects words: characters added "cooked" split at whitespace, "raw" ones never do.
class Words {
 public:
  void Cooked(char c) {
    if (IsSpace(c)) {
      Flush();
    } else {
      word_ += c;
      present_ = true;
    }
  }
  void Cooked(std::string_view s) {
    for (char c : s) Cooked(c);
  }
  void Raw(std::string_view s) {
    word_ += s;
    present_ = true;
  }
  void Flush() {
    if (present_) {
      out_.push_back(std::move(word_));
    }
    word_.clear();
    present_ = false;
  }
  std::vector<std::string> Take() {
    Flush();
    return std::move(out_);
  }

 private:
  std::string word_;
  bool present_ = false;
  std::vector<std::string> out_;
};

class Lexer {
 public:
  Lexer(std::string_view s, char escape, const Lookup& env, ExpandStats* stats)
      : s_(s), esc_(escape), env_(env), stats_(stats) {}

  // Top level, one word.
  std::string Word() {
    std::string out;
    while (i_ < s_.size()) {
      out += Unit();
    }
    return out;
  }

  std::string Heredoc() {
    std::string out;
    while (i_ < s_.size()) {
      char c = s_[i_];
      if (c == '$') {
        out += Dollar();
      } else if (c == esc_ && i_ + 1 < s_.size() && (s_[i_ + 1] == '$' || s_[i_ + 1] == esc_)) {
        out += s_[i_ + 1];
        i_ += 2;
      } else if (c == esc_ && i_ + 1 < s_.size() && s_[i_ + 1] == '\n') {
        i_ += 2;  // a line continuation
      } else {
        out += c;
        ++i_;
      }
    }
    return out;
  }

  std::vector<std::string> SplitWords() {
    Words w;
    while (i_ < s_.size()) {
      char c = s_[i_];
      if (c == '\'' || c == '"' || c == esc_) {
        w.Raw(Unit());
      } else if (c == '$') {
        w.Cooked(Dollar());
      } else {
        w.Cooked(c);
        ++i_;
      }
    }
    return w.Take();
  }

 private:
  // One lexical unit at the top level or inside ${...}: a quoted string, an escaped
  // character, an expansion or a plain character.
  std::string Unit() {
    char c = s_[i_];
    if (c == '\'') {
      return SingleQuoted();
    }
    if (c == '"') {
      return DoubleQuoted();
    }
    if (c == '$') {
      return Dollar();
    }
    if (c == esc_) {
      ++i_;
      if (i_ >= s_.size()) {
        return {};  // a lone escape at the end is dropped
      }
      return std::string(1, s_[i_++]);
    }
    ++i_;
    return std::string(1, c);
  }

  std::string SingleQuoted() {
    size_t end = s_.find('\'', i_ + 1);
    if (end == std::string_view::npos) {
      ThrowInvalid("unexpected end of statement while looking for matching single-quote");
    }
    std::string out(s_.substr(i_ + 1, end - i_ - 1));
    i_ = end + 1;
    return out;
  }

  std::string DoubleQuoted() {
    std::string out;
    ++i_;
    while (i_ < s_.size()) {
      char c = s_[i_];
      if (c == '"') {
        ++i_;
        return out;
      }
      if (c == '$') {
        out += Dollar();
        continue;
      }
      if (c == esc_) {
        if (i_ + 1 >= s_.size()) {
          ++i_;
          continue;
        }
        char next = s_[i_ + 1];
        if (next == '"' || next == '$' || next == esc_) {
          out += next;
          i_ += 2;
          continue;
        }
      }
      out += c;
      ++i_;
    }
    ThrowInvalid("unexpected end of statement while looking for matching double-quote");
  }

  // Up to the closing '}' (consumed), expanding as at the top level.
  std::string UntilBrace() {
    std::string out;
    while (i_ < s_.size()) {
      if (s_[i_] == '}') {
        ++i_;
        return out;
      }
      out += Unit();
    }
    ThrowInvalid("missing '}' in substitution");
  }

  std::string Name() {
    std::string name;
    if (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) {
      while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) {
        name += s_[i_++];
      }
      return name;
    }
    while (i_ < s_.size() && IsNameChar(s_[i_])) {
      name += s_[i_++];
    }
    return name;
  }

  std::optional<std::string> Get(const std::string& name, bool plain) {
    std::optional<std::string> v = env_ ? env_(name) : std::nullopt;
    if (stats_ != nullptr) {
      if (v) {
        stats_->matched.insert(name);
      } else if (plain && !name.empty() && !std::isdigit(static_cast<unsigned char>(name[0])) &&
                 !IsSpecialParam(name[0])) {
        stats_->unmatched.insert(name);
      }
    }
    return v;
  }

  static std::string TrimPattern(const std::string& value, const std::string& pattern, bool prefix,
                                 bool longest) {
    size_t n = value.size();
    auto matches = [&](const std::string& part) {
      return fnmatch(pattern.c_str(), part.c_str(), 0) == 0;
    };
    if (prefix) {
      for (size_t k = 0; k <= n; ++k) {
        size_t len = longest ? n - k : k;
        if (matches(value.substr(0, len))) return value.substr(len);
      }
    } else {
      for (size_t k = 0; k <= n; ++k) {
        size_t len = longest ? n - k : k;
        if (matches(value.substr(n - len))) return value.substr(0, n - len);
      }
    }
    return value;
  }

  std::string Dollar() {
    ++i_;  // '$'
    if (i_ >= s_.size()) {
      return "$";
    }
    char c = s_[i_];
    if (c != '{') {
      std::string name;
      if (IsSpecialParam(c) && !std::isdigit(static_cast<unsigned char>(c))) {
        name = std::string(1, s_[i_++]);
      } else {
        name = Name();
      }
      if (name.empty()) {
        return "$";
      }
      return Get(name, true).value_or("");
    }
    ++i_;  // '{'
    std::string name = Name();
    if (name.empty() && i_ < s_.size() && IsSpecialParam(s_[i_]) && s_[i_] != '#') {
      name = std::string(1, s_[i_++]);
    }
    if (i_ >= s_.size()) {
      ThrowInvalid("missing '}' in substitution");
    }
    c = s_[i_];
    if (name.empty()) {
      ThrowInvalid("bad substitution");
    }
    if (c == '}') {
      ++i_;
      return Get(name, true).value_or("");
    }
    bool colon = false;
    if (c == ':') {
      colon = true;
      ++i_;
      if (i_ >= s_.size()) {
        ThrowInvalid("missing '}' in substitution");
      }
      c = s_[i_];
    }
    if (c == '-' || c == '+' || c == '?') {
      ++i_;
      std::string word = UntilBrace();
      std::optional<std::string> v = Get(name, false);
      bool set = colon ? (v && !v->empty()) : v.has_value();
      switch (c) {
        case '-':
          return set ? *v : word;
        case '+':
          return set ? word : std::string();
        default:
          if (!set) {
            ThrowInvalid(name + ": " + (word.empty() ? "is not allowed to be unset" : word));
          }
          return *v;
      }
    }
    if (!colon && (c == '#' || c == '%')) {
      ++i_;
      bool longest = false;
      if (i_ < s_.size() && s_[i_] == c) {
        longest = true;
        ++i_;
      }
      std::string pattern = UntilBrace();
      std::string value = Get(name, false).value_or("");
      return TrimPattern(value, pattern, c == '#', longest);
    }
    ThrowInvalid(std::string("unsupported modifier (") + c + ") in substitution of " + name);
  }

  std::string_view s_;
  size_t i_ = 0;
  char esc_;
  const Lookup& env_;
  ExpandStats* stats_;
};

}  // namespace

std::string ShellLex::ProcessWord(std::string_view word, const Lookup& env,
                                  ExpandStats* stats) const {
  return Lexer(word, escape_, env, stats).Word();
}

std::string ShellLex::ProcessHeredoc(std::string_view body, const Lookup& env,
                                     ExpandStats* stats) const {
  return Lexer(body, escape_, env, stats).Heredoc();
}

std::vector<std::string> ShellLex::ProcessWords(std::string_view text, const Lookup& env,
                                                ExpandStats* stats) const {
  return Lexer(text, escape_, env, stats).SplitWords();
}

}  // namespace berth::build
