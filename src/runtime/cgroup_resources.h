#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/cgroups.h"

namespace berth::runtime {

// One write into a cgroup: `file` in the hierarchy that holds `controller` (v1 or v2, as
// the layout says), with the config field it comes from for error messages.
struct CgroupWrite {
  std::string controller;  // "memory", "cpu", ...; "" for a unified key on v2
  bool v2 = false;         // in the cgroup2 tree
  std::string file;        // "memory.limit_in_bytes"
  std::string value;
  std::string field;  // "linux.resources.memory.limit"
};

// linux.resources translated for `layout`, in the order the writes must happen (cpu period
// before quota, memory before memory+swap, ...). Pure: no file is touched, so unit tests run
// it on fixture layouts. Values the spec allows but that are wrong (negative weights, unknown
// page sizes, a controller this host lacks) throw kInvalidArgument naming the field; fields
// the kernel dropped (memory.kernel, memory.kernelTCP) and what v2 cannot express
// (disableOOMKiller) are skipped with a line in `warnings`.
std::vector<CgroupWrite> TranslateResources(const nlohmann::json& resources,
                                            const CgroupLayout& layout,
                                            std::vector<std::string>* warnings);

}  // namespace berth::runtime
