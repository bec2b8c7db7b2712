#pragma once

#include <string_view>
#include <vector>

#include "oci/runtime_spec.h"
#include "runtime/child_error.h"

namespace berth::runtime {

// Runs one hook as the runtime spec says: path, args (args[0] is argv[0]) and env as given,
// the container state JSON on stdin, killed after its timeout. Fails when the hook cannot
// start, exits non-zero, or times out. No exceptions: the container init runs
// createContainer and startContainer hooks itself.
bool RunHook(const oci::Hook& hook, std::string_view state_json, ChildError* error) noexcept;

// Runs each hook in order; the first failure stops the list. `kind` names the list in the
// error ("createRuntime hook /usr/bin/x: exited with status 1").
bool RunHooks(const std::vector<oci::Hook>& hooks, const char* kind, std::string_view state_json,
              ChildError* error) noexcept;

// The same, throwing berth::Error: for the runtime's own side.
void RunHooksOrThrow(const std::vector<oci::Hook>& hooks, const char* kind,
                     std::string_view state_json);

}  // namespace berth::runtime
