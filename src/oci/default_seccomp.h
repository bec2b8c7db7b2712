#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace berth::oci {

// The default seccomp profile (src/oci/seccomp_default.json, built in) as a linux.seccomp
// object for a container holding `capabilities` (as in process.capabilities.bounding), on
// the architecture this was built for: the groups whose capability conditions hold, each one
// syscalls entry. berthd gives each container the profile of its own capability set, as
// Docker does; `berth-runtime spec` the one of its default set.
nlohmann::json DefaultSeccomp(const std::vector<std::string>& capabilities);

// The profile document itself (for tests and docs).
const nlohmann::json& DefaultSeccompProfile();

}  // namespace berth::oci
