// The default seccomp profile in a real container: ordinary work runs, what the profile
// exists to stop is stopped, and it is the profile that stops it (each refusal is checked
// against the same container without linux.seccomp, where the kernel allows it).

#include <string>
#include <vector>

#include "harness.h"
#include "oci/default_seccomp.h"

namespace berth::testing {
namespace {

class DefaultProfileTest : public RuntimeTest {
 protected:
  void SetUp() override {
    RuntimeTest::SetUp();
    ASSERT_TRUE(config_["linux"].contains("seccomp")) << "the default spec has no profile";
    ASSERT_EQ(config_["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ERRNO");
  }

  // Gives the container's process `cap` as well as the default set.
  void AddCapability(const std::string& cap) {
    for (const char* set : {"bounding", "effective", "permitted"}) {
      config_["process"]["capabilities"][set].push_back(cap);
    }
  }
  std::vector<std::string> Capabilities() {
    return config_["process"]["capabilities"]["bounding"].get<std::vector<std::string>>();
  }
};

TEST_F(DefaultProfileTest, OrdinaryWorkRunsUnderIt) {
  config_["mounts"].push_back(
      {{"destination", "/scratch"}, {"type", "tmpfs"}, {"source", "tmpfs"}});
  Result r = RunContainer(
      "grep -E '^Seccomp:' /proc/self/status\n"
      "cd /scratch && mkdir -p a/b && echo hello > a/b/f && cat a/b/f | tr a-z A-Z\n"
      "ln -s b/f a/link && readlink a/link && chmod 640 a/b/f && chown 1:1 a/b/f && "
      "stat -c '%a %u:%g' a/b/f && touch -d '2001-02-03 04:05' a/b/f && date -r a/b/f +%Y\n"
      "mkfifo p && (echo through-a-fifo > p &) && cat p\n"
      "seq 1 1000 | sort -rn | head -n 1 && seq 5 | awk '{s+=$1} END {print s}' | sed 's/5/five/'\n"
      "tar -czf t.tgz a && mkdir x && tar -xzf t.tgz -C x && cat x/a/link && echo abc | md5sum\n"
      "find . -name f | sort | xargs echo\n"
      "sleep 0.05; date +%Y >/dev/null && (exit 3); echo rc=$?\n"
      "sleep 30 & pid=$!; kill $pid; wait $pid; echo killed=$?\n"
      "timeout 1 sleep 5; echo timeout=$?\n"
      "linux32 uname -m; linux64 uname -m\n"
      "chroot / true && echo chroot\n"
      "ionice -c 3 true && renice -n 5 $$ >/dev/null && taskset -p 1 $$ >/dev/null && echo sched\n"
      "id -u && ps -o pid,comm | grep -c ' ps$' && nproc >/dev/null && df /scratch >/dev/null && "
      "free >/dev/null && uptime >/dev/null && hostname\n"
      "rm -rf a x p t.tgz && ls -A | wc -l && echo done\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "Seccomp:\t2\n"
            "HELLO\n"
            "b/f\n640 1:1\n2001\n"
            "through-a-fifo\n"
            "1000\n1five\n"
            "hello\n0bee89b07a248e27c83fc3d5951213c1  -\n"
            "./a/b/f ./x/a/b/f\n"
            "rc=3\n"
            "killed=143\n"
            "timeout=143\n"
            "i686\nx86_64\n"
            "chroot\n"
            "sched\n"
            "0\n1\nberth\n"
            "0\ndone\n")
      << r.err;
}

TEST_F(DefaultProfileTest, NestedUserNamespacesAreRefusedByTheProfile) {
  // unshare(CLONE_NEWUSER) needs no capability, so only seccomp can refuse it.
  std::string script = "unshare -U true 2>&1; echo rc=$?";
  Result r = RunContainer(script);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Operation not permitted"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("rc=1"), std::string::npos) << r.out;
  config_["linux"].erase("seccomp");
  r = RunContainer(script);
  EXPECT_EQ(Trim(r.out), "rc=0") << "without the profile the kernel allows it: " << r.out;
}

TEST_F(DefaultProfileTest, AdjtimexNeedsCapSysTimeUnderTheProfile) {
  // Reading the clock state with adjtimex needs no capability from the kernel; the profile
  // keeps the call for containers with CAP_SYS_TIME.
  std::string script =
      "adjtimex >/dev/null 2>&1; echo rc=$?; adjtimex 2>&1 | grep -c 'not permitted'";
  Result r = RunContainer(script);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "rc=1\n1\n");
  config_["linux"].erase("seccomp");
  r = RunContainer(script);
  EXPECT_EQ(r.out, "rc=0\n0\n") << "without the profile the kernel allows it";
}

TEST_F(DefaultProfileTest, CapabilityGroupsFollowTheContainersCapabilities) {
  // With CAP_SYS_ADMIN (in the container's user namespace) the kernel lets the container
  // mount a tmpfs; the profile of the default set still refuses mount and unshare, the
  // profile of the container's actual set (as berthd makes it) allows them.
  AddCapability("CAP_SYS_ADMIN");
  std::string script =
      "mount -t tmpfs t /tmp 2>&1; echo mount=$?; unshare -U true 2>&1; echo unshare=$?";
  Result r = RunContainer(script);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "mount: permission denied (are you root?)\nmount=1\n"
            "unshare: unshare(0x10000000): Operation not permitted\nunshare=1\n");
  config_["linux"]["seccomp"] = oci::DefaultSeccomp(Capabilities());
  r = RunContainer(script);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "mount=0\nunshare=0\n");
}

TEST_F(DefaultProfileTest, ExecdProcessesRunUnderItToo) {
  SetScript("exec sleep 100");
  std::string id = NewId();
  ASSERT_EQ(Rt({"run", "--detach", "--bundle", bundle_, id}).exit_code, 0);
  Result r = Rt({"exec", id, "sh", "-c",
                 "grep '^Seccomp:' /proc/self/status; unshare -U true 2>/dev/null; echo rc=$?"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Seccomp:\t2\nrc=1\n");
}

}  // namespace
}  // namespace berth::testing
