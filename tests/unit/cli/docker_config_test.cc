#include "cli/docker_config.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "base/error.h"
#include "base/file_util.h"
#include "registry/base64.h"
#include "temp_dir_test.h"

namespace berth::cli {
namespace {

using nlohmann::json;

class DockerConfigTest : public berth::testing::TempDirTest {
 protected:
  std::string Path() const { return dir_ + "/config.json"; }
};

TEST(DockerConfigNames, RegistryOfImageAndServer) {
  EXPECT_EQ(RegistryOfImage("busybox"), "docker.io");
  EXPECT_EQ(RegistryOfImage("library/busybox"), "docker.io");
  EXPECT_EQ(RegistryOfImage("docker.io/library/busybox"), "docker.io");
  EXPECT_EQ(RegistryOfImage("127.0.0.1:5000/a/b"), "127.0.0.1:5000");
  EXPECT_EQ(RegistryOfImage("localhost/a"), "localhost");
  EXPECT_EQ(RegistryOfImage("reg.lan/a"), "reg.lan");
  EXPECT_EQ(registry::NormalizeServer("https://reg.lan:5000/v2/"), "reg.lan:5000");
  EXPECT_EQ(registry::NormalizeServer("http://127.0.0.1:5000"), "127.0.0.1:5000");
  EXPECT_EQ(registry::NormalizeServer("reg.lan"), "reg.lan");
}

TEST(DockerConfigNames, DefaultPathFollowsDockerConfig) {
  setenv("DOCKER_CONFIG", "/x/y", 1);
  EXPECT_EQ(DockerConfig::DefaultPath(), "/x/y/config.json");
  unsetenv("DOCKER_CONFIG");
  std::string home = getenv("HOME") ? getenv("HOME") : "";
  setenv("HOME", "/home/z", 1);
  EXPECT_EQ(DockerConfig::DefaultPath(), "/home/z/.docker/config.json");
  setenv("HOME", home.c_str(), 1);
}

TEST_F(DockerConfigTest, ReadsWhatTheDockerCliWrites) {
  WriteFileAtomic(Path(), R"({
	"auths": {
		"127.0.0.1:5000": {"auth": ")" +
                              registry::Base64Encode("alice:pa:ss") + R"("},
		"https://reg.lan:5001/v1/": {"auth": ")" +
                              registry::Base64Encode("bob:pw") + R"("}
	},
	"psFormat": "table {{.ID}}"
})");
  DockerConfig c(Path());
  auto a = c.Get("127.0.0.1:5000");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->username, "alice");
  EXPECT_EQ(a->password, "pa:ss");
  auto b = c.Get("reg.lan:5001");  // a key written as a URL
  ASSERT_TRUE(b);
  EXPECT_EQ(b->username, "bob");
  EXPECT_FALSE(c.Get("other:1"));
}

TEST_F(DockerConfigTest, StoreAndEraseKeepOtherKeys) {
  WriteFileAtomic(Path(), R"({"psFormat":"x","auths":{"keep:1":{"auth":"dTpw"}}})");
  DockerConfig c(Path());
  registry::AuthConfig auth;
  auth.username = "carol";
  auth.password = "pw";
  c.Store("127.0.0.1:5000", auth);
  json doc = json::parse(ReadFile(Path()));
  EXPECT_EQ(doc["psFormat"], "x");
  EXPECT_EQ(doc["auths"]["keep:1"]["auth"], "dTpw");
  EXPECT_EQ(doc["auths"]["127.0.0.1:5000"]["auth"], registry::Base64Encode("carol:pw"));
  struct stat st {};
  ASSERT_EQ(stat(Path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(DockerConfig(Path()).Get("127.0.0.1:5000")->password, "pw");
  EXPECT_TRUE(c.Erase("127.0.0.1:5000"));
  EXPECT_FALSE(c.Erase("127.0.0.1:5000"));
  doc = json::parse(ReadFile(Path()));
  EXPECT_FALSE(doc["auths"].contains("127.0.0.1:5000"));
  EXPECT_TRUE(doc["auths"].contains("keep:1"));
}

TEST_F(DockerConfigTest, MissingFileIsEmptyAndMalformedIsAnError) {
  DockerConfig c(dir_ + "/sub/config.json");
  EXPECT_FALSE(c.Get("a:1"));
  registry::AuthConfig auth;
  auth.username = "u";
  auth.password = "p";
  c.Store("a:1", auth);  // creates the directory
  EXPECT_TRUE(DockerConfig(dir_ + "/sub/config.json").Get("a:1"));
  WriteFileAtomic(Path(), "{not json");
  EXPECT_THROW(DockerConfig{Path()}, Error);
}

TEST_F(DockerConfigTest, CredentialHelpersAreRun) {
  // A fake docker-credential-fake keeping one secret in a file, as the real ones do.
  std::string store = dir_ + "/store";
  std::string helper = dir_ + "/docker-credential-fake";
  WriteFileAtomic(helper,
                  "#!/bin/sh\n"
                  "case \"$1\" in\n"
                  "store) cat > " +
                      store +
                      " ;;\n"
                      "get) read s; [ -f " +
                      store +
                      " ] || { echo 'credentials not found'; exit 1; }; "
                      "sed 's/ServerURL/Server/' " +
                      store +
                      " ;;\n"
                      "erase) read s; rm -f " +
                      store +
                      " ;;\n"
                      "esac\n",
                  0755);
  std::string path = std::string(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
  setenv("PATH", (dir_ + ":" + path).c_str(), 1);
  WriteFileAtomic(Path(), R"({"credHelpers":{"127.0.0.1:5000":"fake"}})");
  DockerConfig c(Path());
  EXPECT_EQ(c.HelperFor("127.0.0.1:5000"), "fake");
  EXPECT_EQ(c.HelperFor("other:1"), "");
  EXPECT_FALSE(c.Get("127.0.0.1:5000"));
  registry::AuthConfig auth;
  auth.username = "dave";
  auth.password = "hunter2";
  c.Store("127.0.0.1:5000", auth);
  json stored = json::parse(ReadFile(store));
  EXPECT_EQ(stored["ServerURL"], "127.0.0.1:5000");
  EXPECT_EQ(stored["Username"], "dave");
  EXPECT_EQ(stored["Secret"], "hunter2");
  // The password is not in config.json.
  EXPECT_EQ(ReadFile(Path()).find("hunter2"), std::string::npos);
  auto got = c.Get("127.0.0.1:5000");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->username, "dave");
  EXPECT_EQ(got->password, "hunter2");
  EXPECT_TRUE(c.Erase("127.0.0.1:5000"));
  EXPECT_FALSE(c.Get("127.0.0.1:5000"));
  // credsStore covers every registry.
  WriteFileAtomic(Path(), R"({"credsStore":"fake"})");
  EXPECT_EQ(DockerConfig(Path()).HelperFor("x:1"), "fake");
  EXPECT_THROW(RunCredentialHelper("absent-helper-xyz", "get", "x"), Error);
  setenv("PATH", path.c_str(), 1);
}

}  // namespace
}  // namespace berth::cli
