#pragma once

#include <sys/types.h>

#include <string_view>

namespace berth {

// Resolution of a path inside a root directory, the way the kernel would resolve it after a
// chroot into that root: `..` never climbs above the root and absolute symlinks restart at the
// root. This is what stops the classic container escapes through symlinks in a rootfs or a
// layer. Everything here is async-signal-safe enough for the child between clone and exec (no
// exceptions, no heap) and returns a descriptor or -errno.

enum class CreateMode {
  kNone,      // every component must exist
  kDirs,      // create missing directories, the last one included
  kFileLast,  // create missing parent directories and an empty regular file as the last one
};

// Returns an O_PATH descriptor of `path` resolved inside `root_fd`. Symlinks in the last
// component are followed too. `mode` is used for what kDirs/kFileLast create.
int ResolveInRoot(int root_fd, std::string_view path, CreateMode create = CreateMode::kNone,
                  mode_t mode = 0755) noexcept;

// Opens `path` inside `root_fd` with `flags` (O_RDONLY, O_WRONLY|O_TRUNC, ...). Uses openat2
// RESOLVE_IN_ROOT where the kernel has it, else ResolveInRoot and a reopen through the
// descriptor. O_CREAT is honoured (the file is created inside the root).
int OpenInRoot(int root_fd, std::string_view path, int flags, mode_t mode = 0644) noexcept;

// Whether openat2(2) with RESOLVE_IN_ROOT is used; tests force the fallback with
// SetOpenat2DisabledForTest(true).
bool Openat2Supported() noexcept;
void SetOpenat2DisabledForTest(bool disabled) noexcept;

}  // namespace berth
