// Manifests, tags, the catalog and the referrers API.

#include <algorithm>

#include "base/digest.h"
#include "image/manifest.h"
#include "registry/manifest_check.h"
#include "registry/proxy.h"
#include "registry/registry.h"

namespace berth::registry {

namespace {

// The media types an Accept header lists (parameters dropped); empty = anything.
std::vector<std::string> AcceptList(const HttpRequest& req) {
  std::vector<std::string> out;
  // Clients send one Accept header per type or one comma-separated list; Beast keeps the first
  // header of a name, so both forms are read from the joined value where the client joined.
  std::string value = req.Header("Accept");
  size_t pos = 0;
  while (pos <= value.size()) {
    size_t comma = value.find(',', pos);
    if (comma == std::string::npos) {
      comma = value.size();
    }
    std::string item = value.substr(pos, comma - pos);
    item = item.substr(0, item.find(';'));
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty()) {
      out.push_back(item);
    }
    pos = comma + 1;
  }
  return out;
}

bool Accepts(const std::vector<std::string>& accept, std::string_view media_type) {
  if (accept.empty()) {
    return true;
  }
  for (const std::string& a : accept) {
    if (a == media_type || a == "*/*" || a == "application/*") {
      return true;
    }
  }
  return false;
}

ApiError ManifestUnknown(const std::string& reference) {
  return ApiError(Code::kManifestUnknown, "", nlohmann::json{{"reference", reference}});
}

void SetLink(HttpResponse& res, const std::string& path, const std::string& last, size_t n) {
  res.SetHeader("Link",
                "<" + path + "?last=" + last + "&n=" + std::to_string(n) + ">; rel=\"next\"");
}

}  // namespace

void Registry::GetManifest(Call& c) {
  const std::string& repo = c.route.name;
  const std::string& ref = c.route.reference;
  bool by_digest = ValidDigest(ref);
  if (!by_digest && LooksLikeDigest(ref)) {
    throw ApiError(Code::kDigestInvalid, "unsupported digest algorithm",
                   nlohmann::json{{"digest", ref}});
  }
  if (!by_digest && !ValidTag(ref)) {
    throw ApiError(Code::kManifestInvalid, "invalid tag", nlohmann::json{{"tag", ref}});
  }
  std::optional<std::string> digest =
      by_digest ? std::optional<std::string>(ref) : storage_.ResolveTag(repo, ref);
  std::optional<ManifestRecord> record;
  if (digest) {
    record = storage_.FindManifest(repo, *digest);
  }
  if (!record && upstream_) {
    record = upstream_->FetchManifest(repo, ref);
  }
  if (!record) {
    if (!storage_.RepositoryExists(repo)) {
      throw ApiError(Code::kNameUnknown, "", nlohmann::json{{"name", repo}});
    }
    throw ManifestUnknown(ref);
  }
  std::vector<std::string> accept = AcceptList(c.req);
  if (!Accepts(accept, record->media_type)) {
    // A client that does not take lists, asking by tag, gets this platform's image, as
    // distribution does for old docker clients.
    bool found = false;
    if (!by_digest && IsIndexMediaType(record->media_type)) {
      std::string bytes = storage_.ReadBlob(record->digest, kMaxManifestSize);
      image::Document doc = image::ParseDocument(bytes, record->media_type);
      if (doc.index) {
        if (const image::Descriptor* d = image::SelectPlatform(*doc.index, image::HostPlatform())) {
          std::optional<ManifestRecord> child = storage_.FindManifest(repo, d->digest);
          if (child && Accepts(accept, child->media_type)) {
            record = child;
            found = true;
          }
        }
      }
    }
    if (!found) {
      throw ApiError(Code::kManifestUnknown,
                     "manifest of type " + record->media_type + " not in the Accept header",
                     nlohmann::json{{"reference", ref}, {"mediaType", record->media_type}});
    }
  }
  c.res.SetHeader("Docker-Content-Digest", record->digest);
  c.res.SetHeader("ETag", "\"" + record->digest + "\"");
  if (c.req.method() == "HEAD") {
    c.res.SendHeaders(200, record->size, record->media_type);
    return;
  }
  std::string bytes = storage_.ReadBlob(record->digest, kMaxManifestSize);
  c.res.Send(200, bytes, record->media_type);
}

void Registry::PutManifest(Call& c) {
  const std::string& repo = c.route.name;
  const std::string& ref = c.route.reference;
  bool by_digest = LooksLikeDigest(ref);
  if (by_digest && !ValidDigest(ref)) {
    throw ApiError(Code::kDigestInvalid, "unsupported digest algorithm",
                   nlohmann::json{{"digest", ref}});
  }
  if (!by_digest && !ValidTag(ref)) {
    throw ApiError(Code::kManifestInvalid, "invalid tag", nlohmann::json{{"tag", ref}});
  }
  std::optional<std::string> body = c.req.ReadAllBody(kMaxManifestSize);
  if (!body) {
    throw ApiError(Code::kSizeInvalid, "manifest is larger than 4 MiB", nullptr, 413);
  }
  ManifestInfo info = CheckManifest(*body, c.req.Header("Content-Type"));
  std::string digest = Sha256Digest(*body);
  if (by_digest && digest != ref) {
    throw ApiError(Code::kDigestInvalid, "", nlohmann::json{{"digest", ref}, {"computed", digest}});
  }
  for (const RefDescriptor& d : info.blobs) {
    if (d.external) {
      continue;
    }
    if (!storage_.HasBlob(repo, d.digest)) {
      throw ApiError(Code::kManifestBlobUnknown, "", nlohmann::json{{"digest", d.digest}});
    }
    std::optional<uint64_t> size = storage_.BlobSize(d.digest);
    if (size && *size != static_cast<uint64_t>(d.size)) {
      throw ApiError(Code::kManifestInvalid, "manifest invalid: size " + std::to_string(d.size) +
                                                 " of " + d.digest + " does not match the blob's " +
                                                 std::to_string(*size));
    }
  }
  for (const RefDescriptor& d : info.manifests) {
    if (!storage_.FindManifest(repo, d.digest)) {
      throw ApiError(Code::kManifestBlobUnknown, "", nlohmann::json{{"digest", d.digest}});
    }
  }
  storage_.PutBlob(*body);
  storage_.LinkManifest(repo, digest, info.media_type);
  if (!by_digest) {
    storage_.Tag(repo, ref, digest);
  }
  if (info.subject) {
    storage_.AddReferrer(repo, info.subject->digest,
                         ReferrerDescriptor(info, digest, body->size()));
    c.res.SetHeader("OCI-Subject", info.subject->digest);
  }
  c.res.SetHeader("Location", "/v2/" + repo + "/manifests/" + digest);
  c.res.SetHeader("Docker-Content-Digest", digest);
  c.res.Send(201, "");
}

void Registry::DeleteManifest(Call& c) {
  const std::string& repo = c.route.name;
  const std::string& ref = c.route.reference;
  if (!config_.delete_enabled) {
    throw ApiError(Code::kUnsupported, "deletion is disabled (storage.delete)");
  }
  if (!ValidDigest(ref)) {
    if (LooksLikeDigest(ref)) {
      throw ApiError(Code::kDigestInvalid, "unsupported digest algorithm",
                     nlohmann::json{{"digest", ref}});
    }
    // By tag (spec 1.1): the tag goes, the manifest stays.
    if (!ValidTag(ref) || !storage_.Untag(repo, ref)) {
      throw ManifestUnknown(ref);
    }
    c.res.Send(202, "");
    return;
  }
  std::optional<ManifestRecord> record = storage_.FindManifest(repo, ref);
  if (!record) {
    throw ManifestUnknown(ref);
  }
  try {
    ManifestInfo info = CheckManifest(storage_.ReadBlob(ref, kMaxManifestSize), record->media_type);
    if (info.subject) {
      storage_.RemoveReferrer(repo, info.subject->digest, ref);
    }
  } catch (const ApiError&) {
    // Not parseable any more: it has no referrer entry to remove.
  }
  storage_.DeleteManifest(repo, ref);
  c.res.Send(202, "");
}

void Registry::ListTags(Call& c) {
  const std::string& repo = c.route.name;
  std::optional<size_t> n = PageSize(c.req.Query("n"));
  if (!storage_.RepositoryExists(repo)) {
    throw ApiError(Code::kNameUnknown, "", nlohmann::json{{"name", repo}});
  }
  bool more = false;
  std::vector<std::string> tags = Page(storage_.Tags(repo), c.req.Query("last"), n, &more);
  if (more) {
    SetLink(c.res, "/v2/" + repo + "/tags/list", tags.back(), *n);
  }
  nlohmann::json body = {{"name", repo}, {"tags", tags}};
  c.res.Send(200, body.dump() + "\n", "application/json");
}

void Registry::Catalog(Call& c) {
  std::optional<size_t> n = PageSize(c.req.Query("n"));
  bool more = false;
  std::vector<std::string> repos = Page(storage_.Repositories(), c.req.Query("last"), n, &more);
  if (more) {
    SetLink(c.res, "/v2/_catalog", repos.back(), *n);
  }
  nlohmann::json body = {{"repositories", repos}};
  c.res.Send(200, body.dump() + "\n", "application/json");
}

void Registry::Referrers(Call& c) {
  const std::string& subject = c.route.reference;
  if (!ValidDigest(subject)) {
    throw ApiError(Code::kDigestInvalid,
                   LooksLikeDigest(subject) ? "unsupported digest algorithm" : "invalid digest",
                   nlohmann::json{{"digest", subject}});
  }
  std::vector<std::string> types = c.req.QueryAll("artifactType");
  nlohmann::json manifests = nlohmann::json::array();
  if (storage_.RepositoryExists(c.route.name)) {
    for (nlohmann::json& d : storage_.Referrers(c.route.name, subject)) {
      if (!types.empty() &&
          std::find(types.begin(), types.end(), d.value("artifactType", "")) == types.end()) {
        continue;
      }
      manifests.push_back(std::move(d));
    }
  }
  if (!types.empty()) {
    c.res.SetHeader("OCI-Filters-Applied", "artifactType");
  }
  nlohmann::json body = {{"schemaVersion", 2},
                         {"mediaType", std::string(image::media::kOciIndex)},
                         {"manifests", manifests}};
  c.res.Send(200, body.dump() + "\n", std::string(image::media::kOciIndex));
}

}  // namespace berth::registry
