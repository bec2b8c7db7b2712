#include "registry/manifest_check.h"

#include <gtest/gtest.h>

#include "registry/errors.h"

namespace berth::registry {
namespace {

const std::string kA = "sha256:" + std::string(64, 'a');
const std::string kB = "sha256:" + std::string(64, 'b');

std::string Image(const std::string& media_type = "application/vnd.oci.image.manifest.v1+json") {
  nlohmann::json j = {
      {"schemaVersion", 2},
      {"mediaType", media_type},
      {"config",
       {{"mediaType", "application/vnd.oci.image.config.v1+json"}, {"digest", kA}, {"size", 3}}},
      {"layers",
       {{{"mediaType", "application/vnd.oci.image.layer.v1.tar+gzip"},
         {"digest", kB},
         {"size", 5}}}}};
  return j.dump();
}

Code CodeOf(const std::string& bytes, const std::string& type = "") {
  try {
    CheckManifest(bytes, type);
  } catch (const ApiError& e) {
    return e.code();
  }
  return Code::kUnknown;
}

TEST(RegistryManifest, ImageManifest) {
  ManifestInfo m = CheckManifest(Image(), "application/vnd.oci.image.manifest.v1+json");
  EXPECT_FALSE(m.is_index);
  ASSERT_EQ(m.blobs.size(), 2u);
  EXPECT_EQ(m.blobs[0].digest, kA);
  EXPECT_EQ(m.blobs[1].size, 5);
  EXPECT_EQ(m.artifact_type, "application/vnd.oci.image.config.v1+json");
  EXPECT_FALSE(m.subject);
  // The media type from the document when the Content-Type is not a manifest type.
  EXPECT_EQ(CheckManifest(Image(), "application/json").media_type,
            "application/vnd.oci.image.manifest.v1+json");
}

TEST(RegistryManifest, IndexAndArtifact) {
  nlohmann::json index = {{"schemaVersion", 2},
                          {"manifests",
                           {{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                             {"digest", kA},
                             {"size", 7}}}}};
  ManifestInfo m = CheckManifest(index.dump(), "application/vnd.oci.image.index.v1+json");
  EXPECT_TRUE(m.is_index);
  ASSERT_EQ(m.manifests.size(), 1u);

  nlohmann::json artifact = nlohmann::json::parse(Image());
  artifact["artifactType"] = "application/vnd.example.sig";
  artifact["config"]["mediaType"] = "application/vnd.oci.empty.v1+json";
  artifact["layers"][0]["mediaType"] = "application/vnd.example.sig.v1";
  artifact["subject"] = {
      {"mediaType", "application/vnd.oci.image.manifest.v1+json"}, {"digest", kB}, {"size", 9}};
  artifact["annotations"] = {{"k", "v"}};
  m = CheckManifest(artifact.dump(), "application/vnd.oci.image.manifest.v1+json");
  ASSERT_TRUE(m.subject);
  EXPECT_EQ(m.subject->digest, kB);
  EXPECT_EQ(m.artifact_type, "application/vnd.example.sig");
  nlohmann::json d = ReferrerDescriptor(m, kA, 123);
  EXPECT_EQ(d["artifactType"], "application/vnd.example.sig");
  EXPECT_EQ(d["size"], 123);
  EXPECT_EQ(d["annotations"]["k"], "v");
}

TEST(RegistryManifest, Invalid) {
  EXPECT_EQ(CodeOf("not json"), Code::kManifestInvalid);
  EXPECT_EQ(CodeOf("[]"), Code::kManifestInvalid);
  EXPECT_EQ(CodeOf(R"({"schemaVersion":1,"name":"x","fsLayers":[]})"), Code::kManifestInvalid);
  EXPECT_EQ(CodeOf(R"({"schemaVersion":3})"), Code::kManifestInvalid);
  // Content-Type and mediaType disagree.
  EXPECT_EQ(CodeOf(Image(), "application/vnd.docker.distribution.manifest.v2+json"),
            Code::kManifestInvalid);
  nlohmann::json j = nlohmann::json::parse(Image());
  j["layers"][0]["digest"] = "sha256:short";
  EXPECT_EQ(CodeOf(j.dump()), Code::kManifestInvalid);
  j = nlohmann::json::parse(Image());
  j["layers"][0]["size"] = -1;
  EXPECT_EQ(CodeOf(j.dump()), Code::kManifestInvalid);
  j = nlohmann::json::parse(Image());
  j.erase("config");
  EXPECT_EQ(CodeOf(j.dump()), Code::kManifestInvalid);
  // Over 4 MiB: 413.
  std::string big = Image();
  big.insert(big.size() - 1, ",\"pad\":\"" + std::string(kMaxManifestSize, 'x') + "\"");
  try {
    CheckManifest(big, "");
    ADD_FAILURE();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 413);
  }
}

}  // namespace
}  // namespace berth::registry
