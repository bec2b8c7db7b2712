// The cgroup2 device program in the real kernel: loaded, attached, enforced, replaced.

#include "runtime/device_filter.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "base/fd.h"
#include "base/file_util.h"
#include "runtime/cgroups.h"

namespace berth::runtime {
namespace {

// A child cgroup of the cgroup2 root, removed at the end whatever happens.
struct ScratchCgroup {
  std::string dir;
  UniqueFd fd;
  ScratchCgroup() {
    const std::string& root = DetectCgroupLayout().v2_mount;
    if (root.empty()) {
      return;
    }
    dir = root + "/berth-it-devfilter-" + std::to_string(getpid());
    if (mkdir(dir.c_str(), 0755) < 0) {
      ADD_FAILURE() << "mkdir " << dir << ": " << strerror(errno);
      dir.clear();
      return;
    }
    fd.Reset(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  }
  ~ScratchCgroup() {
    if (!dir.empty()) {
      fd.Reset();
      rmdir(dir.c_str());
    }
  }
};

// Forks a child that joins the cgroup and opens /dev/null and /dev/zero; bit 0 of the
// result: null opened, bit 1: zero opened.
int Probe(const std::string& dir) {
  pid_t pid = fork();
  if (pid == 0) {
    int procs = open((dir + "/cgroup.procs").c_str(), O_WRONLY);
    if (procs < 0 || write(procs, "0", 1) != 1) {
      _exit(100);
    }
    int result = 0;
    for (int i = 0; i < 2; ++i) {
      int fd = open(i == 0 ? "/dev/null" : "/dev/zero", O_RDONLY);
      if (fd >= 0) {
        result |= 1 << i;
        close(fd);
      } else if (errno != EPERM) {
        _exit(101);
      }
    }
    _exit(result);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

uint32_t AttachedPrograms(int cgroup_fd) {
  uint32_t ids[8];
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.query.target_fd = static_cast<uint32_t>(cgroup_fd);
  attr.query.attach_type = BPF_CGROUP_DEVICE;
  attr.query.prog_ids = reinterpret_cast<uint64_t>(ids);
  attr.query.prog_cnt = 8;
  if (syscall(SYS_bpf, BPF_PROG_QUERY, &attr, sizeof(attr)) < 0) {
    return 0;
  }
  return attr.query.prog_cnt;
}

TEST(DeviceFilterKernelTest, ProgramIsEnforcedAndReplacedInPlace) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root";
  }
  ScratchCgroup cg;
  if (cg.dir.empty()) {
    GTEST_SKIP() << "no cgroup2 tree on this host";
  }
  ASSERT_TRUE(cg.fd);
  EXPECT_EQ(Probe(cg.dir), 3) << "without a program both open";

  DeviceState only_null{false, {DeviceRule{true, 'c', 1, 3, 7}}};
  AttachDeviceFilter(cg.fd.get(), CompileDeviceFilter(only_null), cg.dir);
  EXPECT_EQ(Probe(cg.dir), 1) << "only /dev/null may open";
  EXPECT_EQ(AttachedPrograms(cg.fd.get()), 1u);

  DeviceState only_zero{false, {DeviceRule{true, 'c', 1, 5, kDevRead}}};
  AttachDeviceFilter(cg.fd.get(), CompileDeviceFilter(only_zero), cg.dir);
  EXPECT_EQ(Probe(cg.dir), 2) << "the new program replaced the old one";
  EXPECT_EQ(AttachedPrograms(cg.fd.get()), 1u) << "replaced, not added";
}

}  // namespace
}  // namespace berth::runtime
