#include "image/manifest.h"

#include <gtest/gtest.h>

#include "base/error.h"

namespace berth::image {
namespace {

using nlohmann::json;

std::string D(char c) { return "sha256:" + std::string(64, c); }

json Desc(std::string_view type, char c, int64_t size) {
  return {{"mediaType", type}, {"digest", D(c)}, {"size", size}};
}

json OciManifest() {
  return {{"schemaVersion", 2},
          {"mediaType", media::kOciManifest},
          {"config", Desc(media::kOciConfig, 'c', 100)},
          {"layers",
           {Desc(media::kOciLayerGzip, '1', 1000), Desc(media::kOciLayerZstd, '2', 2000),
            Desc(media::kOciLayer, '3', 3000)}},
          {"annotations", {{"org.opencontainers.image.title", "t"}}}};
}

void ExpectRefused(const std::string& bytes, const std::string& message,
                   std::string_view hint = {}) {
  try {
    ParseDocument(bytes, hint);
    ADD_FAILURE() << "accepted, expected: " << message;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Kind::kInvalidArgument);
    EXPECT_EQ(std::string(e.what()), message);
  }
}

TEST(ManifestTest, OciManifest) {
  Manifest m = ParseManifest(OciManifest().dump());
  EXPECT_EQ(m.media_type, media::kOciManifest);
  EXPECT_EQ(m.config.digest, D('c'));
  ASSERT_EQ(m.layers.size(), 3u);
  EXPECT_EQ(LayerCompression(m.layers[0].media_type), Compression::kGzip);
  EXPECT_EQ(LayerCompression(m.layers[1].media_type), Compression::kZstd);
  EXPECT_EQ(LayerCompression(m.layers[2].media_type), Compression::kNone);
  EXPECT_EQ(m.layers[1].size, 2000);
  EXPECT_EQ(m.annotations.at("org.opencontainers.image.title"), "t");
}

TEST(ManifestTest, DockerSchema2AndTheMediaTypeFromTheHintOrShape) {
  json j = {
      {"schemaVersion", 2},
      {"mediaType", media::kDockerManifest},
      {"config", Desc(media::kDockerConfig, 'c', 10)},
      {"layers", {Desc(media::kDockerLayer, '1', 1), Desc(media::kDockerForeignLayer, '2', 2)}}};
  Manifest m = ParseManifest(j.dump());
  EXPECT_EQ(m.media_type, media::kDockerManifest);
  EXPECT_EQ(m.layers.size(), 2u);
  json no_type = OciManifest();
  no_type.erase("mediaType");
  EXPECT_EQ(ParseManifest(no_type.dump()).media_type, media::kOciManifest);
  json idx = {{"schemaVersion", 2}, {"manifests", json::array()}};
  Document d = ParseDocument(idx.dump());
  ASSERT_TRUE(d.index);
  EXPECT_EQ(d.index->media_type, media::kOciIndex);
  EXPECT_TRUE(ParseDocument(idx.dump(), media::kDockerManifestList).index);
}

TEST(ManifestTest, IndexAndPlatformSelection) {
  json platforms = json::array();
  auto entry = [&](std::string type, char c, json platform) {
    json e = Desc(type, c, 500);
    e["platform"] = platform;
    return e;
  };
  json idx = {
      {"schemaVersion", 2},
      {"mediaType", media::kOciIndex},
      {"manifests",
       {entry(std::string(media::kOciManifest), 'a', {{"os", "linux"}, {"architecture", "amd64"}}),
        entry(std::string(media::kOciManifest), 'b',
              {{"os", "linux"}, {"architecture", "arm64"}}),  // no variant: v8
        entry(std::string(media::kOciManifest), 'c',
              {{"os", "linux"}, {"architecture", "arm"}, {"variant", "v6"}}),
        entry(std::string(media::kOciManifest), 'd',
              {{"os", "unknown"}, {"architecture", "unknown"}}),  // an attestation
        entry("application/vnd.example.sbom", 'e', {{"os", "linux"}, {"architecture", "amd64"}})}}};
  Document doc = ParseDocument(idx.dump());
  ASSERT_TRUE(doc.index);
  const Index& x = *doc.index;
  EXPECT_EQ(SelectPlatform(x, {"linux", "amd64"})->digest, D('a'));
  EXPECT_EQ(SelectPlatform(x, {"linux", "arm64", "v8"})->digest, D('b'));
  EXPECT_EQ(SelectPlatform(x, {"linux", "arm64"})->digest, D('b'));
  EXPECT_EQ(SelectPlatform(x, {"linux", "arm", "v6"})->digest, D('c'));
  EXPECT_EQ(SelectPlatform(x, {"linux", "arm"}), nullptr) << "arm means v7 unless it says";
  EXPECT_EQ(SelectPlatform(x, {"windows", "amd64"}), nullptr);
  Platform host = HostPlatform();
  EXPECT_EQ(host.os, "linux");
  EXPECT_FALSE(host.architecture.empty());
}

TEST(ManifestTest, BadDocumentsNameTheField) {
  ExpectRefused("{", "manifest: malformed JSON");
  ExpectRefused("[]", "manifest: expected an object, got array");
  ExpectRefused(std::string(kMaxDocumentSize + 1, ' '),
                "manifest: " + std::to_string(kMaxDocumentSize + 1) + " bytes, more than the " +
                    std::to_string(kMaxDocumentSize) + " allowed");
  json j = OciManifest();
  j["schemaVersion"] = 1;
  ExpectRefused(j.dump(), "manifest.schemaVersion: must be 2, got 1");
  j = OciManifest();
  j["layers"][1]["digest"] = "sha256:abc";
  ExpectRefused(j.dump(), "manifest.layers[1].digest: invalid digest \"sha256:abc\"");
  j = OciManifest();
  j["layers"][2]["mediaType"] = "application/x-nope";
  ExpectRefused(j.dump(),
                "manifest.layers[2].mediaType: unknown layer media type \"application/x-nope\"");
  j = OciManifest();
  j["layers"][0]["size"] = -1;
  ExpectRefused(j.dump(), "manifest.layers[0].size: must not be negative");
  j = OciManifest();
  j["config"]["mediaType"] = "application/vnd.example.config";
  ExpectRefused(j.dump(),
                "manifest.config.mediaType: \"application/vnd.example.config\" is not a "
                "container image config (not an image)");
  j = OciManifest();
  j.erase("layers");
  ExpectRefused(j.dump(), "manifest.layers: is required");
  j = OciManifest();
  j["mediaType"] = "application/vnd.example+json";
  ExpectRefused(j.dump(),
                "manifest.mediaType: unknown media type \"application/vnd.example+json\"");
  ExpectRefused(OciManifest().dump(),
                "manifest.mediaType: \"" + std::string(media::kOciManifest) + "\" where \"" +
                    std::string(media::kOciIndex) + "\" was expected",
                media::kOciIndex);
  j = OciManifest();
  j["layers"][0]["annotations"] = {{"a", 1}};
  ExpectRefused(j.dump(), "manifest.layers[0].annotations.a: expected a string");
}

TEST(ManifestTest, ImageConfig) {
  json c = {{"architecture", "amd64"},
            {"os", "linux"},
            {"config", {{"Cmd", {"sh"}}, {"Env", {"PATH=/bin"}}}},
            {"rootfs", {{"type", "layers"}, {"diff_ids", {D('1'), D('2')}}}},
            {"history", {{{"created_by", "x"}}}}};
  ImageConfig ic = ParseImageConfig(c.dump());
  EXPECT_EQ(ic.os, "linux");
  EXPECT_EQ(ic.diff_ids, (std::vector<std::string>{D('1'), D('2')}));
  EXPECT_EQ(ic.raw["config"]["Cmd"][0], "sh");
  c["rootfs"]["diff_ids"][1] = "nope";
  try {
    ParseImageConfig(c.dump());
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "image config.rootfs.diff_ids[1]: invalid digest \"nope\"");
  }
  c.erase("rootfs");
  EXPECT_THROW(ParseImageConfig(c.dump()), Error);
}

}  // namespace
}  // namespace berth::image
