#pragma once

#include <linux/bpf.h>

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/fd.h"

// Device rules: linux.resources.devices plus the nodes every container may use, as one
// ordered list with the v1 devices cgroup's meaning, rendered for v1 (devices.allow/deny
// lines) and compiled for cgroup v2 (a BPF_PROG_TYPE_CGROUP_DEVICE program).
namespace berth::runtime {

// Access bits as the kernel's BPF_DEVCG_ACC_*.
inline constexpr uint32_t kDevMknod = 1, kDevRead = 2, kDevWrite = 4;

struct DeviceRule {
  bool allow = false;
  char type = 'a';      // 'a' (both), 'b' or 'c'
  int64_t major = -1;   // -1: any
  int64_t minor = -1;   // -1: any
  uint32_t access = 7;  // kDev* bits

  // "c 1:3 rwm", "a *:* rwm": a devices.allow/deny line.
  std::string V1Line() const;
};

// The effective rules, in order, for linux.resources.devices `list` (`field` names it in
// errors): unless the list starts by denying everything, it is preceded by a deny-all and
// the standard allows; every deny-all is followed by the standard allows again, so the
// standard nodes (/dev/null, zero, full, random, urandom, tty, console, ptmx, pts) always
// work. Later rules win over earlier ones, as in the v1 devices cgroup.
std::vector<DeviceRule> EffectiveDeviceRules(const nlohmann::json& list, const std::string& field);

// The state a v1 devices cgroup ends in after `rules` are written in order (the kernel's
// model: a default, allow or deny, and exceptions to it; "a" rules reset both, other rules
// add an exception or take access away from the exception for exactly that type and
// numbers). The BPF program is compiled from this, so v1 and v2 decide alike.
struct DeviceState {
  bool default_allow = true;
  std::vector<DeviceRule> exceptions;  // `allow` unused; type 'b' or 'c'
};
DeviceState EmulateV1Devices(const std::vector<DeviceRule>& rules);

// What that state decides for one access (`access` a kDev* mask): with a default deny, an
// exception must cover every requested bit; with a default allow, an exception covering any
// requested bit denies.
bool DeviceAllowed(const DeviceState& state, char type, uint32_t major, uint32_t minor,
                   uint32_t access);

// The BPF_PROG_TYPE_CGROUP_DEVICE program deciding like DeviceAllowed.
std::vector<struct bpf_insn> CompileDeviceFilter(const DeviceState& state);

// Loads `program` and attaches it to the cgroup2 directory `cgroup_fd`, replacing the
// device program Berth attached there before, if any, in one step (BPF_F_REPLACE), so the
// cgroup is never without a filter. Throws naming the cgroup (and the verifier's log).
void AttachDeviceFilter(int cgroup_fd, const std::vector<struct bpf_insn>& program,
                        const std::string& cgroup_dir);

}  // namespace berth::runtime
