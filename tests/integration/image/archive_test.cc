// Image archives in and out: docker save's classic layout and Docker 25's hybrid, OCI
// layouts as skopeo and umoci write them, and the archives Berth writes.

#include "image/archive.h"

#include <gtest/gtest.h>

#include <cstring>

#include "base/digest.h"
#include "base/error.h"
#include "image_archive_builder.h"
#include "tar_builder.h"

namespace berth::image {
namespace {

using testing::ClassicArchive;
using testing::E;
using testing::OciArchive;
using testing::TestImage;

class ArchiveTest : public testing::RootTempDirTest {
 protected:
  void SetUp() override {
    RootTempDirTest::SetUp();
    store_ = std::make_unique<ContentStore>(dir_ + "/content");
  }

  ArchiveContents Read(const std::string& bytes) {
    return ReadImageArchive(testing::ReaderOf(bytes), *store_, HostPlatform());
  }

  // Reading `bytes` must fail naming `what`, and leave the store as it was.
  void ExpectRefused(const std::string& bytes, const std::string& what) {
    std::vector<std::string> before = store_->List();
    try {
      Read(bytes);
      ADD_FAILURE() << "accepted an archive that " << what;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), Kind::kInvalidArgument) << e.what();
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
    EXPECT_EQ(store_->List(), before) << "the store changed";
  }

  std::unique_ptr<ContentStore> store_;
};

TEST_F(ArchiveTest, ClassicLayoutWithSharedLayers) {
  std::string base = testing::OneFileLayer("bin/sh", "shell"),
              top = testing::OneFileLayer("etc/app", "app");
  std::vector<TestImage> images(2);
  images[0].layers = {base};
  images[0].names = {"busybox:latest", "example.com:5000/team/box:1"};
  images[1].layers = {base, top};
  images[1].names = {"app:v2"};
  ArchiveContents c = Read(ClassicArchive(images));
  ASSERT_EQ(c.images.size(), 2u);
  EXPECT_EQ(c.images[0].config_digest, images[0].config_digest);
  EXPECT_EQ(c.images[0].names, (std::vector<std::string>{"docker.io/library/busybox:latest",
                                                         "example.com:5000/team/box:1"}));
  EXPECT_EQ(c.images[1].names, std::vector<std::string>{"docker.io/library/app:v2"});
  ASSERT_EQ(c.images[1].manifest.layers.size(), 2u);
  // The second image's base layer was a symlink to the first's: the same blob.
  EXPECT_EQ(c.images[1].manifest.layers[0].digest, Sha256Digest(base));
  EXPECT_EQ(c.images[1].manifest.layers[1].digest, Sha256Digest(top));
  EXPECT_EQ(c.images[1].manifest.layers[1].media_type, media::kOciLayer);
  EXPECT_TRUE(store_->Has(c.images[0].manifest_digest));
  // Only what the images use is kept: no VERSION or v1 json files.
  EXPECT_EQ(store_->List().size(), 2u /*configs*/ + 2u /*layers*/ + 2u /*manifests*/);
}

TEST_F(ArchiveTest, GzipAndZstdLayersKeepTheirBytesAndGetTheirMediaType) {
  std::vector<TestImage> images(2);
  images[0].layers = {testing::OneFileLayer("a", "1")};
  images[0].compression = testing::Filter::kGzip;
  images[0].names = {"gz:1"};
  images[1].layers = {testing::OneFileLayer("b", "2")};
  images[1].compression = testing::Filter::kZstd;
  images[1].names = {"zst:1"};
  ArchiveContents c = Read(ClassicArchive(images));
  ASSERT_EQ(c.images.size(), 2u);
  EXPECT_EQ(c.images[0].manifest.layers[0].media_type, media::kOciLayerGzip);
  EXPECT_EQ(c.images[0].manifest.layers[0].digest, Sha256Digest(images[0].layer_blobs[0]));
  EXPECT_EQ(c.images[1].manifest.layers[0].media_type, media::kOciLayerZstd);
}

TEST_F(ArchiveTest, OciLayoutNamesFromAnnotations) {
  std::vector<TestImage> images(2);
  images[0].layers = {testing::OneFileLayer("a", "1")};
  images[0].names = {"docker.io/library/one:1", "docker.io/library/one:latest"};
  images[1].layers = {testing::OneFileLayer("b", "2")};
  ArchiveContents c = Read(OciArchive(images, /*docker_manifest=*/false));
  ASSERT_EQ(c.images.size(), 2u);
  EXPECT_EQ(c.images[0].names.size(), 2u) << "two tags, one image";
  EXPECT_TRUE(c.images[1].names.empty());
  EXPECT_EQ(c.images[1].config_digest, images[1].config_digest);
}

TEST_F(ArchiveTest, SkopeoStyleRefNameIsATagAndNamesNothing) {
  std::vector<TestImage> images(1);
  images[0].layers = {testing::OneFileLayer("a", "1")};
  images[0].names = {"docker.io/library/one:v1"};
  ArchiveContents c = Read(OciArchive(images, false, /*ref_name_only=*/true));
  ASSERT_EQ(c.images.size(), 1u);
  EXPECT_TRUE(c.images[0].names.empty());
}

TEST_F(ArchiveTest, Docker25HybridKeepsTheOciManifest) {
  std::vector<TestImage> images(1);
  images[0].layers = {testing::OneFileLayer("a", "1"), testing::OneFileLayer("b", "2")};
  images[0].names = {"hybrid:1"};
  std::string bytes = OciArchive(images, /*docker_manifest=*/true);
  ArchiveContents c = Read(bytes);
  ASSERT_EQ(c.images.size(), 1u);
  EXPECT_EQ(c.images[0].names, std::vector<std::string>{"docker.io/library/hybrid:1"});
  // The manifest is the layout's own, not one made up from manifest.json.
  std::string manifest = store_->Read(c.images[0].manifest_digest);
  EXPECT_NE(manifest.find(images[0].config_digest), std::string::npos);
  EXPECT_EQ(c.added.size(), 4u);
}

TEST_F(ArchiveTest, NestedIndexPicksThisHostsPlatform) {
  std::vector<TestImage> images(1);
  images[0].layers = {testing::OneFileLayer("a", "1")};
  std::string layer = images[0].layers[0];
  images[0].config = testing::MakeConfig(images[0]);
  std::string config = images[0].config;
  nlohmann::json m = {{"schemaVersion", 2},
                      {"mediaType", media::kOciManifest},
                      {"config",
                       {{"mediaType", media::kOciConfig},
                        {"digest", Sha256Digest(config)},
                        {"size", config.size()}}},
                      {"layers",
                       {{{"mediaType", media::kOciLayer},
                         {"digest", Sha256Digest(layer)},
                         {"size", layer.size()}}}}};
  std::string manifest = m.dump();
  std::string other_arch = HostPlatform().architecture == "amd64" ? "arm64" : "amd64";
  nlohmann::json inner = {
      {"schemaVersion", 2},
      {"mediaType", media::kOciIndex},
      {"manifests",
       {{{"mediaType", media::kOciManifest},
         {"digest", "sha256:" + std::string(64, 'a')},
         {"size", 10},
         {"platform", {{"os", "linux"}, {"architecture", other_arch}}}},
        {{"mediaType", media::kOciManifest},
         {"digest", Sha256Digest(manifest)},
         {"size", manifest.size()},
         {"platform", {{"os", "linux"}, {"architecture", HostPlatform().architecture}}}}}}};
  std::string inner_bytes = inner.dump();
  nlohmann::json index = {{"schemaVersion", 2},
                          {"manifests",
                           {{{"mediaType", media::kOciIndex},
                             {"digest", Sha256Digest(inner_bytes)},
                             {"size", inner_bytes.size()},
                             {"annotations", {{"io.containerd.image.name", "multi:1"}}}}}}};
  auto blob = [](const std::string& b) {
    return E{.path = "blobs/sha256/" + Sha256Digest(b).substr(7), .data = b};
  };
  std::string tar =
      testing::MakeTar({blob(layer),
                        blob(config),
                        blob(manifest),
                        blob(inner_bytes),
                        {.path = "index.json", .data = index.dump()},
                        {.path = "oci-layout", .data = R"({"imageLayoutVersion":"1.0.0"})"}},
                       testing::Filter::kNone);
  ArchiveContents c = Read(tar);
  ASSERT_EQ(c.images.size(), 1u);
  EXPECT_EQ(c.images[0].manifest_digest, Sha256Digest(manifest));
  EXPECT_EQ(c.images[0].names, std::vector<std::string>{"docker.io/library/multi:1"});
}

TEST_F(ArchiveTest, AGzippedArchiveLoads) {
  std::vector<TestImage> images(1);
  images[0].layers = {testing::OneFileLayer("a", "1")};
  images[0].names = {"zipped:1"};
  std::string tar = ClassicArchive(images);
  ArchiveContents c = Read(testing::CompressBytes(tar, testing::Filter::kGzip));
  ASSERT_EQ(c.images.size(), 1u);
}

TEST_F(ArchiveTest, BadArchivesAreRefusedAndLeaveNothing) {
  // Something already in the store stays.
  store_->Put("{}");
  std::vector<TestImage> one(1);
  one[0].layers = {testing::OneFileLayer("a", "1")};
  one[0].names = {"x:1"};
  std::string good = ClassicArchive(one);

  ExpectRefused("this is not a tar archive at all, not even close............", "image archive");
  ExpectRefused(testing::MakeTar({{.path = "hello", .data = "x"}}, testing::Filter::kNone),
                "neither manifest.json nor index.json");
  ExpectRefused(good.substr(0, good.size() / 2), "image archive");
  ExpectRefused(testing::CompressBytes(good, testing::Filter::kGzip).substr(0, 200),
                "image archive");

  // manifest.json naming a layer that is not there.
  std::string cfg = testing::MakeConfig(one[0]);
  ExpectRefused(
      testing::MakeTar(
          {{.path = "c.json", .data = cfg},
           {.path = "manifest.json",
            .data = R"([{"Config":"c.json","RepoTags":["x:1"],"Layers":["l/layer.tar"]}])"}},
          testing::Filter::kNone),
      "\"l/layer.tar\" is not in the archive");
  // A config whose diff_ids do not match the layer count.
  ExpectRefused(testing::MakeTar({{.path = "c.json", .data = cfg},
                                  {.path = "l/layer.tar", .data = one[0].layers[0]},
                                  {.path = "l2/layer.tar", .data = testing::OneFileLayer("b", "2")},
                                  {.path = "manifest.json",
                                   .data = R"([{"Config":"c.json","RepoTags":["x:1"],)"
                                           R"("Layers":["l/layer.tar","l2/layer.tar"]}])"}},
                                 testing::Filter::kNone),
                "has 2 layers but its config lists 1");
  ExpectRefused(
      testing::MakeTar({{.path = "manifest.json", .data = "{not json"}}, testing::Filter::kNone),
      "manifest.json: invalid JSON");
  ExpectRefused(testing::MakeTar({{.path = "c.json", .data = cfg},
                                  {.path = "l/layer.tar", .data = one[0].layers[0]},
                                  {.path = "manifest.json",
                                   .data = R"([{"Config":"c.json","RepoTags":["UPPER:1"],)"
                                           R"("Layers":["l/layer.tar"]}])"}},
                                 testing::Filter::kNone),
                "must be lowercase");
  // A blob whose name is not its digest.
  std::vector<TestImage> oci(1);
  oci[0].layers = {testing::OneFileLayer("a", "1")};
  std::string layout = OciArchive(oci, false);
  std::string digest = Sha256Digest(oci[0].layers[0]).substr(7);
  std::string forged = testing::MakeTar(
      {{.path = "blobs/sha256/" + digest, .data = testing::OneFileLayer("evil", "2")}},
      testing::Filter::kNone);
  ExpectRefused(forged, "digest mismatch");
  // A manifest of an unknown media type.
  std::string weird = R"({"schemaVersion":2,"mediaType":"application/x-weird","layers":[]})";
  ExpectRefused(
      testing::MakeTar(
          {{.path = "blobs/sha256/" + Sha256Digest(weird).substr(7), .data = weird},
           {.path = "index.json",
            .data =
                R"({"schemaVersion":2,"manifests":[{"mediaType":"application/x-weird","digest":")" +
                Sha256Digest(weird) + R"(","size":)" + std::to_string(weird.size()) + "}]}"}},
          testing::Filter::kNone),
      "image archive");
  // An oversized manifest.json.
  ExpectRefused(testing::MakeTar({{.path = "manifest.json", .data = std::string(5 << 20, ' ')}},
                                 testing::Filter::kNone),
                "larger than");
  EXPECT_EQ(store_->List().size(), 1u);
}

TEST_F(ArchiveTest, SaveIsDeterministicAndReadsBackWithTheSameDigests) {
  std::vector<TestImage> images(2);
  images[0].layers = {testing::OneFileLayer("a", "1"), testing::OneFileLayer("b", "2")};
  images[0].names = {"one:1"};
  images[1].layers = {testing::OneFileLayer("a", "1")};
  images[1].names = {"two:latest"};
  images[1].compression = testing::Filter::kGzip;
  ArchiveContents c = Read(ClassicArchive(images));
  std::vector<SaveImage> save;
  for (const ArchiveImage& img : c.images) {
    save.push_back({img.manifest_digest, img.names});
  }
  for (ArchiveFormat format : {ArchiveFormat::kDocker, ArchiveFormat::kOci}) {
    std::string out, again;
    WriteImageArchive(save, *store_, format,
                      [&](const void* d, size_t n) { out.append(static_cast<const char*>(d), n); });
    WriteImageArchive(save, *store_, format, [&](const void* d, size_t n) {
      again.append(static_cast<const char*>(d), n);
    });
    EXPECT_EQ(out, again) << "the same images give the same bytes";
    ContentStore fresh(dir_ + "/fresh" + std::to_string(static_cast<int>(format)));
    ArchiveContents back = ReadImageArchive(testing::ReaderOf(out), fresh, HostPlatform());
    ASSERT_EQ(back.images.size(), 2u);
    for (size_t i = 0; i < 2; ++i) {
      EXPECT_EQ(back.images[i].manifest_digest, c.images[i].manifest_digest);
      EXPECT_EQ(back.images[i].config_digest, c.images[i].config_digest);
      EXPECT_EQ(back.images[i].names, c.images[i].names);
    }
    EXPECT_EQ(fresh.List(), store_->List());
  }
}

TEST_F(ArchiveTest, SavingAMissingBlobFailsBeforeWriting) {
  std::vector<TestImage> images(1);
  images[0].layers = {testing::OneFileLayer("a", "1")};
  ArchiveContents c = Read(ClassicArchive(images));
  store_->Delete(c.images[0].manifest.layers[0].digest);
  size_t written = 0;
  EXPECT_THROW(
      WriteImageArchive({{c.images[0].manifest_digest, {}}}, *store_, ArchiveFormat::kDocker,
                        [&](const void*, size_t n) { written += n; }),
      Error);
  EXPECT_EQ(written, 0u);
}

}  // namespace
}  // namespace berth::image
