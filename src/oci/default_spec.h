#pragma once

#include <cstdint>

#include <nlohmann/json.hpp>

namespace berth::oci {

// The config.json that `berth-runtime spec` writes: shaped like `runc spec`'s output, but
// hardened (fewer capabilities, no new privileges, a read-only root, a pids limit and Docker's
// masked and read-only /proc and /sys paths). ParseSpec accepts it as is.
nlohmann::json DefaultSpec();

// `spec --rootless`: the same, for an unprivileged user `uid`:`gid` running the runtime. Its
// user namespace maps only that user (to root), since nothing else is theirs to map without
// newuidmap; no cgroup limits or cgroup mount (an unprivileged user has no cgroup of its own
// unless one was delegated); no id-mapped rootfs (id-mapping needs host privileges).
nlohmann::json RootlessSpec(uint32_t uid, uint32_t gid);

// The runtime-spec "features" document (features.md) that `berth-runtime features` prints: the
// spec versions, hooks, mount options, namespaces and capabilities this build understands.
nlohmann::json FeaturesJson();

}  // namespace berth::oci
