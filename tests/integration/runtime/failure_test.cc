// Bad input is refused with a message naming the field, and a failure at any step leaves
// no state, cgroup, mount or process behind (TearDown checks cgroups and mounts).

#include <fstream>

#include "base/file_util.h"
#include "harness.h"

namespace berth::testing {
namespace {

using FailureTest = RuntimeTest;

TEST_F(FailureTest, MalformedJson) {
  std::ofstream(bundle_ + "/config.json") << "{\"ociVersion\": ";
  ExpectCreateFails("malformed JSON");
}

TEST_F(FailureTest, WrongTypeNamesTheField) {
  config_["process"]["user"]["uid"] = "root";
  WriteConfig();
  ExpectCreateFails("process.user.uid");
}

TEST_F(FailureTest, MissingRoot) {
  config_.erase("root");
  WriteConfig();
  ExpectCreateFails("root");
}

TEST_F(FailureTest, UnknownNamespaceType) {
  config_["linux"]["namespaces"].push_back({{"type", "telepathy"}});
  WriteConfig();
  ExpectCreateFails("unknown namespace type \"telepathy\"");
}

TEST_F(FailureTest, RelativeMountDestination) {
  config_["mounts"].push_back({{"destination", "relative/path"}, {"type", "tmpfs"}});
  WriteConfig();
  ExpectCreateFails("mounts[7].destination");
}

TEST_F(FailureTest, RootfsMissing) {
  config_["root"]["path"] = dir_ + "/nope";
  SetScript("true");
  ExpectCreateFails(dir_ + "/nope");
}

TEST_F(FailureTest, BadBindSourceFailsInTheChildAndCleansUp) {
  config_["mounts"].push_back({{"destination", "/x"},
                               {"type", "bind"},
                               {"source", dir_ + "/missing"},
                               {"options", {"bind"}}});
  SetScript("true");
  ExpectCreateFails(dir_ + "/missing");
}

TEST_F(FailureTest, BadMountTypeFails) {
  config_["mounts"].push_back({{"destination", "/x"}, {"type", "nosuchfs"}, {"source", "none"}});
  SetScript("true");
  ExpectCreateFails("mount nosuchfs on /x");
}

TEST_F(FailureTest, DuplicateIdIsRefused) {
  SetScript("exec sleep 100");
  std::string id = NewId();
  ASSERT_EQ(Rt({"create", "--bundle", bundle_, id}).exit_code, 0);
  Result r = Rt({"create", "--bundle", bundle_, id});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("already exists"), std::string::npos) << r.err;
  EXPECT_EQ(nlohmann::json::parse(Rt({"state", id}).out)["status"], "created")
      << "the failed create harmed the existing container";
}

TEST_F(FailureTest, BadIdIsRefused) {
  SetScript("true");
  Result r = Rt({"create", "--bundle", bundle_, "../escape"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("invalid container id"), std::string::npos) << r.err;
}

TEST_F(FailureTest, ErrorsGoToTheJsonLogAsRuncWritesThem) {
  config_["process"]["user"]["uid"] = "root";
  WriteConfig();
  std::string log = dir_ + "/runtime.log";
  Result r = Rt({"--log", log, "--log-format", "json", "create", "--bundle", bundle_, NewId()});
  EXPECT_NE(r.exit_code, 0);
  std::string text = ReadFile(log);
  auto line = nlohmann::json::parse(text.substr(0, text.find('\n')));
  EXPECT_EQ(line["level"], "error");
  EXPECT_NE(line["msg"].get<std::string>().find("process.user.uid"), std::string::npos) << text;
  EXPECT_FALSE(line["time"].get<std::string>().empty());
  EXPECT_NE(r.err.find("process.user.uid"), std::string::npos) << "stderr too: " << r.err;
}

TEST_F(FailureTest, UnknownCommandsAndContainers) {
  EXPECT_NE(Rt({"state", "no-such-container"}).exit_code, 0);
  EXPECT_NE(Rt({"delete", "no-such-container"}).exit_code, 0);
  EXPECT_NE(Rt({"frobnicate"}).exit_code, 0);
}

}  // namespace
}  // namespace berth::testing
