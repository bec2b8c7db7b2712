#include "runtime/cgroup_primer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/file_util.h"
#include "base/log.h"

namespace berth::runtime {

std::string CgroupPrimer::ProcsFile(const CgroupLayout& layout, std::string_view proc_self_cgroup) {
  if (layout.v1.empty()) {
    return "";
  }
  // Lines are "ID:CONTROLLERS:PATH"; the v1 hierarchy's controllers as mountinfo names them.
  const CgroupLayout::V1Hierarchy& h = layout.v1.front();
  size_t pos = 0;
  while (pos < proc_self_cgroup.size()) {
    size_t end = proc_self_cgroup.find('\n', pos);
    if (end == std::string_view::npos) end = proc_self_cgroup.size();
    std::string_view line = proc_self_cgroup.substr(pos, end - pos);
    pos = end + 1;
    size_t a = line.find(':');
    size_t b = a == std::string_view::npos ? a : line.find(':', a + 1);
    if (b == std::string_view::npos) continue;
    if (line.substr(a + 1, b - a - 1) != h.controllers) continue;
    std::string path(line.substr(b + 1));
    if (path.empty() || path[0] != '/' || path.find("/..") != std::string::npos) return "";
    return h.mount_point + (path == "/" ? "" : path) + "/cgroup.procs";
  }
  return "";
}

CgroupPrimer::CgroupPrimer(const CgroupLayout& layout) {
  if (layout.PureV2()) {
    return;  // the runtime clones into the cgroup: nothing migrates
  }
  auto self = ReadFileIfExists("/proc/self/cgroup");
  procs_ = ProcsFile(layout, self.value_or(""));
}

CgroupPrimer::~CgroupPrimer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void CgroupPrimer::Prime() {
  std::lock_guard<std::mutex> lock(mu_);
  if (procs_.empty()) {
    return;
  }
  wanted_ = true;
  if (!thread_.joinable()) {
    thread_ = std::thread([this] { Loop(); });
  }
  cv_.notify_one();
}

void CgroupPrimer::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return wanted_ || stop_; });
    if (stop_) {
      return;
    }
    wanted_ = false;
    std::string file = procs_;
    lock.unlock();
    // "0" is the writer's own thread group: berthd, already in this cgroup.
    int fd = open(file.c_str(), O_WRONLY | O_CLOEXEC);
    bool ok = fd >= 0 && write(fd, "0", 1) == 1;
    int err = errno;
    if (fd >= 0) close(fd);
    lock.lock();
    if (!ok) {
      log::Debug("cgroup primer off: write 0 to " + file + ": " + strerror(err));
      procs_.clear();
      return;
    }
  }
}

}  // namespace berth::runtime
