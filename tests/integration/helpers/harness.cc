#include "harness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>

#include "base/file_util.h"
#include "oci/default_spec.h"

extern char** environ;

namespace berth::testing {

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \n\r\t");
  size_t e = s.find_last_not_of(" \n\r\t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

bool FileExists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

Result RunProgram(const std::vector<std::string>& argv, const std::string& input, int timeout_s,
                  const std::vector<int>& pass_fds) {
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
    ADD_FAILURE() << "pipe: " << strerror(errno);
    return {};
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  for (size_t i = 0; i < pass_fds.size(); ++i) {
    posix_spawn_file_actions_adddup2(&fa, pass_fds[i], static_cast<int>(3 + i));
  }
  std::vector<char*> args;
  for (const auto& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  pid_t pid;
  int rc = posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(in[0]);
  close(out[1]);
  close(err[1]);
  Result r;
  if (rc != 0) {
    ADD_FAILURE() << "spawn " << argv[0] << ": " << strerror(rc);
    close(in[1]);
    close(out[0]);
    close(err[0]);
    return r;
  }
  if (!input.empty()) {
    ssize_t n = write(in[1], input.data(), input.size());
    (void)n;
  }
  close(in[1]);
  // Wait for the process, not for EOF: a detached container inherits stdout and stderr
  // and keeps them open long after the runtime exited.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  struct pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  auto drain = [&](int i) {
    char buf[4096];
    ssize_t n = read(fds[i].fd, buf, sizeof(buf));
    if (n <= 0) {
      close(fds[i].fd);
      fds[i].fd = -1;
      return false;
    }
    (i == 0 ? r.out : r.err).append(buf, static_cast<size_t>(n));
    return true;
  };
  int status = 0;
  bool exited = false;
  while (!exited) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      ADD_FAILURE() << argv[0] << " timed out after " << timeout_s << " s";
      for (auto& f : fds) {
        if (f.fd >= 0) {
          close(f.fd);
        }
      }
      r.exit_code = -1;
      return r;
    }
    if (poll(fds, 2, 10) > 0) {
      for (int i = 0; i < 2; ++i) {
        if (fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP))) {
          drain(i);
        }
      }
    }
    exited = waitpid(pid, &status, WNOHANG) == pid;
  }
  // Whatever the process wrote before it exited is in the pipes now.
  for (int i = 0; i < 2; ++i) {
    if (fds[i].fd >= 0) {
      fcntl(fds[i].fd, F_SETFL, O_NONBLOCK);
      while (drain(i)) {
      }
    }
  }
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

std::string RuntimePath() {
  const char* p = getenv("BERTH_RUNTIME");
  return p ? p : BERTH_TEST_RUNTIME;
}

std::string RootfsPath() {
  const char* p = getenv("BERTH_ROOTFS");
  return p ? p : BERTH_TEST_ROOTFS;
}

void RuntimeTest::SetUp() {
  BERTH_REQUIRE_ROOT();
  ASSERT_FALSE(RootfsPath().empty()) << "BERTH_ROOTFS is not set";
  char tmpl[] = "/tmp/berth-it.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  dir_ = tmpl;
  bundle_ = dir_ + "/bundle";
  state_ = dir_ + "/state";
  ASSERT_EQ(mkdir(bundle_.c_str(), 0755), 0);
  rootfs_ = RootfsPath();
  config_ = oci::DefaultSpec();
  config_["root"]["path"] = rootfs_;
  config_["process"]["terminal"] = false;
}

void RuntimeTest::TearDown() {
  if (dir_.empty()) {
    return;
  }
  for (const auto& id : ids_) {
    Rt({"delete", "--force", id});
    for (const char* h : {"pids", "memory", "freezer", "unified", ""}) {
      std::string cg = std::string("/sys/fs/cgroup/") + h + "/berth-" + id;
      EXPECT_FALSE(FileExists(cg)) << "cgroup left behind: " << cg;
    }
  }
  std::string mounts = ReadFile("/proc/self/mountinfo");
  EXPECT_EQ(mounts.find(dir_), std::string::npos) << "mount left behind under " << dir_;
  RemoveAll(dir_);
}

std::string RuntimeTest::NewId() {
  static int counter = 0;
  std::string id = "it-" + std::to_string(getpid()) + "-" + std::to_string(++counter);
  ids_.push_back(id);
  return id;
}

Result RuntimeTest::Rt(const std::vector<std::string>& args, const std::string& input,
                       int timeout_s) {
  std::vector<std::string> argv = {RuntimePath(), "--root", state_};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProgram(argv, input, timeout_s);
}

void RuntimeTest::WriteConfig() { std::ofstream(bundle_ + "/config.json") << config_.dump(2); }

void RuntimeTest::SetScript(const std::string& script) {
  config_["process"]["args"] = {"sh", "-c", script};
  WriteConfig();
}

Result RuntimeTest::RunContainer(const std::string& script) {
  SetScript(script);
  return Rt({"run", "--bundle", bundle_, NewId()});
}

std::string RuntimeTest::ExpectCreateFails(const std::string& needle) {
  std::string id = NewId();
  Result r = Rt({"create", "--bundle", bundle_, id});
  EXPECT_NE(r.exit_code, 0) << "create succeeded, expected an error about " << needle;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  EXPECT_FALSE(FileExists(state_ + "/" + id)) << "state left behind";
  return id;
}

void RuntimeTest::ShareTestDir(const std::string& destination) {
  bool userns = false;
  for (const auto& ns : config_["linux"]["namespaces"]) {
    userns = userns || ns["type"] == "user";
  }
  nlohmann::json options = {"rbind"};
  if (userns) {
    options.push_back("idmap");
  }
  config_["mounts"].push_back(
      {{"destination", destination}, {"type", "bind"}, {"source", dir_}, {"options", options}});
}

void RuntimeTest::RemoveNamespace(const std::string& type) {
  auto& ns = config_["linux"]["namespaces"];
  ns.erase(std::remove_if(ns.begin(), ns.end(), [&](const auto& n) { return n["type"] == type; }),
           ns.end());
  if (type == "user") {
    config_["linux"].erase("uidMappings");
    config_["linux"].erase("gidMappings");
    config_["annotations"].erase("org.berth.rootfs.idmap");
  }
}

void RuntimeTest::UseRootfsCopy() {
  std::string copy = dir_ + "/rootfs";
  Result r = RunProgram({"/bin/cp", "-a", RootfsPath(), copy});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  rootfs_ = copy;
  config_["root"]["path"] = copy;
}

}  // namespace berth::testing
