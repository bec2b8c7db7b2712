// cp: GET/HEAD/PUT /containers/{id}/archive. Every path is resolved inside the container's
// root filesystem (path_in_root: `..` never climbs out, a symlink restarts at the root), and
// every file is then reached through descriptors with O_NOFOLLOW, so neither a name in the
// request nor a link planted in the container leads to the host. A stopped container's
// rootfs is mounted for the copy and unmounted after it; the container's lifecycle lock is
// held meanwhile. Owners: the rootfs shows the container's ids shifted by its user namespace
// base; the tar carries them unshifted (as the container sees them).

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <dirent.h>
#include <cstring>
#include <memory>

#include "base/error.h"
#include "base/fd.h"
#include "base/file_util.h"
#include "base/log.h"
#include "base/path_in_root.h"
#include "engine/container_service.h"
#include "engine/container_service_internal.h"
#include "runtime/idmap.h"
#include "shim/logfile.h"

namespace berth::engine {

namespace {

constexpr uint64_t kUsernsSize = 65536;
constexpr size_t kChunk = 1 << 16;

struct ArchiveReadFree {
  void operator()(struct archive* a) const { archive_read_free(a); }
};
struct ArchiveWriteFree {
  void operator()(struct archive* a) const { archive_write_free(a); }
};

// Go's os.FileMode bits, which the docker CLI reads from the stat header.
uint32_t GoFileMode(mode_t m) {
  uint32_t out = m & 0777;
  if (S_ISDIR(m)) out |= 1u << 31;
  if (S_ISLNK(m)) out |= 1u << 27;
  if (S_ISBLK(m)) out |= 1u << 26;
  if (S_ISCHR(m)) out |= (1u << 26) | (1u << 21);
  if (S_ISFIFO(m)) out |= 1u << 25;
  if (S_ISSOCK(m)) out |= 1u << 24;
  if (m & S_ISUID) out |= 1u << 23;
  if (m & S_ISGID) out |= 1u << 22;
  if (m & S_ISVTX) out |= 1u << 20;
  return out;
}

// "/a/b/../c/" -> {"a", "c"}; nullopt when it climbs above the root, unless `clamp` (then
// `..` at the root stays there, as the kernel resolves it).
std::optional<std::vector<std::string>> Components(const std::string& path, bool clamp = false) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    std::string c = path.substr(start, slash - start);
    if (c == "..") {
      if (out.empty() && !clamp) return std::nullopt;
      if (!out.empty()) out.pop_back();
    } else if (!c.empty() && c != ".") {
      out.push_back(c);
    }
    start = slash + 1;
  }
  return out;
}

std::string Join(const std::vector<std::string>& parts, size_t n) {
  std::string out;
  for (size_t i = 0; i < n && i < parts.size(); ++i) out += "/" + parts[i];
  return out.empty() ? "/" : out;
}

uint32_t Unshift(uint32_t id, uint64_t base) {
  if (base != 0 && id >= base && id < base + kUsernsSize) return static_cast<uint32_t>(id - base);
  return base != 0 ? 65534 : id;
}

// The parent of `parts` resolved inside the root (O_PATH) and the last name; "/" has none.
struct Located {
  UniqueFd parent;
  std::string name;
};

Located Locate(int root, const std::vector<std::string>& parts, const std::string& shown) {
  Located l;
  if (parts.empty()) return l;
  int fd = ResolveInRoot(root, Join(parts, parts.size() - 1));
  if (fd < 0) ThrowNotFound("Could not find the file " + shown + " in container");
  l.parent = UniqueFd(fd);
  l.name = parts.back();
  return l;
}

class TarOut {
 public:
  explicit TarOut(const std::function<void(const void*, size_t)>& out) : out_(out) {
    a_.reset(archive_write_new());
    archive_write_set_format_pax_restricted(a_.get());
    archive_write_set_bytes_in_last_block(a_.get(), 1);
    if (archive_write_open(a_.get(), this, nullptr, &TarOut::Write, nullptr) != ARCHIVE_OK) {
      Fail("start");
    }
  }

  // `dir`/`name` (dir an fd of a directory), archived as `as`, recursing into directories.
  void Add(int dir, const std::string& name, const std::string& as, uint64_t base, int depth) {
    if (depth > 512) ThrowInvalid("archive: directories nested too deep");
    struct stat st;
    if (fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
      ThrowErrno("archive: stat " + as);
    }
    std::unique_ptr<struct archive_entry, void (*)(struct archive_entry*)> e(archive_entry_new(),
                                                                             archive_entry_free);
    archive_entry_set_pathname(e.get(), (S_ISDIR(st.st_mode) ? as + "/" : as).c_str());
    archive_entry_set_mode(e.get(), st.st_mode);
    archive_entry_set_uid(e.get(), Unshift(st.st_uid, base));
    archive_entry_set_gid(e.get(), Unshift(st.st_gid, base));
    archive_entry_set_mtime(e.get(), st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    UniqueFd file;
    if (S_ISREG(st.st_mode)) {
      file = UniqueFd(openat(dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
      if (!file) ThrowErrno("archive: open " + as);
      archive_entry_set_size(e.get(), st.st_size);
    } else if (S_ISLNK(st.st_mode)) {
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      ssize_t n = readlinkat(dir, name.c_str(), target.data(), target.size());
      if (n < 0) ThrowErrno("archive: readlink " + as);
      target.resize(static_cast<size_t>(n));
      archive_entry_set_symlink(e.get(), target.c_str());
    } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
      archive_entry_set_rdevmajor(e.get(), major(st.st_rdev));
      archive_entry_set_rdevminor(e.get(), minor(st.st_rdev));
    } else if (S_ISSOCK(st.st_mode)) {
      return;  // tar has no sockets
    }
    if (archive_write_header(a_.get(), e.get()) != ARCHIVE_OK) Fail("write " + as);
    if (file) {
      std::vector<char> buf(kChunk);
      int64_t left = st.st_size;
      while (left > 0) {
        ssize_t n = read(file.get(), buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) ThrowErrno("archive: read " + as);
        if (n == 0) {
          // Shrank while read: pad, as tar must have the size it announced.
          std::fill(buf.begin(), buf.end(), 0);
          n = static_cast<ssize_t>(std::min<int64_t>(left, static_cast<int64_t>(buf.size())));
        }
        n = static_cast<ssize_t>(std::min<int64_t>(n, left));
        if (archive_write_data(a_.get(), buf.data(), static_cast<size_t>(n)) < 0) {
          Fail("write " + as);
        }
        left -= n;
      }
    }
    if (S_ISDIR(st.st_mode)) {
      UniqueFd sub(openat(dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!sub) ThrowErrno("archive: open " + as);
      std::vector<std::string> names;
      DIR* d = fdopendir(fcntl(sub.get(), F_DUPFD_CLOEXEC, 3));
      if (!d) ThrowErrno("archive: read " + as);
      while (dirent* ent = readdir(d)) {
        if (strcmp(ent->d_name, ".") != 0 && strcmp(ent->d_name, "..") != 0) {
          names.push_back(ent->d_name);
        }
      }
      closedir(d);
      std::sort(names.begin(), names.end());
      for (const std::string& n : names) Add(sub.get(), n, as + "/" + n, base, depth + 1);
    }
  }

  void Close() {
    if (archive_write_close(a_.get()) != ARCHIVE_OK) Fail("finish");
  }

 private:
  static la_ssize_t Write(struct archive*, void* self, const void* buf, size_t size) {
    auto* t = static_cast<TarOut*>(self);
    // After a failed write (the client went away) libarchive still writes the archive's end
    // when it is freed: that goes nowhere.
    if (t->failed_) return -1;
    try {
      t->out_(buf, size);
      return static_cast<la_ssize_t>(size);
    } catch (const std::exception& e) {
      t->failed_ = true;
      t->error_ = e.what();
      return -1;
    }
  }
  [[noreturn]] void Fail(const std::string& what) {
    std::string why = !error_.empty() ? error_ : archive_error_string(a_.get());
    throw Error(Kind::kUnavailable, "archive: " + what + ": " + why);
  }

  const std::function<void(const void*, size_t)>& out_;
  bool failed_ = false;
  std::string error_;  // before a_: freeing a_ may still call Write
  std::unique_ptr<struct archive, ArchiveWriteFree> a_;
};

// One pass over a tar spooled in `fd` (rewound for each pass).
template <typename Fn>
void ForEachEntry(int fd, const Fn& fn) {
  if (lseek(fd, 0, SEEK_SET) < 0) ThrowErrno("archive: rewind");
  std::unique_ptr<struct archive, ArchiveReadFree> a(archive_read_new());
  archive_read_support_format_tar(a.get());
  archive_read_support_filter_gzip(a.get());
  archive_read_support_filter_bzip2(a.get());
  archive_read_support_filter_xz(a.get());
  if (archive_read_open_fd(a.get(), fd, kChunk) != ARCHIVE_OK) {
    ThrowInvalid(std::string("archive: not a tar archive: ") + archive_error_string(a.get()));
  }
  for (;;) {
    struct archive_entry* e;
    int rc = archive_read_next_header(a.get(), &e);
    if (rc == ARCHIVE_EOF) return;
    if (rc < ARCHIVE_WARN) {
      ThrowInvalid(std::string("archive: ") + archive_error_string(a.get()));
    }
    fn(a.get(), e);
  }
}

}  // namespace

bool ContainerService::MountRootfsForArchive(Entry& e) {
  std::string dir = Dir(e.c.id);
  std::string rootfs = JoinPath(dir, "rootfs");
  struct statx stx {};
  if (statx(AT_FDCWD, rootfs.c_str(), AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) == 0 &&
      (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0) {
    return false;  // running: the shim's container has it mounted
  }
  if (e.c.userns_base != 0) {
    std::vector<oci::IdMapping> map = {
        {0, static_cast<uint32_t>(e.c.userns_base), static_cast<uint32_t>(kUsernsSize)}};
    UniqueFd userns = runtime::MakeMappingUserns(map, map);
    images_.snapshots().MountRootfs(e.c.chain_ids, JoinPath(dir, "rw"), rootfs, userns.get());
  } else {
    images_.snapshots().MountRootfs(e.c.chain_ids, JoinPath(dir, "rw"), rootfs);
  }
  return true;
}

namespace {

// Holds the container's lifecycle lock and its rootfs (mounted for the copy when stopped).
class RootfsAccess {
 public:
  RootfsAccess(std::unique_lock<std::mutex> lock, std::string rootfs, bool mounted)
      : lock_(std::move(lock)), rootfs_(std::move(rootfs)), mounted_(mounted) {
    root_ = UniqueFd(open(rootfs_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root_) {
      int err = errno;
      Release();
      throw SysError("open rootfs " + rootfs_, err);
    }
  }
  ~RootfsAccess() { Release(); }
  int root() const { return root_.get(); }

 private:
  void Release() {
    root_.Reset();
    if (mounted_ && umount2(rootfs_.c_str(), MNT_DETACH) < 0) {
      log::Warn("unmount " + rootfs_ + ": " + strerror(errno));
    }
    mounted_ = false;
  }
  std::unique_lock<std::mutex> lock_;
  std::string rootfs_;
  bool mounted_;
  UniqueFd root_;
};

PathStat Stat(int root, const std::vector<std::string>& parts, const std::string& path,
              const std::string& ref) {
  PathStat st;
  Located l = Locate(root, parts, path);
  struct stat s;
  int rc =
      l.parent ? fstatat(l.parent.get(), l.name.c_str(), &s, AT_SYMLINK_NOFOLLOW) : fstat(root, &s);
  if (rc < 0) ThrowNotFound("Could not find the file " + path + " in container " + ref);
  st.name = parts.empty() ? "/" : parts.back();
  st.size = s.st_size;
  st.mode = GoFileMode(s.st_mode);
  st.mtime =
      shim::FormatJsonTime(static_cast<int64_t>(s.st_mtim.tv_sec) * 1000000000 + s.st_mtim.tv_nsec);
  if (S_ISLNK(s.st_mode)) {
    // Where the link leads, inside the container: what `docker cp -L` follows.
    std::string target(static_cast<size_t>(s.st_size) + 1, '\0');
    ssize_t n = readlinkat(l.parent.get(), l.name.c_str(), target.data(), target.size());
    if (n > 0) {
      target.resize(static_cast<size_t>(n));
      std::string joined = target[0] == '/' ? target : Join(parts, parts.size() - 1) + "/" + target;
      // `..` cannot climb out of the container: it stops at its root, as the kernel's would.
      std::vector<std::string> t = *Components(joined, true);
      st.link_target = Join(t, t.size());
    }
  }
  return st;
}

// Where a path of the container lives on the host: under the volume or bind mounted at its
// longest prefix (their data is stored unshifted: the container sees it id-mapped), else in
// the rootfs. A tmpfs mount is the container's own and not reachable from here.
struct Place {
  UniqueFd root;
  std::vector<std::string> parts;  // inside `root`
  uint64_t base = 0;               // the id shift of what is stored there
};

Place PlaceOf(const Container& c, int rootfs, const std::vector<std::string>& parts) {
  Place p;
  p.parts = parts;
  p.base = c.userns_base;
  size_t best = 0;
  const MountPoint* mount = nullptr;
  if (c.mounts) {
    for (const MountPoint& m : *c.mounts) {
      if (m.type == "tmpfs" || m.source.empty()) continue;
      std::optional<std::vector<std::string>> d = Components(m.destination);
      if (!d || d->empty() || d->size() > parts.size() || d->size() <= best) continue;
      if (!std::equal(d->begin(), d->end(), parts.begin())) continue;
      best = d->size();
      mount = &m;
    }
  }
  if (mount) {
    p.root = UniqueFd(open(mount->source.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!p.root) ThrowErrno("open " + mount->source);
    p.parts.assign(parts.begin() + static_cast<std::ptrdiff_t>(best), parts.end());
    p.base = 0;
  } else {
    p.root = UniqueFd(fcntl(rootfs, F_DUPFD_CLOEXEC, 3));
    if (!p.root) ThrowErrno("dup rootfs");
  }
  return p;
}

std::vector<std::string> PathParts(const std::string& path) {
  std::optional<std::vector<std::string>> parts = Components(path);
  if (path.empty() || !parts) ThrowInvalid("invalid path: \"" + path + "\"");
  return *parts;
}

}  // namespace

PathStat ContainerService::StatPath(const std::string& ref, const std::string& path) {
  std::vector<std::string> parts = PathParts(path);
  std::shared_ptr<Entry> e = Find(ref);
  std::unique_lock<std::mutex> op(e->op);
  bool mounted = MountRootfsForArchive(*e);
  RootfsAccess access(std::move(op), JoinPath(Dir(e->c.id), "rootfs"), mounted);
  Place place = PlaceOf(e->c, access.root(), parts);
  PathStat st = Stat(place.root.get(), place.parts, path, ref);
  if (!parts.empty()) st.name = parts.back();
  return st;
}

std::pair<uint32_t, uint32_t> ContainerService::LookupOwner(const std::string& ref,
                                                            const std::string& user,
                                                            const std::string& group) {
  std::shared_ptr<Entry> e = Find(ref);
  std::unique_lock<std::mutex> op(e->op);
  bool mounted = MountRootfsForArchive(*e);
  RootfsAccess access(std::move(op), JoinPath(Dir(e->c.id), "rootfs"), mounted);
  UserLookup lookup;
  lookup.user = user;
  lookup.group = group;
  ResolvedUser r = ResolveUser(JoinPath(Dir(e->c.id), "rootfs"), lookup);
  return {r.uid, r.gid};
}

void ContainerService::ArchivePath(const std::string& ref, const std::string& path,
                                   const std::function<void(const PathStat&)>& begin,
                                   const std::function<void(const void*, size_t)>& out) {
  std::vector<std::string> parts = PathParts(path);
  std::shared_ptr<Entry> e = Find(ref);
  std::unique_lock<std::mutex> op(e->op);
  bool mounted = MountRootfsForArchive(*e);
  RootfsAccess access(std::move(op), JoinPath(Dir(e->c.id), "rootfs"), mounted);
  Place place = PlaceOf(e->c, access.root(), parts);
  PathStat st = Stat(place.root.get(), place.parts, path, ref);
  if (!parts.empty()) st.name = parts.back();
  Located l = Locate(place.root.get(), place.parts, path);
  // A path ending in "/." archives the directory's content ("./…"), as Docker.
  bool contents = path.size() >= 2 && path.compare(path.size() - 2, 2, "/.") == 0;
  begin(st);
  TarOut tar(out);
  if (!l.parent) {
    std::string as = contents || parts.empty() ? "." : parts.back();
    tar.Add(place.root.get(), ".", as, place.base, 0);
  } else {
    tar.Add(l.parent.get(), l.name, contents ? "." : l.name, place.base, 0);
  }
  tar.Close();
}

void ContainerService::ExtractToPath(const std::string& ref, const std::string& path,
                                     const std::function<size_t(void*, size_t)>& in,
                                     bool no_overwrite_dir_non_dir, bool copy_uid_gid) {
  std::shared_ptr<Entry> e = Find(ref);
  std::optional<std::vector<std::string>> dest = Components(path);
  if (path.empty() || !dest) ThrowInvalid("invalid path: \"" + path + "\"");
  // The body first, into an unnamed file: the whole tar is checked before anything is
  // written, so a bad entry leaves the container untouched.
  // In the container's directory under --root (a disk, where --state is often a tmpfs).
  UniqueFd spool(open(Dir(e->c.id).c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  if (!spool) ThrowErrno("archive: spool file in " + Dir(e->c.id));
  std::vector<char> buf(kChunk);
  for (size_t n; (n = in(buf.data(), buf.size())) > 0;) {
    for (size_t off = 0; off < n;) {
      ssize_t w = write(spool.get(), buf.data() + off, n - off);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) ThrowErrno("archive: spool");
      off += static_cast<size_t>(w);
    }
  }
  auto name_of = [&](struct archive_entry* entry) -> std::vector<std::string> {
    const char* raw = archive_entry_pathname(entry);
    std::string n = raw ? raw : "";
    std::optional<std::vector<std::string>> c = Components(n);
    if (!c) ThrowInvalid("archive: the entry \"" + n + "\" would land outside " + path);
    return *c;
  };
  ForEachEntry(spool.get(), [&](struct archive*, struct archive_entry* entry) {
    name_of(entry);
    mode_t type = archive_entry_filetype(entry);
    if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK && type != AE_IFIFO) {
      ThrowInvalid(std::string("archive: \"") + archive_entry_pathname(entry) +
                   "\": device nodes and sockets are not copied into containers");
    }
    if (const char* link = archive_entry_hardlink(entry)) {
      if (!Components(link)) {
        ThrowInvalid(std::string("archive: the link \"") + link + "\" leads outside " + path);
      }
    }
  });

  std::unique_lock<std::mutex> op(e->op);
  bool mounted = MountRootfsForArchive(*e);
  RootfsAccess access(std::move(op), JoinPath(Dir(e->c.id), "rootfs"), mounted);
  Place place = PlaceOf(e->c, access.root(), *dest);
  int root = place.root.get();
  const std::vector<std::string>* dest_parts = &place.parts;
  const std::string dest_path = Join(place.parts, place.parts.size());
  {
    UniqueFd d(ResolveInRoot(root, dest_path));
    struct stat st;
    if (!d || fstat(d.get(), &st) < 0) {
      ThrowNotFound("Could not find the file " + path + " in container " + ref);
    }
    if (!S_ISDIR(st.st_mode)) ThrowInvalid("extraction point is not a directory: " + path);
  }
  const uint64_t base = place.base;
  auto host_id = [&](int64_t id) -> uint32_t {
    if (!copy_uid_gid) id = 0;
    if (base == 0) return static_cast<uint32_t>(id);
    if (id < 0 || static_cast<uint64_t>(id) >= kUsernsSize) id = 65534;
    return static_cast<uint32_t>(base + static_cast<uint64_t>(id));
  };
  // The parent directory of an entry, made (owned by the container's root) where missing.
  auto parent_of = [&](const std::vector<std::string>& parts) -> UniqueFd {
    UniqueFd dir(ResolveInRoot(root, dest_path));
    std::string prefix = dest_path;
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      std::string next = prefix + (prefix == "/" ? "" : "/") + parts[i];
      int fd = ResolveInRoot(root, next);
      if (fd == -ENOENT) {
        if (mkdirat(dir.get(), parts[i].c_str(), 0755) < 0 && errno != EEXIST) {
          ThrowErrno("archive: mkdir " + next);
        }
        fchownat(dir.get(), parts[i].c_str(), host_id(0), host_id(0), AT_SYMLINK_NOFOLLOW);
        fd = ResolveInRoot(root, next);
      }
      if (fd < 0) throw SysError("archive: " + next, -fd);
      dir = UniqueFd(fd);
      prefix = next;
    }
    // An O_PATH descriptor cannot be written through: reopen it as a directory.
    UniqueFd real(openat(dir.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!real) ThrowErrno("archive: open " + prefix);
    return real;
  };
  ForEachEntry(spool.get(), [&](struct archive* a, struct archive_entry* entry) {
    std::vector<std::string> parts = name_of(entry);
    if (parts.empty()) return;  // "./": the destination itself
    std::string shown = archive_entry_pathname(entry);
    UniqueFd dir = parent_of(parts);
    const char* name = parts.back().c_str();
    mode_t type = archive_entry_filetype(entry);
    struct stat old;
    bool exists = fstatat(dir.get(), name, &old, AT_SYMLINK_NOFOLLOW) == 0;
    if (exists) {
      bool old_dir = S_ISDIR(old.st_mode), new_dir = type == AE_IFDIR;
      if (no_overwrite_dir_non_dir && old_dir != new_dir) {
        ThrowInvalid("cannot overwrite " + std::string(old_dir ? "directory" : "non-directory") +
                     " \"" + Join(*dest, dest->size()) + "/" + shown + "\" with " +
                     (new_dir ? "directory" : "non-directory") + " \"" + shown + "\"");
      }
      if (!(old_dir && new_dir) && unlinkat(dir.get(), name, old_dir ? AT_REMOVEDIR : 0) < 0) {
        ThrowErrno("archive: replace " + shown);
      }
    }
    const char* hardlink = archive_entry_hardlink(entry);
    if (hardlink) {
      std::vector<std::string> target = *Components(hardlink);
      std::vector<std::string> full = *dest_parts;
      full.insert(full.end(), target.begin(), target.end());
      Located t = Locate(root, full, hardlink);
      if (linkat(t.parent.get(), t.name.c_str(), dir.get(), name, 0) < 0) {
        ThrowErrno("archive: link " + shown);
      }
      return;
    }
    mode_t perm = archive_entry_perm(entry) & 07777;
    if (type == AE_IFDIR) {
      if (!exists && mkdirat(dir.get(), name, 0700) < 0) ThrowErrno("archive: mkdir " + shown);
    } else if (type == AE_IFREG) {
      UniqueFd f(
          openat(dir.get(), name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (!f) ThrowErrno("archive: create " + shown);
      const void* block;
      size_t size;
      la_int64_t offset;
      int rc;
      while ((rc = archive_read_data_block(a, &block, &size, &offset)) == ARCHIVE_OK) {
        const char* p = static_cast<const char*>(block);
        for (size_t off = 0; off < size;) {
          ssize_t w = pwrite(f.get(), p + off, size - off, offset + static_cast<off_t>(off));
          if (w < 0 && errno == EINTR) continue;
          if (w < 0) ThrowErrno("archive: write " + shown);
          off += static_cast<size_t>(w);
        }
      }
      if (rc != ARCHIVE_EOF) ThrowInvalid("archive: " + shown + ": truncated");
      if (ftruncate(f.get(), archive_entry_size(entry)) < 0) ThrowErrno("archive: " + shown);
    } else if (type == AE_IFLNK) {
      const char* target = archive_entry_symlink(entry);
      if (symlinkat(target ? target : "", dir.get(), name) < 0) {
        ThrowErrno("archive: symlink " + shown);
      }
    } else if (type == AE_IFIFO) {
      if (mkfifoat(dir.get(), name, 0600) < 0) ThrowErrno("archive: mkfifo " + shown);
    }
    if (fchownat(dir.get(), name, host_id(archive_entry_uid(entry)),
                 host_id(archive_entry_gid(entry)), AT_SYMLINK_NOFOLLOW) < 0) {
      ThrowErrno("archive: chown " + shown);
    }
    if (type != AE_IFLNK && fchmodat(dir.get(), name, perm, 0) < 0) {
      ThrowErrno("archive: chmod " + shown);
    }
    timespec times[2] = {{archive_entry_mtime(entry), archive_entry_mtime_nsec(entry)},
                         {archive_entry_mtime(entry), archive_entry_mtime_nsec(entry)}};
    utimensat(dir.get(), name, times, AT_SYMLINK_NOFOLLOW);
  });
}

}  // namespace berth::engine
