#pragma once

#include <string>
#include <vector>

#include "base/detached_mount.h"
#include "base/fd.h"
#include "oci/runtime_spec.h"

// Id-mapped mounts (mount_setattr MOUNT_ATTR_IDMAP): a user-namespaced container sees an
// unmodified, host-owned tree as owned by its own ids, with no chown. The runtime makes the
// mapped trees in the parent (mapping needs CAP_SYS_ADMIN over the filesystem, which the
// container's root does not have) as detached mounts; the container init attaches them with
// move_mount(2) while it builds its root.
namespace berth::runtime {

// The annotation asking for the rootfs itself to be id-mapped with the container's user
// namespace mappings (`berth-runtime spec` sets it; runc and crun ignore it).
inline constexpr const char* kRootfsIdmapAnnotation = "org.berth.rootfs.idmap";

// The text of a uid_map/gid_map file for `maps`: one "container host size" line each.
std::string MappingText(const std::vector<oci::IdMapping>& maps);

// A user namespace whose only job is to carry `uids`/`gids` (container id → host id, as in
// linux.uidMappings) for MOUNT_ATTR_IDMAP: made by a short-lived child, which has exited
// when this returns.
UniqueFd MakeMappingUserns(const std::vector<oci::IdMapping>& uids,
                           const std::vector<oci::IdMapping>& gids);

// MakeDetachedTree (base/detached_mount.h) makes each detached tree.
using berth::MakeDetachedTree;

// The detached trees one container's init attaches instead of bind-mounting paths itself:
// its rootfs and each bind mount's source. Made only for a container with a user namespace,
// whose root does not map host root and so may not even reach a source under a directory only
// host root may enter; id-mapped where the rootfs annotation, uidMappings/gidMappings or the
// idmap/ridmap option ask for it (those need a user namespace anyway). `mounts[i]` belongs to
// spec.mounts[i] (-1: the init mounts it itself).
struct DetachedTrees {
  UniqueFd rootfs;
  std::vector<UniqueFd> mounts;
  std::vector<int> mount_fds;  // raw view of `mounts` for the child
};

// `rootfs` is the absolute host path of the root; `joined_userns_fd` the user namespace the
// container joins (-1 when it creates one from linux.uidMappings/gidMappings or has none).
DetachedTrees PrepareDetachedTrees(const oci::Spec& spec, const std::string& rootfs,
                                   int joined_userns_fd);

}  // namespace berth::runtime
