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

// The BPF_PROG_TYPE_CGROUP_DEVICE program deciding like DeviceAllowed. It uses no helper and
// no map: 32-bit loads of struct bpf_cgroup_dev_ctx, register moves, and/rsh/xor with
// immediates, compares against immediates, forward jumps, mov of the verdict to r0 and exit.
// Comparisons are made on a scratch register the verifier cannot link to the context values,
// so its work stays linear in the number of rules (see the .cc).
std::vector<struct bpf_insn> CompileDeviceFilter(const DeviceState& state);

// The name Berth gives its device programs (bpftool shows it); AttachDeviceFilter replaces
// only programs of this name, so another manager's programs on the same cgroup stay.
inline constexpr char kDeviceProgramName[] = "berth_devices";

// Loads `program` as a BPF_PROG_TYPE_CGROUP_DEVICE program named `name`. The license string
// is irrelevant to a program without helpers (the kernel only consults it for GPL-only
// helpers); "GPL" is passed. On failure the load is repeated with the verifier's log, whose
// last lines (where the verifier says why) are in the error. The first attempt has no log: it
// costs time, and a log that does not fit its buffer fails the load with ENOSPC.
UniqueFd LoadDeviceProgram(const std::vector<struct bpf_insn>& program,
                           const char* name = kDeviceProgramName);

// The device programs attached directly to the cgroup2 directory `cgroup_fd` (not those
// inherited from its ancestors), in the kernel's order, with their names ("" when the
// program is gone before it could be named).
struct AttachedProgram {
  uint32_t id = 0;
  std::string name;
};
std::vector<AttachedProgram> AttachedDevicePrograms(int cgroup_fd);

// Loads `program` and attaches it to the cgroup2 directory `cgroup_fd` (BPF_F_ALLOW_MULTI).
// A device program Berth attached there before (by name) is replaced in the same step
// (BPF_F_REPLACE), so the cgroup is never without a filter; any further Berth program is
// detached after. Programs of other names are left alone (all attached programs must allow
// an access). Throws naming the cgroup (and, for a refused program, the verifier's log).
void AttachDeviceFilter(int cgroup_fd, const std::vector<struct bpf_insn>& program,
                        const std::string& cgroup_dir);

}  // namespace berth::runtime
