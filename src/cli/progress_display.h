#pragma once

#include <map>
#include <ostream>
#include <string>

#include <nlohmann/json.hpp>

// The docker CLI's rendering of a progress stream (moby jsonmessage.DisplayJSONMessagesStream):
// on a terminal one line per layer id, redrawn in place with a progress bar; elsewhere one
// line per status change and no progress lines.

namespace berth::cli {

// JSONProgress.String(): "[=====>     ]  1.2MB/3.4MB" (the bar only when the terminal is wider
// than 110 columns), the size alone when the total is unknown.
std::string FormatProgress(uint64_t current, uint64_t total, int width);

class JsonMessageDisplay {
 public:
  JsonMessageDisplay(std::ostream& out, bool terminal, int width = 0)
      : out_(out), terminal_(terminal), width_(width) {}
  // Renders one message. An "error" message is not printed: it is thrown as berth::Error
  // (kUnavailable) with its text, as the docker CLI ends on one.
  void Show(const nlohmann::json& message);

 private:
  std::ostream& out_;
  bool terminal_;
  int width_;
  std::map<std::string, size_t> lines_;  // id → its line, counted from the first
};

}  // namespace berth::cli
