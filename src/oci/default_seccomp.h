#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace berth::oci {

// The default seccomp profile (src/oci/seccomp_default.json, built in) as a linux.seccomp
// object for a container holding `capabilities` (as in process.capabilities.bounding), on
// the architecture this was built for: one syscalls entry per group whose capability and
// architecture conditions hold. Names the linked libseccomp does not know (system calls newer
// than it) are left out, so the result always compiles with this build's runtime; those calls
// stay denied. berthd gives each container the profile of its own capability set, as Docker
// does; `berth-runtime spec` the one of its default set.
nlohmann::json DefaultSeccomp(const std::vector<std::string>& capabilities);

// The profile document itself, every name included (for tests and docs).
const nlohmann::json& DefaultSeccompProfile();

}  // namespace berth::oci
