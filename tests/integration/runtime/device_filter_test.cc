// Device rules in the real kernel: the cgroup2 device program loaded, attached, enforced and
// replaced (on this project's hybrid hosts too: a cgroup2 tree runs device programs whatever
// controllers it has); the v1 model checked against the v1 devices cgroup itself; and the
// runtime's own program, checked on its own in the container's cgroup2 directory.

#include "runtime/device_filter.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <random>
#include <string>
#include <thread>

#include "base/error.h"
#include "base/fd.h"
#include "base/file_util.h"
#include "harness.h"
#include "runtime/cgroups.h"

namespace berth::runtime {
namespace {

using nlohmann::json;

// The cgroup2 mount, from /proc/self/mountinfo ("" when there is none).
std::string Cgroup2Mount() { return ParseCgroupLayout(ReadFile("/proc/self/mountinfo")).v2_mount; }

void RemoveCgroupDir(const std::string& dir) {
  for (int i = 0; i < 200; ++i) {
    if (rmdir(dir.c_str()) == 0 || errno == ENOENT) {
      return;
    }
    if (errno != EBUSY) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ADD_FAILURE() << "cgroup left behind: " << dir << ": " << strerror(errno);
}

// A fresh child cgroup of `root`, removed (with whatever programs are attached to it) at the
// end of the test, whatever happens in it.
struct ScratchCgroup {
  std::string dir;
  UniqueFd fd;
  ScratchCgroup(const std::string& root, const std::string& what) {
    static int counter = 0;
    dir = root + "/berth-it-" + what + "-" + std::to_string(getpid()) + "-" +
          std::to_string(++counter);
    if (mkdir(dir.c_str(), 0755) < 0) {
      ADD_FAILURE() << "mkdir " << dir << ": " << strerror(errno);
      dir.clear();
      return;
    }
    fd.Reset(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  }
  ~ScratchCgroup() {
    fd.Reset();
    if (!dir.empty()) {
      RemoveCgroupDir(dir);
    }
  }
  ScratchCgroup(const ScratchCgroup&) = delete;
  ScratchCgroup& operator=(const ScratchCgroup&) = delete;
};

constexpr int kNullOpened = 1;
constexpr int kZeroOpened = 2;

// Forks a child that moves itself into the cgroup2 directory `dir` and opens /dev/null and
// /dev/zero for reading and writing. Returns kNullOpened | kZeroOpened for the opens that
// worked; a refused open must fail with EPERM. The child is always reaped before this returns.
int Probe(const std::string& dir) {
  const std::string procs = dir + "/cgroup.procs";
  pid_t pid = fork();
  if (pid < 0) {
    ADD_FAILURE() << "fork: " << strerror(errno);
    return -1;
  }
  if (pid == 0) {
    // Only async-signal-safe calls from here.
    int fd = open(procs.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, "0", 1) != 1) {
      _exit(100);
    }
    close(fd);
    int result = 0;
    const char* paths[] = {"/dev/null", "/dev/zero"};
    for (int i = 0; i < 2; ++i) {
      int dev = open(paths[i], O_RDWR | O_CLOEXEC);
      if (dev >= 0) {
        result |= 1 << i;
        close(dev);
      } else if (errno != EPERM) {
        _exit(101 + i);
      }
    }
    _exit(result);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) > 3) {
    ADD_FAILURE() << "probe failed: status " << status << " (100: could not join " << dir
                  << ", 101/102: open failed with an error other than EPERM)";
    return -1;
  }
  return WEXITSTATUS(status);
}

std::vector<bpf_insn> Program(const char* rules) {
  return CompileDeviceFilter(
      EmulateV1Devices(EffectiveDeviceRules(json::parse(rules), "linux.resources.devices")));
}

// The rule lists below start with a deny-all, so they allow the standard nodes (/dev/null
// and /dev/zero among them) but for what they deny after.
constexpr const char* kNoZero = R"([{"allow": false, "access": "rwm"},
    {"allow": false, "type": "c", "major": 1, "minor": 5, "access": "rwm"}])";
constexpr const char* kNoNull = R"([{"allow": false, "access": "rwm"},
    {"allow": false, "type": "c", "major": 1, "minor": 3, "access": "rwm"}])";

class DeviceProgramTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      GTEST_SKIP() << "needs root";
    }
    root_ = Cgroup2Mount();
    if (root_.empty()) {
      GTEST_SKIP() << "no cgroup2 tree on this host";
    }
  }
  std::string root_;
};

TEST_F(DeviceProgramTest, ProgramIsEnforcedAndReplaced) {
  ScratchCgroup cg(root_, "devfilter");
  ASSERT_TRUE(cg.fd) << cg.dir;
  EXPECT_EQ(Probe(cg.dir), kNullOpened | kZeroOpened) << "without a program both open";

  AttachDeviceFilter(cg.fd.get(), Program(kNoZero), cg.dir);
  EXPECT_EQ(Probe(cg.dir), kNullOpened) << "/dev/zero must be refused";
  std::vector<AttachedProgram> first = AttachedDevicePrograms(cg.fd.get());
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].name, kDeviceProgramName);

  // update: the new program replaces the old one.
  AttachDeviceFilter(cg.fd.get(), Program(kNoNull), cg.dir);
  EXPECT_EQ(Probe(cg.dir), kZeroOpened) << "the new program must decide alone";
  std::vector<AttachedProgram> second = AttachedDevicePrograms(cg.fd.get());
  ASSERT_EQ(second.size(), 1u) << "replaced, not added";
  EXPECT_NE(second[0].id, first[0].id);
}

TEST_F(DeviceProgramTest, AnotherManagersProgramStays) {
  ScratchCgroup cg(root_, "devfilter");
  ASSERT_TRUE(cg.fd) << cg.dir;
  // Someone else's program (systemd attaches its own to the units it manages): it refuses
  // /dev/zero and must survive Berth's attach and replace.
  UniqueFd other = LoadDeviceProgram(Program(kNoZero), "other_manager");
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.target_fd = static_cast<uint32_t>(cg.fd.get());
  attr.attach_bpf_fd = static_cast<uint32_t>(other.get());
  attr.attach_type = BPF_CGROUP_DEVICE;
  attr.attach_flags = BPF_F_ALLOW_MULTI;
  ASSERT_EQ(syscall(SYS_bpf, BPF_PROG_ATTACH, &attr, sizeof(attr)), 0) << strerror(errno);

  AttachDeviceFilter(cg.fd.get(), Program(kNoNull), cg.dir);
  AttachDeviceFilter(cg.fd.get(), Program(kNoNull), cg.dir);
  std::vector<AttachedProgram> attached = AttachedDevicePrograms(cg.fd.get());
  ASSERT_EQ(attached.size(), 2u);
  EXPECT_EQ(attached[0].name, "other_manager");
  EXPECT_EQ(attached[1].name, kDeviceProgramName);
  EXPECT_EQ(Probe(cg.dir), 0) << "every attached program must allow an access";
}

TEST_F(DeviceProgramTest, ARefusedProgramReportsTheVerifier) {
  // exit without setting r0.
  std::vector<bpf_insn> bad(1);
  memset(bad.data(), 0, sizeof(bpf_insn));
  bad[0].code = BPF_JMP | BPF_EXIT;
  try {
    LoadDeviceProgram(bad);
    FAIL() << "the kernel loaded a program without a verdict";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("verifier: "), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("R0 !read_ok"), std::string::npos) << e.what();
  }
}

TEST_F(DeviceProgramTest, LongRuleListsLoad) {
  // Hundreds of rules (a verifier log on every load failed such lists with ENOSPC; comparing
  // the context registers themselves made the verifier's work quadratic).
  json rules = json::array({{{"allow", false}, {"access", "rwm"}}});
  for (int i = 0; i < 1000; ++i) {
    rules.push_back({{"allow", true},
                     {"type", i % 2 ? "b" : "c"},
                     {"major", 200 + i / 4},
                     {"minor", i},
                     {"access", "rw"}});
  }
  rules.push_back({{"allow", false}, {"type", "c"}, {"major", 1}, {"minor", 3}});
  ScratchCgroup cg(root_, "devfilter");
  ASSERT_TRUE(cg.fd) << cg.dir;
  AttachDeviceFilter(cg.fd.get(), Program(rules.dump().c_str()), cg.dir);
  EXPECT_EQ(Probe(cg.dir), kZeroOpened);
}

// The v1 model (EmulateV1Devices) against the v1 devices cgroup itself: the same rule lines
// written to a scratch cgroup must leave the kernel's devices.list equal to the model's state.
TEST(DeviceModelTest, MatchesTheV1DevicesCgroup) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root";
  }
  std::string v1 = ParseCgroupLayout(ReadFile("/proc/self/mountinfo")).V1Path("devices");
  if (v1.empty()) {
    GTEST_SKIP() << "no v1 devices controller on this host";
  }
  ScratchCgroup cg(v1, "devmodel");
  ASSERT_FALSE(cg.dir.empty());
  std::mt19937 rng(42);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  const char* accesses[] = {"r", "w", "m", "rw", "rm", "wm", "rwm"};
  const int numbers[] = {0, 1, 3, 4095};
  for (int round = 0; round < 150; ++round) {
    json list = json::array();
    for (int i = pick(10); i > 0; --i) {
      json r = {{"allow", pick(2) == 0}, {"access", accesses[pick(7)]}};
      int t = pick(6);
      r["type"] = t == 0 ? "a" : t < 4 ? "c" : "b";
      if (pick(3) != 0) r["major"] = numbers[pick(4)];
      if (pick(3) != 0) r["minor"] = numbers[pick(4)];
      list.push_back(r);
    }
    std::vector<DeviceRule> rules = EffectiveDeviceRules(list, "linux.resources.devices");
    WriteFileOrThrow(cg.dir + "/devices.allow", "a");  // back to a new cgroup's state
    for (const auto& r : rules) {
      WriteFileOrThrow(cg.dir + (r.allow ? "/devices.allow" : "/devices.deny"), r.V1Line());
    }
    DeviceState model = EmulateV1Devices(rules);
    std::string want;
    if (model.default_allow) {
      want = "a *:* rwm\n";  // the kernel lists only the default then
    } else {
      for (const auto& e : model.exceptions) {
        want += e.V1Line() + "\n";
      }
    }
    ASSERT_EQ(ReadFile(cg.dir + "/devices.list"), want) << list.dump();
  }
}

// The runtime's program on its own: a probe joins only the container's cgroup2 directory (its
// v1 devices cgroup stays the test's, which allows everything), so what it is refused, the
// program Berth attached there refused. On a pure v2 host that program is the only filter.
class RuntimeDeviceProgramTest : public testing::RuntimeTest {};

TEST_F(RuntimeDeviceProgramTest, ContainerProgramEnforcesAndUpdateReplacesIt) {
  BERTH_REQUIRE_ROOT();
  const CgroupLayout& layout = DetectCgroupLayout();
  if (layout.v2_mount.empty()) {
    GTEST_SKIP() << "no cgroup2 tree on this host";
  }
  config_["linux"]["resources"]["devices"] = json::parse(kNoNull);
  SetScript("exec sleep 100");
  std::string id = NewId();
  testing::Result r = Rt({"run", "--detach", "--bundle", bundle_, id});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string dir = layout.v2_mount + "/berth-" + id;
  UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(fd) << dir;
  EXPECT_EQ(Probe(dir), kZeroOpened) << "the container's program must refuse /dev/null";

  r = Rt({"update", "-r", "-", id}, json{{"devices", json::parse(kNoZero)}}.dump());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Probe(dir), kNullOpened) << "update must replace the program";
  std::vector<AttachedProgram> attached = AttachedDevicePrograms(fd.get());
  ASSERT_EQ(attached.size(), 1u);
  EXPECT_EQ(attached[0].name, kDeviceProgramName);

  // An update without devices (or with null) leaves the program as it is.
  r = Rt({"update", "-r", "-", id}, R"({"devices": null, "pids": {"limit": 500}})");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Probe(dir), kNullOpened);
  EXPECT_EQ(AttachedDevicePrograms(fd.get()).size(), 1u);
}

}  // namespace
}  // namespace berth::runtime
