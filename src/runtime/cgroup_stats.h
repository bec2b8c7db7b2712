#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>

#include "runtime/cgroups.h"

namespace berth::runtime {

// The "data" object of runc's `events` stats, read from v1 or v2 files: cpu (usage total,
// per cpu, user/kernel, throttling), memory (usage, max, failcnt, limit, swap, raw
// memory.stat), pids and hugetlb. Missing files leave their fields out.
nlohmann::json ReadCgroupStats(const Cgroup& cgroup);

// How many processes the kernel's OOM killer has killed in the cgroup so far (v1
// memory.oom_control / v2 memory.events "oom_kill"); 0 where the kernel does not count.
uint64_t OomKillCount(const Cgroup& cgroup);

}  // namespace berth::runtime
