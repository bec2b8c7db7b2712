#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "base/fd.h"
#include "oci/runtime_spec.h"
#include "runtime/init.h"
#include "runtime/seccomp.h"
#include "runtime/state.h"

// The runtime side of starting processes in a container, shared by create/run and exec.
namespace berth::runtime::internal {

// Writes `pid` to `path` (no-op for an empty path).
void WritePidFile(const std::string& path, pid_t pid);

// Signals `pid` through a pidfd, after checking it is still the process we started; false if
// it is gone.
bool SignalProcess(pid_t pid, unsigned long long start_time, int sig);

// The terminal's way back: `child` is what the init sends the pty master over (the caller's
// --console-socket, or our end of a socket pair); `peer` is where we receive it ourselves to
// proxy the pty in a foreground run/exec.
struct ConsoleEnds {
  UniqueFd child;
  UniqueFd peer;
};

// Connects the console socket, or makes a pair when the runtime proxies (`can_proxy`); else
// refuses with `refusal`. Records the ends in `plan`.
ConsoleEnds SetUpConsole(const std::string& socket_path, bool can_proxy, const char* refusal,
                         InitPlan& plan);

// Starts the stage-1 child for `plan` and runs the parent side of the handshake up to the
// init's pid (writing the id maps when a user namespace is created). `sync` receives the
// parent's end of the sync socket.
pid_t SpawnInit(InitPlan& plan, const std::vector<oci::IdMapping>* uid_maps,
                const std::vector<oci::IdMapping>* gid_maps, UniqueFd& sync);

// seccomp notify: receives the listener descriptor the child sends up `sync` and hands it,
// with the container process state (runtime spec, "Seccomp notify"), to the listener socket.
void ForwardSeccompListener(int sync, const SeccompProgram& program, pid_t pid,
                            const std::string& state_json);

// The config.json saved at create (an empty spec if there is none).
oci::Spec LoadSavedSpec(const StateStore& store, const std::string& id);

}  // namespace berth::runtime::internal
