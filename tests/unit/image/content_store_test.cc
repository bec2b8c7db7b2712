#include "image/content_store.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>

#include "base/error.h"
#include "base/file_util.h"
#include "temp_dir_test.h"

namespace berth::image {
namespace {

class ContentStoreTest : public testing::TempDirTest {
 protected:
  // Everything under the store's root, as relative paths (to see that nothing was left).
  size_t IngestLeftovers() {
    size_t n = 0;
    if (DIR* d = opendir((dir_ + "/ingest").c_str())) {
      while (struct dirent* e = readdir(d)) {
        n += e->d_name[0] != '.';
      }
      closedir(d);
    }
    return n;
  }
};

// sha256 of "hello\n", as sha256sum prints it.
constexpr const char* kHello =
    "sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";

TEST_F(ContentStoreTest, DigestIsTheSha256OfTheBytes) {
  EXPECT_EQ(Sha256Digest("hello\n"), kHello);
  EXPECT_EQ(Sha256Digest(""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Sha256 h;
  h.Update("hel");
  h.Update("lo\n");
  EXPECT_EQ(h.Digest(), kHello) << "streaming gives the same digest";
}

TEST_F(ContentStoreTest, PutStoresUnderTheDigestReadOnly) {
  ContentStore cas(dir_);
  EXPECT_FALSE(cas.Has(kHello));
  EXPECT_EQ(cas.Put("hello\n"), kHello);
  EXPECT_TRUE(cas.Has(kHello));
  EXPECT_EQ(cas.Read(kHello), "hello\n");
  EXPECT_EQ(cas.Size(kHello), 6u);
  struct stat st;
  ASSERT_EQ(stat(cas.PathOf(kHello).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0444u);
  EXPECT_EQ(cas.PathOf(kHello), dir_ + "/blobs/sha256/" + std::string(kHello + 7));
  // The same content again is a no-op.
  EXPECT_EQ(cas.Put("hello\n", kHello), kHello);
  EXPECT_EQ(cas.List(), std::vector<std::string>{kHello});
  EXPECT_EQ(IngestLeftovers(), 0u);
}

TEST_F(ContentStoreTest, StreamingIngestHashesWhileWriting) {
  ContentStore cas(dir_);
  ContentStore::Writer w = cas.Ingest();
  std::string big;
  for (int i = 0; i < 100000; ++i) {
    std::string chunk = std::to_string(i) + ",";
    w.Write(chunk);
    big += chunk;
  }
  EXPECT_EQ(w.size(), big.size());
  std::string d = w.Commit(Sha256Digest(big), big.size());
  EXPECT_EQ(d, Sha256Digest(big));
  EXPECT_TRUE(cas.Verify(d));
}

TEST_F(ContentStoreTest, MismatchesLeaveTheStoreAsItWas) {
  ContentStore cas(dir_);
  std::string other = Sha256Digest("other");
  try {
    cas.Put("hello\n", other);
    FAIL() << "a wrong digest was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Kind::kInvalidArgument);
    EXPECT_EQ(std::string(e.what()),
              "digest mismatch: expected " + other + ", got " + std::string(kHello));
  }
  {
    ContentStore::Writer w = cas.Ingest();
    w.Write("hello\n");
    EXPECT_THROW(w.Commit(kHello, 7), Error);
  }
  {
    ContentStore::Writer w = cas.Ingest();
    w.Write("abandoned");
  }  // never committed
  EXPECT_TRUE(cas.List().empty());
  EXPECT_EQ(IngestLeftovers(), 0u);
}

TEST_F(ContentStoreTest, DigestsCannotNameAPathOutside) {
  ContentStore cas(dir_);
  for (const char* bad :
       {"sha256:../../../etc/passwd", "sha256:", "sha512:abc", "../x",
        "sha256:5891B5B522D5DF086D0FF0B110FBD9D21BB4FC7163AF34D08286A2E846F6BE03"}) {
    EXPECT_THROW(cas.PathOf(bad), Error) << bad;
    EXPECT_THROW(cas.Has(bad), Error) << bad;
  }
  EXPECT_THROW(cas.Put("x", "sha256:nothex"), Error);
  EXPECT_TRUE(cas.List().empty());
}

TEST_F(ContentStoreTest, VerifyFindsACorruptBlob) {
  ContentStore cas(dir_);
  std::string d = cas.Put("hello\n");
  EXPECT_TRUE(cas.Verify(d));
  std::string path = cas.PathOf(d);
  chmod(path.c_str(), 0644);
  WriteFileAtomic(path, "jello\n", 0444, Durability::kVolatile);
  EXPECT_FALSE(cas.Verify(d));
}

TEST_F(ContentStoreTest, PruneFreesExactlyWhatIsNotKept) {
  ContentStore cas(dir_);
  std::string a = cas.Put("a");
  std::string b = cas.Put("bb");
  std::string c = cas.Put("ccc");
  { cas.Ingest().Write("interrupted"); }
  // A leftover of a crashed ingest (the writer never ran its destructor).
  WriteFileAtomic(dir_ + "/ingest/blob-crashed", "12345", 0600, Durability::kVolatile);
  EXPECT_EQ(cas.Prune({a, c}), 2u + 5u);
  std::vector<std::string> kept = {a, c};
  std::sort(kept.begin(), kept.end());
  EXPECT_EQ(cas.List(), kept);
  EXPECT_FALSE(cas.Has(b));
  EXPECT_EQ(IngestLeftovers(), 0u);
  EXPECT_THROW(cas.Read(b), Error);
}

}  // namespace
}  // namespace berth::image
