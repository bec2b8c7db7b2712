#include "oci/default_seccomp.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timex.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "oci/default_spec.h"
#include "oci/runtime_spec.h"
#include "runtime/seccomp.h"

namespace berth::oci {
namespace {

using nlohmann::json;

#if defined(__x86_64__)
constexpr const char* kArch = "x86_64";
#elif defined(__aarch64__)
constexpr const char* kArch = "aarch64";
#endif

// Whether a group is for other architectures than this build's.
bool OtherArch(const json& group) {
  if (!group.contains("arches")) {
    return false;
  }
  const json& a = group["arches"];
  return std::find(a.begin(), a.end(), kArch) == a.end();
}

const std::vector<std::string> kDockerDefaultCaps = {
    "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
    "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
    "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
    "CAP_KILL",    "CAP_AUDIT_WRITE"};

// System calls newer than some libseccomp 2.5.x releases (Debian 12's knows a few of them
// through a patch): the only names of the profile DefaultSeccomp may leave out. Any other
// unknown name is a typo.
const std::set<std::string> kMayBeUnknown = {
    "cachestat",     "fchmodat2",  "map_shadow_stack", "futex_wake",   "futex_wait",
    "futex_requeue", "statmount",  "listmount",        "mseal",        "uretprobe",
    "getxattrat",    "setxattrat", "listxattrat",      "removexattrat"};

bool Known(const std::string& name) {
  return seccomp_syscall_resolve_name(name.c_str()) != __NR_SCMP_ERROR;
}

std::vector<std::string> DefaultCaps() {
  return DefaultSpec()["process"]["capabilities"]["bounding"].get<std::vector<std::string>>();
}

std::vector<std::string> With(std::vector<std::string> caps, const std::string& cap) {
  caps.push_back(cap);
  return caps;
}

// The names some entry allows unconditionally (no argument filter), and every name allowed
// at all.
struct Allowed {
  explicit Allowed(const json& seccomp) {
    for (const auto& e : seccomp["syscalls"]) {
      if (e["action"] != "SCMP_ACT_ALLOW") {
        continue;
      }
      for (const auto& n : e["names"]) {
        any.insert(n.get<std::string>());
        if (!e.contains("args")) {
          outright.insert(n.get<std::string>());
        }
      }
    }
  }
  std::set<std::string> outright;
  std::set<std::string> any;
};

TEST(DefaultSeccompTest, EveryGroupSaysWhyAndIsWellFormed) {
  const json& profile = DefaultSeccompProfile();
  EXPECT_EQ(profile["defaultAction"], "SCMP_ACT_ERRNO");
  EXPECT_EQ(profile["defaultErrnoRet"], 1);
  ASSERT_GT(profile["groups"].size(), 10u);
  const std::vector<std::string>& known_caps = KnownCapabilities();
  for (const auto& g : profile["groups"]) {
    EXPECT_GT(g.value("why", "").size(), 5u) << g.dump();
    ASSERT_TRUE(g["names"].is_array()) << g.dump();
    EXPECT_FALSE(g["names"].empty()) << g.dump();
    for (const auto& [key, value] : g.items()) {
      static const std::set<std::string> kKeys = {"why",      "names",    "args",     "action",
                                                  "errnoRet", "includes", "excludes", "arches"};
      EXPECT_TRUE(kKeys.count(key)) << "unknown key " << key << " in " << g.dump();
    }
    for (const char* key : {"includes", "excludes"}) {
      if (!g.contains(key)) {
        continue;
      }
      EXPECT_FALSE(g[key]["caps"].empty()) << g.dump();
      for (const auto& cap : g[key]["caps"]) {
        EXPECT_NE(std::find(known_caps.begin(), known_caps.end(), cap.get<std::string>()),
                  known_caps.end())
            << cap << " in " << g.dump();
      }
    }
    for (const auto& arch : g.value("arches", json::array())) {
      EXPECT_TRUE(profile["architectures"].contains(arch.get<std::string>())) << g.dump();
    }
    EXPECT_EQ(g.contains("errnoRet"), g.value("action", "") == "SCMP_ACT_ERRNO") << g.dump();
  }
}

TEST(DefaultSeccompTest, EveryNameIsASystemCallLibseccompKnowsOrANewerOne) {
  for (const auto& g : DefaultSeccompProfile()["groups"]) {
    bool arm = g.contains("arches") && g["arches"] == json::array({"aarch64"});
    for (const auto& n : g["names"]) {
      std::string name = n.get<std::string>();
      bool known =
          arm ? seccomp_syscall_resolve_name_arch(SCMP_ARCH_ARM, name.c_str()) >= 0 : Known(name);
      EXPECT_TRUE(known || kMayBeUnknown.count(name)) << "unknown system call " << name;
    }
  }
}

TEST(DefaultSeccompTest, LeavesOutExactlyTheNamesLibseccompDoesNotKnow) {
  // With every capability every group of this architecture applies: each of its names is in
  // the result if and only if libseccomp knows it.
  std::set<std::string> present;
  json seccomp = DefaultSeccomp(KnownCapabilities());
  for (const auto& e : seccomp["syscalls"]) {
    for (const auto& n : e["names"]) {
      present.insert(n.get<std::string>());
      EXPECT_TRUE(Known(n.get<std::string>())) << n;
    }
  }
  for (const auto& g : DefaultSeccompProfile()["groups"]) {
    if (g.contains("excludes") || OtherArch(g)) {
      continue;
    }
    for (const auto& n : g["names"]) {
      std::string name = n.get<std::string>();
      EXPECT_EQ(present.count(name) == 1, Known(name)) << name;
    }
  }
  // On this build: Debian 12's libseccomp knows fchmodat2 but not mseal (kernel 6.10).
  if (Known("fchmodat2")) {
    EXPECT_TRUE(present.count("fchmodat2"));
  }
  if (!Known("mseal")) {
    EXPECT_FALSE(present.count("mseal"));
  }
}

TEST(DefaultSeccompTest, CompilesWithTheRuntimeForEveryCapabilitySet) {
  EXPECT_NO_THROW(runtime::CompileSeccomp(DefaultSeccomp(kDockerDefaultCaps)));
  EXPECT_NO_THROW(runtime::CompileSeccomp(DefaultSeccomp(KnownCapabilities())));
  EXPECT_NO_THROW(runtime::CompileSeccomp(DefaultSeccomp({})));
  for (const auto& cap : KnownCapabilities()) {
    EXPECT_NO_THROW(runtime::CompileSeccomp(DefaultSeccomp(With(DefaultCaps(), cap)))) << cap;
  }
}

TEST(DefaultSeccompTest, TheDefaultSpecCarriesTheProfileOfItsCapabilities) {
  Spec spec = ParseSpec(DefaultSpec().dump());
  ASSERT_TRUE(spec.linux);
  EXPECT_EQ(spec.linux->seccomp, DefaultSeccomp(spec.process->capabilities->bounding));
  runtime::SeccompProgram program = runtime::CompileSeccomp(spec.linux->seccomp);
  EXPECT_FALSE(program.empty());
  EXPECT_EQ(program.flags, 0u);
  EXPECT_EQ(RootlessSpec(1000, 1000)["linux"]["seccomp"], DefaultSpec()["linux"]["seccomp"]);
  EXPECT_EQ(spec.linux->seccomp["architectures"], DefaultSeccompProfile()["architectures"][kArch]);
#if defined(__x86_64__)
  EXPECT_EQ(spec.linux->seccomp["architectures"],
            json::array({"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}));
#endif
}

TEST(DefaultSeccompTest, DeniesWhatDockerDeniesAndMore) {
  for (const auto& caps : {kDockerDefaultCaps, DefaultCaps()}) {
    Allowed allowed(DefaultSeccomp(caps));
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
                             "quotactl_fd",
                             "reboot",
                             "request_key",
                             "set_mempolicy",
                             "get_mempolicy",
                             "setns",
                             "settimeofday",
                             "stime",
                             "swapoff",
                             "swapon",
                             "syslog",
                             "umount",
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
                             "query_module",
                             "vm86",
                             "vm86old",
                             "move_pages",
                             "migrate_pages",
                             "sethostname",
                             "setdomainname",
                             "clone3"}) {
      EXPECT_FALSE(allowed.any.count(name)) << name << " must be denied";
    }
    // ... and, in Berth, also these (Docker allows them to everyone).
    for (const char* name :
         {"ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "process_madvise",
          "name_to_handle_at", "adjtimex", "clock_adjtime", "clock_adjtime64"}) {
      EXPECT_FALSE(allowed.any.count(name)) << name;
    }
    // clone only with its argument filter; socket and personality only with theirs.
    for (const char* name : {"clone", "socket", "personality"}) {
      EXPECT_TRUE(allowed.any.count(name)) << name;
      EXPECT_FALSE(allowed.outright.count(name)) << name << " must keep its argument filter";
    }
    // The everyday calls are there, new ones included.
    for (const char* name : {"read",
                             "write",
                             "openat",
                             "openat2",
                             "execve",
                             "mmap",
                             "futex",
                             "futex_waitv",
                             "epoll_pwait",
                             "epoll_pwait2",
                             "rseq",
                             "statx",
                             "getrandom",
                             "close_range",
                             "faccessat2",
                             "pidfd_open",
                             "pidfd_send_signal",
                             "membarrier",
                             "landlock_create_ruleset",
                             "memfd_secret",
                             "process_mrelease",
                             "wait4",
                             "chroot"}) {
      EXPECT_TRUE(allowed.outright.count(name)) << name;
    }
#if defined(__x86_64__)
    EXPECT_TRUE(allowed.outright.count("arch_prctl"));
#endif
  }
}

TEST(DefaultSeccompTest, SomeCallsNeverWhateverTheCapabilities) {
  Allowed allowed(DefaultSeccomp(KnownCapabilities()));
  for (const char* name : {"keyctl",         "add_key",
                           "request_key",    "io_uring_setup",
                           "io_uring_enter", "io_uring_register",
                           "kexec_load",     "kexec_file_load",
                           "swapon",         "swapoff",
                           "pivot_root",     "move_pages",
                           "migrate_pages",  "uselib",
                           "ustat",          "sysfs",
                           "_sysctl",        "nfsservctl",
                           "vm86",           "vm86old",
                           "create_module",  "get_kernel_syms",
                           "query_module",   "tuxcall",
                           "afs_syscall",    "security",
                           "vserver",        "getpmsg",
                           "putpmsg"}) {
    EXPECT_FALSE(allowed.any.count(name)) << name;
  }
}

TEST(DefaultSeccompTest, Clone3AnswersEnosysAndCloneKeepsItsMaskWithoutSysAdmin) {
  json seccomp = DefaultSeccomp(DefaultCaps());
  int clone3_rules = 0;
  int clone_rules = 0;
  for (const auto& e : seccomp["syscalls"]) {
    for (const auto& n : e["names"]) {
      if (n == "clone3") {
        ++clone3_rules;
        EXPECT_EQ(e["action"], "SCMP_ACT_ERRNO");
        EXPECT_EQ(e["errnoRet"], ENOSYS);
      }
      if (n == "clone") {
        ++clone_rules;
        ASSERT_EQ(e["args"].size(), 1u);
        const json& a = e["args"][0];
        EXPECT_EQ(a["index"], 0);
        EXPECT_EQ(a["op"], "SCMP_CMP_MASKED_EQ");
        EXPECT_EQ(a["value"].get<uint64_t>(),
                  static_cast<uint64_t>(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |
                                        CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP));
        EXPECT_EQ(a["valueTwo"], 0);
      }
    }
  }
  EXPECT_EQ(clone3_rules, 1);
  EXPECT_EQ(clone_rules, 1);
}

TEST(DefaultSeccompTest, CapabilityGroupsFollowTheCapabilitySet) {
  // Every name of a group that needs a capability appears with that capability, and not
  // without any capability unless a group without conditions offers it too (clone, which
  // keeps its argument filter then).
  Allowed base(DefaultSeccomp({}));
  std::set<std::string> unconditional;
  for (const auto& g : DefaultSeccompProfile()["groups"]) {
    if (!g.contains("includes")) {
      for (const auto& n : g["names"]) {
        unconditional.insert(n.get<std::string>());
      }
    }
  }
  EXPECT_FALSE(base.outright.count("clone"));
  for (const auto& g : DefaultSeccompProfile()["groups"]) {
    if (!g.contains("includes") || OtherArch(g)) {
      continue;
    }
    std::vector<std::string> caps = g["includes"]["caps"];
    Allowed with(DefaultSeccomp(caps));
    for (const auto& n : g["names"]) {
      std::string name = n.get<std::string>();
      if (!Known(name)) {
        continue;
      }
      EXPECT_TRUE(with.outright.count(name)) << name << " with " << caps[0];
      if (!unconditional.count(name)) {
        EXPECT_FALSE(base.any.count(name)) << name << " without capabilities";
      }
    }
  }
  Allowed admin(DefaultSeccomp(With(DefaultCaps(), "CAP_SYS_ADMIN")));
  for (const char* name : {"mount", "umount2", "unshare", "setns", "clone", "clone3", "bpf"}) {
    EXPECT_TRUE(admin.outright.count(name)) << name;
  }
  EXPECT_FALSE(admin.any.count("ptrace"));
  EXPECT_FALSE(admin.any.count("pivot_root"));
  Allowed ptrace(DefaultSeccomp(With(DefaultCaps(), "CAP_SYS_PTRACE")));
  EXPECT_TRUE(ptrace.outright.count("ptrace"));
  EXPECT_FALSE(ptrace.any.count("mount"));
  EXPECT_FALSE(ptrace.outright.count("clone"));
  // Without CAP_SYS_CHROOT, no chroot.
  Allowed kill_only(DefaultSeccomp({"CAP_KILL"}));
  EXPECT_FALSE(kill_only.any.count("chroot"));
  EXPECT_TRUE(kill_only.any.count("read"));
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

// The compiled profile of the default spec, installed in a forked child (no_new_privs, so no
// privilege needed), answers real system calls as the data says.
struct Probe {
  const char* what;
  long (*call)();
  int want_errno;  // 0: must succeed
};

long g_fchmodat2_nr = -1;  // resolved before the filter goes on

long CloneWith(unsigned long flags) {
  long pid = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
  if (pid == 0) {
    syscall(SYS_exit_group, 0);
  }
  if (pid > 0) {
    syscall(SYS_wait4, pid, nullptr, 0, nullptr);
  }
  return pid;
}

TEST(DefaultSeccompTest, TheKernelEnforcesTheCompiledDefaultProfile) {
  runtime::SeccompProgram program = runtime::CompileSeccomp(DefaultSpec()["linux"]["seccomp"]);
  g_fchmodat2_nr = seccomp_syscall_resolve_name("fchmodat2");
  std::vector<Probe> probes = {
    {"getpid", [] { return syscall(SYS_getpid); }, 0},
    {"fork-like clone", [] { return CloneWith(0); }, 0},
    {"socket(AF_UNIX)", [] { return syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0); }, 0},
    {"personality query", [] { return syscall(SYS_personality, 0xffffffffUL); }, 0},
    {"getrandom",
     [] {
       char buf[4];
       return syscall(SYS_getrandom, buf, sizeof(buf), 0);
     },
     0},
    {"clone3", [] { return syscall(SYS_clone3, nullptr, 0); }, ENOSYS},
    {"clone(CLONE_NEWUSER)", [] { return CloneWith(CLONE_NEWUSER); }, EPERM},
    {"clone(CLONE_NEWNET)", [] { return CloneWith(CLONE_NEWNET); }, EPERM},
    {"unshare(CLONE_NEWUSER)", [] { return syscall(SYS_unshare, CLONE_NEWUSER); }, EPERM},
    {"keyctl", [] { return syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3, 0); }, EPERM},
    {"add_key", [] { return syscall(SYS_add_key, "user", "x", "y", 1, -3); }, EPERM},
    {"io_uring_setup", [] { return syscall(SYS_io_uring_setup, 1, nullptr); }, EPERM},
    {"bpf", [] { return syscall(SYS_bpf, 0, nullptr, 0); }, EPERM},
    {"userfaultfd", [] { return syscall(SYS_userfaultfd, 0); }, EPERM},
    {"ptrace(TRACEME)", [] { return syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0); }, EPERM},
    {"personality(ADDR_NO_RANDOMIZE)",
     [] { return syscall(SYS_personality, static_cast<unsigned long>(ADDR_NO_RANDOMIZE)); }, EPERM},
    {"socket(AF_VSOCK)", [] { return syscall(SYS_socket, 40, SOCK_STREAM, 0); }, EPERM},
    {"adjtimex (read)",
     [] {
       struct timex tx = {};
       return syscall(SYS_adjtimex, &tx);
     },
     EPERM},
    {"name_to_handle_at",
     [] { return syscall(SYS_name_to_handle_at, AT_FDCWD, "/", nullptr, nullptr, 0); }, EPERM},
    {"fchmodat2 (if libseccomp knows it: allowed, so the kernel's ENOENT)",
     [] { return syscall(g_fchmodat2_nr, AT_FDCWD, "/no/such", 0, 0); },
     Known("fchmodat2") ? ENOENT : -1},
#if defined(__x86_64__)
    {"mseal (unknown to this libseccomp: denied)", [] { return syscall(462, 0, 0, 0); },
     Known("mseal") ? -1 : EPERM},
#endif
  };
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Only raw system calls from here: the filter is on.
    int results[64] = {};
    int fd = -1;
    runtime::ChildError error;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        !runtime::InstallSeccomp(program, &fd, &error)) {
      syscall(SYS_exit_group, 2);
    }
    for (size_t i = 0; i < probes.size() && i < 64; ++i) {
      errno = 0;
      long rc = probes[i].call();
      results[i] = rc < 0 ? errno : 0;
    }
    syscall(SYS_write, fds[1], results, sizeof(results));
    syscall(SYS_exit_group, 0);
  }
  close(fds[1]);
  int results[64] = {};
  ssize_t n = read(fds[0], results, sizeof(results));
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  ASSERT_EQ(n, static_cast<ssize_t>(sizeof(results)));
  for (size_t i = 0; i < probes.size(); ++i) {
    if (probes[i].want_errno < 0) {
      continue;  // not decidable on this build
    }
    EXPECT_EQ(results[i], probes[i].want_errno)
        << probes[i].what << ": got " << (results[i] ? strerror(results[i]) : "success");
  }
}

}  // namespace
}  // namespace berth::oci
