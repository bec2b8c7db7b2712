#include "runtime/cgroups.h"

#include <gtest/gtest.h>

#include "base/error.h"

namespace berth::runtime {
namespace {

constexpr const char* kHybrid =
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
    "90 41 0:38 /sub /mnt/bind rw,relatime - cgroup2 cgroup2 rw\n";

constexpr const char* kPureV2 =
    "30 23 0:27 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate\n";

TEST(CgroupLayoutTest, HybridHost) {
  CgroupLayout l = ParseCgroupLayout(kHybrid);
  ASSERT_EQ(l.v1.size(), 4u);
  EXPECT_EQ(l.V1Path("memory"), "/sys/fs/cgroup/memory");
  EXPECT_EQ(l.V1Path("name=systemd"), "/sys/fs/cgroup/systemd");
  EXPECT_EQ(l.V1Path("pids"), "");
  EXPECT_EQ(l.v2_mount, "/sys/fs/cgroup/unified");
  EXPECT_FALSE(l.PureV2());
}

TEST(CgroupLayoutTest, PureV2Host) {
  CgroupLayout l = ParseCgroupLayout(kPureV2);
  EXPECT_TRUE(l.v1.empty());
  EXPECT_EQ(l.v2_mount, "/sys/fs/cgroup");
  EXPECT_TRUE(l.PureV2());
}

TEST(CgroupTest, DirsInEveryHierarchy) {
  CgroupLayout l = ParseCgroupLayout(kHybrid);
  Cgroup cg(l, "berth/c1");
  EXPECT_EQ(cg.path(), "/berth/c1");
  std::vector<std::string> dirs = cg.Dirs();
  ASSERT_EQ(dirs.size(), 5u);
  EXPECT_EQ(dirs.front(), "/sys/fs/cgroup/cpu/berth/c1");
  EXPECT_EQ(dirs.back(), "/sys/fs/cgroup/unified/berth/c1");
}

TEST(CgroupTest, RefusesDotDot) {
  CgroupLayout l = ParseCgroupLayout(kPureV2);
  EXPECT_THROW(Cgroup(l, "/berth/../../etc"), Error);
}

}  // namespace
}  // namespace berth::runtime
