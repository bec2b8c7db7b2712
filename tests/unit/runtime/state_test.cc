#include "runtime/state.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/file_util.h"
#include "runtime/container.h"
#include "temp_dir_test.h"

namespace berth::runtime {
namespace {

class StateStoreTest : public testing::TempDirTest {};

TEST_F(StateStoreTest, ReserveSaveLoadListRemove) {
  StateStore store(dir_ + "/state");
  store.Reserve("c1");
  EXPECT_THROW(store.Reserve("c1"), Error);
  ContainerState s;
  s.id = "c1";
  s.pid = getpid();
  s.pid_start_time = ProcessStartTime(getpid());
  s.bundle = "/b";
  s.rootfs = "/b/rootfs";
  s.created = NowRfc3339();
  s.cgroup_path = "/berth/c1";
  s.annotations = {{"k", "v"}};
  store.Save(s);
  ContainerState got = store.Load("c1");
  EXPECT_EQ(got.pid, s.pid);
  EXPECT_EQ(got.cgroup_path, "/berth/c1");
  EXPECT_EQ(got.annotations.at("k"), "v");
  EXPECT_TRUE(ProcessAlive(got.pid, got.pid_start_time));
  EXPECT_FALSE(ProcessAlive(got.pid, got.pid_start_time + 1)) << "pid reuse not detected";
  EXPECT_EQ(store.List(), std::vector<std::string>{"c1"});
  store.Remove("c1");
  EXPECT_THROW(store.Load("c1"), Error);
  EXPECT_TRUE(store.List().empty());
}

TEST_F(StateStoreTest, CorruptStateIsDataLoss) {
  StateStore store(dir_);
  store.Reserve("c2");
  WriteFileAtomic(store.Dir("c2") + "/state.json", "{not json");
  try {
    store.Load("c2");
    FAIL() << "corrupt state loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Kind::kDataLoss);
    EXPECT_NE(std::string(e.what()).find("c2"), std::string::npos);
  }
}

TEST(StateTest, IdValidation) {
  for (const char* bad : {"", ".", "..", "a/b", "a b", "x\n"}) {
    EXPECT_THROW(ValidateId(bad), Error) << bad;
  }
  for (const char* good : {"a", "A-b_c.d+e", "0123456789abcdef"}) {
    EXPECT_NO_THROW(ValidateId(good)) << good;
  }
}

TEST(StateTest, StateJsonHasTheOciFields) {
  ContainerState s;
  s.id = "c";
  s.pid = 42;
  s.bundle = "/b";
  s.created = "2026-01-01T00:00:00.000000000Z";
  auto j = nlohmann::json::parse(StateJson(s, Status::kStopped));
  EXPECT_EQ(j["status"], "stopped");
  EXPECT_EQ(j["pid"], 0) << "a stopped container reports no pid";
  EXPECT_EQ(j["ociVersion"], "1.1.0");
  EXPECT_EQ(j["bundle"], "/b");
  j = nlohmann::json::parse(StateJson(s, Status::kRunning));
  EXPECT_EQ(j["pid"], 42);
}

TEST(SignalTest, NamesAndNumbers) {
  EXPECT_EQ(ParseSignal("KILL"), SIGKILL);
  EXPECT_EQ(ParseSignal("SIGTERM"), SIGTERM);
  EXPECT_EQ(ParseSignal("sigusr1"), SIGUSR1);
  EXPECT_EQ(ParseSignal("9"), 9);
  EXPECT_EQ(ParseSignal("RTMIN+2"), SIGRTMIN + 2);
  EXPECT_THROW(ParseSignal("NOPE"), Error);
  EXPECT_THROW(ParseSignal("0"), Error);
  EXPECT_THROW(ParseSignal("999"), Error);
}

}  // namespace
}  // namespace berth::runtime
