#pragma once

#include <sys/types.h>

namespace berth {

// Descriptor passing over a unix socket (SCM_RIGHTS), with a payload: what the sync socket,
// the console socket and the seccomp listener all use. Both never throw (the child between
// clone and exec calls them); they return the byte count or -errno.

// Sends `len` bytes of `payload` with `fd` attached.
ssize_t SendWithFd(int sock, const void* payload, size_t len, int fd) noexcept;

// Receives up to `len` bytes into `payload`; *fd is the attached descriptor (close-on-exec),
// or -1 if none came.
ssize_t RecvWithFd(int sock, void* payload, size_t len, int* fd) noexcept;

}  // namespace berth
