// Snapshots in the real kernel: layers unpacked once under their chain IDs, and a rootfs that
// is one overlay mount over them, whiteouts and opaque directories included.

#include "image/snapshot.h"

#include "image/layer.h"

#include <dirent.h>

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <algorithm>
#include <cstring>

#include "base/digest.h"
#include "base/error.h"
#include "base/file_util.h"
#include "tar_builder.h"

namespace berth::image {
namespace {

using testing::E;
using testing::Filter;
using testing::MakeTar;
using testing::MemFd;

using testing::Exists;

class SnapshotTest : public testing::RootTempDirTest {
 protected:
  // Unpacks `layers` (bottom first); returns their chain IDs.
  std::vector<std::string> Unpack(Snapshots& s, const std::vector<std::string>& tars) {
    std::vector<std::string> diff_ids;
    for (const auto& t : tars) {
      diff_ids.push_back(Sha256Digest(t));  // uncompressed tars: digest == diffID
    }
    std::vector<std::string> chain = ChainIds(diff_ids);
    for (size_t i = 0; i < tars.size(); ++i) {
      UniqueFd fd = MemFd(tars[i]);
      s.Unpack(chain[i], diff_ids[i], fd.get());
    }
    return chain;
  }
};

TEST(ChainIdTest, FollowsTheOciDefinition) {
  std::string a = "sha256:" + std::string(64, 'a'), b = "sha256:" + std::string(64, 'b');
  std::vector<std::string> c = ChainIds({a, b, a});
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0], a);
  EXPECT_EQ(c[1], Sha256Digest(a + " " + b));
  EXPECT_EQ(c[2], Sha256Digest(c[1] + " " + a));
}

TEST_F(SnapshotTest, OverlayOfThreeLayersWithWhiteouts) {
  Snapshots s(dir_ + "/snapshots");
  std::vector<std::string> tars = {
      MakeTar({{.path = "etc", .type = AE_IFDIR, .perm = 0755},
               {.path = "etc/gone", .data = "lower"},
               {.path = "etc/kept", .data = "lower"},
               {.path = "opaque", .type = AE_IFDIR, .perm = 0755},
               {.path = "opaque/hidden", .data = "lower"}},
              Filter::kNone),
      MakeTar({{.path = "etc/.wh.gone"}, {.path = "etc/new", .data = "middle"}}, Filter::kNone),
      MakeTar({{.path = "opaque", .type = AE_IFDIR, .perm = 0755},
               {.path = "opaque/.wh..wh..opq"},
               {.path = "opaque/top", .data = "top"}},
              Filter::kNone),
  };
  std::vector<std::string> chain = Unpack(s, tars);
  for (const auto& c : chain) {
    EXPECT_TRUE(s.Has(c));
    EXPECT_GT(s.DiskUsage(c), 0u);
  }
  std::string rootfs = dir_ + "/c1/rootfs";
  s.MountRootfs(chain, dir_ + "/c1", rootfs);
  mounts_.push_back(rootfs);
  EXPECT_FALSE(Exists(rootfs + "/etc/gone")) << "the whiteout hides the lower file";
  EXPECT_EQ(ReadFile(rootfs + "/etc/kept"), "lower");
  EXPECT_EQ(ReadFile(rootfs + "/etc/new"), "middle");
  EXPECT_FALSE(Exists(rootfs + "/opaque/hidden")) << "the opaque directory hides the lower one";
  EXPECT_EQ(ReadFile(rootfs + "/opaque/top"), "top");
  // Writes go to the container's upper directory, never into a shared snapshot.
  WriteFileAtomic(rootfs + "/etc/kept", "changed", 0644, Durability::kVolatile);
  EXPECT_EQ(ReadFile(dir_ + "/c1/upper/etc/kept"), "changed");
  EXPECT_EQ(ReadFile(s.FsPath(chain[0]) + "/etc/kept"), "lower");
  // A second image sharing the two lower layers reuses their snapshots.
  UniqueFd again = MemFd(tars[0]);
  EXPECT_FALSE(s.Unpack(chain[0], Sha256Digest(tars[0]), again.get())) << "unpacked once";
}

TEST_F(SnapshotTest, ADiffIdMismatchLeavesNoSnapshot) {
  Snapshots s(dir_ + "/snapshots");
  std::string tar = MakeTar({{.path = "f", .data = "x"}}, Filter::kGzip);
  std::string wrong = "sha256:" + std::string(64, '0');
  UniqueFd fd = MemFd(tar);
  try {
    s.Unpack(wrong, wrong, fd.get());
    FAIL() << "a layer whose diffID differs was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the image says " + wrong), std::string::npos) << e.what();
  }
  EXPECT_FALSE(s.Has(wrong));
  DIR* d = opendir((dir_ + "/snapshots").c_str());
  ASSERT_NE(d, nullptr);
  int entries = 0;
  while (struct dirent* e = readdir(d)) {
    entries += e->d_name[0] != '.';
  }
  closedir(d);
  EXPECT_EQ(entries, 0) << "the temporary directory was left behind";
}

TEST_F(SnapshotTest, ManyLayersMount) {
  // More layers than a mount(2) option string of these paths could hold.
  Snapshots s(dir_ + "/snapshots");
  std::vector<std::string> tars;
  for (int i = 0; i < 128; ++i) {
    tars.push_back(
        MakeTar({{.path = "f" + std::to_string(i), .data = std::to_string(i)}}, Filter::kNone));
  }
  std::vector<std::string> chain = Unpack(s, tars);
  std::string rootfs = dir_ + "/c/rootfs";
  s.MountRootfs(chain, dir_ + "/c", rootfs);
  mounts_.push_back(rootfs);
  EXPECT_EQ(ReadFile(rootfs + "/f0"), "0");
  EXPECT_EQ(ReadFile(rootfs + "/f127"), "127");
}

TEST_F(SnapshotTest, ChangesMadeThroughTheMountBecomeALayer) {
  Snapshots s(dir_ + "/snapshots");
  std::string base = MakeTar({{.path = "etc", .type = AE_IFDIR, .perm = 0755},
                              {.path = "etc/deleted", .data = "d"},
                              {.path = "etc/kept", .data = "k"},
                              {.path = "data", .type = AE_IFDIR, .perm = 0755},
                              {.path = "data/old", .data = "o"}},
                             Filter::kNone);
  std::vector<std::string> chain = Unpack(s, {base});
  std::string rootfs = dir_ + "/c/rootfs";
  s.MountRootfs(chain, dir_ + "/c", rootfs);
  mounts_.push_back(rootfs);
  // What a RUN step or a container does: delete, replace a directory, add.
  ASSERT_EQ(unlink((rootfs + "/etc/deleted").c_str()), 0);
  ASSERT_TRUE(RemoveAll(rootfs + "/data"));
  MkdirAll(rootfs + "/data", 0700);
  WriteFileAtomic(rootfs + "/data/new", "n", 0644, Durability::kVolatile);
  WriteFileAtomic(rootfs + "/added", "a", 0644, Durability::kVolatile);
  ASSERT_EQ(umount2(rootfs.c_str(), 0), 0);
  mounts_.clear();

  UniqueFd layer(memfd_create("diff", MFD_CLOEXEC));
  WriteLayerFromUpper(dir_ + "/c/upper", layer.get(), Compression::kGzip);
  lseek(layer.get(), 0, SEEK_SET);
  // The base plus the new layer, carried out on a flat directory, is what the mount showed.
  std::string flat = dir_ + "/flat";
  MkdirAll(flat, 0755);
  UniqueFd b = MemFd(base);
  ApplyLayer(b.get(), flat, WhiteoutMode::kApply);
  ApplyLayer(layer.get(), flat, WhiteoutMode::kApply);
  EXPECT_FALSE(Exists(flat + "/etc/deleted"));
  EXPECT_EQ(ReadFile(flat + "/etc/kept"), "k");
  EXPECT_FALSE(Exists(flat + "/data/old")) << "the replaced directory hides the old one";
  EXPECT_EQ(ReadFile(flat + "/data/new"), "n");
  EXPECT_EQ(ReadFile(flat + "/added"), "a");
  struct stat st;
  ASSERT_EQ(stat((flat + "/data").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
}

}  // namespace
}  // namespace berth::image

namespace berth::image {
namespace {

// A tree as text (type, mode, owner, content or target, user xattrs), for comparing two views.
std::string Tree(const std::string& dir, const std::string& prefix = "") {
  std::vector<std::string> names;
  if (DIR* d = opendir(dir.c_str())) {
    while (struct dirent* e = readdir(d)) {
      if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) names.push_back(e->d_name);
    }
    closedir(d);
  }
  std::sort(names.begin(), names.end());
  std::string out;
  for (const std::string& n : names) {
    std::string p = dir + "/" + n;
    struct stat st;
    lstat(p.c_str(), &st);
    out += prefix + n + " " + std::to_string(st.st_mode) + " " + std::to_string(st.st_uid) + ":" +
           std::to_string(st.st_gid);
    if (S_ISREG(st.st_mode)) out += " [" + ReadFile(p) + "] links=" + std::to_string(st.st_nlink);
    if (S_ISLNK(st.st_mode)) {
      char t[256] = {0};
      readlink(p.c_str(), t, sizeof(t) - 1);
      out += std::string(" -> ") + t;
    }
    char value[64] = {0};
    if (lgetxattr(p.c_str(), "user.note", value, sizeof(value) - 1) > 0) {
      out += std::string(" user.note=") + value;
    }
    out += "\n";
    if (S_ISDIR(st.st_mode)) out += Tree(p, prefix + n + "/");
  }
  return out;
}

TEST_F(SnapshotTest, TheCopyFallbackShowsWhatTheOverlayShows) {
  Snapshots s(dir_ + "/snapshots");
  std::vector<std::string> tars = {
      MakeTar({{.path = "etc", .type = AE_IFDIR, .perm = 0755},
               {.path = "etc/gone", .data = "lower"},
               {.path = "etc/kept", .data = "lower", .uid = 7, .gid = 8},
               {.path = "etc/hard", .data = "same inode"},
               {.path = "etc/hard2", .link = "etc/hard", .hard = true},
               {.path = "opaque", .type = AE_IFDIR, .perm = 0755},
               {.path = "opaque/hidden", .data = "lower"},
               {.path = "dir-to-file", .type = AE_IFDIR, .perm = 0755},
               {.path = "dir-to-file/inner", .data = "x"},
               {.path = "escape", .type = AE_IFLNK, .link = "/"},
               {.path = "noted", .data = "n", .xattrs = {{"user.note", "kept"}}}},
              Filter::kNone),
      MakeTar({{.path = "etc/.wh.gone"},
               {.path = "etc/new", .perm = 04755, .data = "middle"},
               {.path = ".wh.dir-to-file"},
               {.path = "dir-to-file", .data = "now a file"}},
              Filter::kNone),
      MakeTar({{.path = "opaque", .type = AE_IFDIR, .perm = 0750},
               {.path = "opaque/.wh..wh..opq"},
               {.path = "opaque/top", .data = "top"},
               // The lower layer's symlink to / is replaced by a directory here: the copy
               // must not write through the link into the host's root.
               {.path = ".wh.escape"},
               {.path = "escape", .type = AE_IFDIR, .perm = 0755},
               {.path = "escape/berth-copy-test", .data = "inside"}},
              Filter::kNone),
  };
  std::vector<std::string> chain = Unpack(s, tars);
  std::string mounted = dir_ + "/m/rootfs", copied = dir_ + "/copy";
  ASSERT_TRUE(s.MountRootfs(chain, dir_ + "/m", mounted));
  mounts_.push_back(mounted);
  s.CopyRootfs(chain, copied);
  std::string want = Tree(mounted), got = Tree(copied);
  EXPECT_EQ(got, want);
  EXPECT_NE(want.find("etc/hard2"), std::string::npos);
  EXPECT_NE(got.find("links=2"), std::string::npos) << "hard links stay links";
  EXPECT_FALSE(Exists("/berth-copy-test")) << "written through a symlink onto the host";
  EXPECT_EQ(ReadFile(copied + "/escape/berth-copy-test"), "inside");
}

}  // namespace
}  // namespace berth::image
