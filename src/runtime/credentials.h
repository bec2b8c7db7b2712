#pragma once

#include "oci/runtime_spec.h"
#include "runtime/child_error.h"

namespace berth::runtime {

// Child side, in this order: rlimits while still privileged, then the bounding set, the user
// and groups (keeping capabilities across the uid change), the remaining capability sets and
// ambient ones, and no_new_privs. Each failure names the step.
bool ApplyRlimits(const oci::Process& process, ChildError* error);

// Parent side: refuses capability names this kernel does not have (a newer spec than the
// kernel), naming the field: "process.capabilities.bounding[3]: CAP_BPF is not known to this
// kernel (last capability 38)".
void ValidateCapabilitiesForKernel(const oci::Process& process);
bool ApplyUserAndCapabilities(const oci::Process& process, ChildError* error);

}  // namespace berth::runtime
