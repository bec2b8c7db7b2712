#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

// Restart policies as Docker's restartmanager decides them: whether a container that exited
// starts again, and after how long. Pure; container_restart.cc applies the decisions.

namespace berth::engine {

struct RestartPolicy {
  std::string name;         // "", "no", "always", "unless-stopped", "on-failure"
  int64_t max_retries = 0;  // on-failure only; 0 = no limit

  bool None() const { return name.empty() || name == "no"; }
};

// HostConfig.RestartPolicy (validated at create); absent or malformed = none.
RestartPolicy RestartPolicyOf(const nlohmann::json& host_config);

// Whether a container that exited with `exit_code` starts again. `manually_stopped`: a user's
// stop or kill ended it (or the last run). `daemon_start`: berthd is starting and finds the
// container not running; then `always` starts it even after a user's stop, as dockerd does
// (unless-stopped does not).
bool ShouldRestart(const RestartPolicy& policy, int64_t exit_code, bool manually_stopped,
                   int64_t restart_count, bool daemon_start);

// The wait before the next restart: 100 ms after the first exit, doubled at every exit after
// that, at most 1 minute; back to 100 ms when the last run lasted 10 s or more.
// `previous_ms` 0 = no restart yet.
int64_t NextBackoffMs(int64_t previous_ms, int64_t ran_ns);

}  // namespace berth::engine
