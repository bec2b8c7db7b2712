#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

// The image documents: OCI image manifest, index and config, Docker manifest v2 schema 2 and
// manifest list. These are read-only views: the store keeps each document's original bytes,
// so a digest never changes by re-serialisation; nothing here writes them back.
namespace berth::image {

namespace media {
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kOciLayer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kOciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::string_view kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kDockerLayer =
    "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr std::string_view kDockerForeignLayer =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
}  // namespace media

// The largest manifest, index or config accepted (a registry's limit is 4 MiB).
inline constexpr size_t kMaxDocumentSize = 4 << 20;

struct Platform {
  std::string os;
  std::string architecture;
  std::string variant;
  std::string os_version;
  std::vector<std::string> os_features;

  // "linux/arm64/v8"
  std::string String() const;
};

struct Descriptor {
  std::string media_type;
  std::string digest;
  int64_t size = 0;
  std::vector<std::string> urls;
  std::map<std::string, std::string> annotations;
  std::optional<Platform> platform;  // index entries
  std::string artifact_type;
};

// Whether a layer of this media type is a tar, and how it is compressed.
enum class Compression { kNone, kGzip, kZstd };
std::optional<Compression> LayerCompression(std::string_view media_type);

// An image manifest (OCI or Docker schema 2).
struct Manifest {
  std::string media_type;  // as written, or the OCI type when the document omits it
  Descriptor config;
  std::vector<Descriptor> layers;
  std::map<std::string, std::string> annotations;
  std::optional<Descriptor> subject;
};

// An image index (OCI) or manifest list (Docker).
struct Index {
  std::string media_type;
  std::vector<Descriptor> manifests;
  std::map<std::string, std::string> annotations;
};

// One document of either kind, as found: the kind comes from its mediaType field, else
// from `media_type_hint` (what the registry or the layout said), else from its shape.
struct Document {
  std::optional<Manifest> manifest;
  std::optional<Index> index;
};

// Parses a manifest or index; throws kInvalidArgument naming the field ("manifest
// layers[2].digest: invalid digest \"…\""). A manifest must describe a container image: its
// config must be an image config and its layers tars of a known compression.
Document ParseDocument(std::string_view bytes, std::string_view media_type_hint = {});
Manifest ParseManifest(std::string_view bytes, std::string_view media_type_hint = {});

// The image config: what Berth needs of it (the rest stays in `raw`).
struct ImageConfig {
  std::string os;
  std::string architecture;
  std::string variant;
  std::vector<std::string> diff_ids;  // rootfs.diff_ids, one per layer
  nlohmann::json raw;
};
ImageConfig ParseImageConfig(std::string_view bytes);

// The platform of this host (linux/amd64, linux/arm64/v8, ...).
Platform HostPlatform();

// The manifest in `index` for `want`: same os and architecture, and the same variant when
// `want` names one (an entry without a variant matches the architecture's default: v8 for
// arm64, v7 for arm). nullptr when none fits. Entries that are not image manifests (e.g.
// attestations) are never chosen.
const Descriptor* SelectPlatform(const Index& index, const Platform& want);

}  // namespace berth::image
