#include "runtime/cgroups.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <sstream>
#include <thread>

#include "base/error.h"
#include "base/file_util.h"
#include "base/log.h"
#include "runtime/cgroup_resources.h"
#include "runtime/device_filter.h"

namespace berth::runtime {
namespace {

std::vector<std::string> Split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(sep, start);
    if (end == std::string_view::npos) {
      end = s.size();
    }
    out.emplace_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

bool HasController(const std::string& opts, std::string_view controller) {
  for (const auto& o : Split(opts, ',')) {
    if (o == controller) {
      return true;
    }
  }
  return false;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) {
    s.pop_back();
  }
  return s;
}

}  // namespace

std::string CgroupLayout::V1Path(std::string_view controller) const {
  for (const auto& h : v1) {
    if (HasController(h.controllers, controller)) {
      return h.mount_point;
    }
  }
  return {};
}

CgroupLayout ParseCgroupLayout(std::string_view mountinfo) {
  CgroupLayout layout;
  for (const auto& line : Split(mountinfo, '\n')) {
    // "31 23 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu"
    size_t dash = line.find(" - ");
    if (dash == std::string::npos) {
      continue;
    }
    auto left = Split(line.substr(0, dash), ' ');
    auto right = Split(line.substr(dash + 3), ' ');
    if (left.size() < 5 || right.size() < 3) {
      continue;
    }
    if (left[3] != "/") {
      continue;  // a bind of a sub-cgroup, not a hierarchy root
    }
    if (right[0] == "cgroup2") {
      if (layout.v2_mount.empty()) {
        layout.v2_mount = left[4];
      }
    } else if (right[0] == "cgroup") {
      std::string controllers;
      for (const auto& o : Split(right[2], ',')) {
        if (o == "rw" || o == "ro" || o.empty() || o.rfind("release_agent", 0) == 0 ||
            o == "clone_children" || o == "noprefix" || o == "xattr") {
          continue;
        }
        controllers += controllers.empty() ? o : "," + o;
      }
      layout.v1.push_back({left[4], controllers});
    }
  }
  return layout;
}

const CgroupLayout& DetectCgroupLayout() {
  static const CgroupLayout layout = [] {
    CgroupLayout l = ParseCgroupLayout(ReadFile("/proc/self/mountinfo"));
    if (!l.v2_mount.empty()) {
      auto controllers = ReadFileIfExists(l.v2_mount + "/cgroup.controllers");
      for (const auto& c : Split(Trim(controllers.value_or("")), ' ')) {
        if (!c.empty()) {
          l.v2_controllers.insert(c);
        }
      }
    }
    return l;
  }();
  return layout;
}

Cgroup::Cgroup(const CgroupLayout& layout, std::string path) : layout_(layout), path_(path) {
  if (path_.empty() || path_[0] != '/') {
    path_ = "/" + path_;
  }
  for (const auto& part : Split(path_, '/')) {
    if (part == "..") {
      ThrowInvalid("cgroupsPath \"" + path + "\" must not contain \"..\"");
    }
  }
}

std::string Cgroup::Dir(const std::string& mount) const { return mount + path_; }

bool Cgroup::ControllerOnV2(const std::string& controller) const {
  return layout_.V1Path(controller).empty() && !layout_.v2_mount.empty() &&
         (layout_.PureV2() || layout_.v2_controllers.count(controller));
}

std::string Cgroup::ControllerFile(const std::string& controller, const std::string& file) const {
  std::string v1 = layout_.V1Path(controller);
  if (!v1.empty()) {
    return Dir(v1) + "/" + file;
  }
  return ControllerOnV2(controller) ? Dir(layout_.v2_mount) + "/" + file : "";
}

std::vector<std::string> Cgroup::Dirs() const {
  std::vector<std::string> dirs;
  for (const auto& h : layout_.v1) {
    dirs.push_back(Dir(h.mount_point));
  }
  if (!layout_.v2_mount.empty()) {
    dirs.push_back(Dir(layout_.v2_mount));
  }
  return dirs;
}

void Cgroup::Create() {
  for (const auto& h : layout_.v1) {
    std::string dir = Dir(h.mount_point);
    if (HasController(h.controllers, "cpuset")) {
      // A new cpuset cgroup starts with empty cpus/mems and refuses tasks (ENOSPC): fill
      // every empty level from its parent, including levels another process made and has
      // not filled yet.
      std::string cur = h.mount_point;
      for (const auto& part : Split(path_, '/')) {
        if (part.empty()) {
          continue;
        }
        std::string next = cur + "/" + part;
        if (mkdir(next.c_str(), 0755) < 0 && errno != EEXIST) {
          ThrowErrno("create cgroup " + next);
        }
        for (const char* f : {"cpuset.cpus", "cpuset.mems"}) {
          if (Trim(ReadFile(next + "/" + f)).empty()) {
            WriteFileOrThrow(next + "/" + f, Trim(ReadFile(cur + "/" + f)));
          }
        }
        cur = next;
      }
      continue;
    }
    MkdirAll(dir);
  }
  if (!layout_.v2_mount.empty()) {
    if (layout_.PureV2()) {
      // Enable the controllers the parent offers down the path, so limits can be written.
      std::string cur = layout_.v2_mount;
      for (const auto& part : Split(path_, '/')) {
        if (part.empty()) {
          continue;
        }
        auto avail = ReadFileIfExists(cur + "/cgroup.controllers");
        std::string enable;
        for (const auto& c : Split(Trim(avail.value_or("")), ' ')) {
          if (!c.empty()) {
            enable += (enable.empty() ? "+" : " +") + c;
          }
        }
        if (!enable.empty()) {
          try {
            WriteFileOrThrow(cur + "/cgroup.subtree_control", enable);
          } catch (const Error& e) {
            log::Debug(e.what());
          }
        }
        cur += "/" + part;
        if (mkdir(cur.c_str(), 0755) < 0 && errno != EEXIST) {
          ThrowErrno("create cgroup " + cur);
        }
      }
    } else {
      MkdirAll(Dir(layout_.v2_mount));
    }
  }
}

void Cgroup::AddProcess(pid_t pid, bool in_v2_already) {
  std::string p = std::to_string(pid);
  for (const auto& h : layout_.v1) {
    WriteFileOrThrow(Dir(h.mount_point) + "/cgroup.procs", p);
  }
  if (!layout_.v2_mount.empty() && !in_v2_already) {
    WriteFileOrThrow(Dir(layout_.v2_mount) + "/cgroup.procs", p);
  }
}

UniqueFd Cgroup::OpenV2Dir() const {
  if (layout_.v2_mount.empty()) {
    return UniqueFd();
  }
  return UniqueFd(open(Dir(layout_.v2_mount).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
}

void Cgroup::ApplyResources(const nlohmann::json& resources) {
  std::vector<std::string> warnings;
  std::vector<CgroupWrite> writes = TranslateResources(resources, layout_, &warnings);
  for (const auto& w : warnings) {
    log::Warn(w);
  }
  // On a hybrid host the cgroup2 root delegates nothing by default: enable, down the path,
  // the v2 controllers these writes need (pure v2 enabled everything at Create).
  if (!layout_.PureV2()) {
    std::set<std::string> needed;
    for (const auto& w : writes) {
      if (w.v2 && !w.controller.empty()) {
        needed.insert(w.controller);
      }
    }
    for (const auto& c : needed) {
      std::string cur = layout_.v2_mount;
      for (const auto& part : Split(path_, '/')) {
        if (part.empty()) {
          continue;
        }
        auto enabled = ReadFileIfExists(cur + "/cgroup.subtree_control");
        if (enabled && enabled->find(c) == std::string::npos) {
          WriteFileOrThrow(cur + "/cgroup.subtree_control", "+" + c);
        }
        cur += "/" + part;
      }
    }
  }
  for (const auto& w : writes) {
    std::string dir = w.v2 ? Dir(layout_.v2_mount) : Dir(layout_.V1Path(w.controller));
    try {
      WriteFileOrThrow(dir + "/" + w.file, w.value);
    } catch (const Error& e) {
      if (e.err() == ENOENT) {
        throw Error(Kind::kInvalidArgument,
                    w.field + ": this host's cgroup has no " + w.file + " (" + dir + ")");
      }
      throw e.WithContext(w.field);
    }
  }
  // Device rules on cgroup2 are an eBPF program. On a hybrid host the v1 devices controller
  // enforces them too; the kernel checks both, so the two must agree (and the tests that
  // run here check both at once). No rules (absent or null) attach nothing: the cgroup keeps
  // what its parent allows, as a v1 devices cgroup does, and `update` keeps the program.
  if (resources.is_object() && resources.contains("devices") && !resources["devices"].is_null() &&
      !layout_.v2_mount.empty()) {
    std::string dir = Dir(layout_.v2_mount);
    std::vector<DeviceRule> rules =
        EffectiveDeviceRules(resources["devices"], "linux.resources.devices");
    UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) {
      ThrowErrno("open cgroup " + dir);
    }
    AttachDeviceFilter(fd.get(), CompileDeviceFilter(EmulateV1Devices(rules)), dir);
  }
}

void Cgroup::SetFrozen(bool frozen) {
  if (layout_.PureV2()) {
    std::string dir = Dir(layout_.v2_mount);
    WriteFileOrThrow(dir + "/cgroup.freeze", frozen ? "1" : "0");
    for (int i = 0; i < 1000 && Frozen() != frozen; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return;
  }
  std::string freezer = layout_.V1Path("freezer");
  if (freezer.empty()) {
    throw Error(Kind::kNotImplemented, "pause: no freezer cgroup controller on this host");
  }
  std::string file = Dir(freezer) + "/freezer.state";
  for (int i = 0; i < 1000; ++i) {
    WriteFileOrThrow(file, frozen ? "FROZEN" : "THAWED");
    std::string state = Trim(ReadFile(file));
    if (state == (frozen ? "FROZEN" : "THAWED")) {
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  throw Error(Kind::kUnavailable, "freeze cgroup " + path_ + ": state did not settle");
}

bool Cgroup::Frozen() const {
  if (layout_.PureV2()) {
    auto events = ReadFileIfExists(Dir(layout_.v2_mount) + "/cgroup.events");
    return events && events->find("frozen 1") != std::string::npos;
  }
  std::string freezer = layout_.V1Path("freezer");
  if (freezer.empty()) {
    return false;
  }
  auto state = ReadFileIfExists(Dir(freezer) + "/freezer.state");
  return state && Trim(*state) == "FROZEN";
}

std::string Cgroup::ProcsDir() const {
  if (layout_.PureV2()) {
    return Dir(layout_.v2_mount);
  }
  for (const char* c : {"pids", "freezer", "memory", "cpu"}) {
    std::string m = layout_.V1Path(c);
    if (!m.empty()) {
      return Dir(m);
    }
  }
  return layout_.v1.empty() ? Dir(layout_.v2_mount) : Dir(layout_.v1.front().mount_point);
}

std::vector<pid_t> Cgroup::Pids() const {
  std::vector<pid_t> pids;
  auto procs = ReadFileIfExists(ProcsDir() + "/cgroup.procs");
  if (!procs) {
    return pids;
  }
  std::istringstream in(*procs);
  pid_t pid;
  while (in >> pid) {
    pids.push_back(pid);
  }
  return pids;
}

void Cgroup::SignalAll(int sig) const {
  for (pid_t pid : Pids()) {
    kill(pid, sig);
  }
}

bool Cgroup::Destroy() noexcept {
  bool ok = true;
  for (const auto& dir : Dirs()) {
    bool removed = false;
    for (int i = 0; i < 200; ++i) {
      if (rmdir(dir.c_str()) == 0 || errno == ENOENT) {
        removed = true;
        break;
      }
      if (errno != EBUSY) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ok = ok && removed;
  }
  return ok;
}

}  // namespace berth::runtime
