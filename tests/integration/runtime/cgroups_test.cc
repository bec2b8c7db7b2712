// linux.resources enforced by the kernel: a memory hog is OOM-killed, a fork bomb stops at
// the pids limit, a cpu quota caps usage, cpuset pins, a device rule blocks a read. Files
// are read from the host through the runtime's own layout detection, so the tests hold on
// v1, hybrid and pure v2 hosts.

#include <unistd.h>

#include "base/file_util.h"
#include "harness.h"
#include "runtime/cgroups.h"

namespace berth::testing {
namespace {

class CgroupsTest : public RuntimeTest {
 protected:
  // The directory holding `file` of container `id` in this host's layout.
  static std::string Dir(const std::string& id, const std::string& controller) {
    const auto& layout = runtime::DetectCgroupLayout();
    std::string v1 = layout.V1Path(controller);
    return (v1.empty() ? layout.v2_mount : v1) + "/berth-" + id;
  }
  std::string StartDetached(const std::string& script) {
    SetScript(script);
    std::string id = NewId();
    Result r = Rt({"run", "--detach", "--bundle", bundle_, id});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return id;
  }
};

TEST_F(CgroupsTest, InitIsClonedStraightIntoItsCgroup2) {
  if (runtime::DetectCgroupLayout().v2_mount.empty()) {
    GTEST_SKIP() << "no cgroup2 tree on this host";
  }
  SetScript("sleep 100");
  std::string id = NewId();
  Result r = Rt({"--debug", "create", "--bundle", bundle_, id});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("cloned into the container's cgroup"), std::string::npos)
      << "no CLONE_INTO_CGROUP: " << r.err;
  int pid = nlohmann::json::parse(Rt({"state", id}).out)["pid"];
  std::string cgroups = ReadFile("/proc/" + std::to_string(pid) + "/cgroup");
  EXPECT_NE(cgroups.find("\n0::/berth-" + id + "\n"), std::string::npos) << cgroups;
  // exec'd processes start there too.
  r = Rt({"--debug", "exec", id, "cat", "/proc/self/cgroup"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("cloned into the container's cgroup"), std::string::npos) << r.err;
}

TEST_F(CgroupsTest, MemoryHogIsOomKilled) {
  config_["linux"]["resources"]["memory"] = {{"limit", 33554432}, {"swap", 33554432}};
  Result r = RunContainer("x=$(head -c 67108864 /dev/zero | tr '\\0' a); echo survived");
  EXPECT_EQ(r.exit_code, 137) << "not killed by SIGKILL: " << r.out << r.err;
  EXPECT_EQ(r.out.find("survived"), std::string::npos);
}

TEST_F(CgroupsTest, MemoryLimitIsWritten) {
  config_["linux"]["resources"]["memory"] = {{"limit", 67108864}, {"reservation", 33554432}};
  std::string id = StartDetached("exec sleep 100");
  const auto& layout = runtime::DetectCgroupLayout();
  std::string dir = Dir(id, "memory");
  bool v1 = !layout.V1Path("memory").empty();
  EXPECT_EQ(Trim(ReadFile(dir + (v1 ? "/memory.limit_in_bytes" : "/memory.max"))), "67108864");
  EXPECT_EQ(Trim(ReadFile(dir + (v1 ? "/memory.soft_limit_in_bytes" : "/memory.low"))), "33554432");
}

TEST_F(CgroupsTest, ForkBombStopsAtThePidsLimit) {
  config_["linux"]["resources"]["pids"] = {{"limit", 16}};
  // busybox sh gives up the script at the first failed fork and reports it.
  Result r = RunContainer("i=0; while [ $i -lt 64 ]; do sleep 30 & i=$((i+1)); done");
  EXPECT_NE((r.out + r.err).find("can't fork"), std::string::npos)
      << "forks never failed: " << r.out << r.err;
}

TEST_F(CgroupsTest, CpuQuotaCapsUsage) {
  const auto& layout = runtime::DetectCgroupLayout();
  if (layout.V1Path("cpuacct").empty() && layout.v2_mount.empty()) {
    GTEST_SKIP() << "no cpu accounting on this host";
  }
  // 10% of one CPU; a busy loop for one second may use about 0.1 s of CPU time.
  config_["linux"]["resources"]["cpu"] = {{"quota", 10000}, {"period", 100000}};
  std::string id = StartDetached("timeout 1 sh -c 'while :; do :; done'; exec sleep 100");
  sleep(2);
  double used_s;
  if (!layout.V1Path("cpuacct").empty()) {
    used_s = std::stod(ReadFile(Dir(id, "cpuacct") + "/cpuacct.usage")) / 1e9;
    EXPECT_EQ(Trim(ReadFile(Dir(id, "cpu") + "/cpu.cfs_quota_us")), "10000");
  } else {
    std::string stat = ReadFile(Dir(id, "cpu") + "/cpu.stat");
    used_s = std::stod(stat.substr(stat.find("usage_usec ") + 11)) / 1e6;
    EXPECT_EQ(Trim(ReadFile(Dir(id, "cpu") + "/cpu.max")), "10000 100000");
  }
  // Unlimited, the loop would use a whole second; the quota keeps it far below.
  EXPECT_LT(used_s, 0.5) << "the cpu quota did not cap the busy loop";
  EXPECT_GT(used_s, 0.01) << "the busy loop did not run at all";
}

TEST_F(CgroupsTest, CpusetPinsTheContainer) {
  config_["linux"]["resources"]["cpu"] = {{"cpus", "0"}};
  Result r = RunContainer("grep Cpus_allowed_list /proc/self/status");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Cpus_allowed_list:\t0\n");
}

TEST_F(CgroupsTest, DeviceRuleBlocksARead) {
  // v1 devices rules and the cgroup2 eBPF program (both, on a hybrid host) enforce this.
  // A second node needs mknod, which a user namespace cannot do (it binds host nodes).
  RemoveNamespace("user");
  config_["linux"]["devices"] = {
      {{"type", "c"}, {"path", "/dev/mem0"}, {"major", 1}, {"minor", 3}, {"fileMode", 0666}}};
  // /dev/mem0 is a second node for 1:3 (null); a rule for 1:3 itself is the default allow,
  // so deny it after and check both names are refused, then that an allow restores it.
  config_["linux"]["resources"]["devices"] = {
      {{"allow", false}, {"access", "rwm"}},
      {{"allow", false}, {"type", "c"}, {"major", 1}, {"minor", 3}, {"access", "rwm"}}};
  Result r = RunContainer("cat /dev/mem0 2>&1; echo rc=$?");
  EXPECT_NE(r.out.find("Operation not permitted"), std::string::npos) << r.out;
  config_["linux"]["resources"]["devices"] = {{{"allow", false}, {"access", "rwm"}}};
  r = RunContainer("cat /dev/mem0; echo rc=$?");
  EXPECT_EQ(r.out, "rc=0\n") << "the standard allow for 1:3 was lost";
}

TEST_F(CgroupsTest, HugepageLimitGoesWhereTheControllerLives) {
  const auto& layout = runtime::DetectCgroupLayout();
  bool v1 = !layout.V1Path("hugetlb").empty();
  if (!v1 && !layout.v2_controllers.count("hugetlb") && !layout.PureV2()) {
    GTEST_SKIP() << "no hugetlb controller";
  }
  if (!FileExists("/sys/kernel/mm/hugepages/hugepages-2048kB")) {
    GTEST_SKIP() << "no 2MB huge pages";
  }
  config_["linux"]["resources"]["hugepageLimits"] = {{{"pageSize", "2MB"}, {"limit", 4194304}}};
  std::string id = StartDetached("exec sleep 100");
  std::string file = Dir(id, "hugetlb") + (v1 ? "/hugetlb.2MB.limit_in_bytes" : "/hugetlb.2MB.max");
  EXPECT_EQ(Trim(ReadFile(file)), "4194304");
}

TEST_F(CgroupsTest, BadResourceIsRefusedAndLeavesNothing) {
  config_["linux"]["resources"]["memory"] = {{"limit", -5}};
  SetScript("true");
  std::string id = ExpectCreateFails("linux.resources.memory.limit");
  EXPECT_FALSE(FileExists(Dir(id, "memory")));
}

TEST_F(CgroupsTest, UpdateChangesLimitsOfARunningContainer) {
  config_["linux"]["resources"]["memory"] = {{"limit", 67108864}};
  config_["linux"]["resources"]["pids"] = {{"limit", 100}};
  std::string id = StartDetached("exec sleep 100");
  const auto& layout = runtime::DetectCgroupLayout();
  bool v1 = !layout.V1Path("memory").empty();
  std::string mem = Dir(id, "memory") + (v1 ? "/memory.limit_in_bytes" : "/memory.max");
  Result r = Rt({"update", "--memory", "32m", "--pids-limit", "10", id});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Trim(ReadFile(mem)), "33554432");
  EXPECT_EQ(Trim(ReadFile(Dir(id, "pids") + "/pids.max")), "10");
  // -r takes a linux.resources object, from a file or stdin.
  r = Rt({"update", "-r", "-", id}, R"({"pids": {"limit": 20}})");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Trim(ReadFile(Dir(id, "pids") + "/pids.max")), "20");
  // Bad values name the field and change nothing.
  r = Rt({"update", "-r", "-", id}, R"({"memory": {"limit": -7}})");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("linux.resources.memory.limit"), std::string::npos) << r.err;
  EXPECT_EQ(Trim(ReadFile(mem)), "33554432");
  r = Rt({"update", "--memory", "lots", id});
  EXPECT_NE(r.err.find("--memory \"lots\""), std::string::npos) << r.err;
  ASSERT_EQ(Rt({"kill", id, "KILL"}).exit_code, 0);
  for (int i = 0; i < 200 && Rt({"state", id}).out.find("stopped") == std::string::npos; ++i) {
    usleep(10000);
  }
  r = Rt({"update", "--pids-limit", "5", id});
  EXPECT_NE(r.exit_code, 0) << "update of a stopped container must fail";
}

TEST_F(CgroupsTest, EventsStatsInRuncShape) {
  config_["linux"]["resources"]["memory"] = {{"limit", 67108864}};
  config_["linux"]["resources"]["pids"] = {{"limit", 50}};
  std::string id = StartDetached("sleep 100 & exec sleep 100");
  // The shell forks the background sleep as it starts: read until both are there (bounded).
  Result r;
  nlohmann::json j;
  for (int i = 0; i < 100; ++i) {
    r = Rt({"events", "--stats", id});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    j = nlohmann::json::parse(r.out);
    if (j["data"]["pids"]["current"] == 2) break;
    usleep(20000);
  }
  EXPECT_EQ(j["type"], "stats");
  EXPECT_EQ(j["id"], id);
  EXPECT_EQ(j["data"]["memory"]["usage"]["limit"], 67108864);
  EXPECT_GT(j["data"]["memory"]["usage"]["usage"].get<uint64_t>(), 0u);
  EXPECT_EQ(j["data"]["pids"]["limit"], 50);
  EXPECT_EQ(j["data"]["pids"]["current"], 2);
  EXPECT_GT(j["data"]["cpu"]["usage"]["total"].get<uint64_t>(), 0u);
}

TEST_F(CgroupsTest, EventsReportAnOomKill) {
  config_["linux"]["resources"]["memory"] = {{"limit", 33554432}, {"swap", 33554432}};
  // The hog (a subshell) is killed; the init lives on, then exits so events ends.
  std::string id =
      StartDetached("sleep 0.5; x=$(head -c 67108864 /dev/zero | tr '\\0' a); sleep 1");
  Result r = Rt({"events", "--interval", "10s", id}, "", 20);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("{\"id\":\"" + id + "\",\"type\":\"oom\"}"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"type\":\"stats\""), std::string::npos) << r.out;
}

}  // namespace
}  // namespace berth::testing
