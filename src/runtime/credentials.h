#pragma once

#include "oci/runtime_spec.h"
#include "runtime/child_error.h"

namespace berth::runtime {

// Child side, in this order: rlimits while still privileged, then the bounding set, the user
// and groups (keeping capabilities across the uid change), the remaining capability sets and
// ambient ones, and no_new_privs. Each failure names the step.
bool ApplyRlimits(const oci::Process& process, ChildError* error);
bool ApplyUserAndCapabilities(const oci::Process& process, ChildError* error);

}  // namespace berth::runtime
