#include <algorithm>
#include <cstdio>

#include "engine/container_health.h"

namespace berth::engine {

namespace {

int64_t NsOr(const nlohmann::json& j, const char* key, int64_t fallback) {
  if (!j.contains(key) || !j[key].is_number_integer()) return fallback;
  int64_t v = j[key].get<int64_t>();
  return v > 0 ? v : fallback;
}

}  // namespace

std::optional<HealthConfig> ParseHealthConfig(const nlohmann::json& hc,
                                              const std::vector<std::string>& shell) {
  if (!hc.is_object() || !hc.contains("Test") || !hc["Test"].is_array() || hc["Test"].empty()) {
    return std::nullopt;
  }
  std::vector<std::string> test;
  for (const auto& t : hc["Test"]) {
    if (!t.is_string()) return std::nullopt;
    test.push_back(t.get<std::string>());
  }
  HealthConfig c;
  if (test[0] == "CMD") {
    c.args.assign(test.begin() + 1, test.end());
  } else if (test[0] == "CMD-SHELL") {
    std::string command;
    for (size_t i = 1; i < test.size(); i++) command += (i > 1 ? " " : "") + test[i];
    c.args = shell.empty() ? std::vector<std::string>{"/bin/sh", "-c"} : shell;
    c.args.push_back(command);
  } else {
    return std::nullopt;  // NONE, or nothing Docker would run
  }
  if (c.args.empty()) return std::nullopt;
  c.interval_ns = NsOr(hc, "Interval", kDefaultProbeInterval);
  c.timeout_ns = NsOr(hc, "Timeout", kDefaultProbeTimeout);
  c.start_period_ns = NsOr(hc, "StartPeriod", 0);
  c.start_interval_ns = NsOr(hc, "StartInterval", kDefaultStartInterval);
  c.retries = NsOr(hc, "Retries", kDefaultRetries);
  return c;
}

bool RecordProbe(ContainerHealth& h, ProbeResult r, int64_t retries, bool in_start_period) {
  std::string before = h.status;
  if (h.status.empty()) h.status = "starting";
  if (r.exit_code == 0) {
    h.failing_streak = 0;
    h.status = "healthy";
  } else if (!(h.status == "starting" && in_start_period)) {
    // A failure inside the start period does not count while the container is starting;
    // once a probe succeeded, every failure does.
    if (++h.failing_streak >= retries) h.status = "unhealthy";
  }
  if (r.output.size() > kMaxProbeOutput) r.output.resize(kMaxProbeOutput);
  if (!h.log.is_array()) h.log = nlohmann::json::array();
  h.log.push_back(
      {{"Start", r.start}, {"End", r.end}, {"ExitCode", r.exit_code}, {"Output", r.output}});
  while (h.log.size() > kMaxHealthLog) h.log.erase(h.log.begin());
  return h.status != before;
}

std::string DemuxOutput(std::string_view raw, size_t limit) {
  std::string out;
  std::string_view rest = raw;
  bool framed = true;
  while (!rest.empty()) {
    if (rest.size() < 8 || rest[0] < 0 || rest[0] > 2 || rest[1] || rest[2] || rest[3]) {
      framed = false;
      break;
    }
    size_t n = (static_cast<size_t>(static_cast<unsigned char>(rest[4])) << 24) |
               (static_cast<size_t>(static_cast<unsigned char>(rest[5])) << 16) |
               (static_cast<size_t>(static_cast<unsigned char>(rest[6])) << 8) |
               static_cast<size_t>(static_cast<unsigned char>(rest[7]));
    rest.remove_prefix(8);
    n = std::min(n, rest.size());
    out.append(rest.substr(0, n));
    rest.remove_prefix(n);
  }
  if (!framed) out = std::string(raw);
  if (out.size() > limit) out.resize(limit);
  return out;
}

std::string GoDurationString(int64_t ns) {
  if (ns == 0) return "0s";
  std::string sign = ns < 0 ? "-" : "";
  uint64_t u = ns < 0 ? static_cast<uint64_t>(-ns) : static_cast<uint64_t>(ns);
  char buf[64];
  if (u < 1000) {
    snprintf(buf, sizeof(buf), "%lluns", static_cast<unsigned long long>(u));
    return sign + buf;
  }
  auto fraction = [](uint64_t v, uint64_t unit, const char* suffix) {
    // v / unit with its fraction, trailing zeros dropped (Go prints "1.5s", "2ms").
    std::string s = std::to_string(v / unit);
    uint64_t rem = v % unit;
    if (rem) {
      std::string digits;
      for (uint64_t d = unit / 10; d > 0; d /= 10) {
        digits += static_cast<char>('0' + (rem / d) % 10);
      }
      while (!digits.empty() && digits.back() == '0') digits.pop_back();
      s += "." + digits;
    }
    return s + suffix;
  };
  if (u < 1000000) return sign + fraction(u, 1000, "µs");
  if (u < 1000000000) return sign + fraction(u, 1000000, "ms");
  uint64_t seconds_ns = u % 60000000000ULL;
  uint64_t minutes = u / 60000000000ULL;
  std::string out = sign;
  if (minutes >= 60) out += std::to_string(minutes / 60) + "h";
  if (minutes > 0) out += std::to_string(minutes % 60) + "m";
  return out + fraction(seconds_ns, 1000000000, "s");
}

}  // namespace berth::engine
