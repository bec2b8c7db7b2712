// Layer apply in a real filesystem (root: ownership, device nodes, trusted.* xattrs): every
// entry kind, the three compressions, the digests, whiteouts in both modes, and the escapes
// a hostile tar tries.

#include "image/layer.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <zlib.h>

#include <dirent.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "base/digest.h"
#include "base/error.h"
#include "base/fd.h"
#include "base/file_util.h"
#include "tar_builder.h"

namespace berth::image {
namespace {

using testing::E;
using testing::Filter;
using testing::MakeTar;
using testing::MemFd;

using testing::Exists;

class LayerTest : public testing::RootTempDirTest {
 protected:
  void SetUp() override {
    RootTempDirTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) {
      return;
    }
    root_ = dir_ + "/root";
    MkdirAll(root_, 0755);
  }
  // A small layer file is decoded on the unpacking thread; a stream (as a pull hands one
  // over) on a thread of its own. `streamed_` picks the second for every Apply.
  ApplyResult Apply(const std::string& tar, WhiteoutMode mode = WhiteoutMode::kOverlay) {
    if (streamed_) {
      // Pieces of 3 bytes first (too short to tell the format by), then of 5000.
      size_t at = 0;
      return ApplyLayer(
          [&] {
            size_t n = std::min<size_t>(tar.size() - at, at < 6 ? 3 : 5000);
            std::span<const char> piece(tar.data() + at, n);
            at += n;
            return piece;
          },
          root_, mode);
    }
    UniqueFd fd = MemFd(tar);
    return ApplyLayer(fd.get(), root_, mode);
  }
  void ExpectRefused(const std::string& tar, const std::string& needle) {
    for (bool streamed : {false, true}) {
      streamed_ = streamed;
      try {
        Apply(tar);
        ADD_FAILURE() << "applied, expected an error containing: " << needle
                      << (streamed ? " (streamed)" : "");
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      }
    }
    streamed_ = false;
  }
  bool streamed_ = false;
  struct stat Lstat(const std::string& rel) {
    struct stat st;
    memset(&st, 0, sizeof(st));
    EXPECT_EQ(lstat((root_ + "/" + rel).c_str(), &st), 0) << rel;
    return st;
  }
  std::string root_;
};

std::vector<E> EveryKind() {
  std::string long_name = "d/" + std::string(150, 'n');
  return {
      {.path = "d", .type = AE_IFDIR, .perm = 0750, .uid = 7, .gid = 8},
      {.path = "d/file", .perm = 04755, .data = "hello\n", .uid = 1000, .gid = 1000},
      {.path = long_name, .data = "long"},
      {.path = "d/sym", .type = AE_IFLNK, .perm = 0777, .link = "/etc/passwd"},
      {.path = "d/hard", .link = "d/file", .hard = true},
      {.path = "d/fifo", .type = AE_IFIFO, .perm = 0600},
      {.path = "d/null", .type = AE_IFCHR, .perm = 0666, .rdev = makedev(1, 3)},
      {.path = "bin/ping",
       .perm = 0755,
       .data = "#!",
       .xattrs = {{"security.capability", std::string("\x01\x00\x00\x02\x00\x20\x00\x00"
                                                      "\x00\x00\x00\x00\x00\x00\x00\x00"
                                                      "\x00\x00\x00\x00",
                                                      20)},
                  {"user.note", "kept"},
                  {"trusted.overlay.redirect", "/elsewhere"}}},
  };
}

TEST_F(LayerTest, EveryKindOfEntryInEveryCompression) {
  std::string plain = MakeTar(EveryKind(), Filter::kNone);
  for (int run = 0; run < 6; ++run) {
    Filter f = std::array{Filter::kNone, Filter::kGzip, Filter::kZstd}[run % 3];
    streamed_ = run >= 3;
    SCOPED_TRACE(std::to_string(static_cast<int>(f)) + (streamed_ ? " streamed" : ""));
    RemoveAll(root_);
    MkdirAll(root_, 0755);
    std::string tar = MakeTar(EveryKind(), f);
    ApplyResult r = Apply(tar);
    EXPECT_EQ(r.digest, Sha256Digest(tar));
    EXPECT_EQ(r.diff_id, Sha256Digest(plain)) << "the diffID is the uncompressed tar's";
    EXPECT_EQ(r.uncompressed_size, plain.size());
    EXPECT_EQ(r.entries, EveryKind().size());

    struct stat d = Lstat("d");
    EXPECT_TRUE(S_ISDIR(d.st_mode));
    EXPECT_EQ(d.st_mode & 07777, 0750u);
    EXPECT_EQ(d.st_uid, 7u);
    EXPECT_EQ(d.st_mtime, 1700000000) << "directory times are set after their entries";
    struct stat file = Lstat("d/file");
    EXPECT_EQ(file.st_mode & 07777, 04755u) << "setuid survives the chown";
    EXPECT_EQ(file.st_uid, 1000u);
    EXPECT_EQ(ReadFile(root_ + "/d/file"), "hello\n");
    EXPECT_EQ(ReadFile(root_ + "/d/" + std::string(150, 'n')), "long");
    char target[64] = {0};
    EXPECT_GT(readlink((root_ + "/d/sym").c_str(), target, sizeof(target) - 1), 0);
    EXPECT_STREQ(target, "/etc/passwd");
    EXPECT_EQ(Lstat("d/hard").st_ino, file.st_ino);
    EXPECT_TRUE(S_ISFIFO(Lstat("d/fifo").st_mode));
    struct stat null = Lstat("d/null");
    EXPECT_TRUE(S_ISCHR(null.st_mode));
    EXPECT_EQ(null.st_rdev, makedev(1, 3));
    char v[64];
    std::string ping = root_ + "/bin/ping";
    EXPECT_EQ(getxattr(ping.c_str(), "security.capability", v, sizeof(v)), 20);
    EXPECT_EQ(getxattr(ping.c_str(), "user.note", v, sizeof(v)), 4);
    EXPECT_LT(getxattr(ping.c_str(), "trusted.overlay.redirect", v, sizeof(v)), 0)
        << "a layer must not forge overlayfs's own xattrs";
  }
}

// Files of the daemon's own owner take their mode at creation and skip chown/chmod: every
// combination still ends with the tar's owner and mode, whatever the umask, and a file that
// replaces one of a lower entry or sits in a directory of another group gets chowned.
TEST_F(LayerTest, OwnersAndModesOnTheFastPath) {
  mode_t old_umask = umask(027);
  std::vector<E> entries = {
      {.path = "a", .type = AE_IFDIR, .perm = 0755},
      {.path = "a/plain", .perm = 0640, .data = "1"},
      {.path = "a/masked", .perm = 0666, .data = "2"},  // the umask would clear 027
      {.path = "a/readonly", .perm = 0444, .data = "3"},
      {.path = "a/none", .perm = 0, .data = "4"},
      {.path = "a/suid", .perm = 04750, .data = "5"},
      {.path = "a/other", .perm = 0600, .data = "6", .uid = 5, .gid = 6},
      {.path = "a/plain", .perm = 0750, .data = "7"},            // replaces the first
      {.path = "g", .type = AE_IFDIR, .perm = 02755, .gid = 9},  // setgid: new files get 9
      {.path = "g/root", .perm = 0644, .data = "8"},  // its directory's group is not ours
  };
  Apply(MakeTar(entries, Filter::kNone));
  umask(old_umask);
  struct Want {
    const char* path;
    mode_t mode;
    uid_t uid;
    gid_t gid;
  };
  for (const Want& w :
       {Want{"a/plain", 0750, 0, 0}, Want{"a/masked", 0666, 0, 0}, Want{"a/readonly", 0444, 0, 0},
        Want{"a/none", 0, 0, 0}, Want{"a/suid", 04750, 0, 0}, Want{"a/other", 0600, 5, 6},
        Want{"g/root", 0644, 0, 0}}) {
    struct stat st = Lstat(w.path);
    EXPECT_EQ(st.st_mode & 07777, w.mode) << w.path;
    EXPECT_EQ(st.st_uid, w.uid) << w.path;
    EXPECT_EQ(st.st_gid, w.gid) << w.path;
  }
  EXPECT_EQ(ReadFile(root_ + "/a/plain"), "7");
}

TEST_F(LayerTest, NamesThatClimbOutAreRefused) {
  MkdirAll(dir_ + "/outside", 0755);
  for (const char* name : {"../outside/evil", "a/../../outside/evil", "./../evil"}) {
    ExpectRefused(MakeTar({{.path = name, .data = "x"}}, Filter::kNone), "climbs out of the root");
  }
  ExpectRefused(MakeTar({{.path = "h", .link = "../outside/x", .hard = true}}, Filter::kNone),
                "climbs out of the root");
  EXPECT_FALSE(Exists(dir_ + "/outside/evil"));
  EXPECT_FALSE(Exists(dir_ + "/evil"));
}

TEST_F(LayerTest, SymlinksInTheTargetCannotLeadOut) {
  MkdirAll(dir_ + "/outside", 0755);
  std::vector<E> evil = {
      {.path = "abs", .type = AE_IFLNK, .link = dir_ + "/outside"},
      {.path = "rel", .type = AE_IFLNK, .link = "../../../../../../.." + dir_ + "/outside"},
      {.path = "abs/one", .data = "1"},
      {.path = "rel/two", .data = "2"},
      // Hard link through a symlinked directory: resolved inside the root too.
      {.path = "abs/three", .data = "3"},
      {.path = "h", .link = "abs/three", .hard = true},
  };
  Apply(MakeTar(evil, Filter::kGzip));
  EXPECT_FALSE(Exists(dir_ + "/outside/one"));
  EXPECT_FALSE(Exists(dir_ + "/outside/two"));
  EXPECT_FALSE(Exists(dir_ + "/outside/three"));
  // They landed where the symlinks lead after a chroot into the root.
  EXPECT_EQ(ReadFile(root_ + dir_ + "/outside/one"), "1");
  EXPECT_EQ(ReadFile(root_ + dir_ + "/outside/two"), "2");
  EXPECT_EQ(ReadFile(root_ + "/h"), "3");
  // A file entry over an existing symlink replaces the link; it never writes through it.
  WriteFileAtomic(dir_ + "/outside/victim", "safe", 0644, Durability::kVolatile);
  Apply(
      MakeTar({{.path = "v", .type = AE_IFLNK, .link = dir_ + "/outside/victim"}}, Filter::kNone));
  Apply(MakeTar({{.path = "v", .data = "overwritten"}}, Filter::kNone));
  EXPECT_EQ(ReadFile(dir_ + "/outside/victim"), "safe");
  EXPECT_EQ(ReadFile(root_ + "/v"), "overwritten");
}

TEST_F(LayerTest, WhiteoutsForOverlayfs) {
  Apply(MakeTar({{.path = "dir", .type = AE_IFDIR, .perm = 0755},
                 {.path = "dir/.wh..wh..opq", .data = ""},
                 {.path = "dir/kept", .data = "k"},
                 {.path = ".wh.gone", .data = ""}},
                Filter::kNone));
  struct stat gone = Lstat("gone");
  EXPECT_TRUE(S_ISCHR(gone.st_mode));
  EXPECT_EQ(gone.st_rdev, makedev(0, 0));
  char v[4] = {0};
  EXPECT_EQ(getxattr((root_ + "/dir").c_str(), "trusted.overlay.opaque", v, sizeof(v)), 1);
  EXPECT_EQ(v[0], 'y');
  EXPECT_FALSE(Exists(root_ + "/.wh.gone"));
  EXPECT_TRUE(Exists(root_ + "/dir/kept"));
}

TEST_F(LayerTest, WhiteoutsAppliedToAFlatRoot) {
  Apply(MakeTar({{.path = "old", .type = AE_IFDIR},
                 {.path = "old/a", .data = "a"},
                 {.path = "dir", .type = AE_IFDIR},
                 {.path = "dir/lower", .data = "l"},
                 {.path = "keep", .data = "k"}},
                Filter::kNone),
        WhiteoutMode::kApply);
  Apply(MakeTar({{.path = ".wh.old", .data = ""},
                 {.path = "dir/mine", .data = "m"},
                 {.path = "dir/.wh..wh..opq", .data = ""}},
                Filter::kNone),
        WhiteoutMode::kApply);
  EXPECT_FALSE(Exists(root_ + "/old"));
  EXPECT_FALSE(Exists(root_ + "/dir/lower")) << "opaque hides the lower layers' entries";
  EXPECT_TRUE(Exists(root_ + "/dir/mine")) << "... but not this layer's own";
  EXPECT_TRUE(Exists(root_ + "/keep"));
  ExpectRefused(MakeTar({{.path = "x/.wh.", .data = ""}}, Filter::kNone), "names nothing");
}

TEST_F(LayerTest, CorruptAndTruncatedStreamsAreClearErrors) {
  std::string gz = MakeTar(EveryKind(), Filter::kGzip);
  std::string corrupt = gz;
  for (size_t i = 20; i < 60 && i < corrupt.size(); ++i) corrupt[i] ^= 0x55;
  ExpectRefused(corrupt, "gzip");
  ExpectRefused(gz.substr(0, gz.size() / 2), "gzip");
  std::string zst = MakeTar(EveryKind(), Filter::kZstd);
  ExpectRefused(zst.substr(0, zst.size() - 8), "zstd");
  ExpectRefused(std::string(4096, 'x'), "layer:");
}

// One gzip member of `data`, its header naming a file as gzip(1) writes it.
std::string Gzip(const std::string& data, const char* name) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  gz_header h{};
  h.name = reinterpret_cast<Bytef*>(const_cast<char*>(name));
  h.os = 3;
  EXPECT_EQ(deflateSetHeader(&z, &h), Z_OK);
  std::string out(deflateBound(&z, data.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// What a decoder keeps back for want of room, gzip written by other tools (a named header,
// several members), and a wrong trailer.
TEST_F(LayerTest, GzipOfEveryShape) {
  std::string noise(1 << 20, '\0');
  for (size_t i = 0; i < noise.size(); ++i) {
    noise[i] = static_cast<char>((i * 2654435761u) >> 13);
  }
  std::string plain = MakeTar({{.path = "zeros", .data = std::string(6 << 20, '\0')},
                               {.path = "noise", .data = noise},
                               {.path = "last", .data = "the end\n"}},
                              Filter::kNone);
  // 6 MB of zeros inflate from a few KB: far more than one read's worth of output.
  size_t half = plain.size() / 2;
  for (int run = 0; run < 4; ++run) {
    std::string gz = run % 2 == 0
                         ? Gzip(plain, "layer.tar")
                         : Gzip(plain.substr(0, half), "a") + Gzip(plain.substr(half), "b");
    streamed_ = run >= 2;
    RemoveAll(root_);
    MkdirAll(root_, 0755);
    ApplyResult r = Apply(gz);
    EXPECT_EQ(r.diff_id, Sha256Digest(plain));
    EXPECT_EQ(r.digest, Sha256Digest(gz));
    EXPECT_EQ(Lstat("zeros").st_size, 6 << 20);
    EXPECT_TRUE(ReadFile(root_ + "/noise") == noise);
    EXPECT_EQ(ReadFile(root_ + "/last"), "the end\n");
  }
  streamed_ = false;
  std::string bad_crc = Gzip(plain, "x");
  bad_crc[bad_crc.size() - 6] ^= 1;  // the trailer: CRC-32, then the size
  ExpectRefused(bad_crc, "gzip");
  ExpectRefused(Gzip(plain, "x") + "trailing garbage", "gzip");
}

TEST_F(LayerTest, ATarWithoutItsPaddingAndEndBlocksEndsAfterItsLastEntry) {
  // umoci 0.4 writes layers like this: the last file's data, then nothing.
  std::string tar = MakeTar({{.path = "hello.txt", .data = "made by umoci\n"}}, Filter::kNone);
  ASSERT_GE(tar.size(), 526u);
  std::string cut = tar.substr(0, 512 + 14);
  UniqueFd fd = MemFd(cut);
  ApplyResult r = ApplyLayer(fd.get(), root_, WhiteoutMode::kOverlay);
  EXPECT_EQ(ReadFile(root_ + "/hello.txt"), "made by umoci\n");
  EXPECT_EQ(r.diff_id, Sha256Digest(cut)) << "the diffID is of the bytes as they are";
  // Data that stops short is still refused.
  ExpectRefused(tar.substr(0, 512 + 10), "hello.txt");
}

// A directory tree as text: one line per entry (type, mode, owner, size or target, xattrs).
std::string Describe(const std::string& dir, const std::string& prefix = "") {
  std::string out;
  std::vector<std::string> names;
  if (DIR* d = opendir(dir.c_str())) {
    while (struct dirent* e = readdir(d)) {
      if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) names.push_back(e->d_name);
    }
    closedir(d);
  }
  std::sort(names.begin(), names.end());
  for (const auto& n : names) {
    std::string p = dir + "/" + n;
    struct stat st;
    lstat(p.c_str(), &st);
    out += prefix + n + " " + std::to_string(st.st_mode) + " " + std::to_string(st.st_uid) + ":" +
           std::to_string(st.st_gid) + " " + std::to_string(st.st_rdev);
    if (S_ISREG(st.st_mode)) out += " [" + ReadFile(p) + "]";
    if (S_ISLNK(st.st_mode)) {
      char t[256] = {0};
      readlink(p.c_str(), t, sizeof(t) - 1);
      out += std::string(" -> ") + t;
    }
    char v[64] = {0};
    if (lgetxattr(p.c_str(), "trusted.overlay.opaque", v, sizeof(v)) > 0) out += " opaque";
    if (lgetxattr(p.c_str(), "user.note", v, sizeof(v)) > 0) out += std::string(" user.note=") + v;
    out += "\n";
    if (S_ISDIR(st.st_mode)) out += Describe(p, prefix + n + "/");
  }
  return out;
}

// A layer of many small files is written by threads beside the unpack when its target starts
// empty: the result must be what one thread makes (the same layer applied where the target
// already holds something), through every case that must wait for the queued files.
TEST_F(LayerTest, ManySmallFilesOnWriterThreadsMatchOneThread) {
  std::vector<E> entries;
  for (int d = 0; d < 4; ++d) {
    std::string dir = "d" + std::to_string(d);
    entries.push_back({.path = dir, .type = AE_IFDIR, .perm = 0755});
    for (int f = 0; f < 60; ++f) {
      E e{.path = dir + "/f" + std::to_string(f), .data = dir + " file " + std::to_string(f)};
      e.perm = f % 3 == 0 ? 0644 : f % 3 == 1 ? 04750 : 0600;
      e.uid = f % 4 == 0 ? 1000 : 0;
      e.gid = f % 5 == 0 ? 1000 : 0;
      if (f == 11) e.xattrs = {{"user.note", "queued"}, {"trusted.overlay.redirect", "/x"}};
      entries.push_back(e);
    }
  }
  entries.push_back({.path = "d1/link", .link = "d0/f5", .hard = true});
  entries.push_back({.path = "d2/f7", .data = "the second d2/f7 wins"});
  entries.push_back({.path = "d3/f1", .type = AE_IFDIR, .perm = 0700});  // a file becomes a dir
  entries.push_back({.path = "d3/f1/inside", .data = "in the new dir"});
  entries.push_back({.path = "d1/.wh.f3"});
  entries.push_back({.path = "big", .data = std::string((1 << 20) + 1, 'b')});
  std::string tar = MakeTar(entries, Filter::kGzip);

  ApplyResult threaded = Apply(tar);  // root_ starts empty
  std::string alone = dir_ + "/alone";
  MkdirAll(alone + "/zz-not-empty", 0755);
  UniqueFd fd = MemFd(tar);
  ApplyResult inline_ = ApplyLayer(fd.get(), alone, WhiteoutMode::kOverlay);
  RemoveAll(alone + "/zz-not-empty");

  EXPECT_EQ(threaded.diff_id, inline_.diff_id);
  std::string want = Describe(alone);
  EXPECT_EQ(Describe(root_), want);
  EXPECT_NE(want.find("d2/f7 33188 0:0 0 [the second d2/f7 wins]"), std::string::npos);
  EXPECT_NE(want.find("user.note=queued"), std::string::npos);
  EXPECT_TRUE(S_ISCHR(Lstat("d1/f3").st_mode)) << "the whiteout replaced a queued file";
  EXPECT_EQ(Lstat("d1/link").st_ino, Lstat("d0/f5").st_ino);
  EXPECT_EQ(Lstat("d0/f1").st_mode & 07777, 04750u);
  EXPECT_EQ(Lstat("d0/f4").st_uid, 1000u);
  EXPECT_EQ(Lstat("d0/f5").st_gid, 1000u);
  for (int f = 0; f < 60; ++f) {
    EXPECT_EQ(Lstat("d2/f" + std::to_string(f)).st_mtime, 1700000000) << f;
  }
  EXPECT_EQ(Lstat("d0").st_mtime, 1700000000) << "directory times after the queued files";
}

TEST_F(LayerTest, UpperDirectoryBackToALayer) {
  // An upper directory as overlayfs leaves it: whiteout devices, an opaque directory, files,
  // links, xattrs.
  Apply(MakeTar(EveryKind(), Filter::kNone));
  Apply(MakeTar({{.path = "dir", .type = AE_IFDIR, .perm = 0755},
                 {.path = "dir/.wh..wh..opq"},
                 {.path = "dir/new", .data = "n", .xattrs = {{"user.note", "x"}}},
                 {.path = ".wh.gone"}},
                Filter::kNone));
  std::string before = Describe(root_);
  for (Compression c : {Compression::kNone, Compression::kGzip, Compression::kZstd}) {
    SCOPED_TRACE(static_cast<int>(c));
    UniqueFd out(memfd_create("out", MFD_CLOEXEC));
    ApplyResult w = WriteLayerFromUpper(root_, out.get(), c);
    UniqueFd again(memfd_create("again", MFD_CLOEXEC));
    EXPECT_EQ(WriteLayerFromUpper(root_, again.get(), c).digest, w.digest)
        << "the same directory must give the same bytes";
    lseek(out.get(), 0, SEEK_SET);
    std::string copy = dir_ + "/copy" + std::to_string(static_cast<int>(c));
    MkdirAll(copy, 0755);
    ApplyResult r = ApplyLayer(out.get(), copy, WhiteoutMode::kOverlay);
    EXPECT_EQ(r.digest, w.digest);
    EXPECT_EQ(r.diff_id, w.diff_id);
    EXPECT_EQ(r.entries, w.entries);
    EXPECT_EQ(Describe(copy), before);
  }
  EXPECT_NE(before.find("gone 8192 0:0 0"), std::string::npos) << before;  // a 0:0 whiteout
  EXPECT_NE(before.find("dir 16877 0:0 0 opaque"), std::string::npos) << before;
}

TEST_F(LayerTest, UpperDirectoryOfAUserNamespacedContainerMapsOwnersBack) {
  // A container whose ids start at host id 1000000000: what it wrote is owned by base + n;
  // the tar must say n. An id outside the range (a file the image owned) stays as it is.
  const uint64_t base = 1000000000;
  WriteFileAtomic(root_ + "/mine", "m", 0644);
  ASSERT_EQ(lchown((root_ + "/mine").c_str(), base + 5, base + 7), 0);
  WriteFileAtomic(root_ + "/image", "i", 0644);
  ASSERT_EQ(lchown((root_ + "/image").c_str(), 33, 44), 0);
  UniqueFd out(memfd_create("out", MFD_CLOEXEC));
  WriteLayerFromUpper(root_, out.get(), Compression::kNone, IdShift{base, 65536});
  lseek(out.get(), 0, SEEK_SET);
  std::string copy = dir_ + "/copy";
  MkdirAll(copy, 0755);
  ApplyLayer(out.get(), copy, WhiteoutMode::kOverlay);
  std::string tree = Describe(copy);
  EXPECT_NE(tree.find("mine 33188 5:7 0"), std::string::npos) << tree;
  EXPECT_NE(tree.find("image 33188 33:44 0"), std::string::npos) << tree;
}

}  // namespace
}  // namespace berth::image
