#include "runtime/cgroup_primer.h"

#include <gtest/gtest.h>

namespace berth::runtime {
namespace {

CgroupLayout Hybrid() {
  CgroupLayout l;
  l.v1.push_back({"/sys/fs/cgroup/cpu", "cpu"});
  l.v1.push_back({"/sys/fs/cgroup/memory", "memory"});
  l.v2_mount = "/sys/fs/cgroup/unified";
  return l;
}

TEST(CgroupPrimer, WritesToOwnCgroupInTheFirstV1Hierarchy) {
  const char* self =
      "12:memory:/system.slice/berthd.service\n"
      "3:cpu:/system.slice/berthd.service\n"
      "0::/system.slice/berthd.service\n";
  EXPECT_EQ(CgroupPrimer::ProcsFile(Hybrid(), self),
            "/sys/fs/cgroup/cpu/system.slice/berthd.service/cgroup.procs");
  EXPECT_EQ(CgroupPrimer::ProcsFile(Hybrid(), "3:cpu:/\n"), "/sys/fs/cgroup/cpu/cgroup.procs");
}

TEST(CgroupPrimer, NothingWithoutAMatchingOrSaneLine) {
  EXPECT_EQ(CgroupPrimer::ProcsFile(Hybrid(), "0::/\n"), "");
  EXPECT_EQ(CgroupPrimer::ProcsFile(Hybrid(), "3:cpu:/../escape\n"), "");
  EXPECT_EQ(CgroupPrimer::ProcsFile(Hybrid(), "3:cpu:relative\n"), "");
  CgroupLayout v2;
  v2.v2_mount = "/sys/fs/cgroup";
  EXPECT_EQ(CgroupPrimer::ProcsFile(v2, "0::/\n"), "");
}

}  // namespace
}  // namespace berth::runtime
