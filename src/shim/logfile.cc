#include "shim/logfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "base/error.h"

namespace berth::shim {
namespace {

constexpr int64_t kNsPerSec = 1'000'000'000;

// Days since 1970-01-01 of a proleptic Gregorian date, and back (H. Hinnant's algorithms):
// no time zone or libc state involved.
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

struct Civil {
  int64_t year;
  unsigned month, day, hour, minute, second;
  uint32_t nanos;
};

Civil CivilFromNs(int64_t ns) {
  int64_t secs = ns / kNsPerSec;
  int64_t frac = ns % kNsPerSec;
  if (frac < 0) {
    frac += kNsPerSec;
    --secs;
  }
  int64_t days = secs / 86400;
  int64_t sod = secs % 86400;
  if (sod < 0) {
    sod += 86400;
    --days;
  }
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return Civil{static_cast<int64_t>(yoe) + era * 400 + (m <= 2),
               m,
               d,
               static_cast<unsigned>(sod / 3600),
               static_cast<unsigned>(sod / 60 % 60),
               static_cast<unsigned>(sod % 60),
               static_cast<uint32_t>(frac)};
}

// "2026-11-28T16:40:54" followed by the fraction (`digits` 9 fixed, or trimmed when 0) and "Z".
std::string Format(int64_t ns, bool trim) {
  Civil c = CivilFromNs(ns);
  char buf[64];
  int n = snprintf(buf, sizeof(buf), "%04lld-%02u-%02uT%02u:%02u:%02u",
                   static_cast<long long>(c.year), c.month, c.day, c.hour, c.minute, c.second);
  std::string out(buf, static_cast<size_t>(n));
  char frac[16];
  snprintf(frac, sizeof(frac), ".%09u", c.nanos);
  std::string_view f(frac);
  if (trim) {
    while (f.size() > 1 && f.back() == '0') {
      f.remove_suffix(1);
    }
    if (f.size() == 1) {
      f = {};
    }
  }
  out += f;
  out += 'Z';
  return out;
}

bool ParseDigits(std::string_view s, size_t pos, size_t count, unsigned& out) {
  if (pos + count > s.size()) {
    return false;
  }
  out = 0;
  for (size_t i = pos; i < pos + count; ++i) {
    if (s[i] < '0' || s[i] > '9') {
      return false;
    }
    out = out * 10 + static_cast<unsigned>(s[i] - '0');
  }
  return true;
}

constexpr char kHex[] = "0123456789abcdef";

// The length of the valid UTF-8 sequence at the start of `s`, or 0 (Go's utf8.DecodeRune
// returning RuneError with size 1). Sets `rune`.
size_t DecodeUtf8(std::string_view s, uint32_t& rune) {
  const auto b0 = static_cast<unsigned char>(s[0]);
  size_t len;
  uint32_t min;
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    len = 2, rune = b0 & 0x1f, min = 0x80;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    len = 3, rune = b0 & 0x0f, min = 0x800;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    len = 4, rune = b0 & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (s.size() < len) {
    return 0;
  }
  for (size_t i = 1; i < len; ++i) {
    const auto b = static_cast<unsigned char>(s[i]);
    if ((b & 0xc0) != 0x80) {
      return 0;
    }
    rune = (rune << 6) | (b & 0x3f);
  }
  if (rune < min || rune > 0x10ffff || (rune >= 0xd800 && rune <= 0xdfff)) {
    return 0;
  }
  return len;
}

// moby's ffjsonWriteJSONBytesAsString (daemon/logger/jsonfilelog/jsonlog/jsonlogbytes.go).
void AppendJsonString(std::string& out, std::string_view s) {
  out += '"';
  size_t start = 0;
  size_t i = 0;
  auto flush = [&] { out.append(s.substr(start, i - start)); };
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      if (b >= 0x20 && b != '\\' && b != '"' && b != '<' && b != '>' && b != '&') {
        ++i;
        continue;
      }
      flush();
      switch (b) {
        case '\\':
        case '"':
          out += '\\';
          out += static_cast<char>(b);
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        default:
          out += "\\u00";
          out += kHex[b >> 4];
          out += kHex[b & 0xf];
      }
      start = ++i;
      continue;
    }
    uint32_t rune = 0;
    size_t len = DecodeUtf8(s.substr(i), rune);
    if (len == 0) {
      flush();
      out += "\\ufffd";
      start = ++i;
      continue;
    }
    if (rune == 0x2028 || rune == 0x2029) {
      flush();
      out += "\\u202";
      out += kHex[rune & 0xf];
      i += len;
      start = i;
      continue;
    }
    i += len;
  }
  flush();
  out += '"';
}

std::string_view StreamName(Stream s) { return s == Stream::kStderr ? "stderr" : "stdout"; }

int64_t ToNs(timespec ts) { return static_cast<int64_t>(ts.tv_sec) * kNsPerSec + ts.tv_nsec; }

}  // namespace

std::string FormatTimestamp(int64_t ns) { return Format(ns, /*trim=*/false); }

std::string FormatJsonTime(int64_t ns) { return Format(ns, /*trim=*/true); }

std::optional<int64_t> ParseTimestamp(std::string_view s) {
  unsigned year, month, day, hour, minute, second;
  if (!ParseDigits(s, 0, 4, year) || s.size() < 19 || s[4] != '-' || !ParseDigits(s, 5, 2, month) ||
      s[7] != '-' || !ParseDigits(s, 8, 2, day) || (s[10] != 'T' && s[10] != 't') ||
      !ParseDigits(s, 11, 2, hour) || s[13] != ':' || !ParseDigits(s, 14, 2, minute) ||
      s[16] != ':' || !ParseDigits(s, 17, 2, second)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  size_t pos = 19;
  int64_t nanos = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (digits < 9) {
        nanos = nanos * 10 + (s[pos] - '0');
        ++digits;
      }
      ++pos;
    }
    if (digits == 0) {
      return std::nullopt;
    }
    for (; digits < 9; ++digits) {
      nanos *= 10;
    }
  }
  int64_t offset = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    unsigned oh, om;
    if (!ParseDigits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !ParseDigits(s, pos + 4, 2, om)) {
      return std::nullopt;
    }
    offset = (s[pos] == '-' ? -1 : 1) * static_cast<int64_t>(oh * 3600 + om * 60);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) {
    return std::nullopt;
  }
  int64_t secs = DaysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
  return (secs - offset) * kNsPerSec + nanos;
}

std::string FrameMessage(Stream stream, std::string_view payload) {
  std::string out(8, '\0');
  out[0] = static_cast<char>(stream);
  const auto len = static_cast<uint32_t>(payload.size());
  out[4] = static_cast<char>(len >> 24);
  out[5] = static_cast<char>(len >> 16);
  out[6] = static_cast<char>(len >> 8);
  out[7] = static_cast<char>(len);
  out += payload;
  return out;
}

std::string EncodeLogLine(Stream stream, std::string_view text, int64_t time_ns) {
  std::string out;
  out.reserve(text.size() + 80);
  out += '{';
  if (!text.empty()) {  // `log` is omitempty in moby
    out += "\"log\":";
    AppendJsonString(out, text);
    out += ',';
  }
  out += "\"stream\":\"";
  out += StreamName(stream);
  out += "\",\"time\":\"";
  out += FormatJsonTime(time_ns);
  out += "\"}\n";
  return out;
}

std::optional<LogEntry> ParseLogLine(std::string_view line) {
  auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    return std::nullopt;
  }
  LogEntry entry;
  auto stream = j.find("stream");
  auto time = j.find("time");
  if (stream == j.end() || !stream->is_string() || time == j.end() || !time->is_string()) {
    return std::nullopt;
  }
  const auto& name = stream->get_ref<const std::string&>();
  if (name == "stdout") {
    entry.stream = Stream::kStdout;
  } else if (name == "stderr") {
    entry.stream = Stream::kStderr;
  } else {
    return std::nullopt;
  }
  auto ns = ParseTimestamp(time->get_ref<const std::string&>());
  if (!ns) {
    return std::nullopt;
  }
  entry.time_ns = *ns;
  if (auto log = j.find("log"); log != j.end()) {
    if (!log->is_string()) {
      return std::nullopt;
    }
    entry.text = log->get<std::string>();
  }
  return entry;
}

LogWriter::LogWriter(std::string path, uint64_t max_size, int max_file)
    : path_(std::move(path)), max_size_(max_size), max_file_(max_file < 1 ? 1 : max_file) {
  Open(O_APPEND);
}

void LogWriter::Open(int extra_flags) {
  // 0640 as moby's json-file driver.
  int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_APPEND | extra_flags, 0640);
  if (fd < 0) {
    ThrowErrno("open log file " + path_);
  }
  fd_.Reset(fd);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    ThrowErrno("stat log file " + path_);
  }
  size_ = static_cast<uint64_t>(st.st_size);
}

void LogWriter::Write(Stream stream, std::string_view bytes, timespec now) {
  Pending& p = pending_[stream == Stream::kStderr ? 1 : 0];
  const int64_t now_ns = ToNs(now);
  while (!bytes.empty()) {
    const size_t room = kMaxLogLine - p.bytes.size();
    const size_t nl = bytes.find('\n');
    if (nl != std::string_view::npos && nl < room) {
      p.bytes.append(bytes.substr(0, nl + 1));
      Emit(stream, p.bytes, p.first_ns.value_or(now_ns));
      p.bytes.clear();
      p.first_ns.reset();
      bytes.remove_prefix(nl + 1);
      continue;
    }
    const size_t take = std::min(room, bytes.size());
    p.bytes.append(bytes.substr(0, take));
    bytes.remove_prefix(take);
    if (p.bytes.size() == kMaxLogLine) {
      // A full buffer without a newline: a partial message, as moby's copier writes it.
      if (!p.first_ns) {
        p.first_ns = now_ns;
      }
      Emit(stream, p.bytes, *p.first_ns);
      p.bytes.clear();
    }
  }
}

void LogWriter::Flush() {
  timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  Flush(now);
}

void LogWriter::Flush(timespec now) {
  for (Stream s : {Stream::kStdout, Stream::kStderr}) {
    Pending& p = pending_[s == Stream::kStderr ? 1 : 0];
    if (!p.bytes.empty()) {
      Emit(s, p.bytes, p.first_ns.value_or(ToNs(now)));
    }
    p.bytes.clear();
    p.first_ns.reset();
  }
}

void LogWriter::Emit(Stream stream, std::string_view text, int64_t time_ns) {
  // moby rotates before a write once the file has reached max-size, so a file ends at the
  // first message that crosses the limit (daemon/logger/loggerutils/logfile.go).
  if (max_size_ > 0 && size_ >= max_size_) {
    Rotate();
  }
  WriteAll(EncodeLogLine(stream, text, time_ns));
}

void LogWriter::WriteAll(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd_.get(), data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      ThrowErrno("write log file " + path_);
    }
    data.remove_prefix(static_cast<size_t>(n));
    size_ += static_cast<uint64_t>(n);
  }
}

void LogWriter::Rotate() {
  fd_.Reset();
  // Readers following the file keep their descriptor of the old one, so it is renamed (or
  // unlinked) rather than truncated in place.
  if (max_file_ < 2) {
    if (::unlink(path_.c_str()) != 0 && errno != ENOENT) {
      ThrowErrno("remove log file " + path_);
    }
  } else {
    std::string last = path_ + "." + std::to_string(max_file_ - 1);
    if (::unlink(last.c_str()) != 0 && errno != ENOENT) {
      ThrowErrno("remove log file " + last);
    }
    for (int i = max_file_ - 1; i > 1; --i) {
      std::string to = path_ + "." + std::to_string(i);
      std::string from = path_ + "." + std::to_string(i - 1);
      if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) {
        ThrowErrno("rename log file " + from);
      }
    }
    std::string first = path_ + ".1";
    if (::rename(path_.c_str(), first.c_str()) != 0 && errno != ENOENT) {
      ThrowErrno("rename log file " + path_);
    }
  }
  Open(O_TRUNC);
}

}  // namespace berth::shim
