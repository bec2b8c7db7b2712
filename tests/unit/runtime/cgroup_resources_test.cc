#include "runtime/cgroup_resources.h"

#include <gtest/gtest.h>

#include "base/error.h"

namespace berth::runtime {
namespace {

using nlohmann::json;

// This project's hosts: v1 controllers, hugetlb only in the cgroup2 tree.
CgroupLayout Hybrid() {
  CgroupLayout l = ParseCgroupLayout(
      "32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n"
      "34 31 0:31 / /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,cpuset\n"
      "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
      "36 31 0:33 / /sys/fs/cgroup/devices rw - cgroup cgroup rw,devices\n"
      "38 31 0:35 / /sys/fs/cgroup/blkio rw - cgroup cgroup rw,blkio\n"
      "39 31 0:36 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n"
      "41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n");
  l.v2_controllers = {"hugetlb"};
  return l;
}

CgroupLayout PureV2() {
  CgroupLayout l = ParseCgroupLayout("30 23 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
  l.v2_controllers = {"cpu", "cpuset", "io", "memory", "pids", "hugetlb"};
  return l;
}

// "file=value" lines, in order, for compact expectations.
std::vector<std::string> Lines(const json& r, const CgroupLayout& l,
                               std::vector<std::string>* warnings = nullptr) {
  std::vector<std::string> w;
  std::vector<std::string> out;
  for (const auto& x : TranslateResources(r, l, warnings ? warnings : &w)) {
    out.push_back(std::string(x.v2 ? "v2:" : "") + x.file + "=" + x.value);
  }
  return out;
}

void ExpectRefused(const json& r, const CgroupLayout& l, const std::string& needle) {
  std::vector<std::string> w;
  try {
    TranslateResources(r, l, &w);
    ADD_FAILURE() << "accepted, expected an error naming " << needle;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Kind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(CgroupResourcesTest, MemoryV1AndV2) {
  json r = {{"memory",
             {{"limit", 1048576},
              {"swap", 2097152},
              {"reservation", 524288},
              {"swappiness", 10},
              {"disableOOMKiller", true}}}};
  EXPECT_EQ(
      Lines(r, Hybrid()),
      (std::vector<std::string>{
          "memory.limit_in_bytes=1048576", "memory.memsw.limit_in_bytes=2097152",
          "memory.soft_limit_in_bytes=524288", "memory.swappiness=10", "memory.oom_control=1"}));
  std::vector<std::string> warnings;
  EXPECT_EQ(Lines(r, PureV2(), &warnings),
            (std::vector<std::string>{"v2:memory.max=1048576", "v2:memory.swap.max=1048576",
                                      "v2:memory.low=524288"}));
  EXPECT_EQ(warnings.size(), 2u) << "swappiness and disableOOMKiller cannot apply on v2";
  EXPECT_EQ(Lines({{"memory", {{"limit", -1}}}}, PureV2()),
            std::vector<std::string>{"v2:memory.max=max"});
}

TEST(CgroupResourcesTest, CpuV1AndV2) {
  json r = {{"cpu", {{"shares", 1024}, {"quota", 50000}, {"period", 100000}, {"cpus", "0"}}}};
  EXPECT_EQ(Lines(r, Hybrid()),
            (std::vector<std::string>{"cpu.shares=1024", "cpu.cfs_period_us=100000",
                                      "cpu.cfs_quota_us=50000", "cpuset.cpus=0"}));
  EXPECT_EQ(Lines(r, PureV2()),
            (std::vector<std::string>{"v2:cpu.weight=39", "v2:cpu.max=50000 100000",
                                      "v2:cpuset.cpus=0"}));
}

TEST(CgroupResourcesTest, PidsBlockIoHugepages) {
  json r = {{"pids", {{"limit", 0}}},
            {"blockIO",
             {{"weight", 500},
              {"throttleReadBpsDevice", {{{"major", 8}, {"minor", 0}, {"rate", 1048576}}}}}},
            {"hugepageLimits", {{{"pageSize", "2MB"}, {"limit", 4194304}}}}};
  EXPECT_EQ(Lines(r, Hybrid()),
            (std::vector<std::string>{"pids.max=max", "blkio.weight=500",
                                      "blkio.throttle.read_bps_device=8:0 1048576",
                                      "v2:hugetlb.2MB.max=4194304"}));
  EXPECT_EQ(Lines(r, PureV2()),
            (std::vector<std::string>{"v2:pids.max=max", "v2:io.weight=default 4950",
                                      "v2:io.max=8:0 rbps=1048576", "v2:hugetlb.2MB.max=4194304"}));
}

TEST(CgroupResourcesTest, DevicesKeepTheStandardNodesAfterDenyAll) {
  json r = {{"devices",
             {{{"allow", false}, {"access", "rwm"}},
              {{"allow", true}, {"type", "c"}, {"major", 10}, {"minor", 229}, {"access", "rw"}}}}};
  auto lines = Lines(r, Hybrid());
  // The leading deny-all does the initial "deny everything": nothing is written twice.
  EXPECT_EQ(lines.front(), "devices.deny=a *:* rwm");
  EXPECT_EQ(std::count(lines.begin(), lines.end(), "devices.allow=c 1:3 rwm"), 1);
  // Rules that do not start with a deny-all still start from the standard nodes only.
  auto allow_only =
      Lines({{"devices",
              {{{"allow", true}, {"type", "c"}, {"major", 10}, {"minor", 200}, {"access", "rw"}}}}},
            Hybrid());
  EXPECT_EQ(allow_only.front(), "devices.deny=a *:* rwm");
  EXPECT_EQ(allow_only.back(), "devices.allow=c 10:200 rw");
  EXPECT_NE(std::find(lines.begin(), lines.end(), "devices.deny=a *:* rwm"), lines.end());
  EXPECT_EQ(lines.back(), "devices.allow=c 10:229 rw");
  // /dev/null is allowed again after the deny-all rule.
  auto deny = std::find(lines.begin(), lines.end(), "devices.deny=a *:* rwm");
  EXPECT_NE(std::find(deny, lines.end(), "devices.allow=c 1:3 rwm"), lines.end());
  // On cgroup v2 the rules are an eBPF program (device_filter.h), not file writes.
  std::vector<std::string> warnings;
  EXPECT_TRUE(Lines(r, PureV2(), &warnings).empty());
  EXPECT_TRUE(warnings.empty());
  // Bad rules are refused on every layout.
  json bad = {{"devices", {{{"allow", true}, {"type", "x"}}}}};
  EXPECT_THROW(Lines(bad, PureV2()), Error);
}

TEST(CgroupResourcesTest, UnifiedOnlyWhereTheControllerIs) {
  EXPECT_EQ(Lines({{"unified", {{"memory.high", "1000000"}}}}, PureV2()),
            std::vector<std::string>{"v2:memory.high=1000000"});
  ExpectRefused({{"unified", {{"memory.high", "1"}}}}, Hybrid(),
                "linux.resources.unified.memory.high: the memory controller is not in");
  ExpectRefused({{"unified", {{"../etc", "1"}}}}, PureV2(), "not a cgroup file name");
}

TEST(CgroupResourcesTest, BadValuesNameTheField) {
  ExpectRefused({{"memory", {{"limit", -5}}}}, Hybrid(),
                "linux.resources.memory.limit: must be -1");
  ExpectRefused({{"memory", {{"limit", 2000}, {"swap", 1000}}}}, Hybrid(),
                "linux.resources.memory.swap: memory+swap (1000) is below");
  ExpectRefused({{"memory", {{"limit", "1G"}}}}, Hybrid(),
                "linux.resources.memory.limit: expected");
  ExpectRefused({{"cpu", {{"shares", 1}}}}, Hybrid(), "linux.resources.cpu.shares: must be 2");
  ExpectRefused({{"cpu", {{"quota", 10}}}}, Hybrid(), "linux.resources.cpu.quota");
  ExpectRefused({{"cpu", {{"cpus", "0-3;rm"}}}}, Hybrid(), "linux.resources.cpu.cpus");
  ExpectRefused({{"cpu", {{"realtimeRuntime", 100}}}}, PureV2(), "need cgroup v1");
  ExpectRefused({{"blockIO", {{"weight", 5}}}}, Hybrid(), "linux.resources.blockIO.weight");
  ExpectRefused({{"hugepageLimits", {{{"pageSize", "2XB"}, {"limit", 1}}}}}, Hybrid(),
                "linux.resources.hugepageLimits[0].pageSize");
  ExpectRefused({{"devices", {{{"allow", true}, {"type", "x"}}}}}, Hybrid(),
                "linux.resources.devices[0].type");
  ExpectRefused({{"network", {{"classID", 1}}}}, Hybrid(), "no net_cls cgroup controller");
  ExpectRefused({{"pids", {{"limit", "many"}}}}, Hybrid(), "linux.resources.pids.limit");
}

}  // namespace
}  // namespace berth::runtime
