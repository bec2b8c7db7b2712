#pragma once

#include <nlohmann/json.hpp>

namespace berth::oci {

// The config.json that `berth-runtime spec` writes: shaped like `runc spec`'s output, but
// hardened (fewer capabilities, no new privileges, a read-only root, a pids limit and Docker's
// masked and read-only /proc and /sys paths). ParseSpec accepts it as is.
nlohmann::json DefaultSpec();

// The runtime-spec "features" document (features.md) that `berth-runtime features` prints: the
// spec versions, hooks, mount options, namespaces and capabilities this build understands.
nlohmann::json FeaturesJson();

}  // namespace berth::oci
