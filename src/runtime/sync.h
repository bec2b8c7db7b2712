#pragma once

#include <sys/types.h>

#include <cstdint>

// The sync channel between the runtime (parent) and the container's setup processes
// (children): a SOCK_SEQPACKET pair carrying fixed-size records, so the child never allocates
// to talk and the parent never parses free text. A failing child step sends kError with its
// step, errno and a short text; the parent turns it into a berth::Error.
namespace berth::runtime {

enum class SyncType : uint32_t {
  kWriteIdMaps = 1,  // child → parent: I unshared a user namespace, write my id maps
  kIdMapsWritten,    // parent → child
  kInitPid,          // child → parent: value = pid of the container init (host view)
  kCgroupJoined,     // parent → init: init is in its cgroup, go on
  kMountsDone,       // init → parent: mounts made, run prestart/createRuntime hooks
  kHooksDone,        // parent → init: go on (createContainer hooks, pivot_root, ...)
  kReady,            // init → parent: waiting for start
  kStart,            // parent → init: start now (run and exec, which need no fifo)
  kSeccompFd,        // init → parent: the seccomp notify fd, attached (SCM_RIGHTS)
  kError,            // child → parent: a step failed
};

struct SyncMsg {
  SyncType type;
  int32_t err;     // errno of kError
  int64_t value;   // pid of kInitPid
  char text[480];  // what failed, NUL-terminated
};

// Both return false on a short or failed transfer (the peer died); never throw.
bool SyncSend(int fd, SyncType type, int64_t value = 0) noexcept;
bool SyncSendError(int fd, int err, const char* text) noexcept;
bool SyncRecv(int fd, SyncMsg* msg) noexcept;

// Sends `type` with `fd` attached (SCM_RIGHTS); child side.
bool SyncSendFd(int fd, SyncType type, int passed_fd) noexcept;
// Receives one message and the descriptor attached to it, if any (-1 otherwise).
bool SyncRecvFd(int fd, SyncMsg* msg, int* passed_fd) noexcept;

// Waits for a message of `want`; a kError from the child or a closed socket becomes a
// berth::Error ("what: text: strerror"). Parent side only.
SyncMsg SyncExpect(int fd, SyncType want, const char* what);

}  // namespace berth::runtime
