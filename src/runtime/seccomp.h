#pragma once

#include <linux/filter.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/child_error.h"

namespace berth::runtime {

// linux.seccomp compiled to a BPF program in the parent (with libseccomp); the child installs
// it with one seccomp(2) call, with no library and no allocation between clone and exec.
struct SeccompProgram {
  std::vector<struct sock_filter> filter;  // empty: no filter
  unsigned int flags = 0;                  // SECCOMP_FILTER_FLAG_* from linux.seccomp.flags
  std::string listener_path;               // seccomp notify: where the listener fd goes
  std::string listener_metadata;           // passed along with it, opaque to the runtime

  bool empty() const { return filter.empty(); }
};

// Compiles a linux.seccomp object: defaultAction/defaultErrnoRet, architectures, flags and
// syscalls with names, action, errnoRet and argument comparisons. Throws kInvalidArgument
// naming the field ("linux.seccomp.syscalls[2].names[0]: unknown syscall \"fly\"").
// SCMP_ACT_NOTIFY rules need listenerPath.
SeccompProgram CompileSeccomp(const nlohmann::json& seccomp);

// CompileSeccomp through a cache of compiled filters in `cache_dir` (created 0700 if
// missing): libseccomp takes milliseconds for a large profile such as the default one, the
// same work on every start. An entry is used only when the whole linux.seccomp object, the
// libseccomp version and the architecture match byte for byte; a filter with a notify
// listener is not cached. A cache that cannot be read or written is skipped silently.
SeccompProgram CompileSeccompCached(const nlohmann::json& seccomp, const std::string& cache_dir);

// Child side: installs the program (no-op for an empty one). With a listener_path, the
// filter gets a notify listener and its descriptor is stored in *listener_fd.
bool InstallSeccomp(const SeccompProgram& program, int* listener_fd, ChildError* error) noexcept;

}  // namespace berth::runtime
