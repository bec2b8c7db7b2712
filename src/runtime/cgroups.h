#pragma once

#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "base/fd.h"

namespace berth::runtime {

// How this host mounts cgroups, probed from /proc/self/mountinfo.
struct CgroupLayout {
  // One entry per v1 hierarchy: its mount point and the options naming its controllers
  // ("cpu", "memory", "name=systemd").
  struct V1Hierarchy {
    std::string mount_point;
    std::string controllers;
  };
  std::vector<V1Hierarchy> v1;
  std::string v2_mount;                  // "" when no cgroup2 is mounted
  std::set<std::string> v2_controllers;  // what the cgroup2 root offers (cgroup.controllers)

  bool PureV2() const { return v1.empty() && !v2_mount.empty(); }
  // The mount point of the v1 hierarchy holding `controller`, or "".
  std::string V1Path(std::string_view controller) const;
};

// Parses mountinfo text (tests pass fixtures; Detect() reads /proc/self/mountinfo).
CgroupLayout ParseCgroupLayout(std::string_view mountinfo);
const CgroupLayout& DetectCgroupLayout();

// One container's cgroup in every hierarchy the host has. The relative path (e.g.
// "/berth/c1") is the same in each. Throws berth::Error naming the file it failed on.
class Cgroup {
 public:
  Cgroup(const CgroupLayout& layout, std::string path);

  const std::string& path() const { return path_; }

  // mkdir in every hierarchy (cpuset v1 gets its parent's cpus/mems first).
  void Create();
  // Moves `pid` into the cgroup in every hierarchy (but the cgroup2 one when `in_v2_already`:
  // it was started there with CLONE_INTO_CGROUP).
  void AddProcess(pid_t pid, bool in_v2_already = false);
  // The cgroup2 directory opened for clone3(CLONE_INTO_CGROUP); an invalid fd when the host
  // has no cgroup2 tree or it cannot be opened.
  UniqueFd OpenV2Dir() const;
  // Applies linux.resources (see cgroup_resources.h); errors name the field.
  void ApplyResources(const nlohmann::json& resources);
  // Freezes or thaws; waits until the kernel reports the new state.
  void SetFrozen(bool frozen);
  bool Frozen() const;
  // The pids of every process in the cgroup (host view).
  std::vector<pid_t> Pids() const;
  // Sends `sig` to every process in the cgroup.
  void SignalAll(int sig) const;
  // Removes the cgroup directories, retrying for a while on EBUSY (processes still exiting);
  // returns false if one remained.
  bool Destroy() noexcept;

  // The file `file` of `controller` for this cgroup, in whichever hierarchy serves it; ""
  // when the host has no such controller.
  std::string ControllerFile(const std::string& controller, const std::string& file) const;
  bool ControllerOnV2(const std::string& controller) const;

  // Absolute directories, one per hierarchy (for tests and `ps`).
  std::vector<std::string> Dirs() const;

 private:
  std::string Dir(const std::string& mount) const;
  std::string ProcsDir() const;

  const CgroupLayout& layout_;
  std::string path_;
};

}  // namespace berth::runtime
