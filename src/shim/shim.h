#pragma once

#include <cstdint>
#include <string>

// berth-shim's work for one container: create and start it through the runtime library in
// this process, keep its stdout and stderr in the json-file log, reap it (the shim is a child
// subreaper), record how it ended durably, and remove its runtime state. berthd starts one
// shim per container and need not outlive it. (Attach, resize, exec and kill over a socket of
// the shim's own come next: docs/containers.md.)

namespace berth::shim {

struct ShimOptions {
  std::string id;            // container id
  std::string bundle;        // OCI bundle (config.json, rootfs)
  std::string runtime_root;  // the runtime's state directory
  std::string log_path;      // json-file log
  uint64_t log_max_size = 0;
  int log_max_file = 1;
  std::string exit_path;  // where the exit record goes: {"ExitCode","Pid","FinishedAt"}
  int ready_fd = -1;      // gets "ok\n", or the error text, once the container started
};

// Runs the container to its end. Returns the container's exit code (128+signal when killed);
// throws berth::Error when it could not be started (after reporting it on ready_fd).
int RunContainer(const ShimOptions& options);

}  // namespace berth::shim
