#include "runtime/state.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/file_util.h"

namespace berth::runtime {

const char* StatusName(Status status) {
  switch (status) {
    case Status::kCreating:
      return "creating";
    case Status::kCreated:
      return "created";
    case Status::kRunning:
      return "running";
    case Status::kPaused:
      return "paused";
    case Status::kStopped:
      return "stopped";
  }
  return "unknown";
}

void ValidateId(const std::string& id) {
  if (id.empty() || id == "." || id == ".." || id.size() > 1024) {
    ThrowInvalid("invalid container id \"" + id + "\"");
  }
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.' || c == '+';
    if (!ok) {
      ThrowInvalid("invalid container id \"" + id + "\": only [A-Za-z0-9_.+-] allowed");
    }
  }
}

StateStore::StateStore(std::string root) : root_(std::move(root)) {}

std::string StateStore::Dir(const std::string& id) const { return root_ + "/" + id; }

void StateStore::Reserve(const std::string& id) {
  ValidateId(id);
  MkdirAll(root_, 0711);
  std::string dir = Dir(id);
  if (mkdir(dir.c_str(), 0711) < 0) {
    if (errno == EEXIST) {
      throw Error(Kind::kAlreadyExists, "container " + id + " already exists");
    }
    ThrowErrno("create state directory " + dir);
  }
}

void StateStore::Save(const ContainerState& s) {
  nlohmann::json j = {
      {"id", s.id},
      {"pid", s.pid},
      {"pid_start_time", s.pid_start_time},
      {"bundle", s.bundle},
      {"rootfs", s.rootfs},
      {"created", s.created},
      {"cgroup_path", s.cgroup_path},
      {"annotations", s.annotations},
      {"oci_version", s.oci_version},
  };
  WriteFileAtomic(Dir(s.id) + "/state.json", j.dump(), 0600, Durability::kVolatile);
}

ContainerState StateStore::Load(const std::string& id) const {
  ValidateId(id);
  auto text = ReadFileIfExists(Dir(id) + "/state.json");
  if (!text) {
    struct stat st;
    if (stat(Dir(id).c_str(), &st) == 0) {
      // Reserved but create never finished: visible so that delete can clean it.
      ContainerState s;
      s.id = id;
      return s;
    }
    ThrowNotFound("container " + id + " does not exist");
  }
  try {
    auto j = nlohmann::json::parse(*text);
    ContainerState s;
    s.id = j.at("id").get<std::string>();
    s.pid = j.at("pid").get<pid_t>();
    s.pid_start_time = j.at("pid_start_time").get<unsigned long long>();
    s.bundle = j.at("bundle").get<std::string>();
    s.rootfs = j.at("rootfs").get<std::string>();
    s.created = j.at("created").get<std::string>();
    s.cgroup_path = j.at("cgroup_path").get<std::string>();
    s.annotations = j.value("annotations", std::map<std::string, std::string>{});
    s.oci_version = j.value("oci_version", "1.1.0");
    return s;
  } catch (const nlohmann::json::exception& e) {
    throw Error(Kind::kDataLoss, "state of container " + id + " is corrupt: " + e.what());
  }
}

std::vector<std::string> StateStore::List() const {
  std::vector<std::string> ids;
  DIR* dir_stream = opendir(root_.c_str());
  if (dir_stream == nullptr) {
    return ids;
  }
  while (struct dirent* e = readdir(dir_stream)) {
    if (e->d_name[0] == '.') {
      continue;  // also the scratch files of the re-exec
    }
    bool dir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN) {  // filesystems that do not fill d_type
      struct stat st;
      dir = fstatat(dirfd(dir_stream), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISDIR(st.st_mode);
    }
    if (dir) {
      ids.emplace_back(e->d_name);
    }
  }
  closedir(dir_stream);
  std::sort(ids.begin(), ids.end());
  return ids;
}

void StateStore::Remove(const std::string& id) noexcept { RemoveAll(Dir(id)); }

unsigned long long ProcessStartTime(pid_t pid) {
  if (pid <= 0) {
    return 0;
  }
  auto stat = ReadFileIfExists("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) {
    return 0;
  }
  // The command name may contain spaces and parentheses: fields start after the last ')'.
  size_t close = stat->rfind(')');
  if (close == std::string::npos || close + 2 >= stat->size()) {
    return 0;
  }
  const char* p = stat->c_str() + close + 2;
  char state = *p;
  if (state == 'Z' || state == 'X') {
    return 0;
  }
  // p points at field 3 (state); start time is field 22.
  int field = 3;
  while (*p && field < 22) {
    if (*p++ == ' ') {
      ++field;
    }
  }
  return strtoull(p, nullptr, 10);
}

bool ProcessAlive(pid_t pid, unsigned long long start_time) {
  unsigned long long now = ProcessStartTime(pid);
  return now != 0 && now == start_time;
}

std::string NowRfc3339() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char buf[64];
  size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + n, sizeof(buf) - n, ".%09ldZ", ts.tv_nsec);
  return buf;
}

std::string StateJson(const ContainerState& s, Status status) {
  nlohmann::json j = {
      {"ociVersion", s.oci_version.empty() ? "1.1.0" : s.oci_version},
      {"id", s.id},
      {"status", StatusName(status)},
      {"pid", status == Status::kStopped ? 0 : s.pid},
      {"bundle", s.bundle},
      {"rootfs", s.rootfs},
      {"created", s.created},
      {"owner", ""},
  };
  if (!s.annotations.empty()) {
    j["annotations"] = s.annotations;
  }
  return j.dump(2);
}

}  // namespace berth::runtime
