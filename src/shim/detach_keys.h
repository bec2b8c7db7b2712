#pragma once

// Docker's detach keys: the byte sequence that, typed on an attached stdin, ends the attach and
// leaves the container running (default ctrl-p,ctrl-q).

#include <string>
#include <string_view>

namespace berth::shim {

inline constexpr std::string_view kDefaultDetachKeys = "ctrl-p,ctrl-q";

// Parses Docker's --detach-keys syntax: comma-separated entries, each a single character
// (taken as is) or `ctrl-<x>` with x a letter (either case) or one of @ [ \ ] ^ _ (also
// `ctrl-\\`); as in Docker, "," itself cannot be a key. "" means the default. Returns the byte
// sequence; throws berth::Error (kInvalidArgument) naming the bad entry.
std::string ParseDetachKeys(std::string_view spec);

// Finds the sequence in a stream of stdin bytes fed in pieces of any size. Bytes that could
// still start the sequence are held back; once the match fails they are forwarded, so the
// output is the input minus a completed sequence (and what followed it).
class DetachMatcher {
 public:
  explicit DetachMatcher(std::string keys) : keys_(std::move(keys)) {}

  // Appends the bytes of `in` that go to the container to `*out`. Returns true when the
  // sequence completed: the attach ends, and the rest of `in` is dropped.
  bool Feed(std::string_view in, std::string* out);

  // Bytes held back as a possible start of the sequence.
  const std::string& held() const { return held_; }

 private:
  std::string keys_;
  std::string held_;
};

}  // namespace berth::shim
