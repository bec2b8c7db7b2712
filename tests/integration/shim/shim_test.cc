// berth-shim runs a container under the hardened default spec to its end: output in the
// json-file log (stdout and stderr apart), the exit record, the runtime state removed.

#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "base/file_util.h"
#include "harness.h"
#include "shim/logfile.h"

namespace berth::testing {
namespace {

std::string ShimPath() {
  const char* env = getenv("BERTH_SHIM");
  return env != nullptr ? env : BERTH_TEST_SHIM;
}

class ShimTest : public RuntimeTest {
 protected:
  // Runs the shim in the foreground (it returns when the container has ended); the ready fd
  // is a pipe whose first line is checked.
  Result Shim(const std::string& id, std::string* ready) {
    int p[2];
    EXPECT_EQ(pipe(p), 0);
    Result r = RunProgram({ShimPath(), "--id", id, "--bundle", bundle_, "--runtime-root", state_,
                           "--log", dir_ + "/ctr.log", "--exit-file", dir_ + "/exit.json",
                           "--ready-fd", std::to_string(p[1]), "--shim-log", dir_ + "/shim.log"},
                          "", 30, {p[1]});
    close(p[1]);
    char buf[4096];
    ssize_t n = read(p[0], buf, sizeof(buf));
    close(p[0]);
    *ready = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
    return r;
  }

  std::vector<nlohmann::json> LogLines() {
    std::vector<nlohmann::json> lines;
    std::istringstream in(ReadFile(dir_ + "/ctr.log"));
    std::string line;
    while (std::getline(in, line)) {
      lines.push_back(nlohmann::json::parse(line));
    }
    return lines;
  }
};

TEST_F(ShimTest, RunsTheContainerToItsEnd) {
  SetScript("echo out1; echo err1 >&2; printf 'no newline'; exit 3");
  std::string id = NewId();
  std::string ready;
  Result r = Shim(id, &ready);
  EXPECT_EQ(ready, "ok\n");
  EXPECT_EQ(r.exit_code, 3) << ReadFile(dir_ + "/shim.log");
  std::vector<nlohmann::json> lines = LogLines();
  ASSERT_EQ(lines.size(), 3u) << ReadFile(dir_ + "/ctr.log");
  std::map<std::string, std::string> by_text;
  for (const auto& l : lines) by_text[l["log"]] = l["stream"];
  EXPECT_EQ(by_text["out1\n"], "stdout");
  EXPECT_EQ(by_text["err1\n"], "stderr");
  EXPECT_EQ(by_text["no newline"], "stdout") << "the last partial line is flushed";
  nlohmann::json exit = nlohmann::json::parse(ReadFile(dir_ + "/exit.json"));
  EXPECT_EQ(exit["ExitCode"], 3);
  EXPECT_GT(exit["Pid"].get<int>(), 1);
  EXPECT_EQ(exit["FinishedAt"].get<std::string>().back(), 'Z');
  EXPECT_FALSE(FileExists(state_ + "/" + id)) << "the runtime state is removed";
}

TEST_F(ShimTest, EveryLineArrivesInOrder) {
  // More than a pipe buffer holds, written right before the exit: nothing may be lost when
  // the init is reaped before its pipes are drained.
  SetScript("seq 1 20000");
  std::string id = NewId();
  std::string ready;
  Result r = Shim(id, &ready);
  EXPECT_EQ(r.exit_code, 0);
  std::vector<nlohmann::json> lines = LogLines();
  ASSERT_EQ(lines.size(), 20000u);
  for (size_t i = 0; i < lines.size(); i += 997) {
    EXPECT_EQ(lines[i]["log"], std::to_string(i + 1) + "\n");
  }
  EXPECT_EQ(lines.back()["log"], "20000\n");
}

TEST_F(ShimTest, AContainerThatCannotStartIsReportedAndLeavesNothing) {
  config_["process"]["args"] = {"/no/such/binary"};
  WriteConfig();
  std::string id = NewId();
  std::string ready;
  Result r = Shim(id, &ready);
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_NE(ready.find("/no/such/binary"), std::string::npos) << ready;
  EXPECT_FALSE(FileExists(dir_ + "/exit.json"));
  EXPECT_FALSE(FileExists(state_ + "/" + id));
}

}  // namespace
}  // namespace berth::testing
