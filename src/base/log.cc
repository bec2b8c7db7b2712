#include "base/log.h"

#include <time.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <string>

namespace berth::log {
namespace {

int g_fd = 2;
Format g_format = Format::kText;
bool g_debug = false;

const char* LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warning";
    case Level::kError:
      return "error";
  }
  return "info";
}

}  // namespace

void Init(int fd, Format format, bool debug) {
  g_fd = fd;
  g_format = format;
  g_debug = debug;
}

void Write(Level level, std::string_view msg) {
  if (level == Level::kDebug && !g_debug) {
    return;
  }
  std::string line;
  if (g_format == Format::kJson) {
    char ts[64];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    nlohmann::json j = {{"level", LevelName(level)}, {"msg", msg}, {"time", ts}};
    line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    line = std::string(LevelName(level)) + ": " + std::string(msg);
  }
  line += '\n';
  ssize_t rc = ::write(g_fd, line.data(), line.size());
  (void)rc;
}

}  // namespace berth::log
