// The process object: args, env, cwd, user and groups, umask, rlimits, oomScoreAdj,
// noNewPrivileges, capabilities; and --preserve-fds.

#include <fcntl.h>
#include <linux/keyctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "harness.h"

namespace berth::testing {
namespace {

using ProcessTest = RuntimeTest;

TEST_F(ProcessTest, ArgsEnvAndCwd) {
  config_["process"]["env"] = {"PATH=/bin:/usr/bin", "GREETING=hi there"};
  config_["process"]["cwd"] = "/etc";
  config_["process"]["args"] = {"sh", "-c", "echo \"$GREETING\" \"$0\" \"$1\"; pwd", "arg0",
                                "two words"};
  WriteConfig();
  Result r = Rt({"run", "--bundle", bundle_, NewId()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hi there arg0 two words\n/etc\n");
}

TEST_F(ProcessTest, CwdIsCreatedNeverButMustExist) {
  config_["process"]["cwd"] = "/does/not/exist";
  Result r = RunContainer("pwd");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("/does/not/exist"), std::string::npos) << r.err;
}

TEST_F(ProcessTest, MissingExecutableFailsCreate) {
  config_["process"]["args"] = {"no-such-program"};
  WriteConfig();
  std::string id = NewId();
  Result r = Rt({"create", "--bundle", bundle_, id});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("no-such-program"), std::string::npos) << r.err;
  EXPECT_FALSE(FileExists(state_ + "/" + id)) << "a failed create left its state behind";
}

TEST_F(ProcessTest, UserGroupsAndUmask) {
  config_["process"]["user"] = {
      {"uid", 1000}, {"gid", 1001}, {"additionalGids", {5, 2000}}, {"umask", 077}};
  config_["mounts"].push_back({{"destination", "/scratch"},
                               {"type", "tmpfs"},
                               {"source", "tmpfs"},
                               {"options", {"mode=1777"}}});
  Result r = RunContainer("id -u; id -g; id -G; touch /scratch/f; stat -c %a /scratch/f");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "1000\n1001\n1001 5 2000\n600\n");
}

TEST_F(ProcessTest, RlimitsAndOomScoreAdj) {
  config_["process"]["rlimits"] = {{{"type", "RLIMIT_NOFILE"}, {"soft", 512}, {"hard", 1024}},
                                   {{"type", "RLIMIT_NPROC"}, {"soft", 300}, {"hard", 300}}};
  config_["process"]["oomScoreAdj"] = 123;
  Result r = RunContainer("ulimit -n; ulimit -Hn; ulimit -u; cat /proc/self/oom_score_adj");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "512\n1024\n300\n123\n");
}

TEST_F(ProcessTest, NoNewPrivilegesAndCapabilities) {
  config_["process"]["noNewPrivileges"] = true;
  config_["process"]["capabilities"] = {{"bounding", {"CAP_CHOWN", "CAP_KILL"}},
                                        {"effective", {"CAP_CHOWN"}},
                                        {"permitted", {"CAP_CHOWN", "CAP_KILL"}},
                                        {"inheritable", nlohmann::json::array()},
                                        {"ambient", nlohmann::json::array()}};
  Result r = RunContainer("grep -E '^(NoNewPrivs|CapBnd|CapEff|CapPrm)' /proc/self/status");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // CHOWN is bit 0, KILL bit 5. Root's sets after execve are the bounding set.
  EXPECT_NE(r.out.find("NoNewPrivs:\t1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("CapBnd:\t0000000000000021"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("CapPrm:\t0000000000000021"), std::string::npos) << r.out;
}

TEST_F(ProcessTest, AmbientCapabilitiesForANonRootUser) {
  std::vector<std::string> caps = {"CAP_NET_BIND_SERVICE"};
  config_["process"]["user"] = {{"uid", 1000}, {"gid", 1000}};
  config_["process"]["capabilities"] = {{"bounding", caps},
                                        {"effective", caps},
                                        {"permitted", caps},
                                        {"inheritable", caps},
                                        {"ambient", caps}};
  Result r = RunContainer("grep -E '^(CapEff|CapAmb)' /proc/self/status");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "CapEff:\t0000000000000400\nCapAmb:\t0000000000000400\n");
}

TEST_F(ProcessTest, PreserveFdsPassesDescriptors) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  SetScript("echo through-fd-3 >&3; ls /proc/self/fd | wc -l");
  std::vector<std::string> argv = {RuntimePath(), "--root",   state_,  "run",  "--preserve-fds",
                                   "1",           "--bundle", bundle_, NewId()};
  Result r = RunProgram(argv, "", 30, {p[1]});
  close(p[1]);
  char buf[64] = {0};
  ssize_t n = read(p[0], buf, sizeof(buf) - 1);
  close(p[0]);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(std::string(buf, n > 0 ? static_cast<size_t>(n) : 0), "through-fd-3\n");
  // stdin, stdout, stderr, fd 3 and the one ls opens: nothing of the runtime leaked in.
  EXPECT_EQ(Trim(r.out), "5");
}

TEST_F(ProcessTest, NoRuntimeDescriptorLeaksIntoTheContainer) {
  Result r = RunContainer("ls -l /proc/self/fd/ | tail -n +2 | wc -l");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Trim(r.out), "4") << "only stdio and ls's own directory fd expected";
}

TEST_F(ProcessTest, Personality) {
  config_["linux"]["personality"] = {{"domain", "LINUX32"}};
  Result r = RunContainer("uname -m");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "i686\n");
}

TEST_F(ProcessTest, LsmLabelsAreRefusedWhereTheHostHasNoLsm) {
  if (FileExists("/sys/fs/selinux/enforce")) {
    GTEST_SKIP() << "this host has SELinux";
  }
  config_["process"]["selinuxLabel"] = "system_u:system_r:container_t:s0";
  SetScript("true");
  ExpectCreateFails("process.selinuxLabel: SELinux is not enabled");
}

TEST_F(ProcessTest, EachContainerGetsItsOwnSessionKeyring) {
  // A key in our session keyring that only its possessors may even see in /proc/keys.
  ASSERT_GE(syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, "berth-it-session"), 0);
  std::string name = "berth-it-key-" + std::to_string(getpid());
  long key = syscall(SYS_add_key, "user", name.c_str(), "secret", 6, KEY_SPEC_SESSION_KEYRING);
  ASSERT_GE(key, 0) << strerror(errno);
  ASSERT_EQ(syscall(SYS_keyctl, KEYCTL_SETPERM, key, 0x3f000000), 0);  // possessor only
  auto& masked = config_["linux"]["maskedPaths"];
  masked.erase(std::remove(masked.begin(), masked.end(), "/proc/keys"), masked.end());
  // /proc/keys lists only keys whose owner maps into the reader's user namespace.
  RemoveNamespace("user");
  SetScript("grep -c " + name + " /proc/keys");
  Result fresh = Rt({"run", "--bundle", bundle_, NewId()});
  Result shared = Rt({"run", "--no-new-keyring", "--bundle", bundle_, NewId()});
  syscall(SYS_keyctl, KEYCTL_INVALIDATE, key);
  EXPECT_EQ(Trim(fresh.out), "0") << "the container possesses the caller's keys";
  EXPECT_EQ(Trim(shared.out), "1") << "--no-new-keyring did not keep the caller's keyring";
}

}  // namespace
}  // namespace berth::testing
