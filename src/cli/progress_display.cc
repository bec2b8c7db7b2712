#include "cli/progress_display.h"

#include "base/error.h"
#include "cli/units.h"

namespace berth::cli {

using nlohmann::json;

std::string FormatProgress(uint64_t current, uint64_t total, int width) {
  char buf[64];
  if (total == 0) {
    snprintf(buf, sizeof(buf), "%8s", HumanSize(static_cast<double>(current)).c_str());
    return current == 0 ? "" : buf;
  }
  std::string bar;
  if (width > 110) {
    int percent =
        static_cast<int>(static_cast<double>(current) / static_cast<double>(total) * 100) / 2;
    percent = std::min(percent, 50);
    bar = "[" + std::string(static_cast<size_t>(percent), '=') + ">" +
          std::string(static_cast<size_t>(50 - percent), ' ') + "] ";
  }
  if (current > total) {
    snprintf(buf, sizeof(buf), "%8s", HumanSize(static_cast<double>(current)).c_str());
  } else {
    snprintf(buf, sizeof(buf), "%8s/%s", HumanSize(static_cast<double>(current)).c_str(),
             HumanSize(static_cast<double>(total)).c_str());
  }
  return bar + buf;
}

void JsonMessageDisplay::Show(const json& m) {
  if (!m.is_object()) {
    return;
  }
  if (m.contains("error") || m.contains("errorDetail")) {
    std::string text = m.contains("errorDetail") && m["errorDetail"].is_object()
                           ? m["errorDetail"].value("message", "")
                           : "";
    if (text.empty() && m.contains("error") && m["error"].is_string()) {
      text = m["error"].get<std::string>();
    }
    throw Error(Kind::kUnavailable, text);
  }
  if (m.contains("aux")) {
    return;  // for the program (push's digest), not for display
  }
  std::string id = m.contains("id") && m["id"].is_string() ? m["id"].get<std::string>() : "";
  std::string status =
      m.contains("status") && m["status"].is_string() ? m["status"].get<std::string>() : "";
  bool has_progress = m.contains("progressDetail") && m["progressDetail"].is_object();
  std::string progress;
  if (has_progress) {
    const json& d = m["progressDetail"];
    uint64_t current =
        d.contains("current") && d["current"].is_number() ? d["current"].get<uint64_t>() : 0;
    uint64_t total = d.contains("total") && d["total"].is_number() ? d["total"].get<uint64_t>() : 0;
    progress = FormatProgress(current, total, width_);
  }
  bool stream = m.contains("stream") && m["stream"].is_string();
  if (!terminal_ && has_progress && !progress.empty()) {
    return;  // progress bars only on a terminal
  }
  size_t diff = 0;
  if (!id.empty() && (has_progress || m.contains("progress"))) {
    auto it = lines_.find(id);
    size_t line;
    if (it == lines_.end()) {
      line = lines_.size();
      lines_[id] = line;
      if (terminal_) {
        out_ << "\n";
      }
    } else {
      line = it->second;
    }
    diff = lines_.size() - line;
    if (terminal_) {
      out_ << "\x1b[" << diff << "A";
    }
  } else {
    lines_.clear();
  }
  std::string endl;
  if (terminal_ && !stream && has_progress) {
    out_ << "\x1b[2K\r";
    endl = "\r";
  }
  if (!id.empty()) {
    out_ << id << ": ";
  }
  if (has_progress && terminal_) {
    out_ << status << " " << progress << endl;
  } else if (stream) {
    out_ << m["stream"].get<std::string>() << endl;
  } else {
    out_ << status << endl << "\n";
  }
  if (!id.empty() && terminal_ && diff > 0) {
    out_ << "\x1b[" << diff << "B";
  }
  out_.flush();
}

}  // namespace berth::cli
