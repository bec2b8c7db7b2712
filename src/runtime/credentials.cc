#include "runtime/credentials.h"

#include <grp.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "base/error.h"

namespace berth::runtime {
namespace {

int LastCap() {
  static int last = -1;
  if (last < 0) {
    FILE* f = fopen("/proc/sys/kernel/cap_last_cap", "re");
    if (f != nullptr) {
      if (fscanf(f, "%d", &last) != 1) {
        last = -1;
      }
      fclose(f);
    }
    if (last < 0) {
      last = CAP_LAST_CAP;
    }
  }
  return last;
}

struct CapSet {
  uint32_t words[2] = {0, 0};
  void Add(int cap) { words[cap / 32] |= 1u << (cap % 32); }
  bool Has(int cap) const { return words[cap / 32] & (1u << (cap % 32)); }
};

CapSet ToSet(const std::vector<std::string>& names) {
  CapSet set;
  for (const auto& n : names) {
    int cap = oci::CapabilityNumber(n);
    if (cap >= 0 && cap <= LastCap()) {
      set.Add(cap);
    }
  }
  return set;
}

}  // namespace

void ValidateCapabilitiesForKernel(const oci::Process& process) {
  if (!process.capabilities) {
    return;
  }
  const auto& c = *process.capabilities;
  const std::pair<const char*, const std::vector<std::string>*> sets[] = {
      {"bounding", &c.bounding},
      {"effective", &c.effective},
      {"inheritable", &c.inheritable},
      {"permitted", &c.permitted},
      {"ambient", &c.ambient}};
  for (const auto& [name, set] : sets) {
    for (size_t i = 0; i < set->size(); ++i) {
      int cap = oci::CapabilityNumber((*set)[i]);
      if (cap > LastCap()) {
        ThrowInvalid("process.capabilities." + std::string(name) + "[" + std::to_string(i) +
                     "]: " + (*set)[i] + " is not known to this kernel (last capability " +
                     std::to_string(LastCap()) + ")");
      }
    }
  }
}

bool ApplyRlimits(const oci::Process& process, ChildError* error) {
  for (const auto& rl : process.rlimits) {
    struct rlimit lim = {static_cast<rlim_t>(rl.soft), static_cast<rlim_t>(rl.hard)};
    if (setrlimit(static_cast<__rlimit_resource>(rl.resource), &lim) < 0) {
      return error->Fail(errno, "setrlimit %s soft %llu hard %llu", rl.type.c_str(),
                         static_cast<unsigned long long>(rl.soft),
                         static_cast<unsigned long long>(rl.hard));
    }
  }
  return true;
}

bool ApplyUserAndCapabilities(const oci::Process& process, ChildError* error) {
  const oci::User& user = process.user;
  bool have_caps = process.capabilities.has_value();
  if (have_caps) {
    CapSet bounding = ToSet(process.capabilities->bounding);
    for (int cap = 0; cap <= LastCap(); ++cap) {
      if (!bounding.Has(cap) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) {
        return error->Fail(errno, "drop capability %d from the bounding set", cap);
      }
    }
  }
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) {
    return error->Fail(errno, "prctl PR_SET_KEEPCAPS");
  }
  gid_t groups[256];
  size_t ngroups = 0;
  for (uint32_t g : user.additional_gids) {
    if (ngroups == 256) {
      return error->Fail(E2BIG, "too many additional gids");
    }
    groups[ngroups++] = g;
  }
  // setgroups is refused in a user namespace whose setgroups file says deny: only fail if
  // groups were asked for.
  if (setgroups(ngroups, groups) < 0 && (ngroups > 0 || errno != EPERM)) {
    return error->Fail(errno, "setgroups");
  }
  if (setresgid(user.gid, user.gid, user.gid) < 0) {
    return error->Fail(errno, "setresgid %u", user.gid);
  }
  if (setresuid(user.uid, user.uid, user.uid) < 0) {
    return error->Fail(errno, "setresuid %u", user.uid);
  }
  if (have_caps) {
    CapSet eff = ToSet(process.capabilities->effective);
    CapSet perm = ToSet(process.capabilities->permitted);
    CapSet inh = ToSet(process.capabilities->inheritable);
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    for (int i = 0; i < 2; ++i) {
      data[i].effective = eff.words[i];
      data[i].permitted = perm.words[i];
      data[i].inheritable = inh.words[i];
    }
    if (syscall(SYS_capset, &hdr, data) < 0) {
      return error->Fail(errno, "capset");
    }
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) {
      return error->Fail(errno, "clear ambient capabilities");
    }
    // The kernel allows an ambient capability only if it is both permitted and inheritable;
    // like runc and crun, skip the others (`runc spec` itself lists ambient capabilities
    // without inheritable ones) instead of failing the container.
    for (const auto& name : process.capabilities->ambient) {
      int cap = oci::CapabilityNumber(name);
      if (cap < 0 || cap > LastCap() || !perm.Has(cap) || !inh.Has(cap)) {
        continue;
      }
      if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0) {
        return error->Fail(errno, "raise ambient capability %s", name.c_str());
      }
    }
  }
  if (process.no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
    return error->Fail(errno, "prctl PR_SET_NO_NEW_PRIVS");
  }
  return true;
}

}  // namespace berth::runtime
