#include "registry/storage.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <functional>
#include <set>

#include "base/digest.h"
#include "base/error.h"
#include "base/fd.h"
#include "base/file_util.h"
#include "base/log.h"
#include "registry/errors.h"
#include "registry/manifest_check.h"
#include "registry/names.h"

namespace berth::registry {

namespace {

std::string Hex(std::string_view digest) {
  if (!ValidDigest(digest)) {
    throw ApiError(Code::kDigestInvalid, "invalid digest \"" + std::string(digest) + "\"");
  }
  return std::string(digest.substr(7));
}

void FsyncDir(const std::string& dir) {
  UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd) {
    fsync(fd.get());
  }
}

std::string Parent(const std::string& path) { return path.substr(0, path.rfind('/')); }

// Entry names of a directory (none when it does not exist), "." and ".." left out.
std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT || errno == ENOTDIR) {
      return out;
    }
    ThrowErrno("open directory " + dir);
  }
  while (struct dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") {
      out.push_back(std::move(name));
    }
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

bool IsDir(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool Exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

// Removes a file and then its parent directories up to (not including) `stop` while they are
// empty.
void RemoveAndPrune(const std::string& path, const std::string& stop) {
  unlink(path.c_str());
  std::string dir = Parent(path);
  while (dir.size() > stop.size() && rmdir(dir.c_str()) == 0) {
    dir = Parent(dir);
  }
}

}  // namespace

void WriteDurable(const std::string& path, std::string_view data) {
  static std::atomic<uint64_t> counter{0};
  std::string tmp = path + ".tmp-" + std::to_string(getpid()) + "-" + std::to_string(++counter);
  UniqueFd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd && errno == ENOENT) {
    MkdirAll(Parent(path));
    fd.Reset(open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  }
  if (!fd) {
    ThrowErrno("create " + tmp);
  }
  try {
    while (!data.empty()) {
      ssize_t n = write(fd.get(), data.data(), data.size());
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n < 0) {
        ThrowErrno("write " + tmp);
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    if (fsync(fd.get()) < 0) {
      ThrowErrno("fsync " + tmp);
    }
    fd.Reset();
    if (rename(tmp.c_str(), path.c_str()) < 0) {
      ThrowErrno("rename " + tmp + " to " + path);
    }
  } catch (...) {
    unlink(tmp.c_str());
    throw;
  }
  FsyncDir(Parent(path));
}

RootLock::RootLock(const std::string& root) {
  MkdirAll(root, 0700);
  std::string path = root + "/lock";
  fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    ThrowErrno("open " + path);
  }
  if (flock(fd_, LOCK_EX | LOCK_NB) < 0) {
    int err = errno;
    close(fd_);
    if (err == EWOULDBLOCK) {
      ThrowConflict("another berth-registry uses " + root + " (its lock " + path + " is held)");
    }
    throw SysError("lock " + path, err);
  }
}

RootLock::~RootLock() {
  if (fd_ >= 0) {
    close(fd_);
  }
}

Storage::Storage(std::string root) : root_(std::move(root)) {
  MkdirAll(root_ + "/blobs/sha256");
  MkdirAll(root_ + "/repositories");
  MkdirAll(UploadsDir());
}

std::string Storage::RepoDir(std::string_view repo) const {
  if (!ValidRepositoryName(repo)) {
    throw ApiError(Code::kNameInvalid, "invalid repository name",
                   nlohmann::json{{"name", std::string(repo)}});
  }
  return root_ + "/repositories/" + std::string(repo);
}

std::string Storage::BlobPath(std::string_view digest) const {
  return root_ + "/blobs/sha256/" + Hex(digest);
}

std::optional<uint64_t> Storage::BlobSize(std::string_view digest) const {
  struct stat st;
  if (stat(BlobPath(digest).c_str(), &st) < 0) {
    return std::nullopt;
  }
  return static_cast<uint64_t>(st.st_size);
}

void Storage::CommitBlob(const std::string& file, std::string_view digest) const {
  std::string dest = BlobPath(digest);
  {
    UniqueFd fd(open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd || fsync(fd.get()) < 0) {
      ThrowErrno("fsync " + file);
    }
  }
  if (Exists(dest)) {
    unlink(file.c_str());
    return;
  }
  if (rename(file.c_str(), dest.c_str()) < 0) {
    ThrowErrno("rename " + file + " to " + dest);
  }
  FsyncDir(Parent(dest));
}

std::string Storage::PutBlob(std::string_view bytes) const {
  std::string digest = Sha256Digest(bytes);
  std::string dest = BlobPath(digest);
  if (!Exists(dest)) {
    WriteDurable(dest, bytes);
  }
  return digest;
}

std::string Storage::ReadBlob(std::string_view digest, uint64_t max_size) const {
  std::optional<uint64_t> size = BlobSize(digest);
  if (!size) {
    throw ApiError(Code::kBlobUnknown, "", nlohmann::json{{"digest", std::string(digest)}});
  }
  if (*size > max_size) {
    ThrowInvalid("blob " + std::string(digest) + " is larger than " + std::to_string(max_size));
  }
  return ReadFile(BlobPath(digest));
}

bool Storage::RepositoryExists(std::string_view repo) const {
  std::string dir = RepoDir(repo);
  return IsDir(dir + "/_layers") || IsDir(dir + "/_manifests");
}

std::vector<std::string> Storage::Repositories() const {
  std::vector<std::string> out;
  std::function<void(const std::string&, const std::string&)> walk =
      [&](const std::string& dir, const std::string& prefix) {
        std::vector<std::string> entries = ListDir(dir);
        if (std::binary_search(entries.begin(), entries.end(), "_layers") ||
            std::binary_search(entries.begin(), entries.end(), "_manifests")) {
          out.push_back(prefix);
        }
        for (const std::string& e : entries) {
          if (e.empty() || e[0] == '_' || e.find(".tmp-") != std::string::npos) {
            continue;  // the repository's own data, not a nested repository
          }
          std::string path = dir + "/" + e;
          if (IsDir(path)) {
            walk(path, prefix.empty() ? e : prefix + "/" + e);
          }
        }
      };
  walk(root_ + "/repositories", "");
  std::sort(out.begin(), out.end());
  return out;
}

bool Storage::HasBlob(std::string_view repo, std::string_view digest) const {
  return Exists(RepoDir(repo) + "/_layers/sha256/" + Hex(digest)) && BlobSize(digest);
}

void Storage::LinkBlob(std::string_view repo, std::string_view digest) const {
  std::string link = RepoDir(repo) + "/_layers/sha256/" + Hex(digest);
  if (!Exists(link)) {
    WriteDurable(link, "");
  }
}

bool Storage::UnlinkBlob(std::string_view repo, std::string_view digest) const {
  std::string link = RepoDir(repo) + "/_layers/sha256/" + Hex(digest);
  if (unlink(link.c_str()) < 0) {
    return false;
  }
  FsyncDir(Parent(link));
  return true;
}

std::optional<std::string> Storage::ResolveTag(std::string_view repo, std::string_view tag) const {
  if (!ValidTag(tag)) {
    return std::nullopt;
  }
  std::optional<std::string> digest =
      ReadFileIfExists(RepoDir(repo) + "/_manifests/tags/" + std::string(tag));
  if (!digest || !ValidDigest(*digest)) {
    return std::nullopt;
  }
  return digest;
}

std::optional<ManifestRecord> Storage::FindManifest(std::string_view repo,
                                                    std::string_view digest) const {
  std::optional<std::string> media_type =
      ReadFileIfExists(RepoDir(repo) + "/_manifests/revisions/sha256/" + Hex(digest));
  if (!media_type) {
    return std::nullopt;
  }
  std::optional<uint64_t> size = BlobSize(digest);
  if (!size) {
    return std::nullopt;
  }
  return ManifestRecord{std::string(digest), std::move(*media_type), *size};
}

void Storage::LinkManifest(std::string_view repo, std::string_view digest,
                           std::string_view media_type) const {
  WriteDurable(RepoDir(repo) + "/_manifests/revisions/sha256/" + Hex(digest), media_type);
}

void Storage::Tag(std::string_view repo, std::string_view tag, std::string_view digest) const {
  WriteDurable(RepoDir(repo) + "/_manifests/tags/" + std::string(tag), digest);
}

bool Storage::Untag(std::string_view repo, std::string_view tag) const {
  std::string path = RepoDir(repo) + "/_manifests/tags/" + std::string(tag);
  if (!ValidTag(tag) || unlink(path.c_str()) < 0) {
    return false;
  }
  FsyncDir(Parent(path));
  return true;
}

bool Storage::DeleteManifest(std::string_view repo, std::string_view digest) const {
  std::string dir = RepoDir(repo);
  std::string rev = dir + "/_manifests/revisions/sha256/" + Hex(digest);
  if (!Exists(rev)) {
    return false;
  }
  for (const std::string& tag : Tags(repo)) {
    if (ResolveTag(repo, tag) == std::string(digest)) {
      Untag(repo, tag);
    }
  }
  if (unlink(rev.c_str()) < 0) {
    ThrowErrno("remove " + rev);
  }
  FsyncDir(Parent(rev));
  return true;
}

std::vector<std::string> Storage::Tags(std::string_view repo) const {
  std::vector<std::string> out;
  for (std::string& name : ListDir(RepoDir(repo) + "/_manifests/tags")) {
    if (ValidTag(name)) {  // not a temp file of a write under way
      out.push_back(std::move(name));
    }
  }
  return out;
}

void Storage::AddReferrer(std::string_view repo, std::string_view subject,
                          const nlohmann::json& descriptor) const {
  std::string digest = descriptor.at("digest").get<std::string>();
  WriteDurable(RepoDir(repo) + "/_referrers/sha256/" + Hex(subject) + "/" + Hex(digest),
               descriptor.dump());
}

void Storage::RemoveReferrer(std::string_view repo, std::string_view subject,
                             std::string_view digest) const {
  std::string base = RepoDir(repo) + "/_referrers";
  RemoveAndPrune(base + "/sha256/" + Hex(subject) + "/" + Hex(digest), base);
}

std::vector<nlohmann::json> Storage::Referrers(std::string_view repo,
                                               std::string_view subject) const {
  std::vector<nlohmann::json> out;
  std::string dir = RepoDir(repo) + "/_referrers/sha256/" + Hex(subject);
  for (const std::string& name : ListDir(dir)) {
    if (name.size() != 64 || !FindManifest(repo, "sha256:" + name)) {
      continue;  // a temp file, or a referrer deleted since
    }
    std::optional<std::string> text = ReadFileIfExists(dir + "/" + name);
    nlohmann::json d =
        text ? nlohmann::json::parse(*text, nullptr, false) : nlohmann::json(nullptr);
    if (d.is_object()) {
      out.push_back(std::move(d));
    }
  }
  return out;
}

GcResult Storage::CollectGarbage(bool dry_run) const {
  GcResult result;
  std::set<std::string> marked;
  // Mark: every manifest revision of every repository, and what it refers to.
  for (const std::string& repo : Repositories()) {
    std::string revisions = RepoDir(repo) + "/_manifests/revisions/sha256";
    for (const std::string& hex : ListDir(revisions)) {
      if (hex.size() != 64) {
        continue;
      }
      std::string digest = "sha256:" + hex;
      if (!BlobSize(digest)) {
        continue;
      }
      marked.insert(digest);
      std::string media_type = ReadFileIfExists(revisions + "/" + hex).value_or("");
      try {
        ManifestInfo info = CheckManifest(ReadBlob(digest, kMaxManifestSize), media_type);
        for (const RefDescriptor& d : info.blobs) {
          marked.insert(d.digest);
        }
        for (const RefDescriptor& d : info.manifests) {
          marked.insert(d.digest);
        }
      } catch (const std::exception& e) {
        // Kept as it is: a manifest the registry accepted once must not lose its blobs to a
        // parser that changed its mind.
        log::Warn("gc: " + repo + "@" + digest + ": " + e.what() + " (its blobs are kept)");
        for (const std::string& h : ListDir(RepoDir(repo) + "/_layers/sha256")) {
          marked.insert("sha256:" + h);
        }
      }
    }
  }
  // Sweep: blobs nothing marked.
  std::string blobs = root_ + "/blobs/sha256";
  for (const std::string& hex : ListDir(blobs)) {
    std::string digest = "sha256:" + hex;
    if (marked.count(digest)) {
      ++result.blobs_kept;
      continue;
    }
    struct stat st;
    std::string path = blobs + "/" + hex;
    if (stat(path.c_str(), &st) == 0) {
      result.bytes_freed += static_cast<uint64_t>(st.st_size);
    }
    ++result.blobs_removed;
    if (!dry_run) {
      unlink(path.c_str());
    }
  }
  // Links to blobs that are gone now.
  for (const std::string& repo : Repositories()) {
    std::string layers = RepoDir(repo) + "/_layers/sha256";
    for (const std::string& hex : ListDir(layers)) {
      if (hex.size() == 64 && !marked.count("sha256:" + hex)) {
        ++result.links_removed;
        if (!dry_run) {
          unlink((layers + "/" + hex).c_str());
        }
      }
    }
  }
  if (!dry_run) {
    FsyncDir(blobs);
  }
  return result;
}

}  // namespace berth::registry
