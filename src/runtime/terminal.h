#pragma once

#include <string>

#include "base/fd.h"
#include "oci/runtime_spec.h"
#include "runtime/child_error.h"

namespace berth::runtime {

// Child side: makes a pty in the container's devpts, binds its slave over /dev/console,
// sends the master over `console_socket` (SCM_RIGHTS, the pty name as payload, as runc does)
// and makes the slave the controlling terminal and stdio.
bool SetupConsole(int console_socket, const oci::Process& process, bool bind_console,
                  ChildError* error);

// Parent side.
UniqueFd ConnectUnixSocket(const std::string& path);
bool SendFd(int sock, int fd, const char* name) noexcept;
// Receives one descriptor; throws when the peer sent none.
UniqueFd RecvFd(int sock);

}  // namespace berth::runtime
