#include "engine/volume_service.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstring>
#include <ctime>

#include "base/digest.h"
#include "base/error.h"
#include "base/fd.h"
#include "base/file_util.h"
#include "base/log.h"
#include "engine/mount_point.h"

namespace berth::engine {

using nlohmann::json;

namespace {

constexpr const char* kAnonymousLabel = "com.docker.volume.anonymous";
constexpr uint64_t kUsernsSize = 65536;

// time.RFC3339 in UTC, as dockerd writes CreatedAt.
std::string NowRfc3339() {
  time_t now = time(nullptr);
  tm t{};
  gmtime_r(&now, &t);
  char buf[32];
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &t);
  return buf;
}

// A mount's root, bind mounts of a directory on the same file system included.
bool IsMountRoot(const std::string& path) {
  struct statx stx {};
  if (statx(AT_FDCWD, path.c_str(), AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) < 0) {
    return false;
  }
  return (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) != 0 &&
         (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
}

// Docker's filter booleans.
bool FilterBool(const std::string& key, const std::string& value) {
  if (value == "true" || value == "1") return true;
  if (value == "false" || value == "0") return false;
  ThrowInvalid("invalid filter '" + key + "=" + value + "'");
}

// label=key or label=key=value against a volume's labels.
bool LabelMatches(const json& labels, const std::string& want) {
  size_t eq = want.find('=');
  std::string key = want.substr(0, eq);
  if (!labels.is_object() || !labels.contains(key)) return false;
  return eq == std::string::npos || labels[key] == want.substr(eq + 1);
}

bool IsEmptyDir(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  DIR* d = fd ? fdopendir(fd.Release()) : nullptr;
  if (!d) return false;
  bool empty = true;
  while (dirent* ent = readdir(d)) {
    if (strcmp(ent->d_name, ".") != 0 && strcmp(ent->d_name, "..") != 0) {
      empty = false;
      break;
    }
  }
  closedir(d);
  return empty;
}

// Bytes under `path` on its own file system (SpaceReclaimed).
int64_t DiskUsage(int dir_fd, dev_t dev, int depth) {
  if (depth > 256) return 0;
  UniqueFd copy(fcntl(dir_fd, F_DUPFD_CLOEXEC, 3));
  DIR* d = copy ? fdopendir(copy.Release()) : nullptr;
  if (!d) return 0;
  int64_t total = 0;
  while (dirent* ent = readdir(d)) {
    if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0) continue;
    struct stat st;
    if (fstatat(dirfd(d), ent->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != dev) {
      continue;
    }
    total += st.st_blocks * 512;
    if (S_ISDIR(st.st_mode)) {
      UniqueFd sub(openat(dirfd(d), ent->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (sub) total += DiskUsage(sub.get(), dev, depth + 1);
    }
  }
  closedir(d);
  return total;
}

// ---- copy-up ----

struct Owner {
  uid_t uid;
  gid_t gid;
};

Owner Unshift(const struct stat& st, uint64_t base) {
  auto shift = [base](uint32_t id) -> uint32_t {
    if (base != 0 && id >= base && id < base + kUsernsSize) return static_cast<uint32_t>(id - base);
    return id;
  };
  return {shift(st.st_uid), shift(st.st_gid)};
}

void CopyFileData(int from, int to, const std::string& name) {
  for (;;) {
    ssize_t n = copy_file_range(from, nullptr, to, nullptr, 1 << 30, 0);
    if (n == 0) return;
    if (n > 0) continue;
    if (errno == EINTR) continue;
    if (errno != EXDEV && errno != EINVAL && errno != EOPNOTSUPP && errno != ENOSYS) {
      ThrowErrno("copy-up: copy " + name);
    }
    break;  // another file system pair: plain reads and writes
  }
  char buf[1 << 16];
  for (;;) {
    ssize_t n = read(from, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) ThrowErrno("copy-up: read " + name);
    if (n == 0) return;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(to, buf + off, static_cast<size_t>(n - off));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) ThrowErrno("copy-up: write " + name);
      off += w;
    }
  }
}

// Copies the entries of `src` into `dst` (both directory fds), never following a symlink:
// every name is opened with O_NOFOLLOW relative to its parent's descriptor.
void CopyTree(int src, int dst, uint64_t base, int depth) {
  if (depth > 256) ThrowInvalid("copy-up: directories nested too deep");
  UniqueFd copy(fcntl(src, F_DUPFD_CLOEXEC, 3));
  DIR* d = copy ? fdopendir(copy.Release()) : nullptr;
  if (!d) ThrowErrno("copy-up: read directory");
  struct Closer {
    DIR* d;
    ~Closer() { closedir(d); }
  } closer{d};
  while (dirent* ent = readdir(d)) {
    const char* name = ent->d_name;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) continue;
    struct stat st;
    if (fstatat(src, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
      ThrowErrno(std::string("copy-up: stat ") + name);
    Owner o = Unshift(st, base);
    const timespec times[2] = {st.st_atim, st.st_mtim};
    mode_t perm = st.st_mode & 07777;
    if (S_ISDIR(st.st_mode)) {
      if (mkdirat(dst, name, 0700) < 0) ThrowErrno(std::string("copy-up: mkdir ") + name);
      UniqueFd from(openat(src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      UniqueFd to(openat(dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!from || !to) ThrowErrno(std::string("copy-up: open ") + name);
      CopyTree(from.get(), to.get(), base, depth + 1);
      if (fchown(to.get(), o.uid, o.gid) < 0 || fchmod(to.get(), perm) < 0 ||
          futimens(to.get(), times) < 0) {
        ThrowErrno(std::string("copy-up: set attributes of ") + name);
      }
    } else if (S_ISREG(st.st_mode)) {
      UniqueFd from(openat(src, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
      UniqueFd to(openat(dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (!from || !to) ThrowErrno(std::string("copy-up: open ") + name);
      CopyFileData(from.get(), to.get(), name);
      // chown first: it clears set-id bits that fchmod then puts back.
      if (fchown(to.get(), o.uid, o.gid) < 0 || fchmod(to.get(), perm) < 0 ||
          futimens(to.get(), times) < 0) {
        ThrowErrno(std::string("copy-up: set attributes of ") + name);
      }
    } else if (S_ISLNK(st.st_mode)) {
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      ssize_t n = readlinkat(src, name, target.data(), target.size());
      if (n < 0) ThrowErrno(std::string("copy-up: readlink ") + name);
      target.resize(static_cast<size_t>(n));
      if (symlinkat(target.c_str(), dst, name) < 0 ||
          fchownat(dst, name, o.uid, o.gid, AT_SYMLINK_NOFOLLOW) < 0) {
        ThrowErrno(std::string("copy-up: symlink ") + name);
      }
      utimensat(dst, name, times, AT_SYMLINK_NOFOLLOW);
    } else if (S_ISFIFO(st.st_mode)) {
      if (mkfifoat(dst, name, 0600) < 0 ||
          fchownat(dst, name, o.uid, o.gid, AT_SYMLINK_NOFOLLOW) < 0 ||
          fchmodat(dst, name, perm, 0) < 0) {
        ThrowErrno(std::string("copy-up: mkfifo ") + name);
      }
    }
    // Device nodes and sockets are not copied into a volume.
  }
}

// <root>/volumes made first: the database sits next to it.
std::string DbPath(const std::string& root) {
  MkdirAll(JoinPath(root, "volumes"), 0701);
  return JoinPath(root, "volumes.db");
}

}  // namespace

VolumeService::VolumeService(std::string root, EventBus* events)
    : root_(JoinPath(root, "volumes")), events_(events), db_(DbPath(root)) {
  db_.Exec(R"(
CREATE TABLE IF NOT EXISTS volumes (
  name TEXT PRIMARY KEY,
  doc TEXT NOT NULL
);)");
}

std::string VolumeService::Dir(const std::string& name) const { return JoinPath(root_, name); }

void VolumeService::Emit(const std::string& action, const std::string& name,
                         std::map<std::string, std::string> attributes) {
  if (!events_) return;
  attributes["driver"] = "local";
  Event e;
  e.type = "volume";
  e.action = action;
  e.actor = {name, std::move(attributes)};
  events_->Publish(std::move(e));
}

void VolumeService::EmitMountEvent(const std::string& action, const std::string& name,
                                   const std::string& container_id, const std::string& destination,
                                   bool rw, const std::string& propagation) {
  Emit(action, name,
       {{"container", container_id},
        {"destination", destination},
        {"read/write", rw ? "true" : "false"},
        {"propagation", propagation}});
}

std::string VolumeService::DataPath(const std::string& name) const {
  return JoinPath(Dir(name), "_data");
}

json VolumeService::ToApi(const Volume& v) const {
  return {{"CreatedAt", v.created_at},
          {"Driver", v.driver},
          {"Labels", v.labels},
          {"Mountpoint", DataPath(v.name)},
          {"Name", v.name},
          {"Options", v.options},
          {"Scope", "local"}};
}

bool VolumeService::Exists(const std::string& name) {
  Statement s = db_.Prepare("SELECT 1 FROM volumes WHERE name = ?1");
  s.Bind(1, name);
  return s.Step();
}

VolumeService::Volume VolumeService::Load(const std::string& name) {
  Statement s = db_.Prepare("SELECT doc FROM volumes WHERE name = ?1");
  s.Bind(1, name);
  if (!s.Step()) ThrowNotFound("get " + name + ": no such volume");
  json doc = json::parse(s.Text(0), nullptr, false);
  if (!doc.is_object()) throw Error(Kind::kDataLoss, "volume record " + name + ": not JSON");
  Volume v;
  v.name = name;
  v.driver = doc.value("Driver", "local");
  v.created_at = doc.value("CreatedAt", "");
  v.labels = doc.value("Labels", json());
  v.options = doc.value("Options", json());
  return v;
}

std::vector<VolumeService::Volume> VolumeService::All() {
  std::vector<std::string> names;
  Statement s = db_.Prepare("SELECT name FROM volumes ORDER BY name");
  while (s.Step()) names.push_back(s.Text(0));
  std::vector<Volume> out;
  for (const std::string& n : names) out.push_back(Load(n));
  return out;
}

VolumeService::Volume VolumeService::CreateLocked(const std::string& name, const json& labels,
                                                  const json& options) {
  if (!IsValidVolumeName(name)) ThrowInvalid("create " + name + ": " + InvalidVolumeNameText(name));
  ValidateLocalVolumeOptions(options);
  if (labels.is_object()) {
    for (const auto& item : labels.items()) {
      if (!item.value().is_string()) ThrowInvalid("create " + name + ": labels must be strings");
    }
  } else if (!labels.is_null()) {
    ThrowInvalid("create " + name + ": Labels must be an object of strings");
  }
  if (options.is_object() && !options.empty()) {
    MountFlags f = ParseMountFlags(options.value("o", ""));
    std::string device = options["device"].get<std::string>();
    struct stat st;
    if ((f.flags & MS_BIND) != 0 && stat(device.c_str(), &st) < 0) {
      ThrowInvalid("create " + name + ": bind source path does not exist: " + device);
    }
  }
  Volume v;
  v.name = name;
  v.created_at = NowRfc3339();
  v.labels = labels;
  v.options = options.is_object() && !options.empty() ? options : json();
  // The directory first, then the row: a row always has its directory; a directory without
  // a row (a crash in between) is an orphan that a later create of the name reuses.
  std::string data = DataPath(name);
  MkdirAll(Dir(name), 0701);
  if (mkdir(data.c_str(), 0755) < 0 && errno != EEXIST)
    ThrowErrno("create " + name + ": mkdir " + data);
  json doc = {{"Driver", v.driver},
              {"CreatedAt", v.created_at},
              {"Labels", v.labels},
              {"Options", v.options}};
  db_.Prepare("INSERT INTO volumes (name, doc) VALUES (?1, ?2)")
      .Bind(1, name)
      .Bind(2, doc.dump())
      .Run();
  Emit("create", name);
  return v;
}

json VolumeService::Create(const json& body) {
  if (!body.is_object()) ThrowInvalid("volume create: the body must be a JSON object");
  auto text = [&body](const char* key) -> std::string {
    if (!body.contains(key) || body[key].is_null()) return "";
    if (!body[key].is_string()) ThrowInvalid(std::string(key) + ": expected a string");
    return body[key].get<std::string>();
  };
  std::string name = text("Name");
  std::string driver = text("Driver");
  if (!driver.empty() && driver != "local") {
    ThrowNotFound("error looking up volume plugin " + driver + ": plugin \"" + driver +
                  "\" not found");
  }
  json labels = body.value("Labels", json());
  json options = body.value("DriverOpts", json());
  std::lock_guard<std::mutex> lock(mu_);
  if (name.empty()) {
    name = RandomHex(32);
  } else if (Exists(name)) {
    return ToApi(Load(name));  // Docker's answer for a name that exists
  }
  return ToApi(CreateLocked(name, labels, options));
}

json VolumeService::Inspect(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  return ToApi(Load(name));
}

json VolumeService::List(const Filters& filters) {
  for (const auto& [key, values] : filters) {
    if (key != "dangling" && key != "driver" && key != "label" && key != "name") {
      ThrowInvalid("invalid filter '" + key + "'");
    }
    if (key == "dangling") {
      for (const std::string& v : values) FilterBool(key, v);
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  json out = json::array();
  for (const Volume& v : All()) {
    bool keep = true;
    for (const auto& [key, values] : filters) {
      if (values.empty()) continue;
      bool any = false;
      for (const std::string& value : values) {
        if (key == "dangling") {
          bool unused = users_.count(v.name) == 0 || users_[v.name].empty();
          any = any || FilterBool(key, value) == unused;
        } else if (key == "driver") {
          any = any || v.driver == value;
        } else if (key == "name") {
          any = any || v.name.find(value) != std::string::npos;
        }
      }
      if (key == "label") {
        // Every label filter must match (Docker's rule for labels).
        any = true;
        for (const std::string& value : values) any = any && LabelMatches(v.labels, value);
      }
      keep = keep && any;
    }
    if (keep) out.push_back(ToApi(v));
  }
  return {{"Volumes", out}, {"Warnings", nullptr}};
}

void VolumeService::RemoveLocked(const Volume& v) {
  if (auto it = users_.find(v.name); it != users_.end() && !it->second.empty()) {
    std::string ids;
    for (const std::string& id : it->second) ids += (ids.empty() ? "" : " ") + id;
    ThrowConflict("remove " + v.name + ": volume is in use - [" + ids + "]");
  }
  std::string data = DataPath(v.name);
  if (IsMountRoot(data) && umount2(data.c_str(), MNT_DETACH) < 0) {
    ThrowErrno("remove " + v.name + ": unmount " + data);
  }
  if (IsMountRoot(data)) {
    // Never recurse into what something else mounted there (a bind of a host directory).
    throw Error(Kind::kConflict, "remove " + v.name + ": " + data + " is still a mount point");
  }
  // The row first: a crash after it leaves only files, never a volume without its data.
  db_.Prepare("DELETE FROM volumes WHERE name = ?1").Bind(1, v.name).Run();
  users_.erase(v.name);
  mounted_.erase(v.name);
  if (!RemoveAll(Dir(v.name))) {
    log::Warn("remove volume " + v.name + ": " + Dir(v.name) + ": " + strerror(errno));
  }
  Emit("destroy", v.name);
}

void VolumeService::Remove(const std::string& name, bool force) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!Exists(name)) {
    if (force) return;
    ThrowNotFound("get " + name + ": no such volume");
  }
  RemoveLocked(Load(name));
}

json VolumeService::Prune(const Filters& filters) {
  std::optional<bool> all;
  for (const auto& [key, values] : filters) {
    if (key == "all") {
      for (const std::string& v : values) all = FilterBool(key, v);
    } else if (key != "label" && key != "label!") {
      ThrowInvalid("invalid filter '" + key + "'");
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  json deleted = json::array();
  int64_t reclaimed = 0;
  for (const Volume& v : All()) {
    if (auto it = users_.find(v.name); it != users_.end() && !it->second.empty()) continue;
    if (all.has_value() && !*all && !(v.labels.is_object() && v.labels.contains(kAnonymousLabel))) {
      continue;
    }
    bool keep = true;
    for (const auto& [key, values] : filters) {
      for (const std::string& value : values) {
        if (key == "label") keep = keep && LabelMatches(v.labels, value);
        if (key == "label!") keep = keep && !LabelMatches(v.labels, value);
      }
    }
    if (!keep) continue;
    int64_t size = 0;
    std::string data = DataPath(v.name);
    if (!IsMountRoot(data)) {
      UniqueFd fd(open(data.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      struct stat st;
      if (fd && fstat(fd.get(), &st) == 0) size = DiskUsage(fd.get(), st.st_dev, 0);
    }
    try {
      RemoveLocked(v);
      deleted.push_back(v.name);
      reclaimed += size;
    } catch (const Error& e) {
      log::Warn("prune volume " + v.name + ": " + e.what());
    }
  }
  return {{"VolumesDeleted", deleted.empty() ? json() : deleted}, {"SpaceReclaimed", reclaimed}};
}

std::string VolumeService::Acquire(const std::string& name, const std::string& container_id,
                                   const json& labels, const json& options, bool* created) {
  std::lock_guard<std::mutex> lock(mu_);
  bool made = false;
  std::string n = name;
  if (n.empty()) {
    n = RandomHex(32);
    CreateLocked(n, json{{kAnonymousLabel, ""}}, options);
    made = true;
  } else if (!Exists(n)) {
    CreateLocked(n, labels.is_object() && !labels.empty() ? labels : json(), options);
    made = true;
  }
  users_[n].insert(container_id);
  if (created) *created = made;
  return n;
}

void VolumeService::AddUser(const std::string& name, const std::string& container_id) {
  std::lock_guard<std::mutex> lock(mu_);
  users_[name].insert(container_id);
}

void VolumeService::Release(const std::string& name, const std::string& container_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = users_.find(name);
  if (it == users_.end()) return;
  it->second.erase(container_id);
  if (it->second.empty()) users_.erase(it);
}

bool VolumeService::RemoveIfUnused(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!Exists(name)) return false;
  if (auto it = users_.find(name); it != users_.end() && !it->second.empty()) return false;
  RemoveLocked(Load(name));
  return true;
}

void VolumeService::Mount(const std::string& name, const std::string& container_id) {
  std::lock_guard<std::mutex> lock(mu_);
  Volume v = Load(name);
  std::set<std::string>& users = mounted_[name];
  std::string data = DataPath(name);
  if (!v.options.is_object() || v.options.empty() || IsMountRoot(data)) {
    users.insert(container_id);
    return;
  }
  std::string type = v.options.value("type", "");
  std::string device = v.options.value("device", "");
  MountFlags f = ParseMountFlags(v.options.value("o", ""));
  auto fail = [&](const std::string& what) {
    throw SysError("mount volume " + name + ": " + what, errno);
  };
  if ((f.flags & MS_BIND) != 0) {
    if (mount(device.c_str(), data.c_str(), nullptr, MS_BIND | (f.flags & MS_REC), nullptr) < 0) {
      fail("bind " + device + " on " + data);
    }
    unsigned long rest = f.flags & ~(MS_BIND | MS_REC);
    if (rest != 0 && mount("", data.c_str(), nullptr, MS_REMOUNT | MS_BIND | rest, nullptr) < 0) {
      int err = errno;
      umount2(data.c_str(), MNT_DETACH);
      errno = err;
      fail("remount " + data);
    }
  } else if (mount(device.c_str(), data.c_str(), type.c_str(), f.flags,
                   f.data.empty() ? nullptr : f.data.c_str()) < 0) {
    fail("mount " + device + " (" + type + ") on " + data);
  }
  users.insert(container_id);
}

void VolumeService::Unmount(const std::string& name, const std::string& container_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = mounted_.find(name);
  if (it == mounted_.end()) return;
  it->second.erase(container_id);
  if (!it->second.empty()) return;
  mounted_.erase(it);
  std::string data = DataPath(name);
  if (IsMountRoot(data) && umount2(data.c_str(), MNT_DETACH) < 0) {
    log::Warn("unmount volume " + name + ": " + strerror(errno));
  }
}

void VolumeService::SweepMounts() {
  std::lock_guard<std::mutex> lock(mu_);
  for (const Volume& v : All()) {
    if (auto it = mounted_.find(v.name); it != mounted_.end() && !it->second.empty()) continue;
    std::string data = DataPath(v.name);
    if (IsMountRoot(data) && umount2(data.c_str(), MNT_DETACH) < 0) {
      log::Warn("unmount volume " + v.name + ": " + strerror(errno));
    }
  }
}

bool VolumeService::CopyUp(const std::string& name, int source_dir, uint64_t userns_base) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string data = DataPath(name);
  if (!IsEmptyDir(data)) return false;
  UniqueFd dst(open(data.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dst) ThrowErrno("copy-up into volume " + name);
  try {
    CopyTree(source_dir, dst.get(), userns_base, 0);
  } catch (const Error& e) {
    throw e.WithContext("copy-up into volume " + name);
  }
  // The volume's root takes the owner and mode of the image's directory (Docker's
  // copyOwnership).
  struct stat st;
  if (fstat(source_dir, &st) == 0) {
    Owner o = Unshift(st, userns_base);
    if (fchown(dst.get(), o.uid, o.gid) < 0 || fchmod(dst.get(), st.st_mode & 07777) < 0) {
      ThrowErrno("copy-up into volume " + name + ": set owner");
    }
  }
  return true;
}

}  // namespace berth::engine
