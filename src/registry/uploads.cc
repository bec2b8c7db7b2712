#include "registry/uploads.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/fd.h"
#include "base/file_util.h"
#include "base/log.h"
#include "registry/errors.h"
#include "registry/names.h"

namespace berth::registry {

namespace {

constexpr size_t kBufSize = 256 << 10;

ApiError Unknown(std::string_view id) {
  return ApiError(Code::kBlobUploadUnknown, "", nlohmann::json{{"uuid", std::string(id)}});
}

void WriteAll(int fd, const char* data, size_t size, const std::string& path) {
  while (size > 0) {
    ssize_t n = write(fd, data, size);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      ThrowErrno("write " + path);
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
}

}  // namespace

std::string NewUploadId() {
  uint8_t b[16];
  if (getrandom(b, sizeof(b), 0) != static_cast<ssize_t>(sizeof(b))) {
    ThrowErrno("getrandom");
  }
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) {
      out += '-';
    }
    out += kHex[b[i] >> 4];
    out += kHex[b[i] & 15];
  }
  return out;
}

bool ValidUploadId(std::string_view id) {
  if (id.size() != 36) {
    return false;
  }
  for (size_t i = 0; i < id.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    char c = id[i];
    if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

Uploads::Uploads(const Storage& storage, std::chrono::seconds expiry, size_t max_uploads)
    : storage_(storage), dir_(storage.UploadsDir()), expiry_(expiry), max_uploads_(max_uploads) {}

size_t Uploads::in_progress() {
  std::lock_guard lock(mu_);
  return uploads_.size();
}

std::string Uploads::Start(std::string_view repo) {
  {
    std::lock_guard lock(mu_);
    if (uploads_.size() >= max_uploads_) {
      throw ApiError(Code::kTooManyRequests,
                     "too many uploads in progress (" + std::to_string(max_uploads_) + ")");
    }
  }
  std::string id = NewUploadId();
  auto u = std::make_shared<Upload>();
  u->repo = std::string(repo);
  u->dir = dir_ + "/" + id;
  MkdirAll(u->dir, 0700);
  {
    UniqueFd fd(open((u->dir + "/data").c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!fd) {
      ThrowErrno("create " + u->dir + "/data");
    }
  }
  // The info file need not survive a power loss: an upload is only resumable while the server
  // runs, and one whose info is lost is removed by the expiry.
  WriteFileAtomic(u->dir + "/info",
                  nlohmann::json{{"repository", u->repo}, {"started", time(nullptr)}}.dump(), 0600,
                  Durability::kVolatile);
  std::lock_guard lock(mu_);
  uploads_[id] = std::move(u);
  return id;
}

std::shared_ptr<Uploads::Upload> Uploads::Find(std::string_view repo, std::string_view id) {
  if (!ValidUploadId(id)) {
    throw Unknown(id);
  }
  std::lock_guard lock(mu_);
  auto it = uploads_.find(id);
  if (it != uploads_.end()) {
    if (it->second->repo != repo) {
      throw Unknown(id);
    }
    return it->second;
  }
  // Started before a restart: known from its info file, hashed again when next used.
  std::string dir = dir_ + "/" + std::string(id);
  std::optional<std::string> info = ReadFileIfExists(dir + "/info");
  struct stat st;
  if (!info || stat((dir + "/data").c_str(), &st) < 0) {
    throw Unknown(id);
  }
  nlohmann::json j = nlohmann::json::parse(*info, nullptr, false);
  if (!j.is_object() || j.value("repository", "") != repo) {
    throw Unknown(id);
  }
  auto u = std::make_shared<Upload>();
  u->repo = std::string(repo);
  u->dir = dir;
  u->offset = static_cast<uint64_t>(st.st_size);
  u->hash_valid = u->offset == 0;
  uploads_[std::string(id)] = u;
  return u;
}

uint64_t Uploads::Offset(std::string_view repo, std::string_view id) {
  std::shared_ptr<Upload> u = Find(repo, id);
  std::lock_guard lock(u->mu);
  if (u->gone) {
    throw Unknown(id);
  }
  return u->offset;
}

void Uploads::Rehash(Upload& u) {
  std::string path = u.dir + "/data";
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    ThrowErrno("open " + path);
  }
  u.hash = Sha256();
  std::string buf(kBufSize, '\0');
  uint64_t done = 0;
  while (done < u.offset) {
    ssize_t n = read(fd.get(), buf.data(), std::min<uint64_t>(buf.size(), u.offset - done));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      ThrowErrno("read " + path);
    }
    u.hash.Update(buf.data(), static_cast<size_t>(n));
    done += static_cast<uint64_t>(n);
  }
  u.hash_valid = true;
}

uint64_t Uploads::AppendLocked(Upload& u, const BodyReader& body) {
  if (!u.hash_valid) {
    Rehash(u);
  }
  std::string path = u.dir + "/data";
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) {
    ThrowErrno("open " + path);
  }
  if (lseek(fd.get(), static_cast<off_t>(u.offset), SEEK_SET) < 0) {
    ThrowErrno("seek " + path);
  }
  uint64_t start = u.offset;
  std::unique_ptr<char[]> buf(new char[kBufSize]);
  try {
    while (size_t n = body(buf.get(), kBufSize)) {
      WriteAll(fd.get(), buf.get(), n, path);
      u.hash.Update(buf.get(), n);
      u.offset += n;
    }
  } catch (const std::exception& e) {
    // Back to where the chunk started, so that the client can send it again.
    if (ftruncate(fd.get(), static_cast<off_t>(start)) < 0) {
      log::Warn("truncate " + path + ": " + strerror(errno));
    }
    u.offset = start;
    u.hash_valid = false;
    if (dynamic_cast<const ApiError*>(&e)) {
      throw;
    }
    throw ApiError(Code::kBlobUploadInvalid,
                   std::string("blob upload invalid: the chunk broke off: ") + e.what());
  }
  return u.offset - start;
}

uint64_t Uploads::Append(std::string_view repo, std::string_view id, const BodyReader& body,
                         const std::optional<ByteRange>& range,
                         std::optional<uint64_t> content_length) {
  std::shared_ptr<Upload> u = Find(repo, id);
  std::lock_guard lock(u->mu);
  if (u->gone) {
    throw Unknown(id);
  }
  switch (CheckChunk(range, content_length, u->offset)) {
    case ChunkCheck::kOutOfOrder:
      throw ApiError(Code::kBlobUploadInvalid,
                     "chunk out of order: the upload is at byte " + std::to_string(u->offset),
                     nlohmann::json{{"offset", u->offset}}, 416);
    case ChunkCheck::kLengthMismatch:
      throw ApiError(Code::kSizeInvalid, "Content-Range and Content-Length disagree");
    case ChunkCheck::kOk:
      break;
  }
  uint64_t before = u->offset;
  uint64_t got = AppendLocked(*u, body);
  if (range && got != range->length()) {
    // Fewer bytes than the range announced: the chunk is not what the client meant.
    std::string path = u->dir + "/data";
    if (truncate(path.c_str(), static_cast<off_t>(before)) < 0) {
      ThrowErrno("truncate " + path);
    }
    u->offset = before;
    u->hash_valid = false;
    throw ApiError(Code::kSizeInvalid, "the chunk has " + std::to_string(got) +
                                           " bytes, its Content-Range says " +
                                           std::to_string(range->length()));
  }
  return u->offset;
}

void Uploads::Drop(const std::string& id, Upload& u) {
  u.gone = true;
  RemoveAll(u.dir);
  std::lock_guard lock(mu_);
  uploads_.erase(id);
}

void Uploads::Finish(std::string_view repo, std::string_view id, std::string_view digest,
                     const BodyReader* body, std::optional<uint64_t> content_length) {
  std::shared_ptr<Upload> u = Find(repo, id);
  std::lock_guard lock(u->mu);
  if (u->gone) {
    throw Unknown(id);
  }
  std::string key(id);
  if (!ValidDigest(digest)) {
    Drop(key, *u);
    throw ApiError(Code::kDigestInvalid,
                   LooksLikeDigest(digest) ? "unsupported digest algorithm" : "invalid digest",
                   nlohmann::json{{"digest", std::string(digest)}});
  }
  if (body != nullptr) {
    uint64_t got = AppendLocked(*u, *body);
    if (content_length && got != *content_length) {
      Drop(key, *u);
      throw ApiError(Code::kSizeInvalid);
    }
  }
  if (!u->hash_valid) {
    Rehash(*u);
  }
  std::string actual = u->hash.Digest();
  if (actual != digest) {
    Drop(key, *u);
    throw ApiError(Code::kDigestInvalid, "",
                   nlohmann::json{{"digest", std::string(digest)}, {"computed", actual}});
  }
  storage_.CommitBlob(u->dir + "/data", digest);
  storage_.LinkBlob(repo, digest);
  Drop(key, *u);
}

void Uploads::Cancel(std::string_view repo, std::string_view id) {
  std::shared_ptr<Upload> u = Find(repo, id);
  std::lock_guard lock(u->mu);
  if (u->gone) {
    throw Unknown(id);
  }
  Drop(std::string(id), *u);
}

size_t Uploads::Expire() {
  size_t removed = 0;
  time_t now = time(nullptr);
  std::vector<std::string> ids;
  if (DIR* d = opendir(dir_.c_str())) {
    while (struct dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') {
        ids.emplace_back(e->d_name);
      }
    }
    closedir(d);
  }
  for (const std::string& id : ids) {
    std::string dir = dir_ + "/" + id;
    struct stat st;
    // Idle since the last byte (data) or since it was started (the directory).
    if (stat((dir + "/data").c_str(), &st) < 0 && stat(dir.c_str(), &st) < 0) {
      continue;
    }
    if (now - st.st_mtime < expiry_.count()) {
      continue;
    }
    std::shared_ptr<Upload> u;
    {
      std::lock_guard lock(mu_);
      auto it = uploads_.find(id);
      if (it != uploads_.end()) {
        u = it->second;
      }
    }
    if (u) {
      std::unique_lock lock(u->mu, std::try_to_lock);
      if (!lock.owns_lock() || u->gone) {
        continue;  // a request is writing to it right now: not abandoned
      }
      Drop(id, *u);
    } else {
      RemoveAll(dir);
    }
    ++removed;
  }
  return removed;
}

}  // namespace berth::registry
