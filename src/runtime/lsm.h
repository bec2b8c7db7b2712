#pragma once

#include "oci/runtime_spec.h"
#include "runtime/child_error.h"

namespace berth::runtime {

// Linux security modules. A label asked for on a host without that LSM is refused, naming
// the field, rather than silently not applied: a container believed to be confined must be.
bool AppArmorEnabled();
bool SELinuxEnabled();

// Parent side: refuses process.apparmorProfile, process.selinuxLabel and linux.mountLabel
// where the host lacks the module.
void ValidateLsm(const oci::Process& process, const oci::Linux* linux);

// Child side, before execve: the AppArmor profile and SELinux label the next exec enters.
bool ApplyExecLabels(const oci::Process& process, ChildError* error);

}  // namespace berth::runtime
