#include "image/content_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "base/error.h"
#include "base/file_util.h"
#include "image/reference.h"

namespace berth::image {
namespace {

constexpr std::string_view kSha256Prefix = "sha256:";

void FsyncDir(const std::string& dir) {
  UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd || fsync(fd.get()) < 0) {
    ThrowErrno("fsync " + dir);
  }
}

std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) {
      return out;
    }
    ThrowErrno("open " + dir);
  }
  while (struct dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') {
      out.emplace_back(e->d_name);
    }
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

ContentStore::ContentStore(std::string root)
    : root_(std::move(root)), blobs_(root_ + "/blobs/sha256"), ingest_(root_ + "/ingest") {
  MkdirAll(blobs_, 0700);
  MkdirAll(ingest_, 0700);
}

std::string ContentStore::PathOf(std::string_view digest) const {
  if (digest.substr(0, kSha256Prefix.size()) != kSha256Prefix || !IsValidDigest(digest)) {
    ThrowInvalid("invalid digest \"" + std::string(digest) + "\" (want sha256:<64 hex>)");
  }
  return blobs_ + "/" + std::string(digest.substr(kSha256Prefix.size()));
}

bool ContentStore::Has(std::string_view digest) const {
  return access(PathOf(digest).c_str(), F_OK) == 0;
}

std::optional<uint64_t> ContentStore::Size(std::string_view digest) const {
  struct stat st;
  if (stat(PathOf(digest).c_str(), &st) < 0) {
    return std::nullopt;
  }
  return static_cast<uint64_t>(st.st_size);
}

std::string ContentStore::Read(std::string_view digest, uint64_t max_size) const {
  std::string path = PathOf(digest);
  auto size = Size(digest);
  if (!size) {
    ThrowNotFound("blob " + std::string(digest) + " is not in the content store");
  }
  if (*size > max_size) {
    ThrowInvalid("blob " + std::string(digest) + " is " + std::to_string(*size) +
                 " bytes, more than the " + std::to_string(max_size) + " allowed here");
  }
  return ReadFile(path);
}

bool ContentStore::Verify(std::string_view digest) const {
  UniqueFd fd(open(PathOf(digest).c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    ThrowErrno("open blob " + std::string(digest));
  }
  Sha256 h;
  char buf[1 << 16];
  ssize_t n;
  while ((n = read(fd.get(), buf, sizeof(buf))) != 0) {
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      ThrowErrno("read blob " + std::string(digest));
    }
    h.Update(buf, static_cast<size_t>(n));
  }
  return h.Digest() == digest;
}

std::vector<std::string> ContentStore::List() const {
  std::vector<std::string> out;
  for (const auto& name : Entries(blobs_)) {
    std::string digest = std::string(kSha256Prefix) + name;
    if (IsValidDigest(digest)) {
      out.push_back(digest);
    }
  }
  return out;
}

void ContentStore::Delete(std::string_view digest) const {
  std::string path = PathOf(digest);
  if (unlink(path.c_str()) < 0 && errno != ENOENT) {
    ThrowErrno("remove blob " + std::string(digest));
  }
}

uint64_t ContentStore::Prune(const std::set<std::string>& keep) const {
  uint64_t freed = 0;
  for (const auto& digest : List()) {
    if (keep.count(digest)) {
      continue;
    }
    freed += Size(digest).value_or(0);
    Delete(digest);
  }
  for (const auto& name : Entries(ingest_)) {
    std::string path = ingest_ + "/" + name;
    struct stat st;
    if (stat(path.c_str(), &st) == 0) {
      freed += static_cast<uint64_t>(st.st_size);
    }
    unlink(path.c_str());
  }
  FsyncDir(blobs_);
  return freed;
}

ContentStore::Writer ContentStore::Ingest() const {
  std::string temp = ingest_ + "/blob-XXXXXX";
  int fd = mkostemp(temp.data(), O_CLOEXEC);
  if (fd < 0) {
    ThrowErrno("create a file in " + ingest_);
  }
  return Writer(this, std::move(temp), UniqueFd(fd));
}

std::string ContentStore::Put(std::string_view data, std::string_view expected_digest) const {
  Writer w = Ingest();
  w.Write(data);
  return w.Commit(expected_digest, data.size());
}

ContentStore::Writer::Writer(const ContentStore* store, std::string temp, UniqueFd fd)
    : store_(store), temp_(std::move(temp)), fd_(std::move(fd)) {}

ContentStore::Writer::Writer(Writer&& other) noexcept
    : store_(other.store_),
      temp_(std::move(other.temp_)),
      fd_(std::move(other.fd_)),
      hash_(std::move(other.hash_)),
      size_(other.size_),
      created_(other.created_),
      sync_(other.sync_) {
  other.temp_.clear();
}

ContentStore::Writer::~Writer() { Discard(); }

void ContentStore::Writer::Discard() noexcept {
  fd_.Reset();
  if (!temp_.empty()) {
    unlink(temp_.c_str());
    temp_.clear();
  }
}

void ContentStore::Writer::Write(const void* data, size_t size) {
  if (!fd_) {
    throw Error(Kind::kInternal, "content store: write after commit");
  }
  hash_.Update(data, size);
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = write(fd_.get(), p, size);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      ThrowErrno("write " + temp_);
    }
    p += n;
    size -= static_cast<size_t>(n);
    size_ += static_cast<uint64_t>(n);
  }
}

std::string ContentStore::Writer::Commit(std::string_view expected_digest,
                                         std::optional<uint64_t> expected_size) {
  if (!fd_) {
    throw Error(Kind::kInternal, "content store: commit twice");
  }
  std::string digest = hash_.Digest();
  try {
    if (expected_size && *expected_size != size_) {
      ThrowInvalid(
          "size mismatch for " + (expected_digest.empty() ? digest : std::string(expected_digest)) +
          ": expected " + std::to_string(*expected_size) + " bytes, got " + std::to_string(size_));
    }
    if (!expected_digest.empty() && expected_digest != digest) {
      store_->PathOf(expected_digest);  // a malformed expectation says so
      ThrowInvalid("digest mismatch: expected " + std::string(expected_digest) + ", got " + digest);
    }
    std::string path = store_->PathOf(digest);
    if (access(path.c_str(), F_OK) == 0) {
      Discard();  // already there: content-addressed, so the same bytes
      return digest;
    }
    if (sync_ == Sync::kNow && fsync(fd_.get()) < 0) {
      ThrowErrno("fsync " + temp_);
    }
    if (fchmod(fd_.get(), 0444) < 0) {
      ThrowErrno("chmod " + temp_);
    }
    fd_.Reset();
    if (rename(temp_.c_str(), path.c_str()) < 0) {
      ThrowErrno("rename " + temp_ + " to " + path);
    }
    temp_.clear();
    if (sync_ == Sync::kNow) {
      FsyncDir(store_->blobs_);
    }
    created_ = true;
  } catch (...) {
    Discard();
    throw;
  }
  return digest;
}

void ContentStore::SyncAll() const {
  UniqueFd fd(open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd || syncfs(fd.get()) < 0) {
    ThrowErrno("sync " + root_);
  }
}

}  // namespace berth::image
