#include "runtime/idmap.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/mount.h>
#include <sched.h>
#include <signal.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "base/error.h"
#include "base/file_util.h"
#include "runtime/mount_options.h"

namespace berth::runtime {
namespace {

bool SameMappings(const std::vector<oci::IdMapping>& a, const std::vector<oci::IdMapping>& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](auto& x, auto& y) {
           return x.container_id == y.container_id && x.host_id == y.host_id && x.size == y.size;
         });
}

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

}  // namespace

std::string MappingText(const std::vector<oci::IdMapping>& maps) {
  std::string out;
  for (const auto& m : maps) {
    out += std::to_string(m.container_id) + " " + std::to_string(m.host_id) + " " +
           std::to_string(m.size) + "\n";
  }
  return out;
}

UniqueFd MakeMappingUserns(const std::vector<oci::IdMapping>& uids,
                           const std::vector<oci::IdMapping>& gids) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) {
    ThrowErrno("pipe");
  }
  UniqueFd hold_r(p[0]), hold_w(p[1]);
  // clone with CLONE_NEWUSER and no CLONE_VM is a fork whose child already lives in a new
  // user namespace when this returns: no handshake is needed before writing its maps.
  pid_t pid = static_cast<pid_t>(
      syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, nullptr, nullptr, nullptr, nullptr));
  if (pid < 0) {
    ThrowErrno("create a user namespace for an id-mapped mount");
  }
  if (pid == 0) {
    close(p[1]);
    char c;
    while (read(p[0], &c, 1) < 0 && errno == EINTR) {
    }
    _exit(0);
  }
  hold_r.Reset();
  auto finish = [&] {
    hold_w.Reset();  // the child reads EOF and exits
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  };
  try {
    std::string base = "/proc/" + std::to_string(pid);
    WriteFileOrThrow(base + "/uid_map", MappingText(uids));
    WriteFileOrThrow(base + "/gid_map", MappingText(gids));
    UniqueFd ns(open((base + "/ns/user").c_str(), O_RDONLY | O_CLOEXEC));
    if (!ns) {
      ThrowErrno("open " + base + "/ns/user");
    }
    finish();
    return ns;
  } catch (...) {
    kill(pid, SIGKILL);
    finish();
    throw;
  }
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

DetachedTrees PrepareDetachedTrees(const oci::Spec& spec, const std::string& rootfs,
                                   int joined_userns_fd) {
  DetachedTrees out;
  const oci::Linux* lx = spec.linux ? &*spec.linux : nullptr;
  bool has_userns = lx != nullptr && lx->Find(oci::NamespaceType::kUser) != nullptr;
  if (!has_userns) {
    for (const auto& m : spec.mounts) {
      if (!m.uid_mappings.empty() || ParseMountOptions(m.options).idmap) {
        ThrowInvalid("mount " + m.destination +
                     ": id-mapping needs a user namespace in linux.namespaces");
      }
    }
    if (auto it = spec.annotations.find(kRootfsIdmapAnnotation);
        it != spec.annotations.end() && it->second == "true") {
      ThrowInvalid(std::string("annotation ") + kRootfsIdmapAnnotation +
                   ": id-mapping needs a user namespace in linux.namespaces");
    }
    return out;
  }
  if (geteuid() != 0) {
    // Rootless: cloning mount trees needs host privileges, and the container's root is the
    // caller, who can reach whatever the caller can.
    for (const auto& m : spec.mounts) {
      if (!m.uid_mappings.empty() || ParseMountOptions(m.options).idmap) {
        ThrowInvalid("mount " + m.destination + ": id-mapped mounts need a runtime run as root");
      }
    }
    if (auto it = spec.annotations.find(kRootfsIdmapAnnotation);
        it != spec.annotations.end() && it->second == "true") {
      ThrowInvalid(std::string("annotation ") + kRootfsIdmapAnnotation +
                   ": an id-mapped rootfs needs a runtime run as root");
    }
    return out;
  }
  out.mount_fds.assign(spec.mounts.size(), -1);
  out.mounts.resize(spec.mounts.size());

  // One mapping user namespace per distinct mapping. The container's own mappings (or the
  // namespace it joins) serve the rootfs and plain "idmap" mounts.
  std::vector<std::pair<const oci::Mount*, UniqueFd>> made;
  UniqueFd container_ns;
  auto container_userns = [&]() -> int {
    if (joined_userns_fd >= 0) {
      return joined_userns_fd;
    }
    if (!container_ns) {
      container_ns = MakeMappingUserns(lx->uid_mappings, lx->gid_mappings);
    }
    return container_ns.get();
  };
  auto mapping_userns = [&](const oci::Mount& m) -> int {
    if (joined_userns_fd < 0 && SameMappings(m.uid_mappings, lx->uid_mappings) &&
        SameMappings(m.gid_mappings, lx->gid_mappings)) {
      return container_userns();
    }
    for (const auto& [other, fd] : made) {
      if (SameMappings(other->uid_mappings, m.uid_mappings) &&
          SameMappings(other->gid_mappings, m.gid_mappings)) {
        return fd.get();
      }
    }
    made.emplace_back(&m, MakeMappingUserns(m.uid_mappings, m.gid_mappings));
    return made.back().second.get();
  };

  auto it = spec.annotations.find(kRootfsIdmapAnnotation);
  bool map_rootfs = it != spec.annotations.end() && it->second == "true";
  try {
    out.rootfs = MakeDetachedTree(rootfs, map_rootfs ? container_userns() : -1, true, false);
  } catch (const Error& e) {
    throw map_rootfs ? e.WithContext(std::string("annotation ") + kRootfsIdmapAnnotation)
                     : e.WithContext("rootfs");
  }
  for (size_t i = 0; i < spec.mounts.size(); ++i) {
    const oci::Mount& m = spec.mounts[i];
    MountOptions o = ParseMountOptions(m.options);
    bool mapped = !m.uid_mappings.empty();
    bool bind = o.bind || m.type == "bind";
    if (!bind) {
      if (mapped || o.idmap) {
        ThrowInvalid("mount " + m.destination + ": only bind mounts can be id-mapped");
      }
      continue;
    }
    int ns = mapped ? mapping_userns(m) : o.idmap ? container_userns() : -1;
    try {
      out.mounts[i] = MakeDetachedTree(m.source, ns, o.recursive_bind, o.recursive_idmap);
    } catch (const Error& e) {
      throw e.WithContext("mount " + m.destination);
    }
    out.mount_fds[i] = out.mounts[i].get();
  }
  return out;
}

}  // namespace berth::runtime
