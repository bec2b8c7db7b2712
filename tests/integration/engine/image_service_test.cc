// The daemon's image store end to end: load, tag, remove, prune, import and save against a
// real content store, real snapshots and SQLite, and `system check` finding what is wrong.

#include "engine/image_service.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstring>
#include <fstream>

#include "base/digest.h"
#include "base/error.h"
#include "base/file_util.h"
#include "image_archive_builder.h"
#include "tar_builder.h"

namespace berth::engine {
namespace {

using nlohmann::json;
using testing::TestImage;

class ImageServiceTest : public testing::RootTempDirTest {
 protected:
  void SetUp() override {
    RootTempDirTest::SetUp();
    service_ = std::make_unique<ImageService>(dir_ + "/root");
  }

  std::vector<json> Load(const std::string& archive, bool quiet = true) {
    std::vector<json> messages;
    service_->Load(testing::ReaderOf(archive), quiet,
                   [&](const json& m) { messages.push_back(m); });
    return messages;
  }

  std::vector<std::string> Tags() {
    std::vector<std::string> tags;
    for (const json& image : service_->List(false, {})) {
      for (const json& t : image["RepoTags"]) {
        tags.push_back(t.get<std::string>());
      }
    }
    std::sort(tags.begin(), tags.end());
    return tags;
  }

  // Everything on disk: blobs and snapshots.
  std::pair<std::vector<std::string>, std::vector<std::string>> Disk() {
    return {service_->content().List(), service_->snapshots().List()};
  }

  void ExpectClean() {
    json check = service_->Check();
    EXPECT_TRUE(check["Problems"].empty()) << check.dump(2);
  }

  std::unique_ptr<ImageService> service_;
};

TEST_F(ImageServiceTest, LoadListInspectHistory) {
  std::vector<TestImage> images(1);
  images[0].layers = {testing::OneFileLayer("bin/sh", "shell"),
                      testing::OneFileLayer("etc/motd", "hello")};
  images[0].names = {"busybox:latest"};
  images[0].labels_json = R"({"org.example":"yes"})";
  std::vector<json> messages = Load(testing::ClassicArchive(images));
  ASSERT_FALSE(messages.empty());
  EXPECT_EQ(messages.back()["stream"], "Loaded image: busybox:latest\n");

  json list = service_->List(false, {});
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["Id"], images[0].config_digest);
  EXPECT_EQ(list[0]["RepoTags"], json({"busybox:latest"}));
  EXPECT_EQ(list[0]["Created"], 1767323045);  // 2026-01-02T03:04:05Z
  EXPECT_EQ(list[0]["Labels"]["org.example"], "yes");
  EXPECT_GT(list[0]["Size"].get<int64_t>(), 0);

  json inspect = service_->Inspect("busybox");
  EXPECT_EQ(inspect["Id"], images[0].config_digest);
  EXPECT_EQ(inspect["RootFS"]["Layers"].size(), 2u);
  EXPECT_EQ(inspect["Config"]["Cmd"], json({"sh"}));
  EXPECT_EQ(service_->Inspect(images[0].config_digest.substr(7, 12))["Id"], inspect["Id"]);

  json history = service_->History("busybox:latest");
  ASSERT_EQ(history.size(), 3u);
  EXPECT_EQ(history[0]["Id"], images[0].config_digest);
  EXPECT_EQ(history[0]["CreatedBy"], "CMD [\"sh\"]");
  EXPECT_EQ(history[0]["Size"], 0);
  EXPECT_EQ(history[1]["Id"], "<missing>");
  EXPECT_GT(history[1]["Size"].get<int64_t>(), 0);

  // The layers are unpacked, each once, and readable through the snapshot.
  std::vector<std::string> chain = service_->ChainIds(images[0].config_digest);
  ASSERT_EQ(chain.size(), 2u);
  EXPECT_EQ(ReadFile(service_->snapshots().FsPath(chain[1]) + "/etc/motd"), "hello");
  ExpectClean();

  try {
    service_->Inspect("nosuch");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Kind::kNotFound);
    EXPECT_STREQ(e.what(), "No such image: nosuch:latest");
  }
}

TEST_F(ImageServiceTest, MetadataSurvivesARestart) {
  std::vector<TestImage> images(1);
  images[0].layers = {testing::OneFileLayer("a", "1")};
  images[0].names = {"keep:1"};
  Load(testing::ClassicArchive(images));
  service_.reset();
  service_ = std::make_unique<ImageService>(dir_ + "/root");
  EXPECT_EQ(Tags(), std::vector<std::string>{"keep:1"});
}

TEST_F(ImageServiceTest, TagRemoveAndGarbageCollectionFreeExactlyWhatIsUnreferenced) {
  std::string base = testing::OneFileLayer("bin/sh", "shell");
  std::vector<TestImage> images(2);
  images[0].layers = {base};
  images[0].names = {"base:1"};
  images[1].layers = {base, testing::OneFileLayer("app", "app")};
  images[1].names = {"app:1"};
  Load(testing::ClassicArchive(images));
  auto [blobs_before, snaps_before] = Disk();
  EXPECT_EQ(snaps_before.size(), 2u) << "the shared base is unpacked once";

  service_->Tag("app:1", "example.com/app", "2");
  EXPECT_EQ(Tags(), (std::vector<std::string>{"app:1", "base:1", "example.com/app:2"}));

  // By name with another name left: only untagged.
  json out = service_->Remove("app:1", false, false);
  EXPECT_EQ(out, json({{{"Untagged", "app:1"}}}));
  // By ID with one name: untagged and deleted.
  std::string app_id = images[1].config_digest;
  out = service_->Remove(app_id.substr(7, 12), false, false);
  ASSERT_GE(out.size(), 3u);
  EXPECT_EQ(out[0], json({{"Untagged", "example.com/app:2"}}));
  EXPECT_EQ(out[1], json({{"Deleted", app_id}}));
  std::vector<std::string> app_chain =
      image::ChainIds({Sha256Digest(base), Sha256Digest(images[1].layers[1])});
  EXPECT_EQ(out[2], json({{"Deleted", app_chain[1]}}));

  auto [blobs_after, snaps_after] = Disk();
  EXPECT_EQ(snaps_after, std::vector<std::string>{app_chain[0]}) << "the shared base stays";
  // Gone: app's config, manifest and top layer; the base layer blob is still used.
  EXPECT_EQ(blobs_after.size(), blobs_before.size() - 3);
  EXPECT_TRUE(service_->content().Has(Sha256Digest(base)));
  ExpectClean();
}

TEST_F(ImageServiceTest, RemovingByIdAnImageWithSeveralNamesNeedsForce) {
  std::vector<TestImage> images(1);
  images[0].layers = {testing::OneFileLayer("a", "1")};
  images[0].names = {"a:1", "b:1"};
  Load(testing::ClassicArchive(images));
  try {
    service_->Remove(images[0].config_digest, false, false);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Kind::kConflict);
    EXPECT_NE(std::string(e.what()).find("must be forced"), std::string::npos);
  }
  json out = service_->Remove(images[0].config_digest, true, false);
  EXPECT_EQ(out.size(), 4u);  // two untags, the image, its one layer
  EXPECT_TRUE(service_->List(false, {}).empty());
  EXPECT_EQ(Disk().first.size(), 0u);
  EXPECT_EQ(Disk().second.size(), 0u);
}

TEST_F(ImageServiceTest, ALoadThatFailsLeavesTheStoreAsItWas) {
  std::vector<TestImage> good(1);
  good[0].layers = {testing::OneFileLayer("a", "1")};
  good[0].names = {"good:1"};
  Load(testing::ClassicArchive(good));
  auto before = Disk();

  // The config lies about the second layer's diffID: found only while unpacking it.
  std::vector<TestImage> liar(1);
  liar[0].layers = {testing::OneFileLayer("b", "2"), testing::OneFileLayer("c", "3")};
  liar[0].diff_ids = {Sha256Digest(liar[0].layers[0]), Sha256Digest(std::string("other"))};
  liar[0].names = {"liar:1"};
  try {
    Load(testing::ClassicArchive(liar));
    ADD_FAILURE() << "loaded an image whose layer does not match its config";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("diffID"), std::string::npos) << e.what();
  }
  EXPECT_EQ(Disk(), before);
  EXPECT_EQ(Tags(), std::vector<std::string>{"good:1"});
  ExpectClean();
}

TEST_F(ImageServiceTest, ANameMovesAndTheOldImageBecomesDanglingThenPruned) {
  std::vector<TestImage> v1(1), v2(1);
  v1[0].layers = {testing::OneFileLayer("a", "1")};
  v1[0].names = {"app:latest"};
  v2[0].layers = {testing::OneFileLayer("a", "2")};
  v2[0].names = {"app:latest"};
  Load(testing::ClassicArchive(v1));
  std::vector<json> messages = Load(testing::ClassicArchive(v2));
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0]["stream"],
            "The image app:latest already exists, renaming the old one with ID " +
                v1[0].config_digest + " to empty string\n");
  json dangling = service_->List(false, {{"dangling", {"true"}}});
  ASSERT_EQ(dangling.size(), 1u);
  EXPECT_EQ(dangling[0]["Id"], v1[0].config_digest);
  EXPECT_EQ(dangling[0]["RepoTags"], json({"<none>:<none>"}));

  json pruned = service_->Prune({});
  EXPECT_EQ(pruned["ImagesDeleted"][0]["Deleted"], v1[0].config_digest);
  EXPECT_GT(pruned["SpaceReclaimed"].get<int64_t>(), 0);
  EXPECT_EQ(service_->List(false, {}).size(), 1u);
  ExpectClean();
}

TEST_F(ImageServiceTest, ListFilters) {
  std::vector<TestImage> images(2);
  images[0].layers = {testing::OneFileLayer("a", "1")};
  images[0].names = {"web/front:1"};
  images[0].created = "2026-01-01T00:00:00Z";
  images[0].labels_json = R"({"tier":"web"})";
  images[1].layers = {testing::OneFileLayer("a", "2")};
  images[1].names = {"db:1"};
  images[1].created = "2026-02-01T00:00:00Z";
  Load(testing::ClassicArchive(images));
  auto ids = [&](const Filters& f) {
    std::vector<std::string> out;
    for (const json& i : service_->List(false, f)) {
      out.push_back(i["Id"]);
    }
    return out;
  };
  EXPECT_EQ(ids({{"label", {"tier=web"}}}), std::vector<std::string>{images[0].config_digest});
  EXPECT_EQ(ids({{"label", {"tier=db"}}}).size(), 0u);
  EXPECT_EQ(ids({{"reference", {"web/*"}}}), std::vector<std::string>{images[0].config_digest});
  EXPECT_EQ(ids({{"reference", {"*"}}}), std::vector<std::string>{images[1].config_digest})
      << "* does not cross a slash";
  EXPECT_EQ(ids({{"since", {"web/front:1"}}}), std::vector<std::string>{images[1].config_digest});
  EXPECT_EQ(ids({{"before", {"db:1"}}}), std::vector<std::string>{images[0].config_digest});
  EXPECT_THROW(service_->List(false, {{"bogus", {"1"}}}), Error);
}

TEST_F(ImageServiceTest, ImportWithChanges) {
  std::string rootfs = testing::MakeTar({{.path = "bin", .type = AE_IFDIR, .perm = 0755},
                                         {.path = "bin/app", .perm = 0755, .data = "#!/bin/sh\n"}},
                                        testing::Filter::kGzip);
  ImportOptions options;
  options.repo = "imported";
  options.tag = "v1";
  options.changes = {"CMD [\"/bin/app\", \"--serve\"]",
                     "ENV A=1 B=\"two words\"",
                     "WORKDIR /srv",
                     "USER 1000:1000",
                     "EXPOSE 80 53/udp",
                     "LABEL version=1.0",
                     "VOLUME /data"};
  options.message = "from a tarball";
  std::string id = service_->Import(testing::ReaderOf(rootfs), options);
  json inspect = service_->Inspect("imported:v1");
  EXPECT_EQ(inspect["Id"], id);
  const json& c = inspect["Config"];
  EXPECT_EQ(c["Cmd"], json({"/bin/app", "--serve"}));
  EXPECT_EQ(c["Env"], json({"A=1", "B=two words"}));
  EXPECT_EQ(c["WorkingDir"], "/srv");
  EXPECT_EQ(c["User"], "1000:1000");
  EXPECT_EQ(c["ExposedPorts"], json({{"80/tcp", json::object()}, {"53/udp", json::object()}}));
  EXPECT_EQ(c["Labels"]["version"], "1.0");
  EXPECT_TRUE(c["Volumes"].contains("/data"));
  EXPECT_EQ(service_->History("imported:v1")[0]["Comment"], "from a tarball");
  std::vector<std::string> chain = service_->ChainIds(id);
  ASSERT_EQ(chain.size(), 1u);
  EXPECT_EQ(ReadFile(service_->snapshots().FsPath(chain[0]) + "/bin/app"), "#!/bin/sh\n");
  ExpectClean();

  ImportOptions bad;
  bad.changes = {"RUN rm -rf /"};
  EXPECT_THROW(service_->Import(testing::ReaderOf(rootfs), bad), Error);
  std::string not_a_tar = "plainly not a tar archive, just words words words";
  EXPECT_THROW(service_->Import(testing::ReaderOf(not_a_tar), {}), Error);
  ExpectClean();
}

TEST_F(ImageServiceTest, SaveThenLoadElsewhereKeepsEveryDigest) {
  std::vector<TestImage> images(1);
  images[0].layers = {testing::OneFileLayer("a", "1"), testing::OneFileLayer("b", "2")};
  images[0].names = {"saved:1", "saved:2"};
  Load(testing::ClassicArchive(images));
  std::string archive;
  service_->Save({"saved:1"}, image::ArchiveFormat::kDocker,
                 [&](const void* d, size_t n) { archive.append(static_cast<const char*>(d), n); });
  ImageService other(dir_ + "/other");
  std::vector<json> messages;
  other.Load(testing::ReaderOf(archive), true, [&](const json& m) { messages.push_back(m); });
  ASSERT_EQ(messages.size(), 1u) << "saved by one name: only that name travels";
  EXPECT_EQ(messages[0]["stream"], "Loaded image: saved:1\n");
  EXPECT_EQ(other.Inspect("saved:1")["Id"], images[0].config_digest);
  EXPECT_EQ(other.content().List(), service_->content().List());
  EXPECT_THROW(
      service_->Save({"nosuch"}, image::ArchiveFormat::kDocker, [](const void*, size_t) {}), Error);
}

TEST_F(ImageServiceTest, CheckFindsCorruptionAndOrphans) {
  std::vector<TestImage> images(1);
  images[0].layers = {testing::OneFileLayer("a", "1")};
  images[0].names = {"check:1"};
  Load(testing::ClassicArchive(images));
  ExpectClean();
  std::string layer = service_->content().PathOf(Sha256Digest(images[0].layers[0]));
  {
    chmod(layer.c_str(), 0644);
    std::fstream f(layer, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('X');
  }
  std::vector<std::string> chain = service_->ChainIds(images[0].config_digest);
  RemoveAll(service_->snapshots().FsPath(chain[0]) + "/..");
  std::string orphan = "sha256:" + std::string(64, 'b');
  MkdirAll(dir_ + "/root/snapshots/" + orphan.substr(7) + "/fs");
  json problems = service_->Check()["Problems"];
  std::string all = problems.dump();
  EXPECT_NE(all.find("does not match its digest"), std::string::npos) << all;
  EXPECT_NE(all.find("snapshot " + chain[0] + " is missing"), std::string::npos) << all;
  EXPECT_NE(all.find("snapshot " + orphan + " is not used"), std::string::npos) << all;
}

TEST(Rfc3339, ParsesDockerTimes) {
  EXPECT_EQ(ParseRfc3339("2026-11-28T16:40:54.246968785Z"), 1795884054);
  EXPECT_EQ(ParseRfc3339("2026-11-28T18:40:54+02:00"), 1795884054);
  EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_FALSE(ParseRfc3339("yesterday"));
  EXPECT_FALSE(ParseRfc3339("2026-11-28T16:40:54"));
  EXPECT_EQ(FormatRfc3339(1795884054), "2026-11-28T16:40:54Z");
}

}  // namespace
}  // namespace berth::engine
