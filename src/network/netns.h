#pragma once

#include <functional>

#include "base/fd.h"

namespace berth::network {

// A new network namespace held by a file descriptor only (no bind mount under /run/netns, no
// name to collide): it lives until the last descriptor and process in it are gone. Created
// from a short-lived thread, so the caller's namespaces are untouched.
UniqueFd CreateNetns();

// Runs `fn` on a thread that has joined the network namespace `netns_fd` (sockets it creates
// belong to that namespace and stay there); rethrows what fn throws.
void RunInNetns(int netns_fd, const std::function<void()>& fn);

// The network namespace of a process (/proc/<pid>/ns/net), or of this thread when pid is 0.
UniqueFd OpenNetns(int pid = 0);

}  // namespace berth::network
