#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace berth::testing {

struct Result {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs a program with arguments (no shell), feeding `input` on stdin, capturing stdout and
// stderr. Kills it after `timeout_s` seconds (the result's exit code is then -1).
Result RunProgram(const std::vector<std::string>& argv, const std::string& input = "",
                  int timeout_s = 30, const std::vector<int>& pass_fds = {});

// Path of the berth-runtime binary and the busybox rootfs under test: the build's, or
// BERTH_RUNTIME / BERTH_ROOTFS from the environment.
std::string RuntimePath();
std::string RootfsPath();

// A test's private world: a temp dir holding the bundle and the runtime's --root, a unique
// container id prefix, and a config.json that starts from `berth-runtime spec`. Every
// container made through it is force-deleted in the destructor, and the test fails if a
// cgroup, mount or process of its containers is left behind.
class RuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // A fresh unique container id (remembered for cleanup).
  std::string NewId();
  // Runs berth-runtime with --root set; args follow.
  Result Rt(const std::vector<std::string>& args, const std::string& input = "",
            int timeout_s = 30);
  // Writes config_ to the bundle.
  void WriteConfig();
  // Sets process.args to `sh -c script` and writes the config.
  void SetScript(const std::string& script);
  // `run` of the current config in the foreground; returns the result.
  Result RunContainer(const std::string& script);
  // `create` with the current config must fail with `needle` in its message and leave no
  // state behind.
  std::string ExpectCreateFails(const std::string& needle);  // returns the id it tried
  // Copies the busybox rootfs into the bundle (for tests that change files in it) and
  // points root.path at the copy.
  void UseRootfsCopy();
  // Bind-mounts the test's temp dir at `destination`, id-mapped when the container has a user
  // namespace, so that its root (an unprivileged user on the host) can write there.
  void ShareTestDir(const std::string& destination);
  // Takes a namespace out of the config; for "user" also its mappings and the rootfs idmap.
  void RemoveNamespace(const std::string& type);

  std::string dir_;     // temp dir, removed at the end
  std::string bundle_;  // dir_/bundle
  std::string state_;   // dir_/state (--root)
  std::string rootfs_;  // the rootfs in use
  nlohmann::json config_;
  std::vector<std::string> ids_;
};

// Skips the current test unless running as root.
#define BERTH_REQUIRE_ROOT()                                     \
  do {                                                           \
    if (geteuid() != 0) {                                        \
      GTEST_SKIP() << "needs root (real namespaces and mounts)"; \
    }                                                            \
  } while (0)

std::string Trim(const std::string& s);
bool FileExists(const std::string& path);

}  // namespace berth::testing
