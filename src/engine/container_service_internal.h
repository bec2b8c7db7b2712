#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/container_service.h"
#include "engine/container_spec.h"
#include "shim/client.h"

// ContainerService's per-container and per-exec records, shared by its .cc files
// (container_service.cc, container_network.cc, container_volumes.cc, container_restart.cc,
// container_archive.cc). Not a public header.

namespace berth::engine {

struct ExecInfo {
  std::string id;
  std::string container_id;
  nlohmann::json body;  // the exec create body, as received
  bool running = false;
  bool started = false;
  std::optional<int64_t> exit_code;
  int64_t pid = 0;
  // The shim connection that brings the exit code, while the process runs: the start handler
  // waits on it (attached), or the monitor thread does (detached).
  std::shared_ptr<shim::Client> client;
};

struct ContainerService::Entry {
  std::mutex op;  // one lifecycle operation at a time (create/start/stop/remove/…)
  // Everything below is guarded by the service's mu_.
  Container c;
  std::vector<Pending> pending;  // attaches that came before start
  uint64_t exits = 0;            // exits seen since berthd started
  bool removed = false;
  int pidfd = -1;  // the shim's, while running
  std::vector<std::string> exec_ids;
  int64_t backoff_ms = 0;  // the restart policy's last wait; 0 = none yet
};

struct ResolvedUser {
  uint32_t uid = 0, gid = 0;
  std::vector<uint32_t> groups;
};
// A user and groups by name or number in the container's /etc/passwd and /etc/group, read
// inside `rootfs` (container_service.cc).
ResolvedUser ResolveUser(const std::string& rootfs, const UserLookup& lookup);

}  // namespace berth::engine
