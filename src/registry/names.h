#pragma once

#include <string>
#include <string_view>

// What a request path names, checked before anything touches the disk: repository names by
// the distribution spec's grammar (so no name can be "..", absolute, or hold a "%2e"), tags by
// theirs, digests as sha256 only.

namespace berth::registry {

inline constexpr size_t kMaxNameLength = 255;

// [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*, at most 255 bytes.
bool ValidRepositoryName(std::string_view name);
// [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}
bool ValidTag(std::string_view tag);
// "sha256:" and 64 lowercase hex digits: the only algorithm stored.
bool ValidDigest(std::string_view digest);
// "<algorithm>:<encoded>" of the OCI grammar, whatever the algorithm (to tell an unsupported
// algorithm from garbage).
bool LooksLikeDigest(std::string_view digest);

// One request path of the /v2/ API, taken apart. The name is everything between "/v2/" and the
// route's own tail, so names keep their slashes ("library/busybox").
struct Route {
  enum class Kind {
    kNone,         // not a registry path
    kPing,         // /v2/
    kCatalog,      // /v2/_catalog
    kTags,         // /v2/<name>/tags/list
    kManifest,     // /v2/<name>/manifests/<reference>
    kBlob,         // /v2/<name>/blobs/<digest>
    kUploadStart,  // /v2/<name>/blobs/uploads/
    kUpload,       // /v2/<name>/blobs/uploads/<uuid>
    kReferrers,    // /v2/<name>/referrers/<digest>
  };
  Kind kind = Kind::kNone;
  std::string name;
  std::string reference;  // tag or digest, digest, or upload id
};

// Splits a (percent-decoded) path. Throws ApiError NAME_INVALID for a route whose name breaks
// the grammar; the reference is checked by the handler (its rules depend on the route).
Route ParseRoute(std::string_view path);

}  // namespace berth::registry
