#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>

// The pieces of `berth build` that are data in, data out: the few tar entries the CLI writes
// itself, the docker CLI's archive test for stdin, and Berth's step marks in the output.

namespace berth::cli {

// One regular file as a ustar entry (header and content padded to 512 bytes), owners 0:0.
std::string TarFile(const std::string& name, std::string_view content, mode_t mode, int64_t mtime);
// The end of a tar: two zero blocks.
inline std::string TarEnd() { return std::string(1024, '\0'); }

// The docker CLI's test for a context on stdin (moby archive.IsArchive on its first 512
// bytes): a gzip, bzip2, xz or zstd magic number, or a tar header with a valid checksum.
bool IsArchive(std::string_view head);

// "0.3s", "59.9s", "2m05.1s".
std::string FormatElapsed(std::chrono::steady_clock::duration d);

// Berth's marks in the classic output. A step runs from its "Step N/M : …" line to the next
// one (or to "Successfully built", or to the error); when it ends, a line of its own:
//   " => N/M DONE 1.2s", " => N/M CACHED 0.0s" (the daemon said " ---> Using cache"), or
//   " => N/M ERROR 1.2s".
// The daemon's lines come in pieces as it writes them (dockerd sends "Step 1/2 : FROM x" and
// its "\n" apart, berthd each line whole; RUN output in whatever pieces it had), so the marks
// follow lines, not messages. A step's last line is the daemon's own (" ---> <id>"), so a
// "Step" or "Successfully built" always starts a line; a step line must carry the next
// number and the same total as the first, and "Successfully built" a short ID, so that RUN
// output that looks like them is rarely taken for them.
class StepMarks {
 public:
  using Clock = std::chrono::steady_clock;
  explicit StepMarks(std::ostream& out, std::function<Clock::time_point()> now = Clock::now)
      : out_(out), now_(std::move(now)) {}

  // A piece of the stream about to be printed on `out`, and the same piece once printed.
  void Before(std::string_view text);
  void After(std::string_view text);
  // The build failed: the step under way ends with ERROR.
  void Fail() { End("ERROR"); }

 private:
  static constexpr size_t kKeep = 32;  // enough of a line to tell " ---> Using cache"

  void End(const char* mark);

  std::ostream& out_;
  std::function<Clock::time_point()> now_;
  std::string step_;  // "3/7"; empty between steps
  int next_ = 1;      // the number the next step line must have
  int total_ = 0;     // M of the first "Step N/M", 0 before it
  bool cached_ = false;
  std::string line_;   // the start of the line being printed
  bool open_ = false;  // that line has begun (it may be empty so far: a "\r")
  Clock::time_point start_;
};

}  // namespace berth::cli
