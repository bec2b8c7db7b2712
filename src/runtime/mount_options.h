#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace berth::runtime {

// The mount options of one config.json mount, translated into what the kernel takes: flags for
// mount(2), propagation changes made with separate calls, recursive attributes for
// mount_setattr(2) and the remaining filesystem data string. Pure data (no syscalls), so it is
// unit-tested without root.
struct MountOptions {
  unsigned long flags = 0;        // MS_* set
  unsigned long propagation = 0;  // MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE [| MS_REC]
  uint64_t attr_set = 0;          // MOUNT_ATTR_* for rro, rnosuid, ...
  uint64_t attr_clr = 0;
  bool bind = false;
  bool recursive_bind = false;
  bool idmap = false;            // "idmap": an id-mapped bind (runc 1.2, crun)
  bool recursive_idmap = false;  // "ridmap": every mount of an rbind id-mapped
  std::string data;              // comma-joined options the filesystem interprets
};

MountOptions ParseMountOptions(const std::vector<std::string>& options);

// The MS_ flags of a rootfsPropagation value ("rslave" → MS_SLAVE|MS_REC); 0 for "".
unsigned long PropagationFlags(std::string_view value);

}  // namespace berth::runtime
