// Blobs, uploads and cross-repository mounts.

#include <fcntl.h>
#include <sys/stat.h>

#include "base/fd.h"
#include "registry/proxy.h"
#include "registry/registry.h"

namespace berth::registry {

namespace {

// The digest of a path or query; DIGEST_INVALID when malformed or of another algorithm.
std::string CheckedDigest(const std::string& digest) {
  if (!ValidDigest(digest)) {
    throw ApiError(Code::kDigestInvalid,
                   LooksLikeDigest(digest) ? "unsupported digest algorithm" : "invalid digest",
                   nlohmann::json{{"digest", digest}});
  }
  return digest;
}

std::string UploadLocation(const Route& r, const std::string& id) {
  return "/v2/" + r.name + "/blobs/uploads/" + id;
}

void BlobCreated(HttpResponse& res, const std::string& repo, const std::string& digest) {
  res.SetHeader("Location", "/v2/" + repo + "/blobs/" + digest);
  res.SetHeader("Docker-Content-Digest", digest);
  res.Send(201, "");
}

BodyReader ReaderOf(HttpRequest& req) {
  return [&req](void* buf, size_t size) { return req.ReadBody(buf, size); };
}

std::optional<ByteRange> ContentRangeOf(const HttpRequest& req) {
  std::string header = req.Header("Content-Range");
  if (header.empty()) {
    return std::nullopt;
  }
  std::optional<ByteRange> r = ParseContentRange(header);
  if (!r) {
    throw ApiError(Code::kBlobUploadInvalid, "malformed Content-Range \"" + header + "\"", nullptr,
                   416);
  }
  return r;
}

}  // namespace

void Registry::GetBlob(Call& c) {
  const std::string& repo = c.route.name;
  std::string digest = CheckedDigest(c.route.reference);
  if (!storage_.HasBlob(repo, digest) && !(upstream_ && upstream_->FetchBlob(repo, digest))) {
    throw ApiError(Code::kBlobUnknown, "", nlohmann::json{{"digest", digest}});
  }
  std::string path = storage_.BlobPath(digest);
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st;
  if (!fd || fstat(fd.get(), &st) < 0) {
    throw ApiError(Code::kBlobUnknown, "", nlohmann::json{{"digest", digest}});
  }
  uint64_t size = static_cast<uint64_t>(st.st_size);
  c.res.SetHeader("Docker-Content-Digest", digest);
  c.res.SetHeader("ETag", "\"" + digest + "\"");
  c.res.SetHeader("Accept-Ranges", "bytes");
  c.res.SetHeader("Cache-Control", "max-age=31536000");
  ByteRange range;
  switch (ParseRange(c.req.Header("Range"), size, &range)) {
    case RangeKind::kWhole:
      c.res.SendFile(200, fd.get(), 0, size, "application/octet-stream");
      return;
    case RangeKind::kPartial:
      c.res.SetHeader("Content-Range", "bytes " + std::to_string(range.first) + "-" +
                                           std::to_string(range.last) + "/" + std::to_string(size));
      c.res.SendFile(206, fd.get(), range.first, range.length(), "application/octet-stream");
      return;
    case RangeKind::kUnsatisfiable:
      c.res.SetHeader("Content-Range", "bytes */" + std::to_string(size));
      c.res.Send(416, "");
      return;
  }
}

void Registry::DeleteBlob(Call& c) {
  std::string digest = CheckedDigest(c.route.reference);
  if (!config_.delete_enabled) {
    throw ApiError(Code::kUnsupported, "deletion is disabled (storage.delete)");
  }
  if (!storage_.UnlinkBlob(c.route.name, digest)) {
    throw ApiError(Code::kBlobUnknown, "", nlohmann::json{{"digest", digest}});
  }
  c.res.Send(202, "");
}

void Registry::StartUpload(Call& c) {
  const std::string& repo = c.route.name;
  std::optional<std::string> mount = c.req.Query("mount");
  std::optional<std::string> from = c.req.Query("from");
  if (mount && from) {
    std::string digest = CheckedDigest(*mount);
    // Only from a repository the caller may pull from, and only a blob linked there: the
    // shared store is never a way to reach another repository's blobs.
    if (ValidRepositoryName(*from) && Allowed(c, *from, "pull") &&
        storage_.HasBlob(*from, digest)) {
      storage_.LinkBlob(repo, digest);
      BlobCreated(c.res, repo, digest);
      return;
    }
    // Not mountable: an ordinary upload instead, as the spec says.
  }
  std::optional<std::string> digest = c.req.Query("digest");
  if (digest) {
    // Monolithic: the whole blob in the POST.
    std::string id = uploads_.Start(repo);
    BodyReader body = ReaderOf(c.req);
    try {
      uploads_.Finish(repo, id, *digest, &body, c.req.content_length());
    } catch (...) {
      try {
        uploads_.Cancel(repo, id);
      } catch (const ApiError&) {
        // already dropped
      }
      throw;
    }
    BlobCreated(c.res, repo, *digest);
    return;
  }
  std::string id = uploads_.Start(repo);
  c.res.SetHeader("Location", UploadLocation(c.route, id));
  c.res.SetHeader("Range", "0-0");
  c.res.SetHeader("Docker-Upload-UUID", id);
  c.res.Send(202, "");
}

void Registry::UploadStatus(Call& c) {
  uint64_t offset = uploads_.Offset(c.route.name, c.route.reference);
  c.res.SetHeader("Location", UploadLocation(c.route, c.route.reference));
  c.res.SetHeader("Range", UploadRange(offset));
  c.res.SetHeader("Docker-Upload-UUID", c.route.reference);
  c.res.Send(204, "");
}

void Registry::PatchUpload(Call& c) {
  const std::string& id = c.route.reference;
  uint64_t offset;
  try {
    std::optional<ByteRange> range = ContentRangeOf(c.req);
    offset = uploads_.Append(c.route.name, id, ReaderOf(c.req), range, c.req.content_length());
  } catch (const ApiError& e) {
    if (e.status() == 416) {
      // Where the upload stands, so the client can resume from there.
      c.res.SetHeader("Location", UploadLocation(c.route, id));
      c.res.SetHeader("Range", UploadRange(uploads_.Offset(c.route.name, id)));
      c.res.SetHeader("Docker-Upload-UUID", id);
    }
    throw;
  }
  c.res.SetHeader("Location", UploadLocation(c.route, id));
  c.res.SetHeader("Range", UploadRange(offset));
  c.res.SetHeader("Docker-Upload-UUID", id);
  c.res.Send(202, "");
}

void Registry::PutUpload(Call& c) {
  const std::string& repo = c.route.name;
  const std::string& id = c.route.reference;
  std::optional<std::string> digest = c.req.Query("digest");
  if (!digest) {
    throw ApiError(Code::kDigestInvalid, "the digest query parameter is missing");
  }
  if (c.req.has_body()) {
    std::optional<ByteRange> range = ContentRangeOf(c.req);
    uploads_.Append(repo, id, ReaderOf(c.req), range, c.req.content_length());
  }
  uploads_.Finish(repo, id, *digest, nullptr, std::nullopt);
  BlobCreated(c.res, repo, *digest);
}

void Registry::CancelUpload(Call& c) {
  uploads_.Cancel(c.route.name, c.route.reference);
  c.res.Send(204, "");
}

}  // namespace berth::registry
