#include "base/file_util.h"
#include "temp_dir_test.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "base/error.h"

namespace berth {
namespace {

class FileUtilTest : public testing::TempDirTest {};

TEST_F(FileUtilTest, MkdirAllMakesMissingParentsAndAcceptsExisting) {
  std::string deep = dir_ + "/a/b/c/";
  MkdirAll(deep, 0750);
  struct stat st;
  ASSERT_EQ(stat((dir_ + "/a/b/c").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_NO_THROW(MkdirAll(dir_ + "/a/b/c"));
  EXPECT_NO_THROW(MkdirAll(dir_));
}

TEST_F(FileUtilTest, MkdirAllRefusesAFileInThePath) {
  std::ofstream(dir_ + "/file") << "x";
  try {
    MkdirAll(dir_ + "/file/sub");
    FAIL() << "created a directory under a file";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(dir_ + "/file"), std::string::npos) << e.what();
  }
  EXPECT_THROW(MkdirAll(dir_ + "/file"), Error);
}

TEST_F(FileUtilTest, WriteFileAtomicReplacesWholeAndLeavesNoTemp) {
  for (Durability d : {Durability::kDurable, Durability::kVolatile}) {
    WriteFileAtomic(dir_ + "/f", "first", 0600, d);
    WriteFileAtomic(dir_ + "/f", "second", 0600, d);
    EXPECT_EQ(ReadFile(dir_ + "/f"), "second");
  }
  EXPECT_EQ(access((dir_ + "/f.tmp-" + std::to_string(getpid())).c_str(), F_OK), -1);
  EXPECT_THROW(WriteFileAtomic(dir_ + "/missing/f", "x"), Error);
}

TEST_F(FileUtilTest, RemoveAllRemovesATree) {
  MkdirAll(dir_ + "/t/u");
  std::ofstream(dir_ + "/t/u/f") << "x";
  ASSERT_EQ(symlink("/etc", (dir_ + "/t/link").c_str()), 0);
  EXPECT_TRUE(RemoveAll(dir_ + "/t"));
  EXPECT_EQ(access((dir_ + "/t").c_str(), F_OK), -1);
  EXPECT_EQ(access("/etc/passwd", F_OK), 0) << "followed a symlink out of the tree";
  EXPECT_TRUE(RemoveAll(dir_ + "/never-existed"));
}

}  // namespace
}  // namespace berth
