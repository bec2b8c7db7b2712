#pragma once

#include <cstdint>
#include <string>

// berth-shim's work for one container: create it through the runtime library in this process,
// serve the control socket (attach, start, resize, exec, kill: client.h has the protocol),
// keep the container's output in the json-file log, reap it (the shim is a child subreaper),
// record how it ended durably, and remove its runtime state. berthd starts one shim per
// container (detached: the shim outlives berthd) and drives it through shim/client.h.

namespace berth::shim {

struct ShimOptions {
  std::string id;            // container id
  std::string bundle;        // OCI bundle (config.json, rootfs)
  std::string runtime_root;  // the runtime's state directory
  std::string log_path;      // json-file log
  uint64_t log_max_size = 0;
  int log_max_file = 1;
  std::string exit_path;    // where the exit record goes: {"ExitCode","Pid","FinishedAt"}
  std::string socket_path;  // the control socket (SOCK_SEQPACKET, mode 0600)
  int ready_fd = -1;        // gets one JSON line once the container is created (or failed)
  bool stdin_open = false;  // the container's stdin is a pipe fed by attaches; else /dev/null
  bool stdin_once = false;  // an attach's stdin EOF closes the container's stdin
};

// Creates the container, reports on ready_fd, serves the socket until the container ended
// and every stream is delivered. Returns the container's exit code (128+signal when killed);
// a container that could not be created or started gives 125 after its exit record (with
// 127, 126 or 125) was written.
int RunContainer(const ShimOptions& options);

}  // namespace berth::shim
