#include "oci/default_seccomp.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "base/error.h"
#include "oci/default_spec.h"
#include "oci/runtime_spec.h"
#include "runtime/seccomp.h"

namespace berth::oci {
namespace {

using nlohmann::json;

const std::vector<std::string> kDockerDefaultCaps = {
    "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
    "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
    "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
    "CAP_KILL",    "CAP_AUDIT_WRITE"};

// Every name some entry allows unconditionally (no argument filter), and every name allowed
// at all.
void Allowed(const json& seccomp, std::set<std::string>* outright, std::set<std::string>* any) {
  for (const auto& e : seccomp["syscalls"]) {
    if (e["action"] != "SCMP_ACT_ALLOW") {
      continue;
    }
    for (const auto& n : e["names"]) {
      any->insert(n.get<std::string>());
      if (!e.contains("args")) {
        outright->insert(n.get<std::string>());
      }
    }
  }
}

TEST(DefaultSeccompTest, EveryGroupSaysWhyAndNamesSomething) {
  const json& profile = DefaultSeccompProfile();
  EXPECT_EQ(profile["defaultAction"], "SCMP_ACT_ERRNO");
  EXPECT_EQ(profile["defaultErrnoRet"], 1);
  ASSERT_GT(profile["groups"].size(), 10u);
  for (const auto& g : profile["groups"]) {
    EXPECT_GT(g.value("why", "").size(), 5u) << g.dump();
    EXPECT_FALSE(g["names"].empty()) << g.dump();
    for (const auto& [key, value] : g.items()) {
      static const std::set<std::string> kKeys = {"why",      "names",    "args",     "action",
                                                  "errnoRet", "includes", "excludes", "arches"};
      EXPECT_TRUE(kKeys.count(key)) << "unknown key " << key << " in " << g.dump();
    }
  }
}

TEST(DefaultSeccompTest, CompilesWithTheRuntimeForEveryCapabilitySet) {
  // Every name must be known to libseccomp, for the default set and with every capability.
  EXPECT_NO_THROW(runtime::CompileSeccomp(DefaultSeccomp(kDockerDefaultCaps)));
  EXPECT_NO_THROW(runtime::CompileSeccomp(DefaultSeccomp(KnownCapabilities())));
  EXPECT_NO_THROW(runtime::CompileSeccomp(DefaultSeccomp({})));
}

TEST(DefaultSeccompTest, TheDefaultSpecCarriesTheProfileOfItsCapabilities) {
  json spec = DefaultSpec();
  std::vector<std::string> caps = spec["process"]["capabilities"]["bounding"];
  EXPECT_EQ(spec["linux"]["seccomp"], DefaultSeccomp(caps));
  EXPECT_EQ(RootlessSpec(1000, 1000)["linux"]["seccomp"], spec["linux"]["seccomp"]);
}

TEST(DefaultSeccompTest, DeniesWhatDockerDeniesAndMore) {
  std::set<std::string> outright, any;
  Allowed(DefaultSeccomp(kDockerDefaultCaps), &outright, &any);
  // Denied by Docker's default profile for its default capabilities ...
  for (const char* name : {"acct",
                           "add_key",
                           "bpf",
                           "clock_settime",
                           "delete_module",
                           "finit_module",
                           "fsconfig",
                           "fsmount",
                           "fsopen",
                           "fspick",
                           "init_module",
                           "io_uring_enter",
                           "io_uring_register",
                           "io_uring_setup",
                           "ioperm",
                           "iopl",
                           "kcmp",
                           "kexec_file_load",
                           "kexec_load",
                           "keyctl",
                           "lookup_dcookie",
                           "mbind",
                           "mount",
                           "mount_setattr",
                           "move_mount",
                           "open_by_handle_at",
                           "open_tree",
                           "perf_event_open",
                           "pivot_root",
                           "quotactl",
                           "reboot",
                           "request_key",
                           "set_mempolicy",
                           "setns",
                           "settimeofday",
                           "swapoff",
                           "swapon",
                           "syslog",
                           "umount2",
                           "unshare",
                           "userfaultfd",
                           "vhangup",
                           "fanotify_init",
                           "nfsservctl",
                           "uselib",
                           "ustat",
                           "sysfs",
                           "_sysctl",
                           "create_module",
                           "get_kernel_syms",
                           "query_module"}) {
    EXPECT_FALSE(any.count(name)) << name << " must be denied";
  }
  // ... and, in Berth, without CAP_SYS_ADMIN/CAP_SYS_PTRACE in the set.
  for (const char* name : {"ptrace", "process_vm_readv", "process_vm_writev", "sethostname",
                           "setdomainname", "pidfd_getfd"}) {
    EXPECT_FALSE(any.count(name)) << name;
  }
  // clone only with an argument filter, clone3 answered ENOSYS.
  EXPECT_TRUE(any.count("clone"));
  EXPECT_FALSE(outright.count("clone")) << "clone must keep its namespace-flag filter";
  bool clone3_enosys = false;
  json profile = DefaultSeccomp(kDockerDefaultCaps);
  for (const auto& e : profile["syscalls"]) {
    if (e["names"].size() == 1 && e["names"][0] == "clone3") {
      clone3_enosys = e["action"] == "SCMP_ACT_ERRNO" && e["errnoRet"] == 38;
    }
  }
  EXPECT_TRUE(clone3_enosys);
  // The everyday calls are there.
  for (const char* name : {"read", "write", "openat", "execve", "mmap", "futex", "epoll_pwait",
                           "clone", "rseq", "statx", "getrandom", "socket", "close_range"}) {
    EXPECT_TRUE(any.count(name)) << name;
  }
}

TEST(DefaultSeccompTest, CapabilityGroupsFollowTheCapabilitySet) {
  std::set<std::string> outright, any;
  std::vector<std::string> caps = kDockerDefaultCaps;
  caps.push_back("CAP_SYS_ADMIN");
  Allowed(DefaultSeccomp(caps), &outright, &any);
  EXPECT_TRUE(outright.count("mount"));
  EXPECT_TRUE(outright.count("unshare"));
  EXPECT_TRUE(outright.count("clone")) << "with CAP_SYS_ADMIN clone is unfiltered";
  EXPECT_TRUE(outright.count("clone3"));
  EXPECT_FALSE(any.count("ptrace"));
  caps.push_back("CAP_SYS_PTRACE");
  outright.clear();
  any.clear();
  Allowed(DefaultSeccomp(caps), &outright, &any);
  EXPECT_TRUE(outright.count("ptrace"));
  // Without CAP_SYS_CHROOT, no chroot.
  outright.clear();
  any.clear();
  Allowed(DefaultSeccomp({"CAP_KILL"}), &outright, &any);
  EXPECT_FALSE(any.count("chroot"));
  EXPECT_TRUE(any.count("read"));
}

TEST(DefaultSeccompTest, NoNameIsRepeatedInPlainAllowRules) {
  std::set<std::string> seen;
  json profile = DefaultSeccomp(KnownCapabilities());
  for (const auto& e : profile["syscalls"]) {
    if (e["action"] != "SCMP_ACT_ALLOW" || e.contains("args")) {
      continue;
    }
    for (const auto& n : e["names"]) {
      std::string name = n.get<std::string>();
      EXPECT_TRUE(seen.insert(name).second) << name;
    }
  }
}

}  // namespace
}  // namespace berth::oci
