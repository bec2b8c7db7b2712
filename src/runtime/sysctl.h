#pragma once

#include "oci/runtime_spec.h"

namespace berth::runtime {

// Refuses linux.sysctl entries the container could not own: a sysctl is accepted only if it
// belongs to a namespace in linux.namespaces (ipc: kernel.msg*, kernel.sem, kernel.shm*,
// fs.mqueue.*; network: net.*; uts: kernel.hostname, kernel.domainname). Everything else is
// global to the host. Keys are also checked for shape ("net.ipv4..x", "../" are refused).
void ValidateSysctls(const oci::Linux& linux);

}  // namespace berth::runtime
