#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "oci/runtime_spec.h"
#include "runtime/rootfs.h"
#include "runtime/seccomp.h"

namespace berth::runtime {

// Everything the setup processes need, computed by the parent before the first fork (the
// parent plans, the child executes). Descriptors are owned by the parent; the children
// inherit them.
struct InitPlan {
  const oci::Spec* spec = nullptr;        // null for exec
  const oci::Process* process = nullptr;  // what to execve
  RootfsPlan rootfs;
  bool setup_rootfs = false;  // a new mount namespace: build the rootfs and pivot

  std::vector<std::pair<int, int>> joins;  // (CLONE_NEW* flag, namespace fd), user first
  int create_flags = 0;                    // CLONE_NEW* to create
  std::string time_offsets;                // for /proc/self/timens_offsets

  int sync_fd = -1;               // child end of the sync socket
  int fifo_fd = -1;               // exec fifo opened O_RDONLY|O_NONBLOCK; -1: wait for kStart
  int console_fd = -1;            // connected console socket; -1: no terminal
  int hook_state_fd = -1;         // pipe with the state JSON for in-container hooks; -1: none
  std::vector<int> keep_fds;      // --preserve-fds: 3..3+n stay open across exec
  std::vector<int> parent_fds;    // the parent's ends (sync, pipes): closed first in the child
  bool mounts_done_sync = false;  // the parent runs prestart/createRuntime hooks
  std::string resolved_exe;       // filled in by the child
  const SeccompProgram* seccomp = nullptr;  // null or empty: none
  bool new_session_keyring = false;  // join a new anonymous session keyring (not --no-new-keyring)
  int test_exec_delay_ms = 0;
  // Parent side: the container's cgroup2 directory; stage 1 is cloned straight into it
  // (clone3 CLONE_INTO_CGROUP), and with it the init. started_in_cgroup says it worked.
  int cgroup_fd = -1;
  bool started_in_cgroup = false;
  // Filled in by the child once the runtime reports the cgroup joined.
  bool cgroup_joined = false;
  std::string hook_state;  // ForTest: hold the process in the container before execve
};

// The first child: joins and unshares namespaces (user first, then the id-map handshake),
// then forks the init with CLONE_PARENT, so the init is the runtime's child, reports its pid
// and exits. Never returns.
[[noreturn]] void RunStage1(InitPlan& plan) noexcept;

}  // namespace berth::runtime
