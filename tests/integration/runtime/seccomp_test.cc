// linux.seccomp applied to the container's process and to exec'd processes, on both install
// paths (with no_new_privs: last before execve; without: before capabilities are dropped).

#include "harness.h"

namespace berth::testing {
namespace {

class SeccompTest : public RuntimeTest {
 protected:
  void SetUp() override {
    RuntimeTest::SetUp();
    config_["mounts"].push_back(
        {{"destination", "/scratch"}, {"type", "tmpfs"}, {"source", "tmpfs"}});
    config_["linux"]["seccomp"] = {
        {"defaultAction", "SCMP_ACT_ALLOW"},
        {"architectures", {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86"}},
        {"syscalls",
         {{{"names", {"mkdir", "mkdirat"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 13}},
          {{"names", {"chmod"}},
           {"action", "SCMP_ACT_ERRNO"},
           {"args", {{{"index", 1}, {"value", 0777}, {"op", "SCMP_CMP_EQ"}}}}},
          {{"names", {"fchmodat"}},
           {"action", "SCMP_ACT_ERRNO"},
           {"args", {{{"index", 2}, {"value", 0777}, {"op", "SCMP_CMP_EQ"}}}}},
          {{"names", {"sethostname"}}, {"action", "SCMP_ACT_KILL_PROCESS"}}}}};
  }
  static constexpr const char* kProbe =
      "grep '^Seccomp:' /proc/self/status; mkdir /scratch/d 2>/dev/null; echo mkdir=$?; "
      "touch /scratch/f; chmod 644 /scratch/f; echo chmod644=$?; chmod 777 /scratch/f "
      "2>/dev/null; echo chmod777=$?; sh -c 'hostname other'; echo sethostname=$?";
  static constexpr const char* kExpected =
      "Seccomp:\t2\nmkdir=1\nchmod644=0\nchmod777=1\nsethostname=159\n";
};

TEST_F(SeccompTest, FilterAppliesWithNoNewPrivileges) {
  ASSERT_TRUE(config_["process"]["noNewPrivileges"].get<bool>());
  Result r = RunContainer(kProbe);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, kExpected);
}

TEST_F(SeccompTest, FilterAppliesWithoutNoNewPrivileges) {
  config_["process"]["noNewPrivileges"] = false;
  Result r = RunContainer(kProbe);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, kExpected);
}

TEST_F(SeccompTest, ExecdProcessesAreConfinedToo) {
  SetScript("exec sleep 100");
  std::string id = NewId();
  ASSERT_EQ(Rt({"run", "--detach", "--bundle", bundle_, id}).exit_code, 0);
  Result r = Rt({"exec", id, "sh", "-c", kProbe});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, kExpected);
}

TEST_F(SeccompTest, BadProfileIsRefusedNamingTheField) {
  config_["linux"]["seccomp"]["syscalls"][0]["names"][0] = "no_such_call";
  SetScript("true");
  std::string id = NewId();
  Result r = Rt({"create", "--bundle", bundle_, id});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("linux.seccomp.syscalls[0].names[0]: unknown syscall"), std::string::npos)
      << r.err;
  EXPECT_FALSE(FileExists(state_ + "/" + id));
}

}  // namespace
}  // namespace berth::testing
