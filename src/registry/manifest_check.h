#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

// What the registry needs of a manifest pushed to it: its media type, the blobs and manifests
// it refers to (which must be in the repository), its subject (the referrers API) and its
// artifact type. Artifacts are manifests too: the config and layers may be of any media type,
// unlike the image store's stricter parser (image/manifest.h).

namespace berth::registry {

inline constexpr size_t kMaxManifestSize = 4 << 20;

struct RefDescriptor {
  std::string media_type;
  std::string digest;
  int64_t size = 0;
  bool external = false;  // a layer with urls (non-distributable): need not be pushed
};

struct ManifestInfo {
  std::string media_type;  // the effective type, as the registry serves it back
  bool is_index = false;
  std::vector<RefDescriptor> blobs;      // config and layers
  std::vector<RefDescriptor> manifests;  // an index's entries
  std::optional<RefDescriptor> subject;
  std::string artifact_type;  // artifactType, else the config's media type (image manifests)
  nlohmann::json annotations;
};

// The four media types served: OCI manifest and index, Docker schema 2 manifest and list.
bool IsManifestMediaType(std::string_view media_type);
bool IsIndexMediaType(std::string_view media_type);

// Parses a pushed manifest. `content_type` is the request's Content-Type (parameters
// ignored); when it is not a manifest type the document's mediaType decides, then its shape.
// Throws ApiError MANIFEST_INVALID naming the field; schema 1 is MANIFEST_INVALID too.
ManifestInfo CheckManifest(std::string_view bytes, std::string_view content_type);

// The descriptor a referrers index lists for a manifest.
nlohmann::json ReferrerDescriptor(const ManifestInfo& info, std::string_view digest, uint64_t size);

}  // namespace berth::registry
