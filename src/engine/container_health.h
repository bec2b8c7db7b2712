#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/container.h"

// Health checks, Docker's way (daemon/health.go): a probe command run in the container every
// interval; exit 0 is healthy, anything else a failure; `retries` failures in a row make the
// container unhealthy, except failures inside the start period while it is still starting.
// The rules here are data in, data out; ContainerService runs the probes (as execs through
// the shim) and keeps the schedule.
namespace berth::engine {

struct HealthConfig {
  std::vector<std::string> args;  // the probe's command line
  int64_t interval_ns = 0;
  int64_t timeout_ns = 0;
  int64_t start_period_ns = 0;
  int64_t start_interval_ns = 0;  // between probes inside the start period
  int64_t retries = 0;
};

// Docker's defaults for what a Healthcheck leaves zero.
constexpr int64_t kDefaultProbeInterval = 30'000'000'000;
constexpr int64_t kDefaultProbeTimeout = 30'000'000'000;
constexpr int64_t kDefaultStartInterval = 5'000'000'000;
constexpr int64_t kDefaultRetries = 3;
constexpr size_t kMaxHealthLog = 5;
constexpr size_t kMaxProbeOutput = 4096;

// The Config.Healthcheck of a container (its image's merged in) with Docker's defaults;
// nullopt when there is none ({"Test": ["NONE"]}, an empty or missing Test). CMD-SHELL runs
// through `shell` (the image's Shell, else /bin/sh -c).
std::optional<HealthConfig> ParseHealthConfig(const nlohmann::json& healthcheck,
                                              const std::vector<std::string>& shell);

struct ProbeResult {
  std::string start, end;  // RFC 3339 with nanoseconds
  int64_t exit_code = 0;   // -1: it did not finish in time
  std::string output;
};

// Records one probe in `health`: the status, the failing streak, the last five results.
// `in_start_period`: the probe started within the start period of the container's start.
// Returns whether the status changed (a health_status event).
bool RecordProbe(ContainerHealth& health, ProbeResult result, int64_t retries,
                 bool in_start_period);

// The text of a multiplexed exec stream (8-byte frame headers before stdout and stderr
// pieces), at most `limit` bytes of it; a stream that is not framed is taken as it is.
std::string DemuxOutput(std::string_view raw, size_t limit);

// Go's time.Duration.String() for what timeouts print: "30s", "1.5s", "1m30s", "100ms".
std::string GoDurationString(int64_t ns);

}  // namespace berth::engine
