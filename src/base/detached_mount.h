#pragma once

#include <string>

#include "base/fd.h"

// Detached mounts (open_tree(2) clones, optionally id-mapped with mount_setattr(2)): what the
// runtime attaches inside a container, and what berthd stacks an id-mapped overlay rootfs on.
namespace berth {

// A detached copy of the mount tree at `source` (the whole tree when `recursive_tree`, like
// rbind), id-mapped through `userns_fd` unless it is -1 (every mount of the copy when
// `recursive_idmap`). A filesystem that cannot be id-mapped is a clear error naming it.
UniqueFd MakeDetachedTree(const std::string& source, int userns_fd, bool recursive_tree,
                          bool recursive_idmap);

// The name of the filesystem under `fd` ("ext4", "overlay", "magic 0x…"), for error messages.
std::string FilesystemName(int fd);

}  // namespace berth
