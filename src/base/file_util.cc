#include "base/file_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/error.h"
#include "base/fd.h"

namespace berth {

std::optional<std::string> ReadFileIfExists(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) {
      return std::nullopt;
    }
    ThrowErrno("open " + path);
  }
  std::string out;
  char buf[16384];
  while (true) {
    ssize_t n = read(fd.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      ThrowErrno("read " + path);
    }
    if (n == 0) {
      break;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::string ReadFile(const std::string& path) {
  auto content = ReadFileIfExists(path);
  if (!content) {
    throw SysError("open " + path, ENOENT);
  }
  return std::move(*content);
}

namespace {

void WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      ThrowErrno("write " + path);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

}  // namespace

void WriteFileAtomic(const std::string& path, std::string_view data, mode_t mode,
                     Durability durability) {
  // Per thread: two threads of one process may write the same path at once.
  std::string tmp = path + ".tmp-" + std::to_string(gettid());
  UniqueFd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd) {
    ThrowErrno("create " + tmp);
  }
  try {
    WriteAll(fd.get(), data, tmp);
    if (durability == Durability::kDurable && fsync(fd.get()) < 0) {
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
  if (durability == Durability::kVolatile) {
    return;
  }
  std::string dir = path.substr(0, path.rfind('/') == std::string::npos ? 0 : path.rfind('/'));
  UniqueFd dfd(open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd) {
    fsync(dfd.get());
  }
}

void WriteFileOrThrow(const std::string& path, std::string_view data) {
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) {
    ThrowErrno("open " + path);
  }
  ssize_t n = write(fd.get(), data.data(), data.size());
  if (n < 0) {
    ThrowErrno("write " + std::string(data) + " to " + path);
  }
}

void MkdirAll(const std::string& path, mode_t mode) {
  if (path.empty()) {
    return;
  }
  // The common case first: the parent exists, so one mkdir (or one EEXIST) settles it; walk
  // up only when a parent is missing.
  if (mkdir(path.c_str(), mode) < 0) {
    if (errno == ENOENT) {
      size_t slash = path.find_last_not_of('/');
      slash = slash == std::string::npos ? std::string::npos : path.rfind('/', slash);
      if (slash != std::string::npos && slash > 0) {
        MkdirAll(path.substr(0, slash), mode);
      }
      if (mkdir(path.c_str(), mode) < 0 && errno != EEXIST) {
        ThrowErrno("mkdir " + path);
      }
    } else if (errno != EEXIST) {
      ThrowErrno("mkdir " + path);
    }
  }
  struct stat st;
  if (stat(path.c_str(), &st) < 0) {
    ThrowErrno("stat " + path);
  }
  if (!S_ISDIR(st.st_mode)) {
    throw SysError("mkdir " + path, ENOTDIR);
  }
}

namespace {

bool RemoveAt(int dirfd, const char* name, dev_t dev) {
  struct stat st;
  if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
    return errno == ENOENT;
  }
  if (!S_ISDIR(st.st_mode)) {
    return unlinkat(dirfd, name, 0) == 0 || errno == ENOENT;
  }
  if (st.st_dev != dev) {
    return false;  // a mount point: never descend into another filesystem
  }
  int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    return false;
  }
  DIR* dir = fdopendir(fd);
  if (dir == nullptr) {
    close(fd);
    return false;
  }
  bool ok = true;
  while (struct dirent* entry = readdir(dir)) {
    if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) {
      continue;
    }
    ok = RemoveAt(::dirfd(dir), entry->d_name, dev) && ok;
  }
  closedir(dir);
  return (unlinkat(dirfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT) && ok;
}

}  // namespace

bool RemoveAll(const std::string& path) noexcept {
  struct stat st;
  if (lstat(path.c_str(), &st) < 0) {
    return errno == ENOENT;
  }
  return RemoveAt(AT_FDCWD, path.c_str(), st.st_dev);
}

std::string JoinPath(std::string_view a, std::string_view b) {
  std::string out(a);
  while (!out.empty() && out.back() == '/') {
    out.pop_back();
  }
  while (!b.empty() && b.front() == '/') {
    b.remove_prefix(1);
  }
  out += '/';
  out += b;
  return out;
}

namespace {

uint64_t UsageAt(int dir_fd) {
  uint64_t total = 0;
  DIR* d = fdopendir(dup(dir_fd));
  if (d == nullptr) {
    return 0;
  }
  while (struct dirent* e = readdir(d)) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
      continue;
    }
    struct stat st;
    if (fstatat(dir_fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
      continue;
    }
    total += static_cast<uint64_t>(st.st_blocks) * 512;
    if (S_ISDIR(st.st_mode)) {
      UniqueFd sub(openat(dir_fd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (sub) {
        total += UsageAt(sub.get());
      }
    }
  }
  closedir(d);
  return total;
}

}  // namespace

uint64_t DiskUsage(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  return fd ? UsageAt(fd.get()) : 0;
}

}  // namespace berth
