#include "registry/storage.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "base/digest.h"
#include "base/file_util.h"
#include "registry/errors.h"
#include "registry/uploads.h"
#include "temp_dir_test.h"

namespace berth::registry {
namespace {

// A body made of pieces; `fail_after` pieces, it throws like a client that hung up.
BodyReader Body(std::vector<std::string> pieces, int fail_after = -1) {
  auto state = std::make_shared<std::pair<std::vector<std::string>, int>>(std::move(pieces), 0);
  return [state, fail_after](void* buf, size_t size) -> size_t {
    auto& [list, i] = *state;
    if (i == fail_after) {
      throw Error(Kind::kInvalidArgument, "read request body: connection reset");
    }
    if (i >= static_cast<int>(list.size())) {
      return 0;
    }
    std::string& p = list[static_cast<size_t>(i)];
    size_t n = std::min(size, p.size());
    memcpy(buf, p.data(), n);
    p.erase(0, n);
    if (p.empty()) {
      ++i;
    }
    return n;
  };
}

Code CodeOf(const std::function<void()>& fn, int* status = nullptr) {
  try {
    fn();
  } catch (const ApiError& e) {
    if (status) {
      *status = e.status();
    }
    return e.code();
  }
  return Code::kUnknown;
}

class RegistryStorage : public berth::testing::TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    storage_.emplace(dir_ + "/root");
    uploads_.emplace(*storage_, std::chrono::seconds(3600), 100);
  }
  std::optional<Storage> storage_;
  std::optional<Uploads> uploads_;
};

TEST_F(RegistryStorage, ChunkedUploadInOrderOnly) {
  std::string id = uploads_->Start("a/b");
  EXPECT_EQ(uploads_->Append("a/b", id, Body({"hello "}), ByteRange{0, 5}, 6), 6u);
  // Out of order: 416 and nothing written.
  int status = 0;
  EXPECT_EQ(CodeOf(
                [&] {
                  uploads_->Append("a/b", id, Body({"XX"}), ByteRange{10, 11}, 2);
                },
                &status),
            Code::kBlobUploadInvalid);
  EXPECT_EQ(status, 416);
  EXPECT_EQ(uploads_->Offset("a/b", id), 6u);
  // A chunk that breaks off leaves the upload where it was.
  EXPECT_EQ(CodeOf([&] {
              uploads_->Append("a/b", id, Body({"wor", "ld"}, 1), std::nullopt, 5);
            }),
            Code::kBlobUploadInvalid);
  EXPECT_EQ(uploads_->Offset("a/b", id), 6u);
  // Streamed (no Content-Range), then finished.
  EXPECT_EQ(uploads_->Append("a/b", id, Body({"wor", "ld"}), std::nullopt, std::nullopt), 11u);
  // Another repository cannot see the upload.
  EXPECT_EQ(CodeOf([&] { uploads_->Offset("other", id); }), Code::kBlobUploadUnknown);
  std::string digest = Sha256Digest("hello world");
  uploads_->Finish("a/b", id, digest, nullptr, std::nullopt);
  EXPECT_EQ(ReadFile(storage_->BlobPath(digest)), "hello world");
  EXPECT_TRUE(storage_->HasBlob("a/b", digest));
  EXPECT_FALSE(storage_->HasBlob("other", digest));
  EXPECT_EQ(CodeOf([&] { uploads_->Offset("a/b", id); }), Code::kBlobUploadUnknown);
  EXPECT_NE(access((dir_ + "/root/uploads/" + id).c_str(), F_OK), 0);
}

TEST_F(RegistryStorage, WrongDigestStoresNothing) {
  std::string id = uploads_->Start("r");
  uploads_->Append("r", id, Body({"abc"}), std::nullopt, 3);
  std::string wrong = Sha256Digest("abd");
  EXPECT_EQ(CodeOf([&] { uploads_->Finish("r", id, wrong, nullptr, std::nullopt); }),
            Code::kDigestInvalid);
  EXPECT_FALSE(storage_->BlobSize(wrong));
  EXPECT_FALSE(storage_->BlobSize(Sha256Digest("abc")));
  EXPECT_EQ(uploads_->in_progress(), 0u);
  // A monolithic body of the wrong length.
  id = uploads_->Start("r");
  BodyReader body = Body({"abc"});
  EXPECT_EQ(CodeOf([&] { uploads_->Finish("r", id, Sha256Digest("abc"), &body, 4); }),
            Code::kSizeInvalid);
  EXPECT_FALSE(storage_->BlobSize(Sha256Digest("abc")));
  // Not a digest at all.
  id = uploads_->Start("r");
  EXPECT_EQ(CodeOf([&] { uploads_->Finish("r", id, "sha256:../../etc", nullptr, std::nullopt); }),
            Code::kDigestInvalid);
}

TEST_F(RegistryStorage, UploadsSurviveARestartAndExpire) {
  std::string id = uploads_->Start("r");
  uploads_->Append("r", id, Body({"part one,"}), std::nullopt, std::nullopt);
  // A new process: the upload is found on disk and its bytes hashed again.
  Uploads again(*storage_, std::chrono::seconds(3600), 100);
  EXPECT_EQ(again.Offset("r", id), 9u);
  again.Append("r", id, Body({" two"}), ByteRange{9, 12}, 4);
  again.Finish("r", id, Sha256Digest("part one, two"), nullptr, std::nullopt);
  EXPECT_TRUE(storage_->HasBlob("r", Sha256Digest("part one, two")));

  std::string fresh = uploads_->Start("r");
  EXPECT_EQ(uploads_->Expire(), 0u);
  EXPECT_EQ(uploads_->Offset("r", fresh), 0u);
  uploads_->Cancel("r", fresh);
  // With no idle time allowed, every upload not in use is abandoned.
  Uploads expiring(*storage_, std::chrono::seconds(0), 100);
  std::string old = expiring.Start("r");
  expiring.Append("r", old, Body({"abandoned"}), std::nullopt, std::nullopt);
  EXPECT_EQ(expiring.Expire(), 1u);
  EXPECT_EQ(CodeOf([&] { expiring.Offset("r", old); }), Code::kBlobUploadUnknown);
  EXPECT_NE(access((dir_ + "/root/uploads/" + old).c_str(), F_OK), 0);
  EXPECT_EQ(expiring.in_progress(), 0u);
}

TEST_F(RegistryStorage, TooManyUploads) {
  Uploads few(*storage_, std::chrono::seconds(3600), 1);
  few.Start("r");
  int status = 0;
  EXPECT_EQ(CodeOf([&] { few.Start("r"); }, &status), Code::kTooManyRequests);
  EXPECT_EQ(status, 429);
}

TEST_F(RegistryStorage, TagsRepositoriesAndGarbageCollection) {
  std::string config = storage_->PutBlob("{}");
  std::string layer = storage_->PutBlob("layer");
  std::string orphan = storage_->PutBlob("orphan");
  storage_->LinkBlob("x/y", config);
  storage_->LinkBlob("x/y", layer);
  storage_->LinkBlob("x/y", orphan);
  nlohmann::json m = {{"schemaVersion", 2},
                      {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                      {"config",
                       {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                        {"digest", config},
                        {"size", 2}}},
                      {"layers",
                       {{{"mediaType", "application/vnd.oci.image.layer.v1.tar"},
                         {"digest", layer},
                         {"size", 5}}}}};
  std::string manifest = storage_->PutBlob(m.dump());
  storage_->LinkManifest("x/y", manifest, "application/vnd.oci.image.manifest.v1+json");
  storage_->Tag("x/y", "v2", manifest);
  storage_->Tag("x/y", "v1", manifest);
  storage_->LinkBlob("x", config);
  EXPECT_EQ(storage_->Tags("x/y"), (std::vector<std::string>{"v1", "v2"}));
  EXPECT_EQ(storage_->Repositories(), (std::vector<std::string>{"x", "x/y"}));
  EXPECT_EQ(storage_->ResolveTag("x/y", "v1"), manifest);
  EXPECT_FALSE(storage_->ResolveTag("x/y", "../../../etc/passwd"));

  GcResult dry = storage_->CollectGarbage(true);
  EXPECT_EQ(dry.blobs_removed, 1u);
  EXPECT_TRUE(storage_->BlobSize(orphan));
  GcResult r = storage_->CollectGarbage(false);
  EXPECT_EQ(r.blobs_removed, 1u);
  EXPECT_EQ(r.bytes_freed, 6u);
  EXPECT_FALSE(storage_->BlobSize(orphan));
  EXPECT_FALSE(storage_->HasBlob("x/y", orphan));
  EXPECT_TRUE(storage_->HasBlob("x/y", layer));

  EXPECT_TRUE(storage_->DeleteManifest("x/y", manifest));
  EXPECT_TRUE(storage_->Tags("x/y").empty());
  EXPECT_FALSE(storage_->DeleteManifest("x/y", manifest));
  r = storage_->CollectGarbage(false);
  EXPECT_EQ(r.blobs_removed, 3u);  // the manifest, its config and layer
  EXPECT_EQ(r.blobs_kept, 0u);
  EXPECT_FALSE(storage_->BlobSize(layer));
}

TEST_F(RegistryStorage, RootLockIsExclusive) {
  RootLock lock(dir_ + "/root");
  // flock locks belong to the open file: a second open in this process conflicts too.
  EXPECT_THROW(RootLock(dir_ + "/root"), Error);
}

}  // namespace
}  // namespace berth::registry
