#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/digest.h"
#include "base/fd.h"

// The content-addressed blob store (containerd's content store, on disk as DESIGN.md says):
// <root>/blobs/sha256/<hex>. A blob only ever appears under its digest once its bytes were
// hashed, checked and fsynced: writes go to <root>/ingest/ and are renamed into place.
namespace berth::image {

class ContentStore {
 public:
  explicit ContentStore(std::string root);

  // A streaming write: bytes are hashed as they are written. Commit checks the digest and
  // size if given, fsyncs, and renames the blob into place (a blob already present is kept
  // and the new copy dropped). A writer destroyed without Commit leaves nothing behind.
  class Writer {
   public:
    Writer(Writer&&) noexcept;
    Writer& operator=(Writer&&) = delete;
    ~Writer();
    // kDeferred: Commit neither fsyncs the blob nor its directory; the caller calls
    // SyncAll() before anything durable refers to the blob (one flush for a whole load
    // instead of one wait per blob).
    enum class Sync { kNow, kDeferred };
    void set_sync(Sync sync) { sync_ = sync; }
    void Write(const void* data, size_t size);
    void Write(std::string_view data) { Write(data.data(), data.size()); }
    uint64_t size() const { return size_; }
    // Returns the blob's digest. Throws kInvalidArgument on a digest or size mismatch (the
    // store is then exactly as before).
    std::string Commit(std::string_view expected_digest = {},
                       std::optional<uint64_t> expected_size = std::nullopt);
    // After Commit: whether the blob is new (false: the store had it already).
    bool created() const { return created_; }

   private:
    friend class ContentStore;
    Writer(const ContentStore* store, std::string temp, UniqueFd fd);
    void Discard() noexcept;
    const ContentStore* store_;
    std::string temp_;
    UniqueFd fd_;
    Sha256 hash_;
    uint64_t size_ = 0;
    bool created_ = false;
    Sync sync_ = Sync::kNow;
  };

  Writer Ingest() const;
  // Ingest of a whole buffer.
  std::string Put(std::string_view data, std::string_view expected_digest = {}) const;

  bool Has(std::string_view digest) const;
  // Where the blob lives (whether it exists or not). Throws kInvalidArgument for anything
  // that is not a well-formed sha256 digest, so no digest can name a path outside the store.
  std::string PathOf(std::string_view digest) const;
  // The blob's bytes (kNotFound if absent; kInvalidArgument if larger than max_size).
  std::string Read(std::string_view digest, uint64_t max_size = 64 << 20) const;
  std::optional<uint64_t> Size(std::string_view digest) const;
  // Hashes the blob again: false if its bytes no longer match its name.
  bool Verify(std::string_view digest) const;
  // Every blob's digest, sorted.
  std::vector<std::string> List() const;
  // Flushes everything written to the store's filesystem (syncfs), deferred blobs included.
  void SyncAll() const;
  // Removes a blob (absent is fine).
  void Delete(std::string_view digest) const;
  // Garbage collection: removes every blob not in `keep` (the caller walks its images to
  // find what is referenced) and any leftover of an interrupted ingest. Returns the bytes
  // freed.
  uint64_t Prune(const std::set<std::string>& keep) const;

  const std::string& root() const { return root_; }

 private:
  std::string root_;
  std::string blobs_;   // root/blobs/sha256
  std::string ingest_;  // root/ingest
};

}  // namespace berth::image
