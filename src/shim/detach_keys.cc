#include "shim/detach_keys.h"

#include <cctype>

#include "base/error.h"

namespace berth::shim {
namespace {

// The control character for `ctrl-<c>`, or -1.
int ControlCode(std::string_view c) {
  if (c == "\\\\") {
    return 28;  // `ctrl-\\`, the Go-escaped spelling of ctrl-backslash
  }
  if (c.size() != 1) {
    return -1;
  }
  unsigned char x = static_cast<unsigned char>(c[0]);
  if (std::isalpha(x)) {
    return std::tolower(x) - 'a' + 1;
  }
  switch (x) {
    case '@':
      return 0;
    case '[':
      return 27;
    case '\\':
      return 28;
    case ']':
      return 29;
    case '^':
      return 30;
    case '_':
      return 31;
    default:
      return -1;
  }
}

}  // namespace

std::string ParseDetachKeys(std::string_view spec) {
  if (spec.empty()) {
    spec = kDefaultDetachKeys;
  }
  std::string keys;
  size_t start = 0;
  while (true) {
    size_t comma = spec.find(',', start);
    std::string_view key = spec.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    if (key.size() == 1) {
      keys.push_back(key[0]);
    } else {
      int code = -1;
      if (key.size() > 5) {
        std::string prefix(key.substr(0, 5));
        for (char& ch : prefix) {
          ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        }
        if (prefix == "ctrl-") {
          code = ControlCode(key.substr(5));
        }
      }
      if (code < 0) {
        ThrowInvalid("invalid detach keys \"" + std::string(spec) + "\": unknown key \"" +
                     std::string(key) + "\"");
      }
      keys.push_back(static_cast<char>(code));
    }
    if (comma == std::string_view::npos) {
      break;
    }
    start = comma + 1;
  }
  return keys;
}

bool DetachMatcher::Feed(std::string_view in, std::string* out) {
  if (keys_.empty()) {
    out->append(in);
    return false;
  }
  for (char c : in) {
    held_.push_back(c);
    // Forward from the front until what is held is a prefix of the sequence again.
    while (!held_.empty() && keys_.compare(0, held_.size(), held_) != 0) {
      out->push_back(held_.front());
      held_.erase(0, 1);
    }
    if (held_.size() == keys_.size()) {
      held_.clear();
      return true;
    }
  }
  return false;
}

}  // namespace berth::shim
