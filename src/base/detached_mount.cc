#include "base/detached_mount.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/mount.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "base/error.h"

namespace berth {

// The name of the filesystem under `fd`, for an error message.
std::string FilesystemName(int fd) {
  struct statfs sf;
  if (fstatfs(fd, &sf) < 0) {
    return "unknown";
  }
  struct Name {
    unsigned long magic;
    const char* name;
  };
  static constexpr Name kNames[] = {
      {PROC_SUPER_MAGIC, "proc"},
      {SYSFS_MAGIC, "sysfs"},
      {TMPFS_MAGIC, "tmpfs"},
      {EXT4_SUPER_MAGIC, "ext4"},
      {XFS_SUPER_MAGIC, "xfs"},
      {BTRFS_SUPER_MAGIC, "btrfs"},
      {OVERLAYFS_SUPER_MAGIC, "overlay"},
      {NFS_SUPER_MAGIC, "nfs"},
      {FUSE_SUPER_MAGIC, "fuse"},
      {CGROUP2_SUPER_MAGIC, "cgroup2"},
      {DEVPTS_SUPER_MAGIC, "devpts"},
      {0x794c7630, "overlay"},
  };
  for (const auto& n : kNames) {
    if (static_cast<unsigned long>(sf.f_type) == n.magic) {
      return n.name;
    }
  }
  char hex[32];
  snprintf(hex, sizeof(hex), "magic 0x%lx", static_cast<unsigned long>(sf.f_type));
  return hex;
}

UniqueFd MakeDetachedTree(const std::string& source, int userns_fd, bool recursive_tree,
                          bool recursive_idmap) {
  unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive_tree ? AT_RECURSIVE : 0);
  UniqueFd tree(static_cast<int>(syscall(SYS_open_tree, AT_FDCWD, source.c_str(), flags)));
  if (!tree) {
    ThrowErrno("bind source " + source);
  }
  if (userns_fd < 0) {
    return tree;
  }
  struct mount_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.attr_set = MOUNT_ATTR_IDMAP;
  attr.userns_fd = static_cast<uint64_t>(userns_fd);
  unsigned at = AT_EMPTY_PATH | (recursive_idmap ? AT_RECURSIVE : 0);
  if (syscall(SYS_mount_setattr, tree.get(), "", at, &attr, sizeof(attr)) < 0) {
    int err = errno;
    if (err == EINVAL || err == EOPNOTSUPP) {
      throw Error(Kind::kInvalidArgument, "cannot id-map " + source + ": its filesystem (" +
                                              FilesystemName(tree.get()) +
                                              ") does not support id-mapped mounts");
    }
    errno = err;
    ThrowErrno("id-map " + source);
  }
  return tree;
}

}  // namespace berth
