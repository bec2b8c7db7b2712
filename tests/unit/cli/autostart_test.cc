#include "cli/autostart.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "base/error.h"

namespace berth::cli {
namespace {

// A temp dir with a fake berthd script in it; removed at the end.
class AutostartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-autostart-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    plan_.socket = dir_ + "/berth.sock";
    plan_.berthd = dir_ + "/berthd";
    plan_.log = dir_ + "/log/berthd.log";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void FakeDaemon(const std::string& script) {
    std::ofstream(plan_.berthd) << script;
    chmod(plan_.berthd.c_str(), 0755);
  }

  std::string dir_;
  AutostartPlan plan_;
};

TEST_F(AutostartTest, NoSocketNoAnswer) { EXPECT_FALSE(SocketAnswers(plan_.socket)); }

TEST_F(AutostartTest, ADaemonThatExitsIsReportedWithItsLog) {
  FakeDaemon("#!/bin/sh\necho \"fake berthd: cannot start ($*)\" >&2\nexit 3\n");
  try {
    StartDaemon(plan_);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Kind::kUnavailable);
    EXPECT_NE(std::string(e.what()).find("fake berthd: cannot start (-H unix://" + plan_.socket),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find(plan_.log), std::string::npos) << e.what();
  }
}

TEST_F(AutostartTest, ADaemonThatNeverAnswersTimesOutAndIsStopped) {
  FakeDaemon("#!/bin/sh\necho $$ > " + dir_ + "/pid\nexec sleep 30\n");
  plan_.timeout_ms = 300;
  EXPECT_THROW(StartDaemon(plan_), Error);
  std::ifstream in(dir_ + "/pid");
  pid_t pid = 0;
  in >> pid;
  ASSERT_GT(pid, 0);
  EXPECT_NE(kill(pid, 0), 0);  // killed and reaped
}

TEST_F(AutostartTest, StartsADaemonAndWaitsForItsPing) {
  if (access("/usr/bin/python3", X_OK) != 0) {
    GTEST_SKIP() << "the fake daemon needs /usr/bin/python3";
  }
  // Serves HTTP 200 on the socket it is given until it has answered GET /_ping, then exits.
  FakeDaemon(R"(#!/usr/bin/python3
import os, socket, sys
path = sys.argv[2][len("unix://"):]
s = socket.socket(socket.AF_UNIX)
s.bind(path)
s.listen(4)
while True:
    c, _ = s.accept()
    data = b""
    while b"\r\n\r\n" not in data:
        d = c.recv(4096)
        if not d:
            break
        data += d
    try:
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK")
    except OSError:
        pass
    c.close()
    if data.startswith(b"GET /_ping"):
        break
print("setsid:", os.getsid(0) == os.getpid(), flush=True)
)");
  pid_t pid = StartDaemon(plan_);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  std::ifstream log(plan_.log);
  std::string line;
  std::getline(log, line);
  EXPECT_EQ(line, "setsid: True");
}

}  // namespace
}  // namespace berth::cli
