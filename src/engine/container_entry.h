#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "engine/container.h"
#include "engine/container_service.h"

// The service's record of one container, shared by the files that make up ContainerService
// (container_service.cc, container_volumes.cc, container_restart.cc). Not a public header.
namespace berth::engine {

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

}  // namespace berth::engine
