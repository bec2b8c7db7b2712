#include "engine/container_changes.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "base/error.h"
#include "base/fd.h"
#include "base/path_in_root.h"

namespace berth::engine {
namespace {

bool IsWhiteout(const struct stat& st) {
  return S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0);
}

std::vector<std::string> Children(int dir_fd) {
  std::vector<std::string> out;
  DIR* d = fdopendir(dup(dir_fd));
  if (d == nullptr) ThrowErrno("diff: list a directory");
  while (struct dirent* e = readdir(d)) {
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) out.emplace_back(e->d_name);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

class Walker {
 public:
  explicit Walker(const std::vector<std::string>& lowers) {
    for (const std::string& dir : lowers) {
      UniqueFd fd(open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
      if (!fd) ThrowErrno("diff: open layer " + dir);
      lowers_.push_back(std::move(fd));
    }
  }

  void Dir(int dir_fd, const std::string& prefix, bool in_lower) {
    for (const std::string& name : Children(dir_fd)) {
      std::string path = prefix + "/" + name;
      struct stat st;
      if (fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
        ThrowErrno("diff: stat " + path);
      }
      if (IsWhiteout(st)) {
        out_.push_back({path, ChangeKind::kDeleted});
        continue;
      }
      // Below an added directory nothing can be in a lower layer.
      bool lower = in_lower && InLower(path);
      out_.push_back({path, lower ? ChangeKind::kModified : ChangeKind::kAdded});
      if (S_ISDIR(st.st_mode)) {
        UniqueFd sub(openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!sub) ThrowErrno("diff: open " + path);
        Dir(sub.get(), path, lower);
      }
    }
  }

  std::vector<Change> Take() { return std::move(out_); }

 private:
  // Whether the image shows `path`: the topmost layer that has it decides (a whiteout there
  // hides it).
  bool InLower(const std::string& path) const {
    for (const UniqueFd& layer : lowers_) {
      int fd = OpenInRoot(layer.get(), path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0) continue;
      struct stat st;
      bool ok = fstat(fd, &st) == 0;
      close(fd);
      if (ok) return !IsWhiteout(st);
    }
    return false;
  }

  std::vector<UniqueFd> lowers_;
  std::vector<Change> out_;
};

}  // namespace

std::vector<Change> UpperChanges(const std::string& upper, const std::vector<std::string>& lowers) {
  UniqueFd root(open(upper.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) {
    if (errno == ENOENT) return {};  // never started: no changes
    ThrowErrno("diff: open " + upper);
  }
  Walker walker(lowers);
  walker.Dir(root.get(), "", true);
  std::vector<Change> out = walker.Take();
  // Docker sorts by the path as a string ("/a-b" before "/a/b").
  std::sort(out.begin(), out.end(),
            [](const Change& a, const Change& b) { return a.path < b.path; });
  return out;
}

}  // namespace berth::engine
