#include "base/path_in_root.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

#include "base/fd.h"
#include "base/file_util.h"

namespace berth {
namespace {

bool FileExists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

// Every test runs twice: with openat2(RESOLVE_IN_ROOT) and with the manual walk.
class PathInRootTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    SetOpenat2DisabledForTest(GetParam());
    char tmpl[] = "/tmp/berth-pir.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    top_ = tmpl;
    root_ = top_ + "/root";
    outside_ = top_ + "/outside";
    MkdirAll(root_ + "/etc");
    MkdirAll(root_ + "/a/b");
    MkdirAll(outside_);
    std::ofstream(root_ + "/etc/passwd") << "inside";
    std::ofstream(outside_ + "/secret") << "outside";
    std::ofstream(root_ + "/file") << "f";
    Link("/etc", "/abs-etc");               // absolute: must stay in the root
    Link("../../../../..", "/a/b/up");      // climbs above the root
    Link(outside_.c_str(), "/to-outside");  // a host path
    Link("/loop2", "/loop1");
    Link("/loop1", "/loop2");
    Link("/x", "/dangling");  // kDirs creates through it, inside
    root_fd_.Reset(open(root_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(root_fd_.valid());
  }
  void TearDown() override {
    SetOpenat2DisabledForTest(false);
    RemoveAll(top_);
  }
  void Link(const char* target, const char* name) {
    ASSERT_EQ(symlink(target, (root_ + name).c_str()), 0) << name;
  }
  // Whether `fd` is the same file as `path`.
  static bool Same(int fd, const std::string& path) {
    struct stat a, b;
    return fd >= 0 && fstat(fd, &a) == 0 && stat(path.c_str(), &b) == 0 && a.st_ino == b.st_ino &&
           a.st_dev == b.st_dev;
  }

  std::string top_, root_, outside_;
  UniqueFd root_fd_;
};

TEST_P(PathInRootTest, PlainPaths) {
  UniqueFd fd(ResolveInRoot(root_fd_.get(), "/etc/passwd"));
  EXPECT_TRUE(Same(fd.get(), root_ + "/etc/passwd"));
  UniqueFd rel(ResolveInRoot(root_fd_.get(), "a/./b/../b"));
  EXPECT_TRUE(Same(rel.get(), root_ + "/a/b"));
  UniqueFd self(ResolveInRoot(root_fd_.get(), "/"));
  EXPECT_TRUE(Same(self.get(), root_));
}

TEST_P(PathInRootTest, OpensDirectories) {
  // O_DIRECTORY shares a bit with O_TMPFILE: it must not make openat2 get a mode (EINVAL).
  UniqueFd dir(OpenInRoot(root_fd_.get(), "/abs-etc", O_RDONLY | O_DIRECTORY));
  ASSERT_TRUE(dir) << strerror(-dir.get());
  EXPECT_TRUE(Same(dir.get(), root_ + "/etc"));
}

TEST_P(PathInRootTest, AbsoluteSymlinkStaysInside) {
  UniqueFd fd(ResolveInRoot(root_fd_.get(), "/abs-etc/passwd"));
  EXPECT_TRUE(Same(fd.get(), root_ + "/etc/passwd"));
  EXPECT_FALSE(Same(fd.get(), "/etc/passwd"));
}

TEST_P(PathInRootTest, DotDotCannotClimbOut) {
  UniqueFd fd(ResolveInRoot(root_fd_.get(), "/../../../etc/passwd"));
  EXPECT_TRUE(Same(fd.get(), root_ + "/etc/passwd"));
  UniqueFd up(ResolveInRoot(root_fd_.get(), "/a/b/up/etc"));
  EXPECT_TRUE(Same(up.get(), root_ + "/etc"));
}

TEST_P(PathInRootTest, HostPathSymlinkIsResolvedInsideTheRoot) {
  int fd = ResolveInRoot(root_fd_.get(), "/to-outside/secret");
  EXPECT_EQ(fd, -ENOENT) << "followed a symlink out of the root";
  if (fd >= 0) {
    close(fd);
  }
}

TEST_P(PathInRootTest, LoopsAndFilesAsDirectories) {
  EXPECT_EQ(ResolveInRoot(root_fd_.get(), "/loop1"), -ELOOP);
  EXPECT_EQ(ResolveInRoot(root_fd_.get(), "/file/x"), -ENOTDIR);
  EXPECT_EQ(ResolveInRoot(root_fd_.get(), "/missing"), -ENOENT);
}

TEST_P(PathInRootTest, CreateDirsThroughSymlinksStaysInside) {
  UniqueFd fd(ResolveInRoot(root_fd_.get(), "/dangling/y/z", CreateMode::kDirs));
  ASSERT_TRUE(fd.valid());
  EXPECT_TRUE(Same(fd.get(), root_ + "/x/y/z"));
  UniqueFd out(ResolveInRoot(root_fd_.get(), "/to-outside/new", CreateMode::kDirs));
  EXPECT_FALSE(FileExists(outside_ + "/new"));
  EXPECT_TRUE(Same(out.get(), root_ + outside_ + "/new"));
}

TEST_P(PathInRootTest, CreateFileLast) {
  UniqueFd fd(ResolveInRoot(root_fd_.get(), "/d1/d2/f", CreateMode::kFileLast, 0600));
  ASSERT_TRUE(fd.valid());
  struct stat st;
  ASSERT_EQ(stat((root_ + "/d1/d2/f").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_TRUE(S_ISDIR((stat((root_ + "/d1/d2").c_str(), &st), st.st_mode)));
}

TEST_P(PathInRootTest, OpenInRootCreatesInside) {
  int fd = OpenInRoot(root_fd_.get(), "/to-outside/created", O_WRONLY | O_CREAT, 0600);
  // The symlink's target does not exist inside the root: nothing is created outside.
  if (fd >= 0) {
    close(fd);
  }
  EXPECT_FALSE(FileExists(outside_ + "/created"));
  UniqueFd in(OpenInRoot(root_fd_.get(), "/abs-etc/new", O_WRONLY | O_CREAT, 0600));
  ASSERT_TRUE(in.valid());
  EXPECT_TRUE(FileExists(root_ + "/etc/new"));
  UniqueFd rd(OpenInRoot(root_fd_.get(), "/abs-etc/passwd", O_RDONLY));
  char buf[16] = {0};
  ASSERT_GT(read(rd.get(), buf, sizeof(buf)), 0);
  EXPECT_STREQ(buf, "inside");
}

TEST_P(PathInRootTest, LongNamesAreNeverCut) {
  std::string prefix(255, 'a');
  std::ofstream(root_ + "/" + prefix) << "short";
  EXPECT_EQ(ResolveInRoot(root_fd_.get(), "/" + prefix + "bbb"), -ENAMETOOLONG);
}

TEST_P(PathInRootTest, OpenInRootKeepsTheOpenFlagsMeaning) {
  EXPECT_EQ(OpenInRoot(root_fd_.get(), "/file", O_WRONLY | O_CREAT | O_EXCL, 0600), -EEXIST);
  EXPECT_EQ(OpenInRoot(root_fd_.get(), "/no/such/dir/f", O_WRONLY | O_CREAT, 0600), -ENOENT);
  EXPECT_FALSE(FileExists(root_ + "/no")) << "a parent directory was created";
  UniqueFd made(OpenInRoot(root_fd_.get(), "/a/b/new", O_WRONLY | O_CREAT | O_EXCL, 0600));
  ASSERT_TRUE(made.valid());
  EXPECT_TRUE(FileExists(root_ + "/a/b/new"));
}

INSTANTIATE_TEST_SUITE_P(Resolution, PathInRootTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Fallback" : "Openat2"; });

}  // namespace
}  // namespace berth
