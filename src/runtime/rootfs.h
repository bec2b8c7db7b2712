#pragma once

#include <string>
#include <vector>

#include "oci/runtime_spec.h"
#include "runtime/child_error.h"

namespace berth::runtime {

// What the container init needs to build its root filesystem. Computed in the parent; the
// functions below run in the child between clone and exec and only report through ChildError.
struct RootfsPlan {
  const oci::Spec* spec = nullptr;
  std::string rootfs;       // absolute host path of the root filesystem
  bool in_user_ns = false;  // the init runs in a new user namespace (no mknod)
  bool new_net_ns = false;  // sysfs can be mounted fresh only in an owned netns
  bool new_cgroup_ns = false;
  bool no_pivot = false;
  std::string cgroup_path;  // the container's cgroup, for cgroup mounts without cgroupns
  // Detached trees the parent made (runtime/idmap.h), attached with move_mount: the rootfs
  // (-1: bind the path itself) and one per spec.mounts entry (null, -1: mount it here).
  int rootfs_tree_fd = -1;
  // With a tree: the rootfs directory, opened by stage 1 in the container's mount namespace
  // while it still has host root's uid (the container's root may not be able to reach it).
  int rootfs_dir_fd = -1;
  const std::vector<int>* mount_tree_fds = nullptr;
  // Called before the first cgroup mount: the init must be in its cgroup (and cgroup
  // namespace) by then. Until that point the mounts are made while the runtime is still
  // attaching the init to its cgroup, which can take an RCU grace period on cgroup v1.
  bool (*join_cgroup)(void* arg, ChildError* error) = nullptr;
  void* join_cgroup_arg = nullptr;
};

// Makes the mount tree under plan.rootfs: root propagation, the rootfs bind, every mount of
// config.json (destinations resolved inside the rootfs), device nodes and /dev symlinks.
bool PrepareRootfs(const RootfsPlan& plan, ChildError* error);

// Switches root: pivot_root(".", ".") and a detached unmount of the old root, or MS_MOVE and
// chroot for --no-pivot.
bool PivotRoot(const RootfsPlan& plan, ChildError* error);

// After the root switch: masked and read-only paths, and a read-only root.
bool FinishRootfs(const RootfsPlan& plan, ChildError* error);

}  // namespace berth::runtime
