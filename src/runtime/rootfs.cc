#include "runtime/rootfs.h"

#include <fcntl.h>
#include <linux/mount.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstring>

#include "base/fd.h"
#include "base/path_in_root.h"
#include "runtime/cgroups.h"
#include "runtime/mount_options.h"

namespace berth::runtime {
namespace {

struct FdPath {
  char buf[64];
  explicit FdPath(int fd) { snprintf(buf, sizeof(buf), "/proc/self/fd/%d", fd); }
  const char* c_str() const { return buf; }
};

// The flags of an existing mount that a bind remount must keep: in a user namespace the
// kernel refuses to clear locked nosuid/nodev/noexec/atime flags, so carry them over.
unsigned long LockedFlags(const char* path) {
  struct statvfs sv;
  if (statvfs(path, &sv) < 0) {
    return 0;
  }
  unsigned long flags = 0;
  if (sv.f_flag & ST_NOSUID) flags |= MS_NOSUID;
  if (sv.f_flag & ST_NODEV) flags |= MS_NODEV;
  if (sv.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
  if (sv.f_flag & ST_NOATIME) flags |= MS_NOATIME;
  if (sv.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
  if (sv.f_flag & ST_RELATIME) flags |= MS_RELATIME;
  return flags;
}

bool SetAttrs(int fd, const MountOptions& o, const char* dest, ChildError* error) {
  if (o.attr_set == 0 && o.attr_clr == 0) {
    return true;
  }
  struct mount_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.attr_set = o.attr_set;
  attr.attr_clr = o.attr_clr;
  if (o.attr_set & MOUNT_ATTR__ATIME) {
    attr.attr_clr |= MOUNT_ATTR__ATIME;
  }
  if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0) {
    return error->Fail(errno, "set recursive mount attributes on %s", dest);
  }
  return true;
}

// Mounts the cgroup hierarchies at `dest` (an fd of the directory): cgroup2 on a pure v2
// host; otherwise a tmpfs with one mount per v1 hierarchy (and cgroup2 at unified/).
bool MountCgroups(const RootfsPlan& plan, int root_fd, const std::string& dest,
                  const MountOptions& o, ChildError* error) {
  unsigned long flags = (o.flags & ~MS_RDONLY) | MS_NOSUID | MS_NODEV | MS_NOEXEC;
  bool ro = o.flags & MS_RDONLY;
  const CgroupLayout& layout = DetectCgroupLayout();
  auto resolve = [&](const std::string& path) {
    return UniqueFd(ResolveInRoot(root_fd, path, CreateMode::kDirs));
  };
  auto mount_one = [&](const std::string& sub, const char* type, const char* data,
                       const std::string& host_dir) {
    UniqueFd fd = resolve(sub);
    if (!fd) {
      return error->Fail(errno, "create cgroup mount point %s", sub.c_str());
    }
    FdPath target(fd.get());
    int rc;
    if (plan.new_cgroup_ns) {
      rc = mount(type, target.c_str(), type, flags | (ro ? MS_RDONLY : 0), data);
    } else {
      // Without a cgroup namespace the container sees only its own cgroup, bind-mounted.
      rc = mount(host_dir.c_str(), target.c_str(), nullptr, MS_BIND | MS_REC, nullptr);
      if (rc == 0) {
        UniqueFd again = resolve(sub);
        FdPath t2(again.get());
        rc = mount(nullptr, t2.c_str(), nullptr,
                   MS_BIND | MS_REMOUNT | flags | (ro ? MS_RDONLY : 0), nullptr);
      }
    }
    if (rc < 0) {
      return error->Fail(errno, "mount %s on %s", type, sub.c_str());
    }
    return true;
  };
  if (layout.PureV2()) {
    return mount_one(dest, "cgroup2", nullptr, layout.v2_mount + plan.cgroup_path);
  }
  {
    UniqueFd fd = resolve(dest);
    if (!fd) {
      return error->Fail(errno, "create mount point %s", dest.c_str());
    }
    if (mount("tmpfs", FdPath(fd.get()).c_str(), "tmpfs", flags, "mode=755") < 0) {
      return error->Fail(errno, "mount tmpfs on %s", dest.c_str());
    }
  }
  for (const auto& h : layout.v1) {
    std::string name = h.controllers;
    if (name.rfind("name=", 0) == 0) {
      name = name.substr(5);
    }
    std::string sub = dest + "/" + name;
    if (!mount_one(sub, "cgroup", h.controllers.c_str(), h.mount_point + plan.cgroup_path)) {
      return false;
    }
  }
  if (!layout.v2_mount.empty() &&
      !mount_one(dest + "/unified", "cgroup2", nullptr, layout.v2_mount + plan.cgroup_path)) {
    return false;
  }
  return true;
}

// `tree_fd` is the detached id-mapped copy of a bind source, or -1.
bool DoMount(const RootfsPlan& plan, int root_fd, const oci::Mount& m, int tree_fd,
             ChildError* error) {
  MountOptions o = ParseMountOptions(m.options);
  const char* dest = m.destination.c_str();
  if (m.type == "cgroup" || m.type == "cgroup2") {
    if (plan.join_cgroup != nullptr && !plan.join_cgroup(plan.join_cgroup_arg, error)) {
      return false;
    }
    return MountCgroups(plan, root_fd, m.destination, o, error);
  }
  bool bind = o.bind || m.type == "bind";
  CreateMode create = CreateMode::kDirs;
  if (bind) {
    struct stat st;
    if ((tree_fd >= 0 ? fstat(tree_fd, &st) : stat(m.source.c_str(), &st)) < 0) {
      return error->Fail(errno, "bind source %s for %s", m.source.c_str(), dest);
    }
    if (!S_ISDIR(st.st_mode)) {
      create = CreateMode::kFileLast;
    }
  }
  UniqueFd target(ResolveInRoot(root_fd, m.destination, create));
  if (!target) {
    return error->Fail(-ResolveInRoot(root_fd, m.destination, create),
                       "create mount point %s inside the rootfs", dest);
  }
  unsigned long flags = o.flags & ~MS_REMOUNT;
  if (bind) {
    if (tree_fd >= 0) {
      if (syscall(SYS_move_mount, tree_fd, "", target.get(), "",
                  MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) {
        return error->Fail(errno, "attach %s on %s", m.source.c_str(), dest);
      }
    } else if (mount(m.source.c_str(), FdPath(target.get()).c_str(), nullptr,
                     MS_BIND | (o.recursive_bind ? MS_REC : 0), nullptr) < 0) {
      return error->Fail(errno, "bind mount %s on %s", m.source.c_str(), dest);
    }
    // The descriptor still names the covered directory: reopen to reach the new mount.
    target.Reset(ResolveInRoot(root_fd, m.destination));
    if (!target) {
      return error->Fail(errno, "reopen mount %s", dest);
    }
    FdPath p(target.get());
    if (flags != 0) {
      unsigned long keep = plan.in_user_ns ? LockedFlags(p.c_str()) : 0;
      if (mount(nullptr, p.c_str(), nullptr, MS_BIND | MS_REMOUNT | flags | keep, nullptr) < 0) {
        return error->Fail(errno, "remount bind %s with its options", dest);
      }
    }
  } else {
    const char* source = m.source.empty() ? m.type.c_str() : m.source.c_str();
    int rc = mount(source, FdPath(target.get()).c_str(), m.type.c_str(), flags,
                   o.data.empty() ? nullptr : o.data.c_str());
    if (rc < 0 && errno == EPERM && (m.type == "sysfs" || m.type == "mqueue")) {
      // sysfs needs an owned network namespace and mqueue an owned ipc namespace: without
      // them, bind the host's (what runc does too), read-only as asked.
      const char* host = m.type == "sysfs" ? "/sys" : "/dev/mqueue";
      rc = mount(host, FdPath(target.get()).c_str(), nullptr, MS_BIND | MS_REC, nullptr);
      if (rc == 0) {
        UniqueFd again(ResolveInRoot(root_fd, m.destination));
        FdPath p(again.get());
        rc = mount(nullptr, p.c_str(), nullptr, MS_BIND | MS_REMOUNT | flags | LockedFlags(host),
                   nullptr);
      }
    }
    if (rc < 0) {
      return error->Fail(errno, "mount %s on %s", m.type.c_str(), dest);
    }
    target.Reset(ResolveInRoot(root_fd, m.destination));
  }
  if (o.propagation != 0 &&
      mount(nullptr, FdPath(target.get()).c_str(), nullptr, o.propagation, nullptr) < 0) {
    return error->Fail(errno, "set propagation of %s", dest);
  }
  return SetAttrs(target.get(), o, dest, error);
}

struct DefaultDevice {
  const char* path;
  unsigned major, minor;
};

constexpr DefaultDevice kDefaultDevices[] = {
    {"/dev/null", 1, 3},   {"/dev/zero", 1, 5},    {"/dev/full", 1, 7},
    {"/dev/random", 1, 8}, {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0},
};

bool MakeDevice(const RootfsPlan& plan, int root_fd, const char* path, char type, dev_t dev,
                mode_t perm, uid_t uid, gid_t gid, ChildError* error) {
  if (plan.in_user_ns || type == 'p') {
    if (type == 'p') {
      // A fifo needs no privilege.
    } else {
      // mknod is refused in a user namespace: bind the host's node over an empty file.
      UniqueFd target(ResolveInRoot(root_fd, path, CreateMode::kFileLast, 0644));
      if (!target) {
        return error->Fail(errno, "create device placeholder %s", path);
      }
      if (mount(path, FdPath(target.get()).c_str(), nullptr, MS_BIND, nullptr) < 0) {
        return error->Fail(errno, "bind device %s", path);
      }
      return true;
    }
  }
  const char* slash = strrchr(path, '/');
  char dir[4096];
  size_t dlen = static_cast<size_t>(slash - path);
  if (dlen >= sizeof(dir)) {
    return error->Fail(ENAMETOOLONG, "device path %s", path);
  }
  memcpy(dir, path, dlen);
  dir[dlen] = '\0';
  UniqueFd parent(ResolveInRoot(root_fd, dlen ? dir : "/", CreateMode::kDirs));
  if (!parent) {
    return error->Fail(errno, "create directory of device %s", path);
  }
  UniqueFd pdir(openat(parent.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!pdir) {
    return error->Fail(errno, "open directory of device %s", path);
  }
  const char* name = slash + 1;
  unlinkat(pdir.get(), name, 0);
  mode_t kind = type == 'b' ? S_IFBLK : type == 'p' ? S_IFIFO : S_IFCHR;
  if (mknodat(pdir.get(), name, kind | perm, dev) < 0) {
    return error->Fail(errno, "mknod %s", path);
  }
  // mknod applies the umask: set the mode the config asked for exactly.
  if (fchmodat(pdir.get(), name, perm, 0) < 0) {
    return error->Fail(errno, "chmod device %s", path);
  }
  if (fchownat(pdir.get(), name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0) {
    return error->Fail(errno, "chown device %s", path);
  }
  return true;
}

bool IsBindMountAt(const oci::Spec& spec, const char* dest) {
  for (const auto& m : spec.mounts) {
    if (m.destination == dest) {
      MountOptions o = ParseMountOptions(m.options);
      return o.bind || m.type == "bind";
    }
  }
  return false;
}

bool CreateDevices(const RootfsPlan& plan, int root_fd, ChildError* error) {
  const oci::Spec& spec = *plan.spec;
  if (!IsBindMountAt(spec, "/dev")) {
    for (const auto& d : kDefaultDevices) {
      if (!MakeDevice(plan, root_fd, d.path, 'c', makedev(d.major, d.minor), 0666, 0, 0, error)) {
        return false;
      }
    }
    struct Link {
      const char* target;
      const char* name;
    };
    static constexpr Link kLinks[] = {
        {"/proc/self/fd", "fd"},       {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"},
        {"/proc/self/fd/2", "stderr"}, {"pts/ptmx", "ptmx"},
    };
    UniqueFd dev(ResolveInRoot(root_fd, "/dev", CreateMode::kDirs));
    UniqueFd devdir(dev ? openat(dev.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1);
    if (!devdir) {
      return error->Fail(errno, "open /dev of the rootfs");
    }
    for (const auto& l : kLinks) {
      if (strcmp(l.name, "ptmx") == 0) {
        unlinkat(devdir.get(), l.name, 0);
      }
      if (symlinkat(l.target, devdir.get(), l.name) < 0 && errno != EEXIST) {
        return error->Fail(errno, "symlink /dev/%s", l.name);
      }
    }
    if (access("/proc/kcore", F_OK) == 0) {
      symlinkat("/proc/kcore", devdir.get(), "core");
    }
  }
  if (spec.linux) {
    for (const auto& d : spec.linux->devices) {
      if (!MakeDevice(plan, root_fd, d.path.c_str(), d.type,
                      makedev(static_cast<unsigned>(d.major), static_cast<unsigned>(d.minor)),
                      d.file_mode.value_or(0666) & 07777, d.uid.value_or(0), d.gid.value_or(0),
                      error)) {
        return false;
      }
    }
  }
  return true;
}

}  // namespace

bool PrepareRootfs(const RootfsPlan& plan, ChildError* error) {
  const oci::Spec& spec = *plan.spec;
  unsigned long prop = MS_SLAVE | MS_REC;
  if (spec.linux && !spec.linux->rootfs_propagation.empty()) {
    prop = PropagationFlags(spec.linux->rootfs_propagation);
  }
  if (mount(nullptr, "/", nullptr, prop, nullptr) < 0) {
    return error->Fail(errno, "set propagation of /");
  }
  // pivot_root needs the rootfs to be a mount point whose parent is not shared.
  UniqueFd root;
  if (plan.rootfs_tree_fd >= 0) {
    if (syscall(SYS_move_mount, plan.rootfs_tree_fd, "", plan.rootfs_dir_fd, "",
                MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) {
      return error->Fail(errno, "attach rootfs %s", plan.rootfs.c_str());
    }
    // The tree's descriptor now names the root of the attached mount.
    root.Reset(fcntl(plan.rootfs_tree_fd, F_DUPFD_CLOEXEC, 0));
  } else {
    if (mount(plan.rootfs.c_str(), plan.rootfs.c_str(), nullptr, MS_BIND | MS_REC, nullptr) < 0) {
      return error->Fail(errno, "bind mount rootfs %s", plan.rootfs.c_str());
    }
    root.Reset(open(plan.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  }
  if (!root) {
    return error->Fail(errno, "open rootfs %s", plan.rootfs.c_str());
  }
  if (mount(nullptr, FdPath(root.get()).c_str(), nullptr, MS_PRIVATE, nullptr) < 0) {
    return error->Fail(errno, "make rootfs %s private", plan.rootfs.c_str());
  }
  for (size_t i = 0; i < spec.mounts.size(); ++i) {
    int tree = plan.mount_tree_fds != nullptr ? (*plan.mount_tree_fds)[i] : -1;
    if (!DoMount(plan, root.get(), spec.mounts[i], tree, error)) {
      return false;
    }
  }
  if (!CreateDevices(plan, root.get(), error)) {
    return false;
  }
  if (spec.process && spec.process->terminal) {
    UniqueFd console(ResolveInRoot(root.get(), "/dev/console", CreateMode::kFileLast, 0600));
    if (!console) {
      return error->Fail(errno, "create /dev/console");
    }
  }
  return true;
}

bool PivotRoot(const RootfsPlan& plan, ChildError* error) {
  int rc = plan.rootfs_tree_fd >= 0 ? fchdir(plan.rootfs_tree_fd) : chdir(plan.rootfs.c_str());
  if (rc < 0) {
    return error->Fail(errno, "chdir to rootfs %s", plan.rootfs.c_str());
  }
  if (plan.no_pivot) {
    if (mount(".", "/", nullptr, MS_MOVE, nullptr) < 0) {
      return error->Fail(errno, "move rootfs %s to /", plan.rootfs.c_str());
    }
    if (chroot(".") < 0) {
      return error->Fail(errno, "chroot into %s", plan.rootfs.c_str());
    }
  } else {
    // pivot_root(".", ".") stacks the old root on top of the new one; then detach it.
    if (syscall(SYS_pivot_root, ".", ".") < 0) {
      return error->Fail(errno, "pivot_root into %s", plan.rootfs.c_str());
    }
    if (mount(nullptr, ".", nullptr, MS_SLAVE | MS_REC, nullptr) < 0) {
      return error->Fail(errno, "make the old root a slave");
    }
    if (umount2(".", MNT_DETACH) < 0) {
      return error->Fail(errno, "detach the old root");
    }
  }
  if (chdir("/") < 0) {
    return error->Fail(errno, "chdir to the new root");
  }
  return true;
}

bool FinishRootfs(const RootfsPlan& plan, ChildError* error) {
  const oci::Spec& spec = *plan.spec;
  if (spec.linux) {
    for (const auto& path : spec.linux->readonly_paths) {
      const char* p = path.c_str();
      if (mount(p, p, nullptr, MS_BIND | MS_REC, nullptr) < 0) {
        if (errno == ENOENT) {
          continue;
        }
        return error->Fail(errno, "bind read-only path %s", p);
      }
      if (mount(nullptr, p, nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | LockedFlags(p), nullptr) <
          0) {
        return error->Fail(errno, "remount %s read-only", p);
      }
    }
    for (const auto& path : spec.linux->masked_paths) {
      const char* p = path.c_str();
      struct stat st;
      if (lstat(p, &st) < 0) {
        if (errno == ENOENT) {
          continue;
        }
        return error->Fail(errno, "stat masked path %s", p);
      }
      int rc = S_ISDIR(st.st_mode) ? mount("tmpfs", p, "tmpfs", MS_RDONLY, nullptr)
                                   : mount("/dev/null", p, nullptr, MS_BIND, nullptr);
      if (rc < 0) {
        return error->Fail(errno, "mask %s", p);
      }
    }
  }
  if (spec.root_readonly) {
    if (mount(nullptr, "/", nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | LockedFlags("/"), nullptr) <
        0) {
      return error->Fail(errno, "remount the root read-only");
    }
  }
  return true;
}

}  // namespace berth::runtime
