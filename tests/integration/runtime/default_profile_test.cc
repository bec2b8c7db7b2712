// The default seccomp profile in a real container: ordinary work runs, what the profile
// exists to stop is stopped, and it is the profile that stops it.

#include "harness.h"

namespace berth::testing {
namespace {

class DefaultProfileTest : public RuntimeTest {};

TEST_F(DefaultProfileTest, OrdinaryWorkRunsUnderIt) {
  Result r = RunContainer(
      "grep -E '^Seccomp:' /proc/self/status; "
      "cd /dev/shm && mkdir d && echo hello > d/f && cat d/f | tr a-z A-Z && rm -r d; "
      "ls / | wc -l >/dev/null; date +%Y >/dev/null; sleep 0.01; "
      "(echo sub; exit 3); echo rc=$?; linux32 uname -m; nproc >/dev/null; echo done");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Seccomp:\t2\nHELLO\nsub\nrc=3\ni686\ndone\n");
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

}  // namespace
}  // namespace berth::testing
