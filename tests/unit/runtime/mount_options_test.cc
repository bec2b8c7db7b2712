#include "runtime/mount_options.h"

#include <gtest/gtest.h>
#include <linux/mount.h>
#include <sys/mount.h>

namespace berth::runtime {
namespace {

TEST(MountOptionsTest, FlagsSetAndCleared) {
  MountOptions o = ParseMountOptions({"nosuid", "noexec", "ro", "rw", "nodev", "dev"});
  EXPECT_EQ(o.flags, static_cast<unsigned long>(MS_NOSUID | MS_NOEXEC));
  EXPECT_FALSE(o.bind);
  EXPECT_TRUE(o.data.empty());
}

TEST(MountOptionsTest, BindRbindAndPropagation) {
  MountOptions o = ParseMountOptions({"rbind", "rslave"});
  EXPECT_TRUE(o.bind);
  EXPECT_TRUE(o.recursive_bind);
  EXPECT_EQ(o.propagation, static_cast<unsigned long>(MS_SLAVE | MS_REC));
  o = ParseMountOptions({"bind", "private"});
  EXPECT_TRUE(o.bind);
  EXPECT_FALSE(o.recursive_bind);
  EXPECT_EQ(o.propagation, static_cast<unsigned long>(MS_PRIVATE));
}

TEST(MountOptionsTest, IdmapAndRidmap) {
  MountOptions o = ParseMountOptions({"rbind", "idmap"});
  EXPECT_TRUE(o.idmap);
  EXPECT_FALSE(o.recursive_idmap);
  EXPECT_TRUE(o.data.empty()) << "idmap is the runtime's option, not the filesystem's";
  o = ParseMountOptions({"bind", "ridmap"});
  EXPECT_TRUE(o.idmap);
  EXPECT_TRUE(o.recursive_idmap);
  EXPECT_FALSE(ParseMountOptions({"rbind"}).idmap);
}

TEST(MountOptionsTest, RecursiveAttributes) {
  MountOptions o = ParseMountOptions({"rro", "rnosuid", "rnoatime", "rrw"});
  EXPECT_EQ(o.attr_set, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOATIME);
  EXPECT_EQ(o.attr_clr, static_cast<uint64_t>(MOUNT_ATTR_RDONLY));
}

TEST(MountOptionsTest, UnknownOptionsAreFilesystemData) {
  MountOptions o = ParseMountOptions({"nosuid", "mode=755", "size=65536k", "newinstance"});
  EXPECT_EQ(o.flags, static_cast<unsigned long>(MS_NOSUID));
  EXPECT_EQ(o.data, "mode=755,size=65536k,newinstance");
}

TEST(MountOptionsTest, RootfsPropagationValues) {
  EXPECT_EQ(PropagationFlags("rprivate"), static_cast<unsigned long>(MS_PRIVATE | MS_REC));
  EXPECT_EQ(PropagationFlags("shared"), static_cast<unsigned long>(MS_SHARED));
  EXPECT_EQ(PropagationFlags(""), 0ul);
}

}  // namespace
}  // namespace berth::runtime
