#include "image/snapshot.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

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
                                             const std::string& diff_id, int layer_fd) {
  if (!chain_id.empty() && Has(chain_id)) {
    return std::nullopt;
  }
  std::string tmpl = root_ + "/tmp-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    ThrowErrno("create a directory in " + root_);
  }
  try {
    MkdirAll(tmpl + "/fs", 0755);
    ApplyResult r = ApplyLayer(layer_fd, tmpl + "/fs", WhiteoutMode::kOverlay);
    if (!diff_id.empty() && r.diff_id != diff_id) {
      ThrowInvalid("layer " + r.digest + ": its diffID is " + r.diff_id + ", the image says " +
                   diff_id);
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

void Snapshots::MountRootfs(const std::vector<std::string>& chain_ids, const std::string& rw_dir,
                            const std::string& target) const {
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
  if (MountWithFsconfig(lowers, upper, work, target)) {
    return;
  }
  std::string opts = "lowerdir=";
  for (size_t i = 0; i < lowers.size(); ++i) {
    opts += (i ? ":" : "") + lowers[i];
  }
  opts += ",upperdir=" + upper + ",workdir=" + work;
  if (mount("overlay", target.c_str(), "overlay", 0, opts.c_str()) < 0) {
    ThrowErrno("mount the overlay of " + std::to_string(lowers.size()) + " layers on " + target);
  }
}

uint64_t Snapshots::DiskUsage(const std::string& chain_id) const {
  UniqueFd fd(open(FsPath(chain_id).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  return fd ? UsageAt(fd.get()) : 0;
}

void Snapshots::Remove(const std::string& chain_id) const {
  if (!RemoveAll(root_ + "/" + Hex(chain_id))) {
    throw Error(Kind::kInternal, "could not remove snapshot " + chain_id);
  }
}

}  // namespace berth::image
