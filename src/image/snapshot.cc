#include "image/snapshot.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

#include "base/detached_mount.h"
#include "base/digest.h"
#include "base/error.h"
#include "base/fd.h"
#include "base/file_util.h"
#include "image/reference.h"

namespace berth::image {
namespace {

std::string Hex(const std::string& digest) {
  if (digest.rfind("sha256:", 0) != 0 || !IsValidDigest(digest)) {
    ThrowInvalid("invalid chain ID \"" + digest + "\"");
  }
  return digest.substr(7);
}

// The new mount API: an overlay with one fsconfig call per lower layer ("lowerdir+", Linux
// 6.8), so no option string limits the layer count. false when the kernel lacks it.
bool MountWithFsconfig(const std::vector<std::string>& lowers_top_first, const std::string& upper,
                       const std::string& work, const std::string& target) {
  UniqueFd fs(static_cast<int>(syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC)));
  if (!fs) {
    return false;
  }
  for (const auto& l : lowers_top_first) {
    if (syscall(SYS_fsconfig, fs.get(), FSCONFIG_SET_STRING, "lowerdir+", l.c_str(), 0) < 0) {
      return false;  // an older kernel: mount(2) with the joined option instead
    }
  }
  if (syscall(SYS_fsconfig, fs.get(), FSCONFIG_SET_STRING, "upperdir", upper.c_str(), 0) < 0 ||
      syscall(SYS_fsconfig, fs.get(), FSCONFIG_SET_STRING, "workdir", work.c_str(), 0) < 0) {
    ThrowErrno("overlay upper and work directories in " + upper);
  }
  if (syscall(SYS_fsconfig, fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) < 0) {
    ThrowErrno("create the overlay for " + target);
  }
  UniqueFd mnt(static_cast<int>(syscall(SYS_fsmount, fs.get(), FSMOUNT_CLOEXEC, 0)));
  if (!mnt) {
    ThrowErrno("fsmount the overlay for " + target);
  }
  if (syscall(SYS_move_mount, mnt.get(), "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) <
      0) {
    ThrowErrno("mount the overlay on " + target);
  }
  return true;
}

}  // namespace

std::vector<std::string> ChainIds(const std::vector<std::string>& diff_ids) {
  std::vector<std::string> out;
  for (const auto& d : diff_ids) {
    out.push_back(out.empty() ? d : Sha256Digest(out.back() + " " + d));
  }
  return out;
}

Snapshots::Snapshots(std::string root) : root_(std::move(root)) { MkdirAll(root_, 0700); }

std::string Snapshots::FsPath(const std::string& chain_id) const {
  return root_ + "/" + Hex(chain_id) + "/fs";
}

bool Snapshots::Has(const std::string& chain_id) const {
  return access(FsPath(chain_id).c_str(), F_OK) == 0;
}

std::optional<ApplyResult> Snapshots::Unpack(const std::string& chain_id,
                                             const std::string& diff_id, int layer_fd,
                                             bool hash_input) {
  return Unpack(chain_id, diff_id, [&](const std::string& fs) {
    return ApplyLayer(layer_fd, fs, WhiteoutMode::kOverlay, hash_input);
  });
}

std::optional<ApplyResult> Snapshots::Unpack(const std::string& chain_id,
                                             const std::string& diff_id, const PieceFn& next,
                                             bool hash_input) {
  return Unpack(chain_id, diff_id, [&](const std::string& fs) {
    return ApplyLayer(next, fs, WhiteoutMode::kOverlay, hash_input);
  });
}

std::optional<ApplyResult> Snapshots::Unpack(
    const std::string& chain_id, const std::string& diff_id,
    const std::function<ApplyResult(const std::string& fs)>& apply) {
  if (!chain_id.empty() && Has(chain_id)) {
    return std::nullopt;
  }
  std::string tmpl = root_ + "/tmp-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    ThrowErrno("create a directory in " + root_);
  }
  try {
    MkdirAll(tmpl + "/fs", 0755);
    ApplyResult r = apply(tmpl + "/fs");
    if (!diff_id.empty() && r.diff_id != diff_id) {
      ThrowInvalid("layer" + (r.digest.empty() ? "" : " " + r.digest) + ": its diffID is " +
                   r.diff_id + ", the image says " + diff_id);
    }
    std::string final_dir = root_ + "/" + Hex(chain_id.empty() ? r.diff_id : chain_id);
    if (rename(tmpl.c_str(), final_dir.c_str()) < 0) {
      if (errno == EEXIST || errno == ENOTEMPTY) {  // there already: the same layer
        RemoveAll(tmpl);
        return r;
      }
      ThrowErrno("rename " + tmpl + " to " + final_dir);
    }
    return r;
  } catch (...) {
    RemoveAll(tmpl);
    throw;
  }
}

void Snapshots::SyncAll() const {
  UniqueFd fd(open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd || syncfs(fd.get()) < 0) {
    ThrowErrno("sync " + root_);
  }
}

std::vector<std::string> Snapshots::List() const {
  std::vector<std::string> out;
  DIR* d = opendir(root_.c_str());
  if (d == nullptr) {
    ThrowErrno("list " + root_);
  }
  while (struct dirent* e = readdir(d)) {
    std::string digest = std::string("sha256:") + e->d_name;
    if (strlen(e->d_name) == 64 && IsValidDigest(digest)) {
      out.push_back(digest);
    }
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

size_t Snapshots::RemoveLeftovers() const {
  size_t removed = 0;
  DIR* d = opendir(root_.c_str());
  if (d == nullptr) {
    ThrowErrno("list " + root_);
  }
  std::vector<std::string> leftovers;
  while (struct dirent* e = readdir(d)) {
    if (strncmp(e->d_name, "tmp-", 4) == 0) {
      leftovers.push_back(root_ + "/" + e->d_name);
    }
  }
  closedir(d);
  for (const std::string& path : leftovers) {
    removed += RemoveAll(path) ? 1 : 0;
  }
  return removed;
}

bool Snapshots::MountRootfs(const std::vector<std::string>& chain_ids, const std::string& rw_dir,
                            const std::string& target, int idmap_userns_fd) const {
  if (chain_ids.empty()) {
    ThrowInvalid("an image without layers has no rootfs to mount");
  }
  std::vector<std::string> lowers;  // top first, as overlayfs wants them
  for (auto it = chain_ids.rbegin(); it != chain_ids.rend(); ++it) {
    if (!Has(*it)) {
      ThrowNotFound("snapshot " + *it + " is not unpacked");
    }
    lowers.push_back(FsPath(*it));
  }
  std::string upper = rw_dir + "/upper", work = rw_dir + "/work";
  MkdirAll(upper, 0755);
  MkdirAll(work, 0700);
  MkdirAll(target, 0755);
  if (idmap_userns_fd >= 0) {
    // overlayfs cannot be id-mapped itself, but it stacks on id-mapped lower layers: each one
    // as a detached id-mapped clone, named through /proc/self/fd (the overlay keeps them
    // referenced; the clones go when their descriptors close). The upper directory stays
    // plain: overlayfs writes its work directory as host root, which the mapping cannot
    // express, and the container's own writes land as its own ids.
    std::vector<UniqueFd> clones;
    std::vector<std::string> mapped_lowers;
    for (const std::string& l : lowers) {
      clones.push_back(MakeDetachedTree(l, idmap_userns_fd, false, false));
      mapped_lowers.push_back("/proc/self/fd/" + std::to_string(clones.back().get()));
    }
    if (!MountWithFsconfig(mapped_lowers, upper, work, target)) {
      throw Error(Kind::kNotImplemented,
                  "an id-mapped rootfs needs overlayfs's lowerdir+ (Linux 6.5 or later)");
    }
    return true;
  }
  if (MountWithFsconfig(lowers, upper, work, target)) {
    return true;
  }
  std::string opts = "lowerdir=";
  for (size_t i = 0; i < lowers.size(); ++i) {
    opts += (i ? ":" : "") + lowers[i];
  }
  opts += ",upperdir=" + upper + ",workdir=" + work;
  if (mount("overlay", target.c_str(), "overlay", 0, opts.c_str()) < 0) {
    if (errno == ENODEV) {
      CopyRootfs(chain_ids, target);  // no overlayfs in this kernel
      return false;
    }
    ThrowErrno("mount the overlay of " + std::to_string(lowers.size()) + " layers on " + target);
  }
  return true;
}

namespace {

// Removes `name` in `dir_fd` whatever it is (a directory with all it holds); absent is fine.
void RemoveAt(int dir_fd, const char* name) {
  if (unlinkat(dir_fd, name, 0) == 0 || errno == ENOENT) {
    return;
  }
  if (errno != EISDIR && errno != EPERM) {
    ThrowErrno(std::string("copy rootfs: remove ") + name);
  }
  UniqueFd sub(openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!sub) {
    ThrowErrno(std::string("copy rootfs: open ") + name);
  }
  std::vector<std::string> names;
  DIR* d = fdopendir(dup(sub.get()));
  if (d == nullptr) {
    ThrowErrno(std::string("copy rootfs: list ") + name);
  }
  while (struct dirent* e = readdir(d)) {
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
      names.push_back(e->d_name);
    }
  }
  closedir(d);
  for (const std::string& n : names) {
    RemoveAt(sub.get(), n.c_str());
  }
  if (unlinkat(dir_fd, name, AT_REMOVEDIR) < 0) {
    ThrowErrno(std::string("copy rootfs: remove ") + name);
  }
}

bool KeepXattr(const char* name) {
  return strncmp(name, "user.", 5) == 0 || strcmp(name, "security.capability") == 0;
}

void CopyXattrs(int src_fd, int dst_fd) {
  char names[16384];
  ssize_t len = flistxattr(src_fd, names, sizeof(names));
  for (ssize_t i = 0; len > 0 && i < len; i += static_cast<ssize_t>(strlen(names + i)) + 1) {
    const char* name = names + i;
    if (!KeepXattr(name)) {
      continue;
    }
    char value[65536];
    ssize_t n = fgetxattr(src_fd, name, value, sizeof(value));
    if (n >= 0 && fsetxattr(dst_fd, name, value, static_cast<size_t>(n), 0) < 0 &&
        errno != ENOTSUP) {
      ThrowErrno(std::string("copy rootfs: set xattr ") + name);
    }
  }
}

class RootfsCopier {
 public:
  explicit RootfsCopier(int target_fd) : target_fd_(target_fd) {}

  void Layer(int src_dir) {
    links_.clear();
    Dir(src_dir, target_fd_, "");
  }

 private:
  void Dir(int src_dir, int dst_dir, const std::string& rel) {
    std::vector<std::string> names;
    DIR* d = fdopendir(dup(src_dir));
    if (d == nullptr) {
      ThrowErrno("copy rootfs: list " + rel);
    }
    while (struct dirent* e = readdir(d)) {
      if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
        names.push_back(e->d_name);
      }
    }
    closedir(d);
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) {
      Entry(src_dir, dst_dir, name, rel.empty() ? name : rel + "/" + name);
    }
  }

  void Entry(int src_dir, int dst_dir, const std::string& name, const std::string& rel) {
    const char* n = name.c_str();
    struct stat st;
    if (fstatat(src_dir, n, &st, AT_SYMLINK_NOFOLLOW) < 0) {
      ThrowErrno("copy rootfs: stat " + rel);
    }
    if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {
      RemoveAt(dst_dir, n);  // a whiteout: the name is gone from here up
      return;
    }
    if (S_ISDIR(st.st_mode)) {
      UniqueFd src(openat(src_dir, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!src) {
        ThrowErrno("copy rootfs: open " + rel);
      }
      char opaque[2] = {};
      bool is_opaque =
          fgetxattr(src.get(), "trusted.overlay.opaque", opaque, 1) == 1 && opaque[0] == 'y';
      struct stat dst_st;
      bool dst_is_dir =
          fstatat(dst_dir, n, &dst_st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(dst_st.st_mode);
      if (is_opaque || !dst_is_dir) {
        RemoveAt(dst_dir, n);
        if (mkdirat(dst_dir, n, 0700) < 0) {
          ThrowErrno("copy rootfs: mkdir " + rel);
        }
      }
      UniqueFd dst(openat(dst_dir, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!dst) {
        ThrowErrno("copy rootfs: open " + rel);
      }
      Dir(src.get(), dst.get(), rel);
      Metadata(src.get(), dst.get(), st, rel);
      return;
    }
    RemoveAt(dst_dir, n);
    if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
      auto first = links_.find({st.st_dev, st.st_ino});
      if (first != links_.end()) {
        if (linkat(target_fd_, first->second.c_str(), dst_dir, n, 0) < 0) {
          ThrowErrno("copy rootfs: link " + rel + " to " + first->second);
        }
        return;
      }
      links_[{st.st_dev, st.st_ino}] = rel;
    }
    if (S_ISREG(st.st_mode)) {
      UniqueFd src(openat(src_dir, n, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
      UniqueFd dst(openat(dst_dir, n, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (!src || !dst) {
        ThrowErrno("copy rootfs: open " + rel);
      }
      off_t left = st.st_size;
      while (left > 0) {
        ssize_t copied =
            copy_file_range(src.get(), nullptr, dst.get(), nullptr, static_cast<size_t>(left), 0);
        if (copied <= 0) {
          ThrowErrno("copy rootfs: copy " + rel);
        }
        left -= copied;
      }
      Metadata(src.get(), dst.get(), st, rel);
      return;
    }
    if (S_ISLNK(st.st_mode)) {
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      ssize_t len = readlinkat(src_dir, n, target.data(), target.size());
      if (len < 0) {
        ThrowErrno("copy rootfs: readlink " + rel);
      }
      target.resize(static_cast<size_t>(len));
      if (symlinkat(target.c_str(), dst_dir, n) < 0) {
        ThrowErrno("copy rootfs: symlink " + rel);
      }
    } else if (mknodat(dst_dir, n, st.st_mode, st.st_rdev) < 0) {
      ThrowErrno("copy rootfs: mknod " + rel);
    }
    if (fchownat(dst_dir, n, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0) {
      ThrowErrno("copy rootfs: chown " + rel);
    }
    struct timespec times[2] = {st.st_atim, st.st_mtim};
    utimensat(dst_dir, n, times, AT_SYMLINK_NOFOLLOW);
  }

  static void Metadata(int src, int dst, const struct stat& st, const std::string& rel) {
    if (fchown(dst, st.st_uid, st.st_gid) < 0 || fchmod(dst, st.st_mode & 07777) < 0) {
      ThrowErrno("copy rootfs: owner and mode of " + rel);
    }
    CopyXattrs(src, dst);  // after chown, which clears security.capability
    struct timespec times[2] = {st.st_atim, st.st_mtim};
    futimens(dst, times);
  }

  int target_fd_;
  std::map<std::pair<dev_t, ino_t>, std::string> links_;  // hard links within one layer
};

}  // namespace

void Snapshots::CopyRootfs(const std::vector<std::string>& chain_ids,
                           const std::string& target) const {
  MkdirAll(target, 0755);
  UniqueFd dst(open(target.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dst) {
    ThrowErrno("open " + target);
  }
  RootfsCopier copier(dst.get());
  for (const std::string& chain : chain_ids) {
    UniqueFd src(open(FsPath(chain).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!src) {
      ThrowNotFound("snapshot " + chain + " is not unpacked");
    }
    copier.Layer(src.get());
    struct stat st;
    if (fstat(src.get(), &st) == 0) {
      fchown(dst.get(), st.st_uid, st.st_gid);
      fchmod(dst.get(), st.st_mode & 07777);
    }
  }
}

uint64_t Snapshots::DiskUsage(const std::string& chain_id) const {
  return berth::DiskUsage(FsPath(chain_id));
}

void Snapshots::Remove(const std::string& chain_id) const {
  if (!RemoveAll(root_ + "/" + Hex(chain_id))) {
    throw Error(Kind::kInternal, "could not remove snapshot " + chain_id);
  }
}

}  // namespace berth::image
