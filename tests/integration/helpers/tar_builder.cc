#include "tar_builder.h"

#include <archive.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file_util.h"

namespace berth::testing {

std::string CompressBytes(const std::string& bytes, Filter filter) {
  if (filter == Filter::kNone) {
    return bytes;
  }
  struct archive* a = archive_write_new();
  archive_write_set_format_raw(a);
  if (filter == Filter::kGzip) archive_write_add_filter_gzip(a);
  if (filter == Filter::kZstd) archive_write_add_filter_zstd(a);
  archive_write_set_bytes_in_last_block(a, 1);
  std::vector<char> buf(bytes.size() + (1 << 20));
  size_t used = 0;
  EXPECT_EQ(archive_write_open_memory(a, buf.data(), buf.size(), &used), ARCHIVE_OK);
  struct archive_entry* en = archive_entry_new();
  archive_entry_set_pathname(en, "data");
  archive_entry_set_filetype(en, AE_IFREG);
  archive_entry_set_size(en, static_cast<la_int64_t>(bytes.size()));
  EXPECT_EQ(archive_write_header(a, en), ARCHIVE_OK) << archive_error_string(a);
  archive_write_data(a, bytes.data(), bytes.size());
  archive_entry_free(en);
  archive_write_close(a);
  archive_write_free(a);
  return std::string(buf.data(), used);
}

std::string MakeTar(const std::vector<E>& entries, Filter filter) {
  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  if (filter == Filter::kGzip) archive_write_add_filter_gzip(a);
  if (filter == Filter::kZstd) archive_write_add_filter_zstd(a);
  archive_write_set_bytes_in_last_block(a, 1);
  std::vector<char> buf(8 << 20);
  size_t used = 0;
  EXPECT_EQ(archive_write_open_memory(a, buf.data(), buf.size(), &used), ARCHIVE_OK);
  for (const E& e : entries) {
    struct archive_entry* en = archive_entry_new();
    archive_entry_set_pathname(en, e.path.c_str());
    archive_entry_set_perm(en, e.perm);
    archive_entry_set_uid(en, e.uid);
    archive_entry_set_gid(en, e.gid);
    archive_entry_set_mtime(en, 1700000000, 0);
    if (e.hard) {
      archive_entry_set_filetype(en, AE_IFREG);
      archive_entry_set_hardlink(en, e.link.c_str());
      archive_entry_set_size(en, 0);
    } else {
      archive_entry_set_filetype(en, e.type);
      if (e.type == AE_IFLNK) archive_entry_set_symlink(en, e.link.c_str());
      if (e.type == AE_IFCHR || e.type == AE_IFBLK) archive_entry_set_rdev(en, e.rdev);
      archive_entry_set_size(en, e.type == AE_IFREG ? static_cast<la_int64_t>(e.data.size()) : 0);
    }
    for (const auto& [k, v] : e.xattrs) {
      archive_entry_xattr_add_entry(en, k.c_str(), v.data(), v.size());
    }
    EXPECT_EQ(archive_write_header(a, en), ARCHIVE_OK) << archive_error_string(a);
    if (!e.hard && e.type == AE_IFREG && !e.data.empty()) {
      archive_write_data(a, e.data.data(), e.data.size());
    }
    archive_entry_free(en);
  }
  archive_write_close(a);
  archive_write_free(a);
  return std::string(buf.data(), used);
}

UniqueFd MemFd(const std::string& bytes) {
  UniqueFd fd(memfd_create("layer", MFD_CLOEXEC));
  EXPECT_EQ(write(fd.get(), bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  lseek(fd.get(), 0, SEEK_SET);
  return fd;
}

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

void RootTempDirTest::SetUp() {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root";
  }
  char tmpl[] = "/tmp/berth-it-image.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  dir_ = tmpl;
}

void RootTempDirTest::TearDown() {
  for (const auto& m : mounts_) {
    umount2(m.c_str(), MNT_DETACH);
  }
  if (!dir_.empty()) {
    RemoveAll(dir_);
  }
}

}  // namespace berth::testing
