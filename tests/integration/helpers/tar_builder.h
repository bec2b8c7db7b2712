#pragma once

// Builds layer tars in memory with libarchive, for tests that feed hand-made (and hostile)
// archives to the image code.

#include <archive_entry.h>
#include <gtest/gtest.h>
#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "base/fd.h"

namespace berth::testing {

// One tar entry to write.
struct E {
  std::string path;
  mode_t type = AE_IFREG;
  mode_t perm = 0644;
  std::string data;  // regular files
  std::string link;  // symlink target, or hard link target when hard
  bool hard = false;
  uid_t uid = 0;
  gid_t gid = 0;
  dev_t rdev = 0;
  std::vector<std::pair<std::string, std::string>> xattrs;
};

enum class Filter { kNone, kGzip, kZstd };

// A pax tar of `entries` (mtime 1700000000), compressed as asked.
std::string MakeTar(const std::vector<E>& entries, Filter filter);

// `bytes` compressed as one gzip or zstd stream (unchanged for kNone).
std::string CompressBytes(const std::string& bytes, Filter filter);

// A memfd holding `bytes`, positioned at its start.
UniqueFd MemFd(const std::string& bytes);

// Whether `path` exists (not following a final symlink).
bool Exists(const std::string& path);

// A root-only test with a private temp dir (`dir_`), removed afterwards with whatever was
// mounted under it (register mount points in `mounts_`).
class RootTempDirTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  std::string dir_;
  std::vector<std::string> mounts_;
};

}  // namespace berth::testing
