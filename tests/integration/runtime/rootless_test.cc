// Rootless: `spec --rootless` run by an unprivileged user (nobody), through the whole
// lifecycle, with no cgroup of its own.

#include <sys/stat.h>
#include <unistd.h>

#include <sstream>

#include "base/file_util.h"
#include "harness.h"

namespace berth::testing {
namespace {

constexpr uid_t kNobody = 65534;

class RootlessTest : public RuntimeTest {
 protected:
  void SetUp() override {
    RuntimeTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) {
      return;
    }
    // nobody walks into the test dir, owns the bundle and state dirs, and runs its own copy
    // of the runtime (the build tree may be private to root).
    ASSERT_EQ(chmod(dir_.c_str(), 0711), 0);
    ASSERT_EQ(chown(bundle_.c_str(), kNobody, kNobody), 0);
    MkdirAll(state_, 0700);
    ASSERT_EQ(chown(state_.c_str(), kNobody, kNobody), 0);
    runtime_ = dir_ + "/berth-runtime";
    Result cp = RunProgram({"/bin/cp", RuntimePath(), runtime_});
    ASSERT_EQ(cp.exit_code, 0) << cp.err;
    Result spec = AsNobody({"spec", "--rootless", "--bundle", bundle_}, /*with_root=*/false);
    ASSERT_EQ(spec.exit_code, 0) << spec.err;
    config_ = nlohmann::json::parse(ReadFile(bundle_ + "/config.json"));
    config_["root"]["path"] = rootfs_;
    config_["process"]["terminal"] = false;
  }

  Result AsNobody(const std::vector<std::string>& args, bool with_root = true) {
    std::vector<std::string> argv = {"/usr/bin/setpriv",   "--reuid=65534", "--regid=65534",
                                     "--clear-groups",     "/usr/bin/env",  "-i",
                                     "PATH=/usr/bin:/bin", "HOME=" + dir_,  runtime_};
    if (with_root) {
      argv.insert(argv.end(), {"--root", state_});
    }
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProgram(argv);
  }

  std::string runtime_;
};

TEST_F(RootlessTest, RunsAsTheCallerMappedToRoot) {
  WriteConfig();
  SetScript(
      "id -u; cat /proc/self/uid_map /proc/self/gid_map; grep NoNewPrivs /proc/self/status; "
      "hostname; ls /sys/class/net; exit 3");
  std::string id = NewId();
  Result r = AsNobody({"run", "--bundle", bundle_, id});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  std::istringstream in(r.out);
  std::vector<std::vector<std::string>> lines;
  for (std::string l; std::getline(in, l);) {
    std::istringstream w(l);
    lines.emplace_back();
    for (std::string s; w >> s;) {
      lines.back().push_back(s);
    }
  }
  ASSERT_EQ(lines.size(), 6u) << r.out << r.err;
  EXPECT_EQ(lines[0], std::vector<std::string>{"0"});
  EXPECT_EQ(lines[1], (std::vector<std::string>{"0", "65534", "1"})) << "uid map";
  EXPECT_EQ(lines[2], (std::vector<std::string>{"0", "65534", "1"})) << "gid map";
  EXPECT_EQ(lines[3], (std::vector<std::string>{"NoNewPrivs:", "1"}));
  EXPECT_EQ(lines[4], std::vector<std::string>{"berth"});
  EXPECT_EQ(lines[5], std::vector<std::string>{"lo"}) << "a network namespace of its own";
}

TEST_F(RootlessTest, LifecycleExecAndPsWithoutACgroup) {
  SetScript("exec sleep 100");
  std::string id = NewId();
  Result r = AsNobody({"create", "--bundle", bundle_, id});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json state = nlohmann::json::parse(AsNobody({"state", id}).out);
  EXPECT_EQ(state["status"], "created");
  int pid = state["pid"];
  struct stat st;
  ASSERT_EQ(stat(("/proc/" + std::to_string(pid)).c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kNobody) << "the container runs as the caller on the host";
  ASSERT_EQ(AsNobody({"start", id}).exit_code, 0);
  EXPECT_EQ(nlohmann::json::parse(AsNobody({"state", id}).out)["status"], "running");
  r = AsNobody({"exec", id, "sh", "-c", "echo in-$(id -u)"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Trim(r.out), "in-0");
  r = AsNobody({"ps", "--format", "json", id});
  EXPECT_EQ(Trim(r.out), "[" + std::to_string(pid) + "]") << r.err;
  r = AsNobody({"pause", id});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("it has no cgroup"), std::string::npos) << r.err;
  ASSERT_EQ(AsNobody({"kill", id, "KILL"}).exit_code, 0);
  for (int i = 0; i < 200 && AsNobody({"state", id}).out.find("stopped") == std::string::npos;
       ++i) {
    usleep(10000);
  }
  r = AsNobody({"delete", id});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(FileExists(state_ + "/" + id));
}

TEST_F(RootlessTest, IdMappedMountsAreRefusedClearly) {
  config_["mounts"].push_back({{"destination", "/data"},
                               {"type", "bind"},
                               {"source", "/tmp"},
                               {"options", {"rbind", "idmap"}}});
  WriteConfig();
  Result r = AsNobody({"create", "--bundle", bundle_, NewId()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("mount /data: id-mapped mounts need a runtime run as root"),
            std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace berth::testing
