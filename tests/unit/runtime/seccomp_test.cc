#include "runtime/seccomp.h"

#include <gtest/gtest.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dirent.h>

#include <cstring>

#include "base/error.h"
#include "base/file_util.h"

namespace berth::runtime {
namespace {

using nlohmann::json;

void ExpectRefused(const json& j, const std::string& needle, Kind kind = Kind::kInvalidArgument) {
  try {
    CompileSeccomp(j);
    ADD_FAILURE() << "compiled, expected an error naming " << needle;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), kind) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

// Runs `fn` in a forked child under `program` (with no_new_privs, so no privilege is needed)
// and returns fn's result, or -1 if the child did not exit normally.
int RunUnder(const SeccompProgram& program, int (*fn)()) {
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    ChildError error;
    int listener;
    if (!InstallSeccomp(program, &listener, &error)) {
      _exit(100);
    }
    _exit(fn());
  }
  int status;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

TEST(SeccompTest, NullMeansNoFilter) { EXPECT_TRUE(CompileSeccomp(json()).empty()); }

TEST(SeccompTest, ErrnoRuleWithArgumentComparison) {
  json j = {{"defaultAction", "SCMP_ACT_ALLOW"},
            {"architectures", {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}},
            {"flags", {"SECCOMP_FILTER_FLAG_LOG"}},
            {"syscalls",
             {{{"names", {"umask"}},
               {"action", "SCMP_ACT_ERRNO"},
               {"errnoRet", 42},
               {"args", {{{"index", 0}, {"value", 077}, {"op", "SCMP_CMP_EQ"}}}}}}}};
  SeccompProgram p = CompileSeccomp(j);
  ASSERT_FALSE(p.empty());
  EXPECT_EQ(p.flags, static_cast<unsigned>(SECCOMP_FILTER_FLAG_LOG));
  // umask(077) fails with 42; umask(022) is allowed (umask's raw return is the old mask).
  EXPECT_EQ(RunUnder(p, [] { return syscall(SYS_umask, 077) < 0 ? errno : 0; }), 42);
  EXPECT_EQ(RunUnder(p, [] { return syscall(SYS_umask, 022) < 0 ? errno : 0; }), 0);
}

TEST(SeccompTest, DefaultErrnoAndAllowList) {
  // Everything is refused with defaultErrnoRet except what the child (and, in sanitizer
  // builds, the sanitizer runtime) needs; getppid is not on the list.
  json allowed = {"exit",        "exit_group",  "getpid",        "mmap",           "munmap",
                  "mprotect",    "brk",         "madvise",       "rt_sigprocmask", "rt_sigaction",
                  "sigaltstack", "write",       "futex",         "prctl",          "gettid",
                  "tgkill",      "prlimit64",   "getrlimit",     "ioctl",          "openat",
                  "read",        "close",       "fstat",         "newfstatat",     "readlink",
                  "readlinkat",  "sched_yield", "clock_gettime", "uname"};
  json j = {{"defaultAction", "SCMP_ACT_ERRNO"},
            {"defaultErrnoRet", 38},
            {"syscalls", {{{"names", allowed}, {"action", "SCMP_ACT_ALLOW"}}}}};
  SeccompProgram p = CompileSeccomp(j);
  EXPECT_EQ(RunUnder(p, [] { return syscall(SYS_getppid) < 0 ? errno : 0; }), 38);
  EXPECT_EQ(RunUnder(p, [] { return syscall(SYS_getpid) > 0 ? 7 : 0; }), 7);
}

TEST(SeccompTest, KillProcess) {
  json j = {{"defaultAction", "SCMP_ACT_ALLOW"},
            {"syscalls", {{{"names", {"getppid"}}, {"action", "SCMP_ACT_KILL_PROCESS"}}}}};
  EXPECT_EQ(RunUnder(CompileSeccomp(j), [] { return static_cast<int>(getppid() > 0); }), -SIGSYS);
}

TEST(SeccompTest, RepeatedArgumentIndexIsAnyOf) {
  json j = {{"defaultAction", "SCMP_ACT_ALLOW"},
            {"syscalls",
             {{{"names", {"umask"}},
               {"action", "SCMP_ACT_ERRNO"},
               {"args",
                {{{"index", 0}, {"value", 01}, {"op", "SCMP_CMP_EQ"}},
                 {{"index", 0}, {"value", 02}, {"op", "SCMP_CMP_EQ"}}}}}}}};
  SeccompProgram p = CompileSeccomp(j);
  EXPECT_EQ(RunUnder(p, [] { return syscall(SYS_umask, 01) < 0 ? errno : 0; }), EPERM);
  EXPECT_EQ(RunUnder(p, [] { return syscall(SYS_umask, 02) < 0 ? errno : 0; }), EPERM);
  EXPECT_EQ(RunUnder(p, [] { return syscall(SYS_umask, 04) < 0 ? errno : 0; }), 0);
}

TEST(SeccompTest, BadInputNamesTheField) {
  json ok = {{"defaultAction", "SCMP_ACT_ALLOW"}};
  ExpectRefused(json::object(), "linux.seccomp.defaultAction: is required");
  ExpectRefused({{"defaultAction", "SCMP_ACT_FLY"}}, "unknown action \"SCMP_ACT_FLY\"");
  json j = ok;
  j["architectures"] = {"SCMP_ARCH_PDP11"};
  ExpectRefused(j, "linux.seccomp.architectures[0]: unknown architecture \"SCMP_ARCH_PDP11\"");
  j = ok;
  j["flags"] = {"SECCOMP_FILTER_FLAG_FAST"};
  ExpectRefused(j, "linux.seccomp.flags[0]: unknown flag");
  j = ok;
  j["syscalls"] = {{{"names", {"read", "not_a_syscall"}}, {"action", "SCMP_ACT_ERRNO"}}};
  ExpectRefused(j, "linux.seccomp.syscalls[0].names[1]: unknown syscall \"not_a_syscall\"");
  j = ok;
  j["syscalls"] = {{{"names", {"read"}}}};
  ExpectRefused(j, "linux.seccomp.syscalls[0].action: is required");
  j = ok;
  j["syscalls"] = {{{"names", {"read"}},
                    {"action", "SCMP_ACT_ERRNO"},
                    {"args", {{{"index", 6}, {"value", 1}, {"op", "SCMP_CMP_EQ"}}}}}};
  ExpectRefused(j, "linux.seccomp.syscalls[0].args[0].index: must be 0 to 5");
  j["syscalls"][0]["args"][0]["index"] = 0;
  j["syscalls"][0]["args"][0]["op"] = "SCMP_CMP_ABOUT";
  ExpectRefused(j, "linux.seccomp.syscalls[0].args[0].op: unknown operator");
  j = ok;
  j["syscalls"] = {{{"names", "read"}, {"action", "SCMP_ACT_ERRNO"}}};
  ExpectRefused(j, "linux.seccomp.syscalls[0]: needs \"names\"");
  j = ok;
  j["listenerPath"] = "run/notify.sock";
  ExpectRefused(j, "linux.seccomp.listenerPath: must be an absolute path");
  j = ok;
  j["syscalls"] = {{{"names", {"mkdir"}}, {"action", "SCMP_ACT_NOTIFY"}}};
  ExpectRefused(j, "linux.seccomp.syscalls[0].action: SCMP_ACT_NOTIFY needs");
}

TEST(SeccompTest, CacheServesTheSameFilterAndOnlyForTheSameObject) {
  char tmpl[] = "/tmp/berth-seccomp-cache.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = std::string(tmpl) + "/cache";
  json j = {{"defaultAction", "SCMP_ACT_ALLOW"},
            {"flags", {"SECCOMP_FILTER_FLAG_LOG"}},
            {"syscalls", {{{"names", {"mkdir", "mkdirat"}}, {"action", "SCMP_ACT_ERRNO"}}}}};
  SeccompProgram direct = CompileSeccomp(j);
  SeccompProgram first = CompileSeccompCached(j, dir);
  auto files = [&] {
    std::vector<std::string> out;
    if (DIR* d = opendir(dir.c_str())) {
      while (struct dirent* e = readdir(d)) {
        if (e->d_name[0] != '.') out.push_back(dir + "/" + e->d_name);
      }
      closedir(d);
    }
    return out;
  };
  ASSERT_EQ(files().size(), 1u) << "the compiled filter was not cached";
  std::string entry = files()[0];
  SeccompProgram second = CompileSeccompCached(j, dir);
  for (const SeccompProgram* p : {&first, &second}) {
    ASSERT_EQ(p->filter.size(), direct.filter.size());
    EXPECT_EQ(memcmp(p->filter.data(), direct.filter.data(),
                     direct.filter.size() * sizeof(struct sock_filter)),
              0);
    EXPECT_EQ(p->flags, direct.flags);
  }
  // A hit really comes from the file: a doctored filter in it is what comes back...
  std::string text = ReadFile(entry);
  std::string doctored = text;
  doctored[doctored.size() - 1] ^= 0x7f;
  WriteFileAtomic(entry, doctored, 0600, Durability::kVolatile);
  SeccompProgram hit = CompileSeccompCached(j, dir);
  EXPECT_NE(memcmp(hit.filter.data(), direct.filter.data(),
                   direct.filter.size() * sizeof(struct sock_filter)),
            0);
  // ... but only for exactly that object: another one compiles afresh into its own entry.
  json other = j;
  other["syscalls"][0]["names"] = {"rmdir"};
  SeccompProgram fresh = CompileSeccompCached(other, dir);
  EXPECT_EQ(files().size(), 2u);
  SeccompProgram other_direct = CompileSeccomp(other);
  ASSERT_EQ(fresh.filter.size(), other_direct.filter.size());
  EXPECT_EQ(memcmp(fresh.filter.data(), other_direct.filter.data(),
                   fresh.filter.size() * sizeof(struct sock_filter)),
            0);
  // A truncated entry is ignored and replaced.
  WriteFileAtomic(entry, text.substr(0, 20), 0600, Durability::kVolatile);
  SeccompProgram again = CompileSeccompCached(j, dir);
  EXPECT_EQ(again.filter.size(), direct.filter.size());
  EXPECT_EQ(ReadFile(entry), text);
  // Notify filters are never cached.
  json notify = {{"defaultAction", "SCMP_ACT_ALLOW"},
                 {"listenerPath", "/run/x.sock"},
                 {"syscalls", {{{"names", {"mkdir"}}, {"action", "SCMP_ACT_NOTIFY"}}}}};
  CompileSeccompCached(notify, dir);
  EXPECT_EQ(files().size(), 2u);
  RemoveAll(tmpl);
}

}  // namespace
}  // namespace berth::runtime
