#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/mount_point.h"

// One container as berthd keeps it: what create decided (never changes afterwards) and its
// state (changes with every lifecycle step). Stored as one JSON document per container in the
// engine's database; `inspect` and `ps` are views of it (container_view.h).

namespace berth::engine {

enum class ContainerStatus { kCreated, kRunning, kPaused, kRestarting, kRemoving, kExited, kDead };

// Docker's names: "created", "running", "paused", "restarting", "removing", "exited", "dead".
std::string_view StatusName(ContainerStatus status);
// Throws berth::Error (kInvalidArgument) for anything else.
ContainerStatus ParseStatus(std::string_view name);

// Docker's zero time, what StartedAt/FinishedAt show before the first start/exit.
inline constexpr std::string_view kZeroTime = "0001-01-01T00:00:00Z";

// What the health monitor last saw (Docker's State.Health). Empty status: no monitor has run
// (no Healthcheck, or never started); views then show "starting" while the container runs.
struct ContainerHealth {
  std::string status;  // "starting", "healthy", "unhealthy" or ""
  int64_t failing_streak = 0;
  nlohmann::json log = nlohmann::json::array();  // [{Start, End, ExitCode, Output}], oldest first
};

struct ContainerState {
  ContainerStatus status = ContainerStatus::kCreated;
  int64_t pid = 0;                     // the container's init on the host; 0 when not running
  int64_t exit_code = 0;               // of the last run; 127/126 after a failed start
  std::string error;                   // the last start error
  std::string started_at{kZeroTime};   // RFC 3339 with nanoseconds
  std::string finished_at{kZeroTime};  // RFC 3339 with nanoseconds
  bool oom_killed = false;
  int64_t restart_count = 0;
  // The shim keeping the running container, and its start time (field 22 of
  // /proc/<pid>/stat), which tells it apart from a later process reusing the pid.
  int64_t shim_pid = 0;
  uint64_t shim_start_time = 0;
  // A user's stop or kill ended the last run (Docker's HasBeenManuallyStopped): the restart
  // policy leaves the container stopped; `start` clears it.
  bool manually_stopped = false;
  ContainerHealth health;
};

struct Container {
  std::string id;                 // 64 hex
  std::string name;               // with the leading slash: "/web"
  std::string image;              // as the user gave it: "busybox"
  std::string image_id;           // "sha256:<hex>"
  std::string created;            // RFC 3339 with nanoseconds
  std::string path;               // process.args[0]
  std::vector<std::string> args;  // process.args[1:]
  nlohmann::json config;          // merged Config, as inspect shows it
  nlohmann::json host_config;     // normalized HostConfig, as inspect shows it
  // The image's layers (chain IDs, bottom first): the rootfs, and what image GC must keep.
  std::vector<std::string> chain_ids;
  // First host id of the container's own user namespace range (65536 ids); 0 = the host's
  // user namespace (UsernsMode=host).
  uint64_t userns_base = 0;
  std::string log_path;  // json-file log
  // The mounts create resolved (volumes named, anonymous ones made, volumes-from copied);
  // unset for records written before volumes existed (their Binds are read from HostConfig).
  std::optional<std::vector<MountPoint>> mounts;
  ContainerState state;

  bool Running() const {
    return state.status == ContainerStatus::kRunning || state.status == ContainerStatus::kPaused ||
           state.status == ContainerStatus::kRestarting;
  }
};

nlohmann::json ToJson(const Container& c);
// Throws berth::Error (kDataLoss) naming the bad field.
Container ContainerFromJson(const nlohmann::json& j);

}  // namespace berth::engine
