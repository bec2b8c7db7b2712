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
#include <vector>

#include "base/detached_mount.h"
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
  // A child made with CLONE_NEWUSER already lives in its new user namespace when clone
  // returns: no handshake is needed before writing its maps. It shares our memory (CLONE_VM:
  // no page tables to copy, which in a large threaded caller such as berthd is most of a
  // fork's cost) and only waits on its own small stack to be killed; it touches nothing else,
  // and never waits on a descriptor another child could hold.
  std::vector<char> stack(64 * 1024);
  pid_t pid = clone(
      [](void*) -> int {
        for (;;) {
          syscall(SYS_pause);
        }
      },
      stack.data() + stack.size(), CLONE_VM | CLONE_NEWUSER | SIGCHLD, nullptr);
  if (pid < 0) {
    ThrowErrno("create a user namespace for an id-mapped mount");
  }
  auto finish = [&] {
    kill(pid, SIGKILL);
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
    finish();
    throw;
  }
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
