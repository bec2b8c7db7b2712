// Id-mapped mounts: a user-namespaced container sees a host-owned rootfs and bind sources as
// its own ids, without any chown, and writes land on disk as the unmapped ids.

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sstream>

#include "base/file_util.h"
#include "harness.h"

namespace berth::testing {
namespace {

constexpr uint32_t kHostBase = 100000;

class IdmapTest : public RuntimeTest {
 protected:
  void SetUp() override {
    RuntimeTest::SetUp();
    auto& ns = config_["linux"]["namespaces"];
    ns.erase(
        std::remove_if(ns.begin(), ns.end(), [](const auto& n) { return n["type"] == "user"; }),
        ns.end());
    ns.push_back({{"type", "user"}});
    nlohmann::json map =
        nlohmann::json::array({{{"containerID", 0}, {"hostID", kHostBase}, {"size", 65536}}});
    config_["linux"]["uidMappings"] = map;
    config_["linux"]["gidMappings"] = map;
    config_["annotations"]["org.berth.rootfs.idmap"] = "true";
    data_ = dir_ + "/data";
    MkdirAll(data_, 0755);
    WriteFileAtomic(data_ + "/owned-by-host-root", "x", 0644, Durability::kVolatile);
  }

  void TearDown() override {
    if (!submount_.empty()) {
      umount2(submount_.c_str(), MNT_DETACH);
    }
    RuntimeTest::TearDown();
  }

  void AddDataMount(nlohmann::json options, nlohmann::json extra = nlohmann::json::object()) {
    nlohmann::json m = {
        {"destination", "/data"}, {"type", "bind"}, {"source", data_}, {"options", options}};
    m.update(extra);
    config_["mounts"].push_back(m);
  }

  std::string data_;
  std::string submount_;
};

TEST_F(IdmapTest, RootfsIsOwnedByContainerRootWithoutChown) {
  BERTH_REQUIRE_ROOT();
  struct stat before;
  ASSERT_EQ(stat((rootfs_ + "/bin/busybox").c_str(), &before), 0);
  ASSERT_EQ(before.st_uid, 0u) << "the test rootfs should be owned by host root";
  Result r = RunContainer("stat -c '%u %g' / /bin/busybox; cat /proc/self/uid_map");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream in(r.out);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "0 0") << r.out;
  std::getline(in, line);
  EXPECT_EQ(line, "0 0") << r.out;
  std::getline(in, line);
  std::istringstream map(line);
  uint32_t inside = 1, outside = 0;
  map >> inside >> outside;
  EXPECT_EQ(outside, kHostBase) << "the container must really be in the mapped user namespace";
  struct stat after;
  ASSERT_EQ(stat((rootfs_ + "/bin/busybox").c_str(), &after), 0);
  EXPECT_EQ(after.st_uid, 0u) << "the image rootfs was modified";
}

TEST_F(IdmapTest, WithoutTheAnnotationTheRootfsIsUnmapped) {
  BERTH_REQUIRE_ROOT();
  config_["annotations"].erase("org.berth.rootfs.idmap");
  Result r = RunContainer("stat -c %u /bin/busybox");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Trim(r.out), "65534") << "host root is unmapped in the container: the overflow id";
}

TEST_F(IdmapTest, IdmapOptionUsesTheContainerMappingAndWritesLandUnmapped) {
  BERTH_REQUIRE_ROOT();
  AddDataMount({"rbind", "idmap"});
  Result r = RunContainer("stat -c %u /data/owned-by-host-root && echo hi > /data/new");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Trim(r.out), "0");
  struct stat st;
  ASSERT_EQ(stat((data_ + "/new").c_str(), &st), 0) << "the write did not reach the source";
  EXPECT_EQ(st.st_uid, 0u) << "container root's file must be host root's on disk";
}

TEST_F(IdmapTest, MountMappingsOfTheirOwn) {
  BERTH_REQUIRE_ROOT();
  // On-disk 0 shows as host id kHostBase + 5, which is container id 5.
  nlohmann::json map =
      nlohmann::json::array({{{"containerID", 0}, {"hostID", kHostBase + 5}, {"size", 1}}});
  AddDataMount({"rbind"}, {{"uidMappings", map}, {"gidMappings", map}});
  Result r = RunContainer("stat -c '%u %g' /data/owned-by-host-root");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Trim(r.out), "5 5");
}

TEST_F(IdmapTest, RidmapMapsSubmountsAndIdmapDoesNot) {
  BERTH_REQUIRE_ROOT();
  submount_ = data_ + "/sub";
  MkdirAll(submount_, 0755);
  ASSERT_EQ(mount("tmpfs", submount_.c_str(), "tmpfs", 0, "mode=755"), 0) << strerror(errno);
  WriteFileAtomic(submount_ + "/f", "x", 0644, Durability::kVolatile);
  AddDataMount({"rbind", "idmap"});
  Result r = RunContainer("stat -c %u /data/sub/f");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Trim(r.out), "65534") << "idmap maps only the top mount of an rbind";
  config_["mounts"].back()["options"] = {"rbind", "ridmap"};
  r = RunContainer("stat -c %u /data/sub/f");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Trim(r.out), "0") << "ridmap maps every mount of the tree";
}

TEST_F(IdmapTest, FilesystemThatCannotBeMappedIsAClearError) {
  BERTH_REQUIRE_ROOT();
  config_["mounts"].push_back({{"destination", "/data"},
                               {"type", "bind"},
                               {"source", "/proc/sys"},
                               {"options", {"rbind", "idmap"}}});
  WriteConfig();
  ExpectCreateFails(
      "cannot id-map /proc/sys: its filesystem (proc) does not support id-mapped mounts");
}

TEST_F(IdmapTest, IdmapNeedsAUserNamespace) {
  BERTH_REQUIRE_ROOT();
  auto& ns = config_["linux"]["namespaces"];
  ns.erase(std::remove_if(ns.begin(), ns.end(), [](const auto& n) { return n["type"] == "user"; }),
           ns.end());
  config_["linux"].erase("uidMappings");
  config_["linux"].erase("gidMappings");
  config_["annotations"].erase("org.berth.rootfs.idmap");
  AddDataMount({"rbind", "idmap"});
  WriteConfig();
  ExpectCreateFails("mount /data: id-mapping needs a user namespace in linux.namespaces");
}

}  // namespace
}  // namespace berth::testing
