#include "engine/progress.h"

#include <cstdio>

namespace berth::engine {

std::string HumanSize(double bytes) {
  static const char* units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
  size_t i = 0;
  while (bytes >= 1000.0 && i + 1 < sizeof(units) / sizeof(units[0])) {
    bytes /= 1000.0;
    ++i;
  }
  char buf[64];
  snprintf(buf, sizeof(buf), "%.4g%s", bytes, units[i]);
  return buf;
}

std::string ProgressBar(uint64_t current, uint64_t total) {
  char buf[64];
  if (total == 0 || current > total) {
    snprintf(buf, sizeof(buf), "%8s", HumanSize(static_cast<double>(current)).c_str());
    return buf;
  }
  int percent =
      static_cast<int>(static_cast<double>(current) / static_cast<double>(total) * 100) / 2;
  if (percent > 50) {
    percent = 50;
  }
  std::string bar = "[" + std::string(static_cast<size_t>(percent), '=') + ">" +
                    std::string(static_cast<size_t>(50 - percent), ' ') + "] ";
  snprintf(buf, sizeof(buf), "%8s/%s", HumanSize(static_cast<double>(current)).c_str(),
           HumanSize(static_cast<double>(total)).c_str());
  return bar + buf;
}

nlohmann::json StatusMessage(const std::string& status, const std::string& id) {
  nlohmann::json m = {{"status", status}, {"progressDetail", nlohmann::json::object()}};
  if (!id.empty()) {
    m["id"] = id;
  }
  return m;
}

nlohmann::json ProgressMessage(const std::string& status, const std::string& id, uint64_t current,
                               uint64_t total) {
  return {{"status", status},
          {"progressDetail", {{"current", current}, {"total", total}}},
          {"progress", ProgressBar(current, total)},
          {"id", id}};
}

nlohmann::json ErrorMessage(const std::string& message) {
  return {{"errorDetail", {{"message", message}}}, {"error", message}};
}

}  // namespace berth::engine
