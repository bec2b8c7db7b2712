#include "base/path_in_root.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace berth {
namespace {

constexpr int kMaxDepth = 256;     // directory components on the stack
constexpr int kMaxSymlinks = 40;   // like the kernel's MAXSYMLINKS
constexpr size_t kMaxPath = 4096;  // PATH_MAX

int g_openat2_state = 0;  // 0 unknown, 1 usable, -1 not usable
bool g_openat2_disabled = false;

void CloseAll(int* stack, int depth) {
  for (int i = 0; i < depth; ++i) {
    if (stack[i] >= 0) {
      close(stack[i]);
    }
  }
}

constexpr size_t kTooLong = static_cast<size_t>(-1);

// A fixed-size work buffer holding "what remains to resolve". Symlink targets are spliced in
// front of the remainder.
struct Remaining {
  char buf[kMaxPath * 2];
  size_t pos = 0;  // start of the unresolved part
  size_t len = 0;  // end

  bool Set(std::string_view path) {
    if (path.size() >= sizeof(buf)) {
      return false;
    }
    memcpy(buf, path.data(), path.size());
    pos = 0;
    len = path.size();
    return true;
  }
  // Replaces the consumed prefix with `target` + "/" + rest.
  bool Splice(const char* target, size_t target_len) {
    size_t rest = len - pos;
    if (target_len + 1 + rest >= sizeof(buf)) {
      return false;
    }
    memmove(buf + target_len + 1, buf + pos, rest);
    memcpy(buf, target, target_len);
    buf[target_len] = '/';
    pos = 0;
    len = target_len + 1 + rest;
    return true;
  }
  // Next component into `out`; returns its length, 0 when done.
  size_t Next(char* out, size_t out_size) {
    while (pos < len && buf[pos] == '/') {
      ++pos;
    }
    size_t start = pos;
    while (pos < len && buf[pos] != '/') {
      ++pos;
    }
    size_t n = pos - start;
    if (n >= out_size) {
      return kTooLong;  // never cut a name: a prefix of it may name another file
    }
    memcpy(out, buf + start, n);
    out[n] = '\0';
    return n;
  }
  bool Done() {
    while (pos < len && buf[pos] == '/') {
      ++pos;
    }
    return pos >= len;
  }
};

int ResolveManually(int root_fd, std::string_view path, CreateMode create, mode_t mode) {
  int stack[kMaxDepth];
  int depth = 0;
  int root = openat(root_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) {
    return -errno;
  }
  stack[depth++] = root;
  Remaining rem;
  if (!rem.Set(path)) {
    CloseAll(stack, depth);
    return -ENAMETOOLONG;
  }
  int links = 0;
  char comp[256];
  while (true) {
    size_t n = rem.Next(comp, sizeof(comp));
    if (n == kTooLong) {
      CloseAll(stack, depth);
      return -ENAMETOOLONG;
    }
    if (n == 0) {
      break;
    }
    bool last = rem.Done();
    if (strcmp(comp, ".") == 0) {
      continue;
    }
    if (strcmp(comp, "..") == 0) {
      if (depth > 1) {
        close(stack[--depth]);
      }
      continue;
    }
    int cur = stack[depth - 1];
    int fd = openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create != CreateMode::kNone) {
      int rc;
      if (last && create == CreateMode::kFileLast) {
        int f = openat(cur, comp, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, mode);
        rc = f < 0 ? -1 : close(f);
      } else {
        rc = mkdirat(cur, comp, mode);
      }
      if (rc < 0 && errno != EEXIST) {
        int err = errno;
        CloseAll(stack, depth);
        return -err;
      }
      fd = openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0) {
      int err = errno;
      CloseAll(stack, depth);
      return -err;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
      int err = errno;
      close(fd);
      CloseAll(stack, depth);
      return -err;
    }
    if (S_ISLNK(st.st_mode)) {
      char target[kMaxPath];
      ssize_t tn = readlinkat(fd, "", target, sizeof(target) - 1);
      close(fd);
      if (tn < 0 || ++links > kMaxSymlinks) {
        int err = tn < 0 ? errno : ELOOP;
        CloseAll(stack, depth);
        return -err;
      }
      if (target[0] == '/') {
        while (depth > 1) {
          close(stack[--depth]);
        }
      }
      if (!rem.Splice(target, static_cast<size_t>(tn))) {
        CloseAll(stack, depth);
        return -ENAMETOOLONG;
      }
      continue;
    }
    if (!last && !S_ISDIR(st.st_mode)) {
      close(fd);
      CloseAll(stack, depth);
      return -ENOTDIR;
    }
    if (depth == kMaxDepth) {
      close(fd);
      CloseAll(stack, depth);
      return -ENAMETOOLONG;
    }
    stack[depth++] = fd;
  }
  int result = stack[--depth];
  CloseAll(stack, depth);
  return result;
}

long Openat2(int dirfd, const char* path, int flags, mode_t mode, unsigned long long resolve) {
  struct open_how how;
  memset(&how, 0, sizeof(how));
  how.flags = static_cast<unsigned long long>(flags);
  // O_TMPFILE includes O_DIRECTORY's bit: test it whole, or every O_DIRECTORY open would pass
  // a mode and fail with EINVAL.
  how.mode = ((flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE) ? mode : 0;
  how.resolve = resolve;
  return syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

// openat2 with RESOLVE_IN_ROOT fails with EAGAIN when a ".." was resolved while any mount
// or rename happened on the system (it cannot prove the walk stayed inside): retry a few
// times; the caller falls back to the manual walk if it keeps happening (containers starting
// next door mount all the time).
long Openat2Retrying(int dirfd, const char* path, int flags, mode_t mode) {
  long fd = -1;
  for (int i = 0; i < 8; ++i) {
    fd = Openat2(dirfd, path, flags, mode, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
    if (fd >= 0 || errno != EAGAIN) {
      break;
    }
  }
  return fd;
}

}  // namespace

bool Openat2Supported() noexcept {
  if (g_openat2_disabled) {
    return false;
  }
  if (g_openat2_state == 0) {
    long fd = Openat2(AT_FDCWD, "/", O_PATH | O_CLOEXEC, 0, RESOLVE_IN_ROOT);
    if (fd >= 0) {
      close(static_cast<int>(fd));
      g_openat2_state = 1;
    } else {
      g_openat2_state = -1;
    }
  }
  return g_openat2_state > 0;
}

void SetOpenat2DisabledForTest(bool disabled) noexcept { g_openat2_disabled = disabled; }

int ResolveInRoot(int root_fd, std::string_view path, CreateMode create, mode_t mode) noexcept {
  if (create == CreateMode::kNone && Openat2Supported() && path.size() < kMaxPath) {
    char buf[kMaxPath];
    memcpy(buf, path.data(), path.size());
    buf[path.size()] = '\0';
    long fd = Openat2Retrying(root_fd, buf[0] ? buf : ".", O_PATH | O_CLOEXEC, 0);
    if (fd >= 0 || errno != EAGAIN) {
      return fd < 0 ? -errno : static_cast<int>(fd);
    }
  }
  return ResolveManually(root_fd, path, create, mode);
}

int OpenInRoot(int root_fd, std::string_view path, int flags, mode_t mode) noexcept {
  flags |= O_CLOEXEC;
  if (Openat2Supported() && path.size() < kMaxPath) {
    char buf[kMaxPath];
    memcpy(buf, path.data(), path.size());
    buf[path.size()] = '\0';
    long fd = Openat2Retrying(root_fd, buf, flags, mode);
    if (fd >= 0 || errno != EAGAIN) {
      return fd < 0 ? -errno : static_cast<int>(fd);
    }
  }
  // The fallback: resolve the parent inside the root, then open the last component with
  // the caller's flags (O_CREAT, O_EXCL, O_TRUNC keep their meaning; no parent is created).
  size_t end = path.size();
  while (end > 0 && path[end - 1] == '/') {
    --end;
  }
  size_t slash = end == 0 ? std::string_view::npos : path.rfind('/', end - 1);
  std::string_view parent_path =
      slash == std::string_view::npos ? std::string_view(".") : path.substr(0, slash + 1);
  std::string_view last = slash == std::string_view::npos ? path.substr(0, end)
                                                          : path.substr(slash + 1, end - slash - 1);
  char name[256];
  if (last.size() >= sizeof(name)) {
    return -ENAMETOOLONG;
  }
  memcpy(name, last.data(), last.size());
  name[last.size()] = '\0';
  if (!last.empty() && last != "." && last != "..") {
    int parent = ResolveInRoot(root_fd, parent_path, CreateMode::kNone);
    if (parent < 0) {
      return parent;
    }
    int fd = openat(parent, name, flags | O_NOFOLLOW, mode);
    int err = errno;
    close(parent);
    if (fd >= 0) {
      return fd;
    }
    // A symlink as the last component: ELOOP, or ENOTDIR when O_DIRECTORY was asked for.
    bool maybe_link = err == ELOOP || (err == ENOTDIR && (flags & O_DIRECTORY) != 0);
    if (!maybe_link || (flags & O_NOFOLLOW)) {
      return -err;
    }
    // The last component is a symlink: follow it inside the root, to an existing file.
  }
  int fd = ResolveInRoot(root_fd, path, CreateMode::kNone);
  if (fd < 0) {
    return fd;
  }
  if ((flags & O_CREAT) && (flags & O_EXCL)) {
    close(fd);
    return -EEXIST;
  }
  char proc_path[64];
  snprintf(proc_path, sizeof(proc_path), "/proc/self/fd/%d", fd);
  int out = open(proc_path, flags & ~(O_CREAT | O_EXCL | O_NOFOLLOW), mode);
  int err = errno;
  close(fd);
  return out < 0 ? -err : out;
}

}  // namespace berth
