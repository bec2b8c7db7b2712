#pragma once

// Builds image archives in memory the way docker save (20.10 and 25+), skopeo and umoci
// write them, for tests of load and save.

#include <functional>
#include <string>
#include <vector>

#include "tar_builder.h"

namespace berth::testing {

struct TestImage {
  std::vector<std::string> layers;  // uncompressed layer tars, bottom first
  std::vector<std::string> names;   // as written in the archive ("busybox:latest")
  Filter compression = Filter::kNone;
  std::string created = "2026-01-02T03:04:05Z";
  std::string labels_json = "{}";
  // Overrides the config's diff_ids (to build a lying image).
  std::vector<std::string> diff_ids;

  // Filled in by the builders.
  std::string config;                    // config bytes
  std::string config_digest;             // = the image ID
  std::vector<std::string> layer_blobs;  // as stored (compressed as asked)
};

// docker save 20.10: <v1id>/layer.tar directories, <hex>.json, manifest.json, repositories.
// A layer shared with an earlier image is a symlink to that image's layer.tar, as Docker
// writes it.
std::string ClassicArchive(std::vector<TestImage>& images);

// An OCI image layout: blobs/sha256, index.json (annotations naming each image),
// oci-layout; plus manifest.json when `docker_manifest` (Docker 25's hybrid).
// `ref_name_only`: annotate with org.opencontainers.image.ref.name = the tag only, as skopeo
// and umoci do.
std::string OciArchive(std::vector<TestImage>& images, bool docker_manifest,
                       bool ref_name_only = false);

// The config Docker would write for `image` (architecture of this host).
std::string MakeConfig(const TestImage& image);

// A layer tar of one file.
std::string OneFileLayer(const std::string& path, const std::string& data);

// A reader over `bytes` (which must outlive it), for ReadImageArchive and the image service.
std::function<size_t(void*, size_t)> ReaderOf(const std::string& bytes);

}  // namespace berth::testing
