#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "runtime/cgroups.h"

namespace berth::runtime {

// Moving a process into a cgroup (a cgroup.procs write) takes the cgroup core's global
// threadgroup rwsem for writing. When no migration happened within the last RCU grace
// period, that first waits for a whole grace period: 9-13 ms on an idle 2-core machine,
// more under load, and longer than everything else a container start does. clone3's
// CLONE_INTO_CGROUP avoids it for cgroup2, but on hosts with v1 hierarchies every start
// and every exec migrate its process, and pay the wait in the middle of their critical
// path.
//
// CgroupPrimer moves that wait off the path: when a request that will migrate a process
// arrives, a thread of its own makes a no-op migration (berthd into the cgroup it is already
// in, which takes the same rwsem and moves nothing). The grace period then runs while the
// request does its other work (records, rootfs mount, shim spawn), and the runtime's real
// migration finds the rwsem already switched to its writer-friendly mode (it stays so for
// one grace period after the last writer). On pure cgroup2 hosts it does nothing.
class CgroupPrimer {
 public:
  explicit CgroupPrimer(const CgroupLayout& layout);
  ~CgroupPrimer();
  CgroupPrimer(const CgroupPrimer&) = delete;
  CgroupPrimer& operator=(const CgroupPrimer&) = delete;

  // Starts a no-op migration on the primer's thread and returns at once; coalesces with one
  // already under way.
  void Prime();

  // berthd's own cgroup.procs in the first v1 hierarchy of `layout` (the file the no-op
  // migration writes), from /proc/self/cgroup's text; "" when there is none.
  static std::string ProcsFile(const CgroupLayout& layout, std::string_view proc_self_cgroup);

 private:
  void Loop();

  std::string procs_;  // "" disables the primer
  std::mutex mu_;
  std::condition_variable cv_;
  bool wanted_ = false;
  bool stop_ = false;
  std::thread thread_;  // started at the first Prime
};

}  // namespace berth::runtime
