#include "engine/container_service.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "base/digest.h"
#include "base/error.h"
#include "base/fd.h"
#include "base/file_util.h"
#include "base/log.h"
#include "base/path_in_root.h"
#include "base/time_text.h"
#include "engine/container_changes.h"
#include "engine/container_filters.h"
#include "engine/container_health.h"
#include "engine/container_service_internal.h"
#include "engine/container_spec.h"
#include "engine/container_stats.h"
#include "engine/container_view.h"
#include "engine/events.h"
#include "image/layer.h"
#include "image/snapshot.h"
#include "runtime/cgroup_primer.h"
#include "runtime/cloned_binary.h"
#include "runtime/container.h"
#include "runtime/idmap.h"
#include "runtime/signals.h"
#include "shim/client.h"
#include "shim/logfile.h"

namespace berth::engine {

namespace {

// The first container's user namespace starts above useradd's subordinate ranges (as
// berth-runtime's default spec), one range of 65536 ids after another.
constexpr uint64_t kUsernsFirst = 1000000000;
constexpr uint64_t kUsernsSize = 65536;
constexpr uint64_t kUsernsSlots = (0xFFFFFFFFull - kUsernsFirst) / kUsernsSize;

const std::regex& NamePattern() {
  static const std::regex re("^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$");
  return re;
}

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

[[noreturn]] void ThrowNameInUse(const std::string& name, const std::string& owner) {
  ThrowConflict("Conflict. The container name \"" + name + "\" is already in use by container \"" +
                owner +
                "\". You have to remove (or rename) that container to be able to reuse that name.");
}

// Docker-style "adjective_name"; our own lists.
std::string GeneratedName() {
  static const char* kAdjectives[] = {"brave",  "calm",   "clever", "eager", "fair",  "gentle",
                                      "happy",  "keen",   "kind",   "lucid", "merry", "modest",
                                      "nimble", "polite", "proud",  "quiet", "rapid", "sharp",
                                      "steady", "sunny",  "swift",  "tidy",  "vivid", "witty"};
  static const char* kNames[] = {
      "albatross", "beacon",   "capstan", "dinghy",   "ensign",  "fathom",   "galley", "harbor",
      "jetty",     "keel",     "lantern", "mooring",  "narwhal", "osprey",   "pier",   "quay",
      "rudder",    "schooner", "tiller",  "undertow", "voyager", "windlass", "yawl",   "zephyr"};
  std::string r = RandomHex(2);
  unsigned v = static_cast<unsigned>(std::stoul(r, nullptr, 16));
  return std::string(kAdjectives[v % std::size(kAdjectives)]) + "_" +
         kNames[(v / std::size(kAdjectives)) % std::size(kNames)];
}

// json-file's max-size: a number with an optional k, m or g (binary units, as go-units'
// RAMInBytes); BuildContainerSpec has checked it.
uint64_t LogSize(const std::string& text) {
  size_t end = 0;
  double n = std::stod(text, &end);
  std::string unit = text.substr(end);
  std::transform(unit.begin(), unit.end(), unit.begin(), ::tolower);
  double scale = 1;
  if (!unit.empty() && unit.back() == 'b') unit.pop_back();
  if (unit == "k") scale = 1024.0;
  if (unit == "m") scale = 1024.0 * 1024;
  if (unit == "g") scale = 1024.0 * 1024 * 1024;
  return static_cast<uint64_t>(n * scale);
}

// A start failure as Docker words it: the docker CLI picks its exit status (127, 126) from
// Go's lowercase errno texts in the message, where the runtime wrote strerror's.
std::string DockerStartError(std::string text) {
  for (auto [from, to] : {std::pair{"Permission denied", "permission denied"},
                          std::pair{"No such file or directory", "no such file or directory"}}) {
    for (size_t at; (at = text.find(from)) != std::string::npos;) {
      text.replace(at, strlen(from), to);
    }
  }
  return text;
}

// Field 22 of /proc/<pid>/stat: the process's start time, in clock ticks since boot.
uint64_t ProcessStartTime(int64_t pid) {
  std::optional<std::string> stat = ReadFileIfExists("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) {
    return 0;
  }
  size_t close = stat->rfind(')');
  if (close == std::string::npos) {
    return 0;
  }
  std::istringstream rest(stat->substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && rest >> field; ++i) {
    if (i == 22) {
      return std::stoull(field);
    }
  }
  return 0;
}

bool IsMountPoint(const std::string& path) {
  struct stat self, parent;
  if (stat(path.c_str(), &self) < 0 || stat((path + "/..").c_str(), &parent) < 0) {
    return false;
  }
  return self.st_dev != parent.st_dev;
}

void Unmount(const std::string& path) {
  if (IsMountPoint(path) && umount2(path.c_str(), MNT_DETACH) < 0) {
    log::Warn("unmount " + path + ": " + strerror(errno));
  }
}

// /etc/passwd and /etc/group lookups inside the container's root, as Docker's user package.
struct PasswdEntry {
  std::string name;
  uint32_t uid = 0, gid = 0;
};

std::vector<std::vector<std::string>> ReadColonFile(int root_fd, const char* path) {
  std::vector<std::vector<std::string>> rows;
  UniqueFd fd(OpenInRoot(root_fd, path, O_RDONLY | O_CLOEXEC));
  if (!fd) {
    return rows;
  }
  std::string text;
  char buf[8192];
  ssize_t n;
  while ((n = read(fd.get(), buf, sizeof(buf))) > 0 && text.size() < (4u << 20)) {
    text.append(buf, static_cast<size_t>(n));
  }
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> fields;
    std::string f;
    std::istringstream parts(line);
    while (std::getline(parts, f, ':')) fields.push_back(f);
    rows.push_back(std::move(fields));
  }
  return rows;
}

bool IsNumber(const std::string& s) {
  return !s.empty() && s.size() < 11 && std::all_of(s.begin(), s.end(), ::isdigit);
}

}  // namespace

ResolvedUser ResolveUser(const std::string& rootfs, const UserLookup& lookup) {
  UniqueFd root(open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) {
    ThrowErrno("open rootfs " + rootfs);
  }
  auto passwd = ReadColonFile(root.get(), "/etc/passwd");
  auto group = ReadColonFile(root.get(), "/etc/group");
  ResolvedUser r;
  std::string user_name;
  bool found = false;
  for (const auto& row : passwd) {
    if (row.size() < 4) continue;
    if (row[0] == lookup.user || (IsNumber(lookup.user) && row[2] == lookup.user)) {
      r.uid = static_cast<uint32_t>(std::stoul(row[2]));
      r.gid = static_cast<uint32_t>(std::stoul(row[3]));
      user_name = row[0];
      found = true;
      break;
    }
  }
  if (!found) {
    if (!IsNumber(lookup.user)) {
      ThrowInvalid("unable to find user " + lookup.user + ": no matching entries in passwd file");
    }
    r.uid = static_cast<uint32_t>(std::stoul(lookup.user));
  }
  auto group_id = [&](const std::string& g) -> uint32_t {
    for (const auto& row : group) {
      if (row.size() >= 3 && (row[0] == g || (IsNumber(g) && row[2] == g))) {
        return static_cast<uint32_t>(std::stoul(row[2]));
      }
    }
    if (IsNumber(g)) return static_cast<uint32_t>(std::stoul(g));
    ThrowInvalid("unable to find group " + g + ": no matching entries in group file");
  };
  if (!lookup.group.empty()) {
    r.gid = group_id(lookup.group);
  }
  // Supplementary groups: every group listing the user by name, then GroupAdd.
  if (!user_name.empty()) {
    for (const auto& row : group) {
      if (row.size() < 4) continue;
      std::istringstream members(row[3]);
      std::string m;
      while (std::getline(members, m, ',')) {
        if (m == user_name) {
          uint32_t g = static_cast<uint32_t>(std::stoul(row[2]));
          if (g != r.gid) r.groups.push_back(g);
        }
      }
    }
  }
  for (const std::string& g : lookup.groups) {
    r.groups.push_back(group_id(g));
  }
  return r;
}

namespace {

// Every device node under /dev for a privileged container (as Docker's GetHostDevices), minus
// the pty and shm trees the runtime makes itself.
void AddHostDevices(nlohmann::json& spec, const std::string& dir) {
  UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  DIR* d = fd ? fdopendir(fd.Release()) : nullptr;
  if (!d) return;
  while (dirent* ent = readdir(d)) {
    std::string name = ent->d_name;
    if (name == "." || name == ".." || name == "pts" || name == "shm" || name == "mqueue" ||
        name == "console" || name == "ptmx") {
      continue;
    }
    std::string path = dir + "/" + name;
    struct stat st;
    if (lstat(path.c_str(), &st) < 0) continue;
    if (S_ISDIR(st.st_mode)) {
      AddHostDevices(spec, path);
    } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
      AddDevice(spec, {path, path, "rwm"}, S_ISCHR(st.st_mode) ? 'c' : 'b', major(st.st_rdev),
                minor(st.st_rdev), st.st_mode & 07777);
    }
  }
  closedir(d);
}

// Docker makes a missing working directory at start (daemon's SetupWorkingDirectory): 0755,
// owned by the container's root. Made through the rootfs, resolved inside it.
void MakeWorkingDir(const std::string& rootfs, const std::string& cwd, uint64_t owner) {
  if (cwd.empty() || cwd == "/") return;  // most containers: nothing to look at on the start path
  UniqueFd root(open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) ThrowErrno("open " + rootfs);
  std::string prefix;
  for (size_t i = 1; i <= cwd.size(); ++i) {
    if (i < cwd.size() && cwd[i] != '/') continue;
    prefix = cwd.substr(0, i);
    int fd = ResolveInRoot(root.get(), prefix);
    if (fd >= 0) {
      close(fd);
      continue;
    }
    if (fd == -ENOENT) fd = ResolveInRoot(root.get(), prefix, CreateMode::kDirs, 0755);
    if (fd < 0) {
      errno = -fd;
      ThrowErrno("working directory " + prefix);
    }
    UniqueFd made(fd);
    if (fchownat(made.get(), "", static_cast<uid_t>(owner), static_cast<gid_t>(owner),
                 AT_EMPTY_PATH) < 0) {
      ThrowErrno("chown the working directory " + prefix);
    }
  }
}

}  // namespace

ContainerService::ContainerService(ContainerPaths paths, ImageService& images, EventBus* events,
                                   VolumeService* volumes, NetworkService* networks)
    : paths_(std::move(paths)),
      images_(images),
      events_(events),
      volumes_(volumes),
      networks_(networks),
      db_(JoinPath(paths_.root, "containers.db")) {
  db_.Exec(R"(
CREATE TABLE IF NOT EXISTS containers (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  doc TEXT NOT NULL
);)");
  MkdirAll(JoinPath(paths_.root, "containers"), 0710);
  MkdirAll(RuntimeRoot(), 0700);
  MkdirAll(JoinPath(paths_.state, "shim"), 0700);
  if (!paths_.shim_binary.empty() && paths_.shim_binary[0] == '/') {
    shim_exe_ = runtime::OpenReadOnlyView(paths_.shim_binary, RuntimeRoot());
  }
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (epoll_fd_ < 0 || wake_fd_ < 0) {
    ThrowErrno("container monitor");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_fd_;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  primer_ = std::make_unique<runtime::CgroupPrimer>(runtime::DetectCgroupLayout());
  Restore();
  if (networks_) {
    std::vector<std::string> running;
    for (auto& item : entries_) {
      if (item.second->c.Running()) running.push_back(item.first);
    }
    networks_->Reconcile(running);  // rules and DNS names from the records, after a crash too
  }
  monitor_ = std::thread([this] { MonitorLoop(); });
  restarter_ = std::thread([this] { RestartLoop(); });
}

ContainerService::~ContainerService() {
  Shutdown();
  if (monitor_.joinable()) {
    monitor_.join();
  }
  if (restarter_.joinable()) {
    restarter_.join();
  }
  if (health_thread_.joinable()) {
    health_thread_.join();
  }
  std::unique_lock<std::mutex> lock(mu_);
  // Probes end once Shutdown hung up their exec connections.
  changed_.wait(lock, [this] { return probes_running_ == 0; });
  for (auto& item : entries_) {
    for (Pending& p : item.second->pending) close(p.fd);
    if (item.second->pidfd >= 0) close(item.second->pidfd);
  }
  close(epoll_fd_);
  close(wake_fd_);
}

void ContainerService::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutting_down_ = true;
    // Exec start handlers wait for their exit codes: the server waits for its handlers.
    for (auto& item : execs_) {
      if (item.second->client) shutdown(item.second->client->fd(), SHUT_RDWR);
    }
  }
  changed_.notify_all();
  health_changed_.notify_all();
  uint64_t one = 1;
  ssize_t ignored = write(wake_fd_, &one, sizeof(one));
  (void)ignored;
}

void ContainerService::Notify() { changed_.notify_all(); }

void ContainerService::Emit(const Container& c, const std::string& action,
                            const std::map<std::string, std::string>& extra) {
  if (events_) {
    events_->Publish(ContainerEvent(c, action, extra));
  }
}

std::string ContainerService::Dir(const std::string& id) const {
  return JoinPath(JoinPath(paths_.root, "containers"), id);
}

// A unix socket path has 108 bytes at most (and the shim adds ".console" for a TTY's): 96 bits
// of the id are plenty to tell containers apart.
std::string ContainerService::SocketPath(const std::string& id) const {
  return JoinPath(JoinPath(paths_.state, "shim"), id.substr(0, 24) + ".sock");
}

std::string ContainerService::RuntimeRoot() const { return JoinPath(paths_.state, "runtime"); }

void ContainerService::Save(Entry& e) {
  Container copy;
  {
    std::lock_guard<std::mutex> lock(mu_);  // the monitor thread changes state concurrently
    copy = e.c;
  }
  Save(copy);
}

void ContainerService::Save(const Container& c) {
  std::lock_guard<std::mutex> lock(db_mu_);
  db_.Prepare("INSERT OR REPLACE INTO containers (id, name, doc) VALUES (?1, ?2, ?3)")
      .Bind(1, c.id)
      .Bind(2, c.name)
      .Bind(3, ToJson(c).dump())
      .Run();
}

std::shared_ptr<ContainerService::Entry> ContainerService::Find(const std::string& ref) {
  std::lock_guard<std::mutex> lock(mu_);
  if (ref.empty()) {
    ThrowNotFound("No such container: " + ref);
  }
  auto it = entries_.find(ref);
  if (it != entries_.end()) {
    return it->second;
  }
  std::string want = ref[0] == '/' ? ref : "/" + ref;
  for (auto& item : entries_) {
    if (item.second->c.name == want) return item.second;
  }
  std::shared_ptr<Entry> found;
  for (auto& item : entries_) {
    if (item.first.compare(0, ref.size(), ref) == 0) {
      if (found) {
        throw Error(Kind::kInvalidArgument, "multiple IDs found with provided prefix: " + ref);
      }
      found = item.second;
    }
  }
  if (!found) {
    ThrowNotFound("No such container: " + ref);
  }
  return found;
}

std::string ContainerService::ResolveId(const std::string& ref) { return Find(ref)->c.id; }

uint64_t ContainerService::AllocateUsernsBase() {
  std::set<uint64_t> used;
  for (auto& item : entries_) {
    if (item.second->c.userns_base != 0) used.insert(item.second->c.userns_base);
  }
  for (uint64_t slot = 0; slot < kUsernsSlots; ++slot) {
    uint64_t base = kUsernsFirst + slot * kUsernsSize;
    if (!used.count(base)) return base;
  }
  throw Error(Kind::kUnavailable, "no free user namespace range");
}

CreateResult ContainerService::Create(const std::string& requested_name,
                                      const nlohmann::json& body) {
  if (!body.is_object()) {
    ThrowInvalid("config cannot be empty in order to create a container");
  }
  primer_->Prime();  // a create is most often followed by a start: see cgroup_primer.h
  std::string name = requested_name;
  if (!name.empty() && !std::regex_match(name, NamePattern())) {
    ThrowInvalid("Invalid container name (" + name +
                 "), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
  }
  std::string image_ref =
      body.contains("Image") && body["Image"].is_string() ? body["Image"].get<std::string>() : "";
  if (image_ref.empty()) {
    ThrowInvalid("Config.Image: no image given");
  }
  std::string image_id;
  try {
    image_id = images_.Resolve(image_ref);
  } catch (const Error& e) {
    if (e.kind() == Kind::kNotFound) {
      ThrowNotFound("No such image: " + image_ref);
    }
    throw;
  }
  nlohmann::json image_config = images_.Inspect(image_id).value("Config", nlohmann::json());

  Container c;
  c.id = RandomHex(32);
  c.image = image_ref;
  c.image_id = image_id;
  c.created = shim::FormatJsonTime(NowNs());
  c.chain_ids = images_.ChainIds(image_id);
  c.log_path = JoinPath(Dir(c.id), c.id + "-json.log");

  ContainerSpecInput in{
      body, image_config, c.id, "", JoinPath(Dir(c.id), "rootfs"), c.id.substr(0, 12)};
  auto entry = std::make_shared<Entry>();
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto owner = [this](const std::string& slashed) -> const std::string* {
      for (auto& item : entries_) {
        if (item.second->c.name == slashed) return &item.first;
      }
      return nullptr;
    };
    // A generated name: adjective_noun, with a random suffix once the plain ones run short.
    for (int tries = 0; name.empty() && tries < 100; ++tries) {
      std::string candidate = GeneratedName() + (tries < 10 ? "" : "_" + RandomHex(2));
      if (!owner("/" + candidate)) name = candidate;
    }
    c.name = name[0] == '/' ? name : "/" + name;
    if (const std::string* other = owner(c.name)) {
      ThrowNameInUse(c.name, *other);
    }
    in.name = c.name;
    ContainerSpec spec = BuildContainerSpec(in);  // validates; errors name the field
    c.config = spec.config;
    c.host_config = spec.host_config;
    const auto& args = spec.spec["process"]["args"];
    c.path = args.at(0).get<std::string>();
    for (size_t i = 1; i < args.size(); ++i) c.args.push_back(args[i].get<std::string>());
    std::string userns = c.host_config.value("UsernsMode", "");
    c.userns_base = userns == "host" ? 0 : AllocateUsernsBase();
    if (spec.init && paths_.init_binary.empty()) {
      throw Error(Kind::kNotImplemented, "HostConfig.Init: no init binary configured");
    }
    c.mounts = ResolveMountsLocked(c);  // makes the volumes it needs; undone below
    entry->c = c;
    entries_[c.id] = entry;  // reserves the name and the user namespace range
    CreateResult result{c.id, spec.warnings};
    try {
      MkdirAll(Dir(c.id), 0710);
      WriteFileAtomic(JoinPath(Dir(c.id), "create.json"),
                      nlohmann::json{{"body", body}, {"image_config", image_config}}.dump(), 0600);
      MkdirAll(JoinPath(Dir(c.id), "rootfs"), 0755);
      DeclareNetworks(c, body);
      Save(c);
      Emit(c, "create");
    } catch (...) {
      if (networks_) networks_->Forget(c.id);
      entries_.erase(c.id);
      RemoveAll(Dir(c.id));
      DropVolumes(c, true);
      throw;
    }
    return result;
  }
}

nlohmann::json ContainerService::FinalSpec(Entry& e) {
  std::string dir = Dir(e.c.id);
  nlohmann::json saved = nlohmann::json::parse(ReadFile(JoinPath(dir, "create.json")));
  nlohmann::json body = saved["body"];
  // What update changed since create.
  for (auto& item : e.c.host_config.items()) {
    body["HostConfig"][item.key()] = item.value();
  }
  std::string rootfs = JoinPath(dir, "rootfs");
  ContainerSpecInput in{body,   saved["image_config"], e.c.id, e.c.name,
                        rootfs, e.c.id.substr(0, 12)};
  std::vector<MountPoint> mounts;
  if (e.c.mounts) {
    mounts = PrepareMounts(e);  // volumes mounted, missing -v directories made
    in.mounts = &mounts;
  }
  ContainerSpec spec = BuildContainerSpec(in);
  nlohmann::json& s = spec.spec;
  if (!IsMountPoint(rootfs)) {
    if (e.c.userns_base != 0) {
      // The rootfs is id-mapped here, layer by layer (overlayfs itself cannot be), so the
      // runtime must not map it again.
      std::vector<oci::IdMapping> map = {
          {0, static_cast<uint32_t>(e.c.userns_base), static_cast<uint32_t>(kUsernsSize)}};
      UniqueFd userns = runtime::MakeMappingUserns(map, map);
      // The upper directory is the container's own (a new, empty directory: no image data is
      // chowned); the container's writes land there as its ids.
      std::string upper = JoinPath(dir, "rw/upper");
      MkdirAll(upper, 0755);
      if (chown(upper.c_str(), static_cast<uid_t>(e.c.userns_base),
                static_cast<gid_t>(e.c.userns_base)) < 0) {
        ThrowErrno("chown " + upper);
      }
      images_.snapshots().MountRootfs(e.c.chain_ids, JoinPath(dir, "rw"), rootfs, userns.get());
    } else {
      images_.snapshots().MountRootfs(e.c.chain_ids, JoinPath(dir, "rw"), rootfs);
    }
  }
  CopyUpVolumes(e, rootfs);
  MakeWorkingDir(rootfs, s["process"].value("cwd", "/"), e.c.userns_base);
  if (s.contains("annotations")) {
    s["annotations"].erase(runtime::kRootfsIdmapAnnotation);
    if (s["annotations"].empty()) s.erase("annotations");
  }
  if (spec.needs_user_lookup) {
    ResolvedUser u = ResolveUser(rootfs, spec.user_lookup);
    if (e.c.userns_base != 0 && (u.uid >= kUsernsSize || u.gid >= kUsernsSize)) {
      ThrowInvalid("Config.User: uid/gid " + std::to_string(u.uid) + ":" + std::to_string(u.gid) +
                   " is outside the container's user namespace (0-65535)");
    }
    ApplyResolvedUser(s, u.uid, u.gid, u.groups);
  }
  for (const DeviceRequest& d : spec.devices) {
    struct stat st;
    if (stat(d.path_on_host.c_str(), &st) < 0 || !(S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))) {
      ThrowInvalid("error gathering device information while adding custom device \"" +
                   d.path_on_host + "\": not a device node");
    }
    AddDevice(s, d, S_ISCHR(st.st_mode) ? 'c' : 'b', major(st.st_rdev), minor(st.st_rdev),
              st.st_mode & 07777);
    if (e.c.userns_base != 0 && d.path_in_container != d.path_on_host) {
      // In a user namespace the runtime binds the host's node at the same path (mknod is
      // refused there): a node that moves is bound from where it is instead. The device
      // cgroup rule AddDevice wrote stays.
      s["linux"]["devices"].erase(s["linux"]["devices"].size() - 1);
      s["mounts"].push_back({{"destination", d.path_in_container},
                             {"type", "bind"},
                             {"source", d.path_on_host},
                             {"options", {"bind", "nosuid", "noexec"}}});
    }
  }
  if (spec.all_host_devices) {
    AddHostDevices(s, "/dev");
  }
  if (spec.init) {
    s["mounts"].push_back({{"destination", "/sbin/docker-init"},
                           {"type", "bind"},
                           {"source", paths_.init_binary},
                           {"options", {"bind", "ro", "nosuid", "nodev"}}});
    nlohmann::json args = {"/sbin/docker-init", "--"};
    for (const auto& a : s["process"]["args"]) args.push_back(a);
    s["process"]["args"] = args;
  }
  if (e.c.userns_base != 0) {
    for (const char* key : {"uidMappings", "gidMappings"}) {
      if (s["linux"].contains(key)) {
        for (auto& m : s["linux"][key]) m["hostID"] = e.c.userns_base;
      }
    }
  }
  return s;
}

bool ContainerService::Start(const std::string& ref) {
  std::shared_ptr<Entry> e = Find(ref);
  std::lock_guard<std::mutex> op(e->op);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (e->removed) ThrowNotFound("No such container: " + ref);
    if (e->c.Running()) return false;
    ResetRestartLocked(*e);
  }
  StartLocked(*e);
  return true;
}

void ContainerService::StartLocked(Entry& e) {
  primer_->Prime();
  const std::string id = e.c.id;
  const std::string dir = Dir(id);
  auto fail = [&](const std::string& what) {
    std::string text = DockerStartError(what);
    // Docker records the code a shell would give, and an AutoRemove container goes.
    ReleaseNetwork(id);
    Unmount(JoinPath(dir, "rootfs"));
    UnmountVolumes(e.c);
    bool remove;
    {
      std::lock_guard<std::mutex> lock(mu_);
      e.c.state.status = ContainerStatus::kExited;
      e.c.state.exit_code = shim::StartFailureExitCode(text);
      e.c.state.error = text;
      e.c.state.pid = 0;
      e.c.state.finished_at = shim::FormatJsonTime(NowNs());
      ++e.exits;
      for (Pending& p : e.pending) close(p.fd);
      e.pending.clear();
      remove = e.c.host_config.value("AutoRemove", false);
    }
    Save(e);
    if (remove) RemoveLocked(e, true);
    Notify();
    throw Error(Kind::kInvalidArgument, text);
  };

  nlohmann::json spec;
  try {
    spec = FinalSpec(e);
    PrepareNetwork(e, spec);
    // Made anew at every start from create.json (durable): a power loss can cost it only
    // while the container it was for is gone as well.
    WriteFileAtomic(JoinPath(dir, "config.json"), spec.dump(), 0600, Durability::kVolatile);
  } catch (const Error& err) {
    fail(err.what());
  }
  unlink(JoinPath(dir, "exit.json").c_str());

  shim::SpawnOptions so;
  so.shim_binary = paths_.shim_binary;
  so.shim_fd = shim_exe_ ? shim_exe_.get() : -1;
  so.id = id;
  so.bundle = dir;
  so.runtime_root = RuntimeRoot();
  so.log_path = e.c.log_path;
  so.exit_path = JoinPath(dir, "exit.json");
  so.socket_path = SocketPath(id);
  so.shim_log = JoinPath(dir, "shim.log");
  nlohmann::json log_opts;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto lc = e.c.host_config.find("LogConfig");
    if (lc != e.c.host_config.end() && lc->is_object()) {
      log_opts = lc->value("Config", nlohmann::json::object());
    }
    so.stdin_open = e.c.config.value("OpenStdin", false);
    so.stdin_once = e.c.config.value("StdinOnce", false);
  }
  if (log_opts.contains("max-size")) {
    so.log_max_size = LogSize(log_opts["max-size"].get<std::string>());
  }
  if (log_opts.contains("max-file")) {
    so.log_max_file = std::stoi(log_opts["max-file"].get<std::string>());
  }

  shim::Spawned spawned;
  try {
    spawned = shim::Spawn(so);
  } catch (const Error& err) {
    fail(err.what());
  }
  std::vector<Pending> pending;
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending.swap(e.pending);
    e.c.state.status = ContainerStatus::kRunning;
    e.c.state.pid = spawned.pid;
    e.c.state.error.clear();
    e.c.state.exit_code = 0;
    e.c.state.shim_pid = spawned.shim_pid;
    e.c.state.shim_start_time = ProcessStartTime(spawned.shim_pid);
    e.c.state.started_at = shim::FormatJsonTime(NowNs());
    e.c.state.health = ContainerHealth{};
    WatchHealth(e.c, true);
    if (health_.count(id)) e.c.state.health.status = "starting";
  }
  // Recorded before the process starts: a berthd that dies from here on finds the shim again.
  Save(e);
  Watch(id, spawned.shim_pid);
  std::string start_error;
  try {
    AttachNetwork(e, spawned.pid);  // the init exists, its process has not started
  } catch (const Error& err) {
    start_error = DockerStartError(err.what());
    ReleaseNetwork(id);
    try {
      KillLocked(e, SIGKILL);  // the monitor finishes the container
    } catch (const Error& kill_err) {
      log::Warn("start " + id + ": " + kill_err.what());
    }
  }
  try {
    if (!start_error.empty()) throw Error(Kind::kInvalidArgument, start_error);
    shim::Client client = shim::Client::Connect(so.socket_path);
    for (Pending& p : pending) {
      shim::AttachOptions ao{p.request.stdin, p.request.stdout, p.request.stderr,
                             p.request.detach_keys};
      try {
        client.Attach(p.fd, ao, p.initial);
      } catch (const Error& err) {
        log::Warn("attach " + id + ": " + err.what());
      }
      close(p.fd);
    }
    pending.clear();
    client.Start();
  } catch (const Error& err) {
    start_error = DockerStartError(err.what());
  }
  for (Pending& p : pending) close(p.fd);
  if (!start_error.empty()) {
    // The shim records the exit (127/126) and goes; the monitor finishes the container.
    std::lock_guard<std::mutex> lock(mu_);
    e.c.state.error = start_error;
    throw Error(Kind::kInvalidArgument, start_error);
  }
  Emit(e.c, "start");
}

void ContainerService::Watch(const std::string& id, int shim_pid) {
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, shim_pid, 0));
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) {
    if (pidfd >= 0) close(pidfd);
    return;
  }
  if (pidfd < 0) {
    // Gone already: let the monitor finish it.
    pidfd = eventfd(1, EFD_CLOEXEC);
  }
  it->second->pidfd = pidfd;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = pidfd;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, pidfd, &ev);
}

void ContainerService::MonitorLoop() {
  for (;;) {
    epoll_event events[16];
    int n = epoll_wait(epoll_fd_, events, 16, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      log::Error(std::string("container monitor: ") + strerror(errno));
      return;
    }
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == wake_fd_) {
        std::lock_guard<std::mutex> lock(mu_);
        if (shutting_down_) return;
        continue;
      }
      std::string id;
      std::shared_ptr<ExecInfo> exec;
      {
        std::lock_guard<std::mutex> lock(mu_);
        for (auto& item : entries_) {
          if (item.second->pidfd == fd) id = item.first;
        }
        for (auto& item : execs_) {
          if (item.second->client && item.second->client->fd() == fd) exec = item.second;
        }
      }
      epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
      if (exec) {
        FinishExec(*exec);  // a detached exec's exit code is there to read
        continue;
      }
      if (id.empty()) {
        close(fd);
        continue;
      }
      Exited(id, fd);
    }
  }
}

void ContainerService::Exited(const std::string& id, int pidfd) {
  std::shared_ptr<Entry> e;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(id);
    if (it == entries_.end()) return;
    e = it->second;
    if (e->pidfd == pidfd) e->pidfd = -1;
  }
  close(pidfd);
  std::string dir = Dir(id);
  int64_t code = 255;
  std::string finished = shim::FormatJsonTime(NowNs());
  std::string error;
  std::optional<std::string> record = ReadFileIfExists(JoinPath(dir, "exit.json"));
  nlohmann::json exit = record ? nlohmann::json::parse(*record, nullptr, false) : nlohmann::json();
  if (exit.is_object() && exit.contains("ExitCode")) {
    code = exit.value("ExitCode", int64_t{255});
    finished = exit.value("FinishedAt", finished);
  } else {
    // The shim died without its record (killed): make sure nothing of the container is left.
    error = "berth-shim exited without an exit record";
    try {
      runtime::Runtime rt(RuntimeRoot());
      rt.Kill(id, SIGKILL, true);
    } catch (const Error&) {
    }
    try {
      runtime::Runtime(RuntimeRoot()).Delete(id, true);
    } catch (const Error&) {
    }
  }
  unlink(SocketPath(id).c_str());
  ReleaseNetwork(id, true);
  Unmount(JoinPath(dir, "rootfs"));
  UnmountVolumes(e->c);
  bool remove;
  {
    std::lock_guard<std::mutex> lock(mu_);
    e->c.state.status = ContainerStatus::kExited;
    e->c.state.pid = 0;
    e->c.state.exit_code = code;
    health_.erase(id);
    e->c.state.finished_at = finished;
    e->c.state.shim_pid = 0;
    e->c.state.shim_start_time = 0;
    if (!error.empty()) e->c.state.error = error;
    ++e->exits;
    for (const std::string& x : e->exec_ids) {
      auto it = execs_.find(x);
      if (it != execs_.end()) it->second->running = false;
    }
    remove = e->c.host_config.value("AutoRemove", false) && !e->removed;
    PlanRestartLocked(*e);  // restarting, when the policy says so
  }
  Save(*e);
  Emit(e->c, "die", {{"exitCode", std::to_string(code)}});
  Notify();
  if (remove) {
    std::lock_guard<std::mutex> op(e->op);
    bool still;
    {
      std::lock_guard<std::mutex> lock(mu_);
      still = !e->removed && !e->c.Running();
    }
    if (still) {
      try {
        RemoveLocked(*e, true);  // as `rm -v`, Docker's --rm
      } catch (const Error& err) {
        log::Warn("auto-remove " + id + ": " + err.what());
      }
    }
  }
}

void ContainerService::Restore() {
  std::vector<Container> all;
  {
    std::lock_guard<std::mutex> lock(db_mu_);
    Statement s = db_.Prepare("SELECT doc FROM containers");
    while (s.Step()) {
      try {
        all.push_back(ContainerFromJson(nlohmann::json::parse(s.Text(0))));
      } catch (const std::exception& e) {
        log::Error(std::string("container record skipped: ") + e.what());
      }
    }
  }
  for (Container& c : all) {
    auto e = std::make_shared<Entry>();
    e->c = c;
    {
      std::lock_guard<std::mutex> lock(mu_);
      entries_[c.id] = e;
    }
    RestoreVolumes(c);
    if (c.state.status == ContainerStatus::kRemoving) {
      RemoveLocked(*e);
      continue;
    }
    if (RestartAtDaemonStart(*e)) {
      Unmount(JoinPath(Dir(c.id), "rootfs"));
      continue;
    }
    if (!c.Running()) {
      Unmount(JoinPath(Dir(c.id), "rootfs"));
      continue;
    }
    // Still ours only when the same process (pid and start time) is there.
    bool alive = c.state.shim_pid > 0 && c.state.shim_start_time != 0 &&
                 ProcessStartTime(c.state.shim_pid) == c.state.shim_start_time;
    Watch(c.id, alive ? static_cast<int>(c.state.shim_pid) : 0);
    if (alive) {
      std::lock_guard<std::mutex> lock(mu_);
      WatchHealth(c, false);
    }
  }
  if (volumes_) volumes_->SweepMounts();  // what no running container needs any more
}

void ContainerService::KillLocked(Entry& e, int signal) {
  runtime::Runtime rt(RuntimeRoot());
  rt.Kill(e.c.id, signal, false);
}

void ContainerService::Kill(const std::string& ref, const std::string& signal) {
  std::shared_ptr<Entry> e = Find(ref);
  int sig = signal.empty() ? SIGKILL : runtime::ParseSignal(signal);
  std::unique_lock<std::mutex> lock(mu_);
  if (!e->c.Running()) {
    ThrowConflict("Container " + e->c.id + " is not running");
  }
  if (CancelRestartLocked(*e)) {  // restarting: no process to signal, and no restart
    lock.unlock();
    Save(*e);
    return;
  }
  e->c.state.manually_stopped = true;  // as Docker: a kill ends the restart policy's hold
  KillLocked(*e, sig);
  Emit(e->c, "kill", {{"signal", std::to_string(sig)}});
}

bool ContainerService::Stop(const std::string& ref, int timeout) {
  std::shared_ptr<Entry> e = Find(ref);
  std::lock_guard<std::mutex> op(e->op);
  std::unique_lock<std::mutex> lock(mu_);
  if (!e->c.Running()) return false;
  e->c.state.manually_stopped = true;  // the restart policy leaves it stopped
  if (CancelRestartLocked(*e)) {
    lock.unlock();
    Save(*e);
    Emit(e->c, "stop");
    return true;
  }
  if (timeout < 0) {
    timeout = e->c.config.contains("StopTimeout") && e->c.config["StopTimeout"].is_number()
                  ? e->c.config["StopTimeout"].get<int>()
                  : 10;
  }
  std::string stop_signal = e->c.config.value("StopSignal", "");
  int sig = stop_signal.empty() ? SIGTERM : runtime::ParseSignal(stop_signal);
  uint64_t seen = e->exits;
  if (e->c.state.status == ContainerStatus::kPaused) {
    runtime::Runtime(RuntimeRoot()).Resume(e->c.id);
    e->c.state.status = ContainerStatus::kRunning;
  }
  try {
    KillLocked(*e, sig);
  } catch (const Error& err) {
    log::Warn("stop " + e->c.id + ": " + err.what());
  }
  auto exited = [&] { return e->exits != seen || shutting_down_; };
  if (!changed_.wait_for(lock, std::chrono::seconds(timeout), exited)) {
    try {
      KillLocked(*e, SIGKILL);
    } catch (const Error& err) {
      log::Warn("stop " + e->c.id + ": " + err.what());
    }
    changed_.wait(lock, exited);
  }
  Emit(e->c, "stop");
  return true;
}

void ContainerService::Restart(const std::string& ref, int timeout) {
  Stop(ref, timeout);
  Start(ref);
  std::shared_ptr<Entry> e = Find(ref);
  std::lock_guard<std::mutex> lock(mu_);
  Emit(e->c, "restart");
}

void ContainerService::Remove(const std::string& ref, bool force, bool volumes) {
  std::shared_ptr<Entry> e = Find(ref);
  std::lock_guard<std::mutex> op(e->op);
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (e->removed) ThrowNotFound("No such container: " + ref);
    if (e->c.state.status == ContainerStatus::kRestarting && !force) {
      ThrowConflict("You cannot remove a restarting container " + e->c.id +
                    ". Stop the container before attempting removal or force remove");
    }
    CancelRestartLocked(*e);
    if (e->c.Running()) {
      if (!force) {
        ThrowConflict("You cannot remove a running container " + e->c.id +
                      ". Stop the container before attempting removal or force remove");
      }
      uint64_t seen = e->exits;
      if (e->c.state.status == ContainerStatus::kPaused) {
        runtime::Runtime(RuntimeRoot()).Resume(e->c.id);
      }
      try {
        KillLocked(*e, SIGKILL);
      } catch (const Error& err) {
        log::Warn("remove " + e->c.id + ": " + err.what());
      }
      changed_.wait(lock, [&] { return e->exits != seen || shutting_down_; });
      if (shutting_down_) throw Error(Kind::kUnavailable, "berthd is shutting down");
    }
  }
  RemoveLocked(*e, volumes);
}

void ContainerService::RemoveLocked(Entry& e, bool volumes) {
  const std::string id = e.c.id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (e.removed) return;
    e.c.state.status = ContainerStatus::kRemoving;
  }
  Save(e);
  if (networks_) {
    try {
      networks_->Forget(id);
    } catch (const Error& err) {
      log::Warn("remove " + id + ": network endpoints: " + err.what());
    }
  }
  Unmount(JoinPath(Dir(id), "rootfs"));
  if (!RemoveAll(Dir(id))) {
    log::Warn("remove " + Dir(id) + ": " + strerror(errno));
  }
  {
    std::lock_guard<std::mutex> lock(db_mu_);
    db_.Prepare("DELETE FROM containers WHERE id = ?1").Bind(1, id).Run();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    e.removed = true;
    for (Pending& p : e.pending) close(p.fd);
    e.pending.clear();
    for (const std::string& x : e.exec_ids) execs_.erase(x);
    entries_.erase(id);
  }
  DropVolumes(e.c, volumes);
  Emit(e.c, "destroy");
  Notify();
}

void ContainerService::Rename(const std::string& ref, const std::string& new_name) {
  if (new_name.empty() || !std::regex_match(new_name, NamePattern())) {
    ThrowInvalid("Invalid container name (" + new_name +
                 "), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
  }
  std::shared_ptr<Entry> e = Find(ref);
  std::lock_guard<std::mutex> op(e->op);  // start and update read the name
  std::string name = new_name[0] == '/' ? new_name : "/" + new_name;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (e->c.name == name) {
      ThrowInvalid("Renaming a container with the same name as its current name");
    }
    for (auto& item : entries_) {
      if (item.second->c.name == name) ThrowNameInUse(name, item.first);
    }
    std::string old = e->c.name;
    e->c.name = name;
    Emit(e->c, "rename", {{"oldName", old}});
  }
  Save(*e);
  if (networks_) networks_->Renamed(e->c.id, name);  // its DNS name on every network
}

void ContainerService::Pause(const std::string& ref) {
  std::shared_ptr<Entry> e = Find(ref);
  std::lock_guard<std::mutex> op(e->op);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!e->c.Running()) ThrowConflict("Container " + e->c.id + " is not running");
    if (e->c.state.status == ContainerStatus::kPaused) {
      ThrowConflict("Container " + e->c.id + " is already paused");
    }
    if (e->c.state.status == ContainerStatus::kRestarting) {
      ThrowConflict("Container " + e->c.id + " is restarting, wait until the container is running");
    }
  }
  runtime::Runtime(RuntimeRoot()).Pause(e->c.id);
  {
    std::lock_guard<std::mutex> lock(mu_);
    e->c.state.status = ContainerStatus::kPaused;
    Emit(e->c, "pause");
  }
  Save(*e);
}

void ContainerService::Unpause(const std::string& ref) {
  std::shared_ptr<Entry> e = Find(ref);
  std::lock_guard<std::mutex> op(e->op);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (e->c.state.status != ContainerStatus::kPaused) {
      ThrowConflict("Container " + e->c.id + " is not paused");
    }
  }
  runtime::Runtime(RuntimeRoot()).Resume(e->c.id);
  {
    std::lock_guard<std::mutex> lock(mu_);
    e->c.state.status = ContainerStatus::kRunning;
    Emit(e->c, "unpause");
  }
  Save(*e);
}

nlohmann::json ContainerService::Update(const std::string& ref, const nlohmann::json& body) {
  if (!body.is_object()) ThrowInvalid("update: the body must be a JSON object");
  std::shared_ptr<Entry> e = Find(ref);
  std::lock_guard<std::mutex> op(e->op);
  static const std::set<std::string> kResources = {
      "Memory",    "MemorySwap", "MemoryReservation", "NanoCpus",  "CpuShares",   "CpuQuota",
      "CpuPeriod", "CpusetCpus", "CpusetMems",        "PidsLimit", "BlkioWeight", "RestartPolicy"};
  nlohmann::json host_config;
  {
    std::lock_guard<std::mutex> lock(mu_);
    host_config = e->c.host_config;
  }
  for (auto& item : body.items()) {
    if (item.value().is_null()) continue;
    if (!kResources.count(item.key())) {
      // Docker ignores the rest of the Resources struct's zero values.
      if (item.value() == 0 || item.value() == "" || item.value().empty()) continue;
      ThrowInvalid("update: " + item.key() + " cannot be updated");
    }
    if (item.key() != "RestartPolicy" && (item.value() == 0 || item.value() == "")) continue;
    host_config[item.key()] = item.value();
  }
  // Validate through the spec builder, then apply the resources to the running container.
  nlohmann::json saved = nlohmann::json::parse(ReadFile(JoinPath(Dir(e->c.id), "create.json")));
  nlohmann::json cbody = saved["body"];
  cbody["HostConfig"] = host_config;
  ContainerSpec spec =
      BuildContainerSpec({cbody, saved["image_config"], e->c.id, e->c.name,
                          JoinPath(Dir(e->c.id), "rootfs"), e->c.id.substr(0, 12)});
  bool running;
  {
    std::lock_guard<std::mutex> lock(mu_);
    running = e->c.Running();
  }
  if (running) {
    runtime::Runtime(RuntimeRoot()).Update(e->c.id, spec.spec["linux"]["resources"]);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    e->c.host_config = spec.host_config;
    Emit(e->c, "update");
  }
  Save(*e);
  return {{"Warnings", spec.warnings}};
}

void ContainerService::Resize(const std::string& ref, int height, int width) {
  std::shared_ptr<Entry> e = Find(ref);
  std::string id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!e->c.Running()) ThrowConflict("Container " + e->c.id + " is not running");
    id = e->c.id;
  }
  shim::Client::Connect(SocketPath(id)).Resize(width, height);
}

WaitResult ContainerService::WaitFor(const std::string& id, WaitCondition condition,
                                     const std::function<bool()>& gone) {
  std::unique_lock<std::mutex> lock(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) {
    if (condition == WaitCondition::kRemoved) return {0, ""};
    ThrowNotFound("No such container: " + id);
  }
  std::shared_ptr<Entry> e = it->second;
  uint64_t seen = e->exits;
  auto done = [&] {
    switch (condition) {
      case WaitCondition::kNotRunning:
        return !e->c.Running() || e->exits != seen;  // a restart policy's exit counts
      case WaitCondition::kNextExit:
        return e->exits != seen;
      case WaitCondition::kRemoved:
        return e->removed;
    }
    return true;
  };
  while (!done()) {
    if (shutting_down_) return {-1, "berthd is shutting down"};
    changed_.wait_for(lock, std::chrono::seconds(1));
    if (gone && !done()) {
      lock.unlock();
      bool client_gone = gone();
      lock.lock();
      if (client_gone) return {-1, "context canceled"};
    }
  }
  return {e->c.state.exit_code, ""};
}

void ContainerService::Attach(const std::string& ref, bool stream, const AttachRequest& request,
                              const UpgradeFn& upgrade) {
  std::shared_ptr<Entry> e = Find(ref);
  std::lock_guard<std::mutex> op(e->op);
  ContainerStatus status;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (e->removed) ThrowNotFound("No such container: " + ref);
    status = e->c.state.status;
  }
  if (stream && status == ContainerStatus::kExited) {
    ThrowConflict("You cannot attach to a stopped container, start it first");
  }
  std::string buffered;
  int fd = upgrade(&buffered);
  if (!stream) return;
  UniqueFd copy(fcntl(fd, F_DUPFD_CLOEXEC, 3));
  if (!copy) ThrowErrno("dup");
  if (status == ContainerStatus::kCreated) {
    std::lock_guard<std::mutex> lock(mu_);
    e->pending.push_back({copy.Release(), request, buffered});
    return;
  }
  shim::Client client = shim::Client::Connect(SocketPath(e->c.id));
  client.Attach(copy.get(), {request.stdin, request.stdout, request.stderr, request.detach_keys},
                buffered);
  Emit(e->c, "attach");
}

std::pair<std::string, bool> ContainerService::LogInfo(const std::string& ref) {
  std::shared_ptr<Entry> e = Find(ref);
  std::lock_guard<std::mutex> lock(mu_);
  return {e->c.log_path, e->c.config.value("Tty", false)};
}

bool ContainerService::Running(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(id);
  return it != entries_.end() && it->second->c.Running();
}

ContainerCounts ContainerService::Counts() {
  std::lock_guard<std::mutex> lock(mu_);
  ContainerCounts n;
  for (auto& item : entries_) {
    ++n.total;
    n.paused += item.second->c.state.status == ContainerStatus::kPaused;
    n.running += item.second->c.state.status == ContainerStatus::kRunning;
  }
  return n;
}

std::vector<std::string> ContainerService::ImagesInUse() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> ids;
  for (auto& item : entries_) ids.push_back(item.second->c.image_id);
  return ids;
}

nlohmann::ordered_json ContainerService::Inspect(const std::string& ref) {
  std::shared_ptr<Entry> e = Find(ref);
  std::lock_guard<std::mutex> lock(mu_);
  InspectExtras x;
  std::string dir = Dir(e->c.id);
  for (auto it = e->c.chain_ids.rbegin(); it != e->c.chain_ids.rend(); ++it) {
    x.lower_dir += (x.lower_dir.empty() ? "" : ":") + images_.snapshots().FsPath(*it);
  }
  x.upper_dir = JoinPath(dir, "rw/upper");
  x.work_dir = JoinPath(dir, "rw/work");
  x.merged_dir = JoinPath(dir, "rootfs");
  for (const std::string& exec_id : e->exec_ids) {
    auto it = execs_.find(exec_id);
    if (it != execs_.end() && it->second->running) x.exec_ids.push_back(exec_id);
  }
  if (networks_) {
    x.networks = networks_->ContainerNetworks(e->c.id);
    x.ports = PortsJson(e->c, false);
    if (e->c.Running() && x.networks.is_object()) {
      x.sandbox_key = "/proc/" + std::to_string(e->c.state.pid) + "/ns/net";
    }
  }
  for (const char* f : {"resolv.conf", "hostname", "hosts"}) {
    std::string path = JoinPath(dir, f);
    if (access(path.c_str(), F_OK) != 0) continue;
    (f[0] == 'r' ? x.resolv_conf_path : f[4] == 'n' ? x.hostname_path : x.hosts_path) = path;
  }
  return InspectJson(e->c, x);
}

nlohmann::json ContainerService::List(bool all, int limit, bool size, const Filters& filters) {
  ValidateContainerFilters(filters);
  std::vector<Container> list;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& item : entries_) list.push_back(item.second->c);
  }
  std::vector<const Container*> order;
  for (const Container& c : list) order.push_back(&c);
  SortNewestFirst(order);
  FilterContext ctx;
  ctx.find_container = [&list](const std::string& ref) -> const Container* {
    std::string name = ref.empty() || ref[0] == '/' ? ref : "/" + ref;
    for (const Container& c : list) {
      if (c.id == ref || c.name == name) return &c;
    }
    const Container* found = nullptr;
    for (const Container& c : list) {
      if (c.id.compare(0, ref.size(), ref) == 0) found = found ? nullptr : &c;
    }
    return found;
  };
  ctx.image_matches = [this](const std::string& image, const std::string& image_id) {
    try {
      return images_.Resolve(image) == image_id;
    } catch (const Error&) {
      return false;
    }
  };
  ContainerFilter filter(filters, ctx);
  all = all || filter.ImpliesAll();
  int64_t now = NowNs();
  nlohmann::json out = nlohmann::json::array();
  for (const Container* c : order) {
    if (!all && !c->Running()) continue;
    if (!filter.Matches(*c)) continue;
    if (limit > 0 && static_cast<int>(out.size()) >= limit) break;
    ListExtras x;
    if (size) {
      // What the container wrote (its upper directory), and that over its image.
      x.size_rw = static_cast<int64_t>(DiskUsage(JoinPath(Dir(c->id), "rw/upper")));
      x.size_root_fs = *x.size_rw + images_.Size(c->image_id);
    }
    if (networks_) {
      x.networks = networks_->ContainerNetworks(c->id);
      x.ports = PortsJson(*c, true);
    }
    out.push_back(ListEntry(*c, now, x));
  }
  return out;
}

nlohmann::json ContainerService::Top(const std::string& ref, const std::string& ps_args) {
  std::shared_ptr<Entry> e = Find(ref);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!e->c.Running()) ThrowConflict("Container " + e->c.id + " is not running");
  }
  std::vector<pid_t> pids = runtime::Runtime(RuntimeRoot()).Pids(e->c.id);
  std::string args = ps_args.empty() ? "-ef" : ps_args;
  // ps of the whole host, then the container's rows (as Docker).
  std::string command = "ps " + args + " 2>&1";
  for (char ch : args) {
    if (!isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != ' ' && ch != ',' &&
        ch != '=') {
      ThrowInvalid("top: invalid ps arguments: " + args);
    }
  }
  FILE* p = popen(command.c_str(), "r");
  if (!p) ThrowErrno("run ps");
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) text.append(buf, n);
  if (pclose(p) != 0) {
    ThrowInvalid("Error running ps: " + text);
  }
  std::istringstream lines(text);
  std::string header;
  std::getline(lines, header);
  std::vector<std::string> titles;
  {
    std::istringstream h(header);
    std::string t;
    while (h >> t) titles.push_back(t);
  }
  auto pid_col = std::find(titles.begin(), titles.end(), "PID");
  if (pid_col == titles.end()) {
    ThrowInvalid("Couldn't find PID field in ps output");
  }
  size_t pid_index = static_cast<size_t>(pid_col - titles.begin());
  nlohmann::json procs = nlohmann::json::array();
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream l(line);
    std::vector<std::string> fields;
    std::string f;
    while (fields.size() + 1 < titles.size() && l >> f) fields.push_back(f);
    std::string rest;
    std::getline(l >> std::ws, rest);
    fields.push_back(rest);
    if (fields.size() <= pid_index) continue;
    pid_t pid = static_cast<pid_t>(atoi(fields[pid_index].c_str()));
    if (std::find(pids.begin(), pids.end(), pid) != pids.end()) procs.push_back(fields);
  }
  return {{"Titles", titles}, {"Processes", procs}};
}

namespace {

// The lower layers' directories, the top one first.
std::vector<std::string> LowerDirs(const image::Snapshots& snapshots,
                                   const std::vector<std::string>& chain_ids) {
  std::vector<std::string> out;
  for (auto it = chain_ids.rbegin(); it != chain_ids.rend(); ++it) {
    out.push_back(snapshots.FsPath(*it));
  }
  return out;
}

// The Config fields an image carries (Docker's commit writes the whole container Config,
// hostname and attach flags included; those describe one container, not an image).
constexpr const char* kImageConfigKeys[] = {
    "User",   "ExposedPorts", "Env",         "Entrypoint", "Cmd",   "Volumes",    "WorkingDir",
    "Labels", "StopSignal",   "Healthcheck", "OnBuild",    "Shell", "ArgsEscaped"};

}  // namespace

nlohmann::json ContainerService::Changes(const std::string& ref) {
  std::shared_ptr<Entry> e = Find(ref);
  std::string id;
  std::vector<std::string> chain_ids;
  {
    std::lock_guard<std::mutex> lock(mu_);
    id = e->c.id;
    chain_ids = e->c.chain_ids;
  }
  nlohmann::json out = nlohmann::json::array();
  for (const Change& c :
       UpperChanges(JoinPath(Dir(id), "rw/upper"), LowerDirs(images_.snapshots(), chain_ids))) {
    out.push_back({{"Path", c.path}, {"Kind", static_cast<int>(c.kind)}});
  }
  return out.empty() ? nlohmann::json() : out;
}

void ContainerService::Export(const std::string& ref, int out_fd) {
  std::shared_ptr<Entry> e = Find(ref);
  std::lock_guard<std::mutex> op(e->op);  // no start mounts the rootfs meanwhile
  std::string dir, rootfs;
  bool running;
  image::IdShift shift;
  std::vector<std::string> chain_ids;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (e->removed) ThrowNotFound("No such container: " + ref);
    dir = Dir(e->c.id);
    running = e->c.Running();
    shift = {e->c.userns_base, e->c.userns_base ? kUsernsSize : 0};
    chain_ids = e->c.chain_ids;
  }
  rootfs = JoinPath(dir, "rootfs");
  bool mounted_here = false;
  if (!running && !IsMountPoint(rootfs)) {
    // Plain lower layers (image ids) under the container's upper (base + n ids): the shift
    // maps the latter back and leaves the former.
    MkdirAll(rootfs, 0755);
    mounted_here = images_.snapshots().MountRootfs(chain_ids, JoinPath(dir, "rw"), rootfs);
  }
  try {
    image::WriteLayerFromUpper(rootfs, out_fd, image::Compression::kNone, shift);
  } catch (...) {
    if (mounted_here) Unmount(rootfs);
    throw;
  }
  if (mounted_here) Unmount(rootfs);
}

std::string ContainerService::Commit(const std::string& ref, const nlohmann::json& config,
                                     bool pause, CommitOptions options) {
  std::shared_ptr<Entry> e = Find(ref);
  std::lock_guard<std::mutex> op(e->op);
  std::string id, image_id;
  bool freeze;
  image::IdShift shift;
  nlohmann::json merged = nlohmann::json::object();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (e->removed) ThrowNotFound("No such container: " + ref);
    id = e->c.id;
    image_id = e->c.image_id;
    freeze = pause && e->c.state.status == ContainerStatus::kRunning;
    shift = {e->c.userns_base, e->c.userns_base ? kUsernsSize : 0};
    for (const char* key : kImageConfigKeys) {
      if (e->c.config.contains(key) && !e->c.config[key].is_null()) merged[key] = e->c.config[key];
    }
    if (e->c.config.contains("Cmd") && e->c.config["Cmd"].is_array()) {
      for (const auto& arg : e->c.config["Cmd"]) {
        if (!arg.is_string()) continue;
        options.created_by += (options.created_by.empty() ? "" : " ") + arg.get<std::string>();
      }
    }
  }
  if (config.is_object()) {
    for (const char* key : kImageConfigKeys) {
      if (config.contains(key) && !config[key].is_null()) merged[key] = config[key];
    }
  }
  options.config = merged;
  options.container_id = id;
  std::string upper = JoinPath(Dir(id), "rw/upper");
  MkdirAll(upper, 0755);  // never started: no changes, an empty layer (as Docker's)
  runtime::Runtime rt(RuntimeRoot());
  // The layer goes straight into the content store, written while the container is frozen
  // (a consistent view, as docker commit --pause).
  std::string new_id = images_.Commit(
      image_id,
      [&](const image::WriteFn& out) {
        if (freeze) rt.Pause(id);
        try {
          image::WriteLayerFromUpper(upper, out, image::Compression::kNone, shift);
        } catch (...) {
          if (freeze) rt.Resume(id);
          throw;
        }
        if (freeze) rt.Resume(id);
      },
      options);
  {
    std::lock_guard<std::mutex> lock(mu_);
    Emit(e->c, "commit");
  }
  return new_id;
}

Container ContainerService::Stopped(Entry& e, const std::string& ref) {
  std::lock_guard<std::mutex> lock(mu_);
  if (e.removed) ThrowNotFound("No such container: " + ref);
  if (e.c.state.status == ContainerStatus::kRunning) {
    ThrowConflict("container " + ref + " is running: its changes are still being made");
  }
  return e.c;
}

void ContainerService::RemoveMountPoint(const std::string& ref, const std::string& path) {
  std::shared_ptr<Entry> e = Find(ref);
  std::lock_guard<std::mutex> op(e->op);
  std::string id = Stopped(*e, ref).id;
  UniqueFd upper(open(JoinPath(Dir(id), "rw/upper").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!upper) return;  // never started: nothing was made
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  size_t slash = p.rfind('/');
  if (slash == std::string::npos || p == "/") return;
  std::string parent = slash == 0 ? "/" : p.substr(0, slash);
  std::string name = p.substr(slash + 1);
  int fd = ResolveInRoot(upper.get(), parent);
  if (fd < 0) return;  // not in the changes
  UniqueFd dir(fd);
  UniqueFd real(openat(dir.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!real) return;
  struct stat st;
  if (fstatat(real.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) return;
  if (S_ISDIR(st.st_mode)) {
    // An opaque directory hides the image's: empty, it still means something.
    UniqueFd d(openat(real.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    char v;
    if (!d || fgetxattr(d.get(), "trusted.overlay.opaque", &v, 1) >= 0) return;
    unlinkat(real.get(), name.c_str(), AT_REMOVEDIR);  // fails, as it should, unless empty
  } else if (S_ISREG(st.st_mode) && st.st_size == 0) {
    unlinkat(real.get(), name.c_str(), 0);
  }
}

void ContainerService::WriteChanges(const std::string& ref, const image::WriteFn& out) {
  std::shared_ptr<Entry> e = Find(ref);
  std::lock_guard<std::mutex> op(e->op);
  Container c = Stopped(*e, ref);
  image::IdShift shift = {c.userns_base, c.userns_base ? kUsernsSize : 0};
  std::string upper = JoinPath(Dir(c.id), "rw/upper");
  MkdirAll(upper, 0755);
  image::WriteLayerFromUpper(upper, out, image::Compression::kNone, shift);
}

void ContainerService::Stats(const std::string& ref, bool stream, bool one_shot,
                             const std::function<bool(std::string_view)>& emit) {
  std::shared_ptr<Entry> e = Find(ref);
  static const uint64_t machine_memory = [] {
    std::istringstream in(ReadFileIfExists("/proc/meminfo").value_or(""));
    std::string key;
    uint64_t kb = 0;
    while (in >> key >> kb && key != "MemTotal:") in.ignore(256, '\n');
    return key == "MemTotal:" ? kb * 1024 : 0;
  }();
  std::optional<StatsSample> prev;
  std::string started;  // the run `reader` belongs to
  std::optional<StatsReader> reader;
  std::string doc;  // one document, its buffer reused
  while (true) {
    std::string id, name, started_at;
    bool running;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (e->removed) return;
      id = e->c.id;
      name = e->c.name;
      running = e->c.Running();
      started_at = e->c.state.started_at;
    }
    std::optional<StatsSample> now;
    if (!running) reader.reset();  // it holds the files open, the network namespace too
    if (running) {
      try {
        if (!reader || started != started_at) {
          runtime::ContainerInfo info = runtime::Runtime(RuntimeRoot()).Info(id);
          reader.emplace(runtime::Cgroup(runtime::DetectCgroupLayout(), info.state.cgroup_path),
                         info.state.pid);
          started = started_at;
        }
        now = reader->Read();
      } catch (const Error&) {
        reader.reset();  // it exited meanwhile: the zero document
      }
    }
    bool again = stream || (now && !prev && !one_shot);
    if (stream || !again) {
      std::string bare = !name.empty() && name[0] == '/' ? name.substr(1) : name;
      doc.clear();
      AppendDockerStats(doc, now ? &*now : nullptr, prev ? &*prev : nullptr, bare, id,
                        machine_memory);
      if (!emit(doc)) return;
    }
    if (!again) return;
    prev = std::move(now);
    // A stream reads on whole seconds of the monotonic clock, so all streams read together
    // (and share the host's CPU line), the next whole second at least half a second away (no
    // reading a moment after the first, whose CPU % would be noise); a single reading waits
    // one second.
    auto now_tp = std::chrono::steady_clock::now();
    auto wake =
        stream ? std::chrono::floor<std::chrono::seconds>(now_tp + std::chrono::milliseconds(1500))
               : now_tp + std::chrono::seconds(1);
    std::unique_lock<std::mutex> lock(mu_);
    if (changed_.wait_until(lock, wake, [this] { return shutting_down_; })) return;
  }
}

nlohmann::json ContainerService::Prune(const Filters& filters) {
  // Docker's prune filters: until (a time), label and label! (key or key=value).
  std::optional<int64_t> until;
  Filters labels, not_labels;
  for (const auto& [key, values] : filters) {
    if (key == "until") {
      if (!values.empty()) until = ParseEventTime(values.front());
    } else if (key == "label") {
      labels["label"] = values;
    } else if (key == "label!") {
      not_labels["label"] = values;
    } else {
      ThrowInvalid("invalid filter '" + key + "'");
    }
  }
  ContainerFilter with(labels), without(not_labels);
  std::vector<std::string> ids;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& item : entries_) {
      const Container& c = item.second->c;
      if (c.Running() || c.state.status == ContainerStatus::kRemoving) continue;
      if (until && CreatedNanos(c) >= *until) continue;
      if (!with.Matches(c) || (!not_labels.empty() && without.Matches(c))) continue;
      ids.push_back(item.first);
    }
  }
  nlohmann::json deleted = nlohmann::json::array();
  for (const std::string& id : ids) {
    try {
      Remove(id, false, false);
      deleted.push_back(id);
    } catch (const Error& e) {
      log::Warn("prune " + id + ": " + e.what());
    }
  }
  return {{"ContainersDeleted", deleted.empty() ? nlohmann::json() : deleted},
          {"SpaceReclaimed", 0}};
}

}  // namespace berth::engine

namespace berth::engine {
namespace {

// "1000", "nginx", "nginx:www-data", "1000:33" → a lookup for ResolveUser.
UserLookup ParseUserSpec(const std::string& spec) {
  UserLookup u;
  size_t colon = spec.find(':');
  u.user = spec.substr(0, colon);
  if (colon != std::string::npos) u.group = spec.substr(colon + 1);
  return u;
}

}  // namespace

std::shared_ptr<ContainerService::Entry> ContainerService::FindExec(
    const std::string& exec_id, std::shared_ptr<ExecInfo>* exec) {
  std::string container_id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = execs_.find(exec_id);
    if (it == execs_.end()) {
      ThrowNotFound("No such exec instance: " + exec_id);
    }
    *exec = it->second;
    container_id = it->second->container_id;
  }
  return Find(container_id);
}

std::string ContainerService::ExecCreate(const std::string& ref, const nlohmann::json& body) {
  if (!body.is_object()) ThrowInvalid("exec: the body must be a JSON object");
  std::shared_ptr<Entry> e = Find(ref);
  const nlohmann::json& cmd = body.contains("Cmd") ? body["Cmd"] : nlohmann::json();
  if (!cmd.is_array() || cmd.empty()) {
    ThrowInvalid("No exec command specified");
  }
  for (const auto& a : cmd) {
    if (!a.is_string()) ThrowInvalid("Cmd: expected a list of strings");
  }
  if (body.contains("Env") && !body["Env"].is_null() && !body["Env"].is_array()) {
    ThrowInvalid("Env: expected a list of strings");
  }
  auto x = std::make_shared<ExecInfo>();
  x->id = RandomHex(32);
  x->body = body;
  std::lock_guard<std::mutex> lock(mu_);
  if (!e->c.Running()) ThrowConflict("Container " + e->c.id + " is not running");
  if (e->c.state.status == ContainerStatus::kPaused) {
    ThrowConflict("Container " + e->c.id + " is paused, unpause the container before exec");
  }
  if (e->c.state.status == ContainerStatus::kRestarting) {
    ThrowConflict("Container " + e->c.id + " is restarting, wait until the container is running");
  }
  x->container_id = e->c.id;
  execs_[x->id] = x;
  e->exec_ids.push_back(x->id);
  return x->id;
}

bool ContainerService::ExecTty(const std::string& exec_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = execs_.find(exec_id);
  if (it == execs_.end()) ThrowNotFound("No such exec instance: " + exec_id);
  return it->second->body.value("Tty", false);
}

void ContainerService::ExecStart(const std::string& exec_id, int fd,
                                 const std::string& initial_stdin, bool detach) {
  UniqueFd owned(fd);
  std::shared_ptr<ExecInfo> x;
  std::shared_ptr<Entry> e = FindExec(exec_id, &x);
  std::string id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (x->started) ThrowConflict("Exec " + exec_id + " has already been started");
    if (!e->c.Running()) ThrowConflict("Container " + e->c.id + " is not running");
    x->started = true;
    id = e->c.id;
  }
  primer_->Prime();
  const nlohmann::json& b = x->body;
  nlohmann::json spec = nlohmann::json::parse(ReadFile(JoinPath(Dir(id), "config.json")));
  nlohmann::json process = spec["process"];
  process["args"] = b["Cmd"];
  process["terminal"] = b.value("Tty", false);
  std::string cwd = b.contains("WorkingDir") && b["WorkingDir"].is_string()
                        ? b["WorkingDir"].get<std::string>()
                        : "";
  if (!cwd.empty()) process["cwd"] = cwd;
  if (b.contains("Env") && b["Env"].is_array()) {
    nlohmann::json env = process["env"];
    for (const auto& v : b["Env"]) {
      std::string kv = v.get<std::string>();
      std::string key = kv.substr(0, kv.find('='));
      nlohmann::json kept = nlohmann::json::array();
      for (const auto& old : env) {
        std::string o = old.get<std::string>();
        if (o.substr(0, o.find('=')) != key) kept.push_back(o);
      }
      kept.push_back(kv);
      env = kept;
    }
    process["env"] = env;
  }
  std::string user =
      b.contains("User") && b["User"].is_string() ? b["User"].get<std::string>() : "";
  if (!user.empty()) {
    ResolvedUser u = ResolveUser(JoinPath(Dir(id), "rootfs"), ParseUserSpec(user));
    process["user"] = {{"uid", u.uid}, {"gid", u.gid}};
    if (!u.groups.empty()) process["user"]["additionalGids"] = u.groups;
  }
  shim::ExecRequest req;
  req.exec_id = exec_id;
  req.process = process;
  req.stdin = b.value("AttachStdin", false) && !detach;
  req.stdout = b.value("AttachStdout", false) && !detach;
  req.stderr = b.value("AttachStderr", false) && !detach;
  req.detach_keys = b.value("DetachKeys", "");
  req.initial_stdin = initial_stdin;
  auto client = std::make_shared<shim::Client>(shim::Client::Connect(SocketPath(id)));
  int pid = client->Exec(req, detach ? -1 : owned.get());
  owned.Reset();
  {
    std::lock_guard<std::mutex> lock(mu_);
    x->running = true;
    x->pid = pid;
    x->client = client;
    // Shutdown hangs up the exec connections it finds; this one came after it looked.
    if (shutting_down_ && !detach) shutdown(client->fd(), SHUT_RDWR);
  }
  if (detach) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = client->fd();
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, client->fd(), &ev);
    return;
  }
  // Attached: the client's stream ends when this handler returns (the server holds a copy of
  // the socket), so the exit code is known before the CLI asks /exec/<id>/json for it.
  FinishExec(*x);
}

void ContainerService::FinishExec(ExecInfo& x) {
  std::shared_ptr<shim::Client> client;
  {
    std::lock_guard<std::mutex> lock(mu_);
    client = x.client;
  }
  int64_t code = -1;
  try {
    code = client->WaitExecExit();
  } catch (const Error& err) {
    log::Warn("exec " + x.id + ": " + err.what());
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    x.running = false;
    x.exit_code = code;
    x.client.reset();
  }
  Notify();
}

void ContainerService::ExecResize(const std::string& exec_id, int height, int width) {
  std::shared_ptr<ExecInfo> x;
  std::shared_ptr<Entry> e = FindExec(exec_id, &x);
  shim::Client::Connect(SocketPath(e->c.id)).Resize(width, height, exec_id);
}

nlohmann::json ContainerService::ExecInspect(const std::string& exec_id) {
  std::shared_ptr<ExecInfo> x;
  std::shared_ptr<Entry> e = FindExec(exec_id, &x);
  std::lock_guard<std::mutex> lock(mu_);
  const nlohmann::json& b = x->body;
  nlohmann::json args = b["Cmd"];
  std::string entrypoint = args.at(0).get<std::string>();
  args.erase(args.begin());
  return {{"ID", x->id},
          {"Running", x->running},
          {"ExitCode", x->exit_code ? nlohmann::json(*x->exit_code) : nlohmann::json()},
          {"ProcessConfig",
           {{"tty", b.value("Tty", false)},
            {"entrypoint", entrypoint},
            {"arguments", args},
            {"privileged", b.value("Privileged", false)},
            {"user", b.value("User", "")}}},
          {"OpenStdin", b.value("AttachStdin", false)},
          {"OpenStderr", b.value("AttachStderr", false)},
          {"OpenStdout", b.value("AttachStdout", false)},
          {"CanRemove", false},
          {"ContainerID", x->container_id},
          {"DetachKeys", b.value("DetachKeys", "")},
          {"Pid", x->pid}};
}

}  // namespace berth::engine

// --- Health checks ----------------------------------------------------------------------

namespace berth::engine {

struct ContainerService::HealthWatch {
  HealthConfig config;
  int64_t started_ns = 0;  // the container's start: the start period counts from it
  std::chrono::steady_clock::time_point next;      // the next probe
  std::chrono::steady_clock::time_point deadline;  // of the probe under way
  bool probing = false;
  bool timed_out = false;
  std::string exec_id;  // of the probe under way, once created
};

void ContainerService::WatchHealth(const Container& c, bool restart_status) {
  std::vector<std::string> shell;
  if (c.config.contains("Shell") && c.config["Shell"].is_array()) {
    for (const auto& s : c.config["Shell"]) {
      if (s.is_string()) shell.push_back(s.get<std::string>());
    }
  }
  std::optional<HealthConfig> hc =
      ParseHealthConfig(c.config.value("Healthcheck", nlohmann::json()), shell);
  if (!hc) {
    health_.erase(c.id);
    return;
  }
  auto w = std::make_shared<HealthWatch>();
  w->config = *hc;
  w->started_ns = ParseRfc3339Nano(c.state.started_at).value_or(NowNs());
  bool starting =
      restart_status || c.state.health.status.empty() || c.state.health.status == "starting";
  int64_t first = starting && hc->start_period_ns > 0 ? hc->start_interval_ns : hc->interval_ns;
  w->next = std::chrono::steady_clock::now() + std::chrono::nanoseconds(first);
  health_[c.id] = w;
  if (!health_thread_.joinable()) {
    health_thread_ = std::thread([this] { HealthLoop(); });
  }
  health_changed_.notify_all();
}

void ContainerService::HealthLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!shutting_down_) {
    auto now = std::chrono::steady_clock::now();
    auto wake = now + std::chrono::hours(1);
    for (auto& item : health_) {
      HealthWatch& w = *item.second;
      if (w.probing) {
        if (now >= w.deadline && !w.timed_out) {
          // Over its timeout: the probe is killed (its exec ends, RunProbe records -1).
          w.timed_out = true;
          auto x = execs_.find(w.exec_id);
          if (x != execs_.end() && x->second->pid > 0)
            kill(static_cast<pid_t>(x->second->pid), SIGKILL);
        }
        if (!w.timed_out) wake = std::min(wake, w.deadline);
        continue;
      }
      if (now >= w.next) {
        w.probing = true;
        w.timed_out = false;
        w.exec_id.clear();
        w.deadline = now + std::chrono::nanoseconds(w.config.timeout_ns);
        ++probes_running_;
        std::string id = item.first;
        std::thread([this, id, started = w.started_ns] { RunProbe(id, started); }).detach();
        wake = std::min(wake, w.deadline);
      } else {
        wake = std::min(wake, w.next);
      }
    }
    health_changed_.wait_until(lock, wake);
  }
}

void ContainerService::RunProbe(const std::string& id, int64_t started_ns) {
  std::shared_ptr<HealthWatch> w;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = health_.find(id);
    if (it != health_.end()) w = it->second;
  }
  bool recorded = false;
  if (w) {
    std::string exec_id;
    try {
      nlohmann::json body = {
          {"Cmd", w->config.args}, {"AttachStdout", true}, {"AttachStderr", true}};
      exec_id = ExecCreate(id, body);
      {
        std::lock_guard<std::mutex> lock(mu_);
        w->exec_id = exec_id;
      }
      int sv[2];
      if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        ThrowErrno("health: socketpair");
      UniqueFd ours(sv[0]);
      // The output is read while the probe runs (a chatty probe must not block on a full
      // socket); what is past Docker's 4096 bytes is read and dropped.
      std::string raw;
      std::thread reader([&raw, fd = ours.get()] {
        char buf[8192];
        ssize_t n;
        while ((n = read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR)) {
          if (n > 0 && raw.size() < 4 * kMaxProbeOutput) raw.append(buf, static_cast<size_t>(n));
        }
      });
      int64_t start = NowNs();
      try {
        ExecStart(exec_id, sv[1], "", false);
      } catch (...) {
        shutdown(ours.get(), SHUT_RDWR);
        reader.join();
        throw;
      }
      int64_t end = NowNs();
      {
        // Ended without its exit code (berthd stopping): the process may still run and hold
        // the stream open.
        std::lock_guard<std::mutex> lock(mu_);
        auto x = execs_.find(exec_id);
        if (shutting_down_ || x == execs_.end() || !x->second->exit_code) {
          shutdown(ours.get(), SHUT_RDWR);
        }
      }
      reader.join();
      ProbeResult r;
      r.start = shim::FormatJsonTime(start);
      r.end = shim::FormatJsonTime(end);
      std::shared_ptr<Entry> e;
      bool changed = false;
      {
        std::lock_guard<std::mutex> lock(mu_);
        auto x = execs_.find(exec_id);
        r.exit_code = x != execs_.end() ? x->second->exit_code.value_or(-1) : -1;
        r.output = DemuxOutput(raw, kMaxProbeOutput);
        if (w->timed_out) {
          r.exit_code = -1;
          r.output =
              "Health check exceeded timeout (" + GoDurationString(w->config.timeout_ns) + ")";
        }
        auto it = entries_.find(id);
        auto current = health_.find(id);
        // Recorded only while this watch still stands (the container did not stop or
        // restart meanwhile).
        if (it != entries_.end() && current != health_.end() && current->second == w &&
            it->second->c.Running()) {
          e = it->second;
          changed = RecordProbe(e->c.state.health, r, w->config.retries,
                                start - started_ns < w->config.start_period_ns);
          recorded = true;
        }
      }
      if (e) {
        Save(*e);
        if (changed) {
          std::lock_guard<std::mutex> lock(mu_);
          Emit(e->c, "health_status: " + e->c.state.health.status);
        }
      }
    } catch (const Error& err) {
      log::Debug("health check of " + id + ": " + err.what());
    }
    std::lock_guard<std::mutex> lock(mu_);
    // A probe is an exec only for the while: inspect's ExecIDs do not keep them.
    execs_.erase(exec_id);
    auto it = entries_.find(id);
    if (it != entries_.end()) {
      auto& ids = it->second->exec_ids;
      ids.erase(std::remove(ids.begin(), ids.end(), exec_id), ids.end());
    }
    bool starting =
        !recorded || (it != entries_.end() && it->second->c.state.health.status == "starting");
    bool in_period = NowNs() - started_ns < w->config.start_period_ns;
    int64_t gap = starting && in_period ? w->config.start_interval_ns : w->config.interval_ns;
    w->next = std::chrono::steady_clock::now() + std::chrono::nanoseconds(gap);
    w->probing = false;
  }
  std::lock_guard<std::mutex> lock(mu_);
  --probes_running_;
  health_changed_.notify_all();
  changed_.notify_all();
}

}  // namespace berth::engine
