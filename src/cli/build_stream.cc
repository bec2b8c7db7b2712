#include "cli/build_stream.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace berth::cli {

std::string TarFile(const std::string& name, std::string_view content, mode_t mode, int64_t mtime) {
  std::string h(512, '\0');
  auto field = [&h](size_t at, size_t width, unsigned long long value) {
    snprintf(&h[at], width, "%0*llo", static_cast<int>(width - 1), value);
  };
  memcpy(&h[0], name.data(), std::min<size_t>(name.size(), 100));
  field(100, 8, mode & 07777);
  field(108, 8, 0);
  field(116, 8, 0);
  field(124, 12, content.size());
  field(136, 12, static_cast<unsigned long long>(mtime));
  memset(&h[148], ' ', 8);
  h[156] = '0';
  memcpy(&h[257],
         "ustar\0"
         "00",
         8);
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  snprintf(&h[148], 8, "%06o", sum);  // six digits, NUL, and the space already there
  std::string out = h;
  out.append(content);
  out.append((512 - content.size() % 512) % 512, '\0');
  return out;
}

bool IsArchive(std::string_view head) {
  auto starts = [&head](std::string_view magic) { return head.substr(0, magic.size()) == magic; };
  if (starts("\x1f\x8b\x08") || starts("BZh") ||
      starts(std::string_view("\xfd"
                              "7zXZ\0",
                              6)) ||
      starts("\x28\xb5\x2f\xfd")) {
    return true;
  }
  if (head.size() < 512) return false;
  unsigned sum = 0;
  for (size_t i = 0; i < 512; ++i) {
    sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(head[i]);
  }
  std::string field(head.substr(148, 8));
  char* end = nullptr;
  unsigned long stored = strtoul(field.c_str(), &end, 8);
  return end != field.c_str() && stored == sum;
}

std::string FormatElapsed(std::chrono::steady_clock::duration d) {
  double s = std::chrono::duration<double>(d).count();
  char buf[32];
  if (s < 59.95) {
    snprintf(buf, sizeof buf, "%.1fs", s);
  } else {
    int tenths = static_cast<int>(s * 10 + 0.5);
    snprintf(buf, sizeof buf, "%dm%02d.%ds", tenths / 600, tenths % 600 / 10, tenths % 10);
  }
  return buf;
}

namespace {

// "N/M" as two numbers, or nothing.
bool ParseStep(std::string_view text, int* n, int* m) {
  size_t slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == text.size() ||
      text.size() > 20 || text.find_first_not_of("0123456789/") != std::string_view::npos ||
      text.find('/', slash + 1) != std::string_view::npos) {
    return false;
  }
  *n = atoi(std::string(text.substr(0, slash)).c_str());
  *m = atoi(std::string(text.substr(slash + 1)).c_str());
  return true;
}

// "Successfully built 0123456789ab", the newline with it or not.
bool IsBuilt(std::string_view text) {
  constexpr std::string_view kBuilt = "Successfully built ";
  if (text.rfind(kBuilt, 0) != 0) return false;
  text.remove_prefix(kBuilt.size());
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  return text.size() == 12 && text.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

}  // namespace

void StepMarks::Before(std::string_view text) {
  if (open_) return;
  if (text.rfind("Step ", 0) == 0) {
    size_t colon = text.find(" : ");
    int n = 0, m = 0;
    if (colon != std::string_view::npos && ParseStep(text.substr(5, colon - 5), &n, &m) &&
        n == next_ && n <= m && (total_ == 0 || m == total_)) {
      End(cached_ ? "CACHED" : "DONE");
      step_ = std::string(text.substr(5, colon - 5));
      next_ = n + 1;
      total_ = m;
      cached_ = false;
      start_ = now_();
    }
  } else if (IsBuilt(text)) {
    End(cached_ ? "CACHED" : "DONE");
  }
}

void StepMarks::After(std::string_view text) {
  for (size_t nl; (nl = text.find('\n')) != std::string_view::npos; text.remove_prefix(nl + 1)) {
    line_.append(text.substr(0, std::min(nl, kKeep)));
    if (line_ == " ---> Using cache" && !step_.empty()) cached_ = true;
    line_.clear();
    open_ = false;
  }
  if (!text.empty()) open_ = true;
  line_.append(text.substr(0, kKeep - std::min(kKeep, line_.size())));
}

void StepMarks::End(const char* mark) {
  if (step_.empty()) return;
  if (open_) out_ << "\n";
  out_ << " => " << step_ << " " << mark << " " << FormatElapsed(now_() - start_) << "\n";
  line_.clear();
  open_ = false;
  step_.clear();
}

}  // namespace berth::cli
