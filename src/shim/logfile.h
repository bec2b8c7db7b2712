#pragma once

// Docker's json-file log driver: the writer the shim runs for every container and the reader
// behind `docker logs`. The files are byte-compatible with moby's jsonfilelog driver, so logs
// written by Berth read back with Docker's tools and vice versa. See docs/logs.md.

#include <stdint.h>
#include <time.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "base/fd.h"

namespace berth::shim {

// The values are the stream bytes of the multiplexed framing (stdout 1, stderr 2).
enum class Stream : uint8_t { kStdout = 1, kStderr = 2 };

// Docker splits a line longer than this into partial messages (moby's copier buffer).
inline constexpr size_t kMaxLogLine = 16 * 1024;

// RFC 3339 UTC with a fixed 9-digit fraction, as `docker logs -t` prints it (moby's
// jsonmessage.RFC3339NanoFixed): "2026-11-28T16:40:54.246968700Z".
std::string FormatTimestamp(int64_t ns);

// Go's time.RFC3339Nano in UTC, as the "time" field of the log file: trailing zeros of the
// fraction are trimmed and a zero fraction is dropped ("2026-11-28T16:40:54.2469687Z").
std::string FormatJsonTime(int64_t ns);

// Parses RFC 3339 with an optional fraction of up to 9 digits and a "Z" or ±hh:mm offset.
std::optional<int64_t> ParseTimestamp(std::string_view text);

// The 8-byte header framing of logs and non-TTY attach: stream byte, three zero bytes, the
// payload length as big-endian uint32, then the payload.
std::string FrameMessage(Stream stream, std::string_view payload);

// One line of the log file, with its trailing '\n':
// {"log":"<text>","stream":"stdout","time":"<FormatJsonTime>"}. `text` is escaped like moby's
// jsonlog encoder: <, >, & as \u003c…, control bytes as \u00XX (except \n, \r), invalid UTF-8
// as \ufffd, U+2028/U+2029 escaped.
std::string EncodeLogLine(Stream stream, std::string_view text, int64_t time_ns);

struct LogEntry {
  Stream stream = Stream::kStdout;
  std::string text;
  int64_t time_ns = 0;
};

// Decodes one line (without its '\n'); nullopt for anything malformed (a torn write).
std::optional<LogEntry> ParseLogLine(std::string_view line);

// Writes a container's output into `path` as the json-file driver does. Not thread-safe: the
// shim's single event loop owns it.
class LogWriter {
 public:
  // max_size 0 means unlimited; max_file >= 1 is the total number of files kept (path,
  // path.1, ..., path.<max_file-1>). Opens (creates) `path` for appending; throws berth::Error.
  LogWriter(std::string path, uint64_t max_size, int max_file);
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;

  // Appends container output. Complete lines become messages stamped `now`; an unterminated
  // tail waits for more output, except that every 16 KiB of a line without a newline are
  // written as a partial message (no trailing \n). All pieces of one line carry the time of
  // its first piece, as moby does.
  void Write(Stream stream, std::string_view bytes, timespec now);

  // Writes out the unterminated tail of each stream as a partial message (the container has
  // exited, its pipes are closed), stamped `now` unless earlier pieces set the time.
  void Flush(timespec now);
  void Flush();  // with the current CLOCK_REALTIME

  const std::string& path() const { return path_; }

 private:
  struct Pending {
    std::string bytes;
    std::optional<int64_t> first_ns;  // the time of the line's first partial piece
  };
  void Emit(Stream stream, std::string_view text, int64_t time_ns);
  void WriteAll(std::string_view data);
  void Rotate();
  void Open(int extra_flags);

  std::string path_;
  uint64_t max_size_;
  int max_file_;
  UniqueFd fd_;
  uint64_t size_ = 0;
  Pending pending_[2];
};

struct LogReadOptions {
  bool stdout = true;
  bool stderr = true;
  bool timestamps = false;          // prefix each text with FormatTimestamp() and a space
  std::optional<int64_t> since_ns;  // skip messages older than this (inclusive bound)
  std::optional<int64_t> until_ns;  // stop at the first message newer than this
  std::optional<size_t> tail;       // the last N messages of both streams; nullopt = all
  bool follow = false;
};

// Ends a follow: when `stop_fd` (>= 0) becomes readable or hangs up (the client went away, or
// an eventfd the engine signals when the container stops), or when `should_stop` returns true
// (checked after each batch of new lines and at least every 250 ms).
struct FollowControl {
  int stop_fd = -1;
  std::function<bool()> should_stop;
};

using LogCallback = std::function<void(Stream, std::string_view text, int64_t time_ns)>;

// Reads the log files of one container for `docker logs`: path.N ... path.1 then path, oldest
// first. Malformed lines are skipped. Throws berth::Error on I/O errors other than a missing
// file.
class LogReader {
 public:
  explicit LogReader(std::string path) : path_(std::move(path)) {}

  void Read(const LogReadOptions& options, const LogCallback& callback,
            const FollowControl& control = {}) const;

 private:
  std::string path_;
};

}  // namespace berth::shim
