#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

// The registry's disk: one content-addressed blob store shared by every repository, and per
// repository only links to it (distribution's layout, simplified):
//
//   ROOT/blobs/sha256/<hex>                                  bytes, verified before the rename
//   ROOT/repositories/<name>/_layers/sha256/<hex>            link: the blob is in this repo
//   ROOT/repositories/<name>/_manifests/revisions/sha256/<hex>   link: its content is the
//                                                            manifest's media type
//   ROOT/repositories/<name>/_manifests/tags/<tag>           the digest the tag names
//   ROOT/repositories/<name>/_referrers/sha256/<subject-hex>/<hex>   the referrer's descriptor
//   ROOT/uploads/<uuid>/{data,info}                          uploads in progress (uploads.h)
//
// Names and tags reach here validated (names.h), so a path built from them stays in the root.
// Every file written is temp + fsync + rename + fsync of the directory.

namespace berth::registry {

struct ManifestRecord {
  std::string digest;
  std::string media_type;
  uint64_t size = 0;
};

struct GcResult {
  size_t blobs_removed = 0;
  uint64_t bytes_freed = 0;
  size_t links_removed = 0;
  size_t blobs_kept = 0;
};

class Storage {
 public:
  explicit Storage(std::string root);

  const std::string& root() const { return root_; }
  std::string UploadsDir() const { return root_ + "/uploads"; }

  // --- blobs, shared by all repositories
  std::string BlobPath(std::string_view digest) const;
  std::optional<uint64_t> BlobSize(std::string_view digest) const;
  // Moves `file`, whose bytes the caller hashed to `digest`, into the store (fsynced first; a
  // blob already there is kept and `file` removed).
  void CommitBlob(const std::string& file, std::string_view digest) const;
  // Stores bytes in memory as a blob; returns the digest.
  std::string PutBlob(std::string_view bytes) const;
  std::string ReadBlob(std::string_view digest, uint64_t max_size) const;

  // --- repositories
  bool RepositoryExists(std::string_view repo) const;
  // Sorted, every repository with a link of any kind.
  std::vector<std::string> Repositories() const;
  // The blob is linked into `repo` and present in the store.
  bool HasBlob(std::string_view repo, std::string_view digest) const;
  void LinkBlob(std::string_view repo, std::string_view digest) const;
  bool UnlinkBlob(std::string_view repo, std::string_view digest) const;

  // --- manifests and tags
  std::optional<std::string> ResolveTag(std::string_view repo, std::string_view tag) const;
  std::optional<ManifestRecord> FindManifest(std::string_view repo, std::string_view digest) const;
  void LinkManifest(std::string_view repo, std::string_view digest,
                    std::string_view media_type) const;
  void Tag(std::string_view repo, std::string_view tag, std::string_view digest) const;
  bool Untag(std::string_view repo, std::string_view tag) const;
  // Removes the revision link and every tag naming it; false when the repo has no such
  // manifest. The bytes stay until garbage collection.
  bool DeleteManifest(std::string_view repo, std::string_view digest) const;
  std::vector<std::string> Tags(std::string_view repo) const;  // sorted

  // --- referrers (manifests whose subject is `subject`)
  void AddReferrer(std::string_view repo, std::string_view subject,
                   const nlohmann::json& descriptor) const;
  void RemoveReferrer(std::string_view repo, std::string_view subject,
                      std::string_view digest) const;
  std::vector<nlohmann::json> Referrers(std::string_view repo, std::string_view subject) const;

  // Mark (every blob a manifest of any repository refers to, and the manifests) and sweep
  // (the other blobs, and links to blobs that are gone). Only while no server writes to this
  // root: the caller holds the root's lock.
  GcResult CollectGarbage(bool dry_run) const;

 private:
  std::string RepoDir(std::string_view repo) const;
  std::string root_;
};

// Writes data to `path` through a temp file of a name unique in the process (two threads may
// write one tag at once), fsyncs it, renames it into place and fsyncs the directory.
void WriteDurable(const std::string& path, std::string_view data);

// Exclusive lock on ROOT/lock (flock): a serving registry holds it for its lifetime, gc takes
// it to know no server writes. Throws kConflict when another process holds it.
class RootLock {
 public:
  explicit RootLock(const std::string& root);
  ~RootLock();
  RootLock(const RootLock&) = delete;
  RootLock& operator=(const RootLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace berth::registry
