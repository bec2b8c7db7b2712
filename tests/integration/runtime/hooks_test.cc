// All six hook kinds: order, the state on stdin, where they run, and timeouts.

#include <fstream>

#include "base/file_util.h"
#include "harness.h"

namespace berth::testing {
namespace {

class HooksTest : public RuntimeTest {
 protected:
  // A hook that appends "<name> <status> <id> <pid-present>" to the log (the state arrives on
  // stdin as JSON; busybox has no JSON parser, so grep for the fields). Hooks run with the
  // host's /bin/sh: createContainer and startContainer run in the container's namespaces,
  // so they use busybox from the rootfs.
  nlohmann::json Hook(const std::string& name, const std::string& sh, const std::string& log) {
    std::string script =
        "s=$(cat); st=$(echo \"$s\" | grep -o '\"status\": *\"[a-z]*\"' | grep -o '[a-z]*\"$' "
        "| tr -d '\"'); echo " +
        name + " $st >> " + log;
    return {{"path", sh}, {"args", {"sh", "-c", script}}};
  }
};

TEST_F(HooksTest, AllSixKindsRunInOrderWithState) {
  std::string log = dir_ + "/hooks.log";
  // createContainer hooks run as the container's root: with a user namespace, an unprivileged
  // user that cannot write to the test's private dir on the host.
  RemoveNamespace("user");
  ShareTestDir(dir_);
  config_["hooks"] = {
      {"prestart", {Hook("prestart", "/bin/sh", log)}},
      {"createRuntime", {Hook("createRuntime", "/bin/sh", log)}},
      {"createContainer", {Hook("createContainer", "/bin/sh", log)}},
      {"startContainer", {Hook("startContainer", "/bin/sh", log)}},
      {"poststart", {Hook("poststart", "/bin/sh", log)}},
      {"poststop", {Hook("poststop", "/bin/sh", log)}},
  };
  SetScript("echo process >> " + log + "; exec sleep 100");
  std::string id = NewId();
  ASSERT_EQ(Rt({"create", "--bundle", bundle_, id}).exit_code, 0);
  EXPECT_EQ(ReadFile(log), "prestart creating\ncreateRuntime creating\ncreateContainer creating\n");
  ASSERT_EQ(Rt({"start", id}).exit_code, 0);
  for (int i = 0; i < 200 && ReadFile(log).find("process") == std::string::npos; ++i) {
    usleep(10000);
  }
  ASSERT_EQ(Rt({"kill", id, "KILL"}).exit_code, 0);
  for (int i = 0; i < 200 && Rt({"state", id}).out.find("stopped") == std::string::npos; ++i) {
    usleep(10000);
  }
  ASSERT_EQ(Rt({"delete", id}).exit_code, 0);
  std::string got = ReadFile(log);
  // startContainer runs in the container right before the process; poststart after start
  // returns from the fifo, so it may land before or after the process's own line.
  EXPECT_EQ(got.rfind("prestart creating\ncreateRuntime creating\ncreateContainer creating\n"
                      "startContainer creating\n",
                      0),
            0u)
      << got;
  EXPECT_NE(got.find("poststart running\n"), std::string::npos) << got;
  EXPECT_NE(got.find("process\n"), std::string::npos) << got;
  EXPECT_EQ(got.substr(got.size() - 17), "poststop stopped\n") << got;
}

TEST_F(HooksTest, CreateContainerHookSeesTheContainerMountNamespace) {
  std::string out = dir_ + "/ns";
  // createContainer hooks run as the container's root: with a user namespace, an unprivileged
  // user that cannot write to the test's private dir on the host.
  RemoveNamespace("user");
  ShareTestDir(dir_);
  config_["hooks"] = {
      {"createRuntime",
       {{{"path", "/bin/sh"},
         {"args", {"sh", "-c", "readlink /proc/self/ns/mnt > " + out + ".rt"}}}}},
      {"createContainer",
       {{{"path", "/bin/sh"},
         {"args", {"sh", "-c", "readlink /proc/self/ns/mnt > " + out + ".ctr"}}}}},
  };
  Result r = RunContainer("readlink /proc/self/ns/mnt");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  char host[128];
  ssize_t n = readlink("/proc/self/ns/mnt", host, sizeof(host));
  EXPECT_EQ(Trim(ReadFile(out + ".rt")), std::string(host, static_cast<size_t>(n)));
  EXPECT_EQ(Trim(ReadFile(out + ".ctr")), Trim(r.out));
}

TEST_F(HooksTest, FailingHookFailsCreateAndCleansUp) {
  config_["hooks"] = {{"createRuntime", {{{"path", "/bin/false"}}}}};
  SetScript("true");
  ExpectCreateFails("createRuntime hook /bin/false");
}

TEST_F(HooksTest, HookTimeoutKillsIt) {
  config_["hooks"] = {
      {"prestart", {{{"path", "/bin/sleep"}, {"args", {"sleep", "30"}}, {"timeout", 1}}}}};
  SetScript("true");
  std::string id = NewId();
  auto start = std::chrono::steady_clock::now();
  Result r = Rt({"create", "--bundle", bundle_, id});
  auto secs =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start)
          .count();
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("timed out"), std::string::npos) << r.err;
  EXPECT_LT(secs, 20) << "the hook was not killed at its timeout";
}

}  // namespace
}  // namespace berth::testing
