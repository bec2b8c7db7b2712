#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "base/digest.h"
#include "registry/range.h"
#include "registry/storage.h"

// Blob uploads in progress: ROOT/uploads/<uuid>/data (the bytes so far) and info (the
// repository and start time). Bytes are hashed as they arrive; the hash state lives in memory,
// and an upload found on disk after a restart is hashed again from its data. Finish checks
// the digest, then moves the data into the blob store: a blob never appears unverified.
// Uploads left alone for longer than the expiry are removed by Expire.

namespace berth::registry {

// Reads up to `size` bytes of a request body; 0 at its end. Throws when the client breaks off.
using BodyReader = std::function<size_t(void* buf, size_t size)>;

class Uploads {
 public:
  Uploads(const Storage& storage, std::chrono::seconds expiry, size_t max_uploads);

  // A new upload's id. TOOMANYREQUESTS when max_uploads are in progress.
  std::string Start(std::string_view repo);
  // Bytes received so far. BLOB_UPLOAD_UNKNOWN if there is no such upload in `repo`.
  uint64_t Offset(std::string_view repo, std::string_view id);
  // Appends a chunk. `range` (the PATCH's Content-Range) must start at the upload's offset:
  // else 416 BLOB_UPLOAD_INVALID and nothing is written. A body that breaks off leaves the
  // upload as it was before the chunk. Returns the new offset.
  uint64_t Append(std::string_view repo, std::string_view id, const BodyReader& body,
                  const std::optional<ByteRange>& range, std::optional<uint64_t> content_length);
  // Completes the upload as blob `digest` (after appending `body`, if any): DIGEST_INVALID
  // when the bytes do not hash to it (the upload is then dropped: nothing stored). Links the
  // blob into the repository.
  void Finish(std::string_view repo, std::string_view id, std::string_view digest,
              const BodyReader* body, std::optional<uint64_t> content_length);
  void Cancel(std::string_view repo, std::string_view id);
  // Removes uploads idle for longer than the expiry; returns how many.
  size_t Expire();
  size_t in_progress();

 private:
  struct Upload {
    std::mutex mu;
    std::string repo;
    std::string dir;
    uint64_t offset = 0;
    Sha256 hash;
    bool hash_valid = true;  // false: `hash` does not cover [0, offset) (rehash before use)
    bool gone = false;       // finished or cancelled while a request waited for `mu`
  };
  std::shared_ptr<Upload> Find(std::string_view repo, std::string_view id);
  uint64_t AppendLocked(Upload& u, const BodyReader& body);
  void Rehash(Upload& u);
  void Drop(const std::string& id, Upload& u);

  const Storage& storage_;
  std::string dir_;
  std::chrono::seconds expiry_;
  size_t max_uploads_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Upload>, std::less<>> uploads_;
};

// A fresh random id (UUID v4 text); ValidUploadId says whether text has that form.
std::string NewUploadId();
bool ValidUploadId(std::string_view id);

}  // namespace berth::registry
