#pragma once

#include <string>

#include "base/fd.h"

namespace berth::runtime {

// Protection against the CVE-2019-5736 class: a process inside the container must never be
// able to reach the runtime's binary on the host and overwrite it. Before a command that
// enters a container (create, run, exec), the runtime re-executes itself through a detached
// read-only bind mount of its binary (crun's way: nothing is copied), or,
// where it may not mount, from a sealed memfd holding a copy of its loadable segments (runc's
// way). Either way /proc/<pid>/exe of every runtime process that enters a container names a
// file that cannot be written. (The setup processes are also non-dumpable, which keeps
// container processes away from their /proc entries.)
//
// Returns normally when already running from a protected binary; otherwise execs and does not
// return. `scratch_dir` (the runtime's root, root-owned) holds the short-lived bind target.
// Throws berth::Error if no protected copy can be made: this fails closed.
void EnsureClonedBinary(char** argv, char** envp, const std::string& scratch_dir);

// A descriptor of `file` through a detached read-only bind mount (the bind is gone, the
// descriptor keeps it): executing it runs `file` such that /proc/<pid>/exe cannot be written.
// berthd opens berth-shim this way once, so that no shim has to re-execute itself. An invalid
// descriptor where this process may not mount. `scratch_dir` as for EnsureClonedBinary.
UniqueFd OpenReadOnlyView(const std::string& file, const std::string& scratch_dir);

// Whether this process runs from a sealed copy (for tests).
bool RunningFromClonedBinary();

}  // namespace berth::runtime
