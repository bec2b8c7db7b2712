#pragma once

#include <string_view>

namespace berth::log {

enum class Level { kDebug, kInfo, kWarn, kError };
enum class Format { kText, kJson };

// Where log lines go: stderr by default, or a file opened for append (runc's --log). The JSON
// format is runc's: {"level":"error","msg":"...","time":"2026-11-28T17:52:19Z"}, one per line,
// which is what containerd-shim and podman parse for the error of a failed runtime call.
void Init(int fd, Format format, bool debug);
void Write(Level level, std::string_view msg);

inline void Debug(std::string_view msg) { Write(Level::kDebug, msg); }
inline void Info(std::string_view msg) { Write(Level::kInfo, msg); }
inline void Warn(std::string_view msg) { Write(Level::kWarn, msg); }
inline void Error(std::string_view msg) { Write(Level::kError, msg); }

}  // namespace berth::log
