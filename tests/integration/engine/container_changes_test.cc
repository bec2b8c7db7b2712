#include "engine/container_changes.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "base/file_util.h"
#include "tar_builder.h"

namespace berth::engine {
namespace {

class ChangesTest : public testing::RootTempDirTest {
 protected:
  void Whiteout(const std::string& path) {
    ASSERT_EQ(mknod(path.c_str(), S_IFCHR | 0, makedev(0, 0)), 0) << path;
  }
};

std::string Render(const std::vector<Change>& changes) {
  std::string out;
  for (const Change& c : changes) out += "CAD"[static_cast<int>(c.kind)] + (" " + c.path) + "\n";
  return out;
}

TEST_F(ChangesTest, UpperAgainstLowerLayers) {
  // Two image layers: the top one deleted /etc/old that the bottom one had.
  std::string bottom = dir_ + "/l0", top = dir_ + "/l1", upper = dir_ + "/upper";
  for (const char* d : {"/l0/etc", "/l0/bin", "/l1/etc", "/l1/usr", "/upper/etc", "/upper/bin",
                        "/upper/new", "/upper/usr"}) {
    MkdirAll(dir_ + d, 0755);
  }
  WriteFileAtomic(bottom + "/etc/passwd", "root", 0644);
  WriteFileAtomic(bottom + "/etc/old", "o", 0644);
  WriteFileAtomic(bottom + "/bin/vi", "v", 0755);
  Whiteout(top + "/etc/old");
  // The container: changed passwd, deleted vi, re-created old (a lower whiteout hid it: an
  // addition), added /new/f and /a-b, and a link out of the tree named like a lower path.
  WriteFileAtomic(upper + "/etc/passwd", "root\nbob", 0644);
  WriteFileAtomic(upper + "/etc/old", "again", 0644);
  Whiteout(upper + "/bin/vi");
  WriteFileAtomic(upper + "/new/f", "f", 0644);
  WriteFileAtomic(upper + "/a-b", "x", 0644);
  ASSERT_EQ(symlink("/", (upper + "/usr/up").c_str()), 0);
  std::vector<Change> changes = UpperChanges(upper, {top, bottom});
  EXPECT_EQ(Render(changes),
            "A /a-b\n"
            "C /bin\n"
            "D /bin/vi\n"
            "C /etc\n"
            "A /etc/old\n"
            "C /etc/passwd\n"
            "A /new\n"
            "A /new/f\n"
            "C /usr\n"
            "A /usr/up\n");
}

TEST_F(ChangesTest, LowerLinksDoNotLeadOut) {
  // A layer whose /etc is a link to the host's /etc: /etc/passwd is not "in the image".
  std::string lower = dir_ + "/l0", upper = dir_ + "/upper";
  MkdirAll(lower, 0755);
  MkdirAll(upper + "/etc", 0755);
  ASSERT_EQ(symlink("/etc", (lower + "/etc").c_str()), 0);
  WriteFileAtomic(upper + "/etc/passwd", "x", 0644);
  EXPECT_EQ(Render(UpperChanges(upper, {lower})), "C /etc\nA /etc/passwd\n");
}

TEST_F(ChangesTest, NeverStartedHasNoUpper) {
  EXPECT_TRUE(UpperChanges(dir_ + "/none", {}).empty());
}

}  // namespace
}  // namespace berth::engine
