// VolumeService on a temp dir, no root: create/inspect/list/remove/prune with Docker's answers
// and errors, references from containers (in use = 409), copy-up's rules.

#include "engine/volume_service.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "base/error.h"
#include "base/fd.h"
#include "base/file_util.h"
#include "temp_dir_test.h"

namespace berth::engine {
namespace {

using nlohmann::json;

class VolumeServiceTest : public berth::testing::TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    volumes_ = std::make_unique<VolumeService>(dir_ + "/root");
  }
  std::vector<std::string> Names(const Filters& f = {}) {
    std::vector<std::string> out;
    json list = volumes_->List(f);
    for (const json& v : list["Volumes"]) out.push_back(v["Name"]);
    return out;
  }
  Kind KindOf(const std::function<void()>& f) {
    try {
      f();
    } catch (const Error& e) {
      return e.kind();
    }
    ADD_FAILURE() << "no error";
    return Kind::kInternal;
  }
  std::unique_ptr<VolumeService> volumes_;
};

TEST_F(VolumeServiceTest, CreateInspectAndDockersShape) {
  json v = volumes_->Create({{"Name", "data"}, {"Labels", {{"tier", "db"}}}});
  EXPECT_EQ(v["Name"], "data");
  EXPECT_EQ(v["Driver"], "local");
  EXPECT_EQ(v["Scope"], "local");
  EXPECT_EQ(v["Labels"], json({{"tier", "db"}}));
  EXPECT_TRUE(v["Options"].is_null());
  EXPECT_EQ(v["Mountpoint"], dir_ + "/root/volumes/data/_data");
  EXPECT_EQ(v["CreatedAt"].get<std::string>().size(), 20u);  // 2006-01-02T15:04:05Z
  struct stat st;
  ASSERT_EQ(stat((dir_ + "/root/volumes/data/_data").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(volumes_->Inspect("data"), v);
  // An existing name answers with the volume as it is.
  EXPECT_EQ(volumes_->Create({{"Name", "data"}, {"Labels", {{"other", "x"}}}}), v);
  // No name: a generated one (64 hex).
  EXPECT_EQ(volumes_->Create(json::object())["Name"].get<std::string>().size(), 64u);
  // The records survive a new service on the same root (a daemon restart).
  volumes_ = std::make_unique<VolumeService>(dir_ + "/root");
  EXPECT_EQ(volumes_->Inspect("data"), v);
}

TEST_F(VolumeServiceTest, BadInputCreatesNothing) {
  for (const char* name : {"a/b", "..", "...", ".x", "a", "x y", "../../etc"}) {
    EXPECT_EQ(KindOf([&] { volumes_->Create({{"Name", name}}); }), Kind::kInvalidArgument) << name;
  }
  EXPECT_EQ(KindOf([&] {
              volumes_->Create({{"Name", "v1"}, {"Driver", "nfs-plugin"}});
            }),
            Kind::kNotFound);
  EXPECT_EQ(KindOf([&] {
              volumes_->Create({{"Name", "v2"}, {"DriverOpts", {{"foo", "1"}}}});
            }),
            Kind::kInvalidArgument);
  EXPECT_EQ(KindOf([&] {
              volumes_->Create(
                  {{"Name", "v3"},
                   {"DriverOpts",
                    {{"type", "none"}, {"device", dir_ + "/does-not-exist"}, {"o", "bind"}}}});
            }),
            Kind::kInvalidArgument);
  EXPECT_EQ(KindOf([&] {
              volumes_->Create({{"Name", "v4"}, {"Labels", {{"k", 1}}}});
            }),
            Kind::kInvalidArgument);
  EXPECT_TRUE(Names().empty());
  for (const char* name : {"v1", "v2", "v3", "v4"}) {
    struct stat st;
    EXPECT_NE(stat((dir_ + "/root/volumes/" + name).c_str(), &st), 0) << name;
  }
  EXPECT_EQ(KindOf([&] { volumes_->Inspect("nope"); }), Kind::kNotFound);
}

TEST_F(VolumeServiceTest, ListFilters) {
  volumes_->Create({{"Name", "web-data"}, {"Labels", {{"app", "web"}, {"tier", "front"}}}});
  volumes_->Create({{"Name", "db-data"}, {"Labels", {{"app", "db"}}}});
  volumes_->Create({{"Name", "scratch"}});
  volumes_->Acquire("db-data", "c1", json(), json());
  EXPECT_EQ(Names(), (std::vector<std::string>{"db-data", "scratch", "web-data"}));
  EXPECT_EQ(Names({{"dangling", {"true"}}}), (std::vector<std::string>{"scratch", "web-data"}));
  EXPECT_EQ(Names({{"dangling", {"0"}}}), (std::vector<std::string>{"db-data"}));
  EXPECT_EQ(Names({{"label", {"app"}}}), (std::vector<std::string>{"db-data", "web-data"}));
  EXPECT_EQ(Names({{"label", {"app=web"}}}), (std::vector<std::string>{"web-data"}));
  EXPECT_EQ(Names({{"label", {"app", "tier=front"}}}), (std::vector<std::string>{"web-data"}));
  EXPECT_EQ(Names({{"name", {"data"}}}), (std::vector<std::string>{"db-data", "web-data"}));
  EXPECT_EQ(Names({{"driver", {"local"}}}).size(), 3u);
  EXPECT_TRUE(Names({{"driver", {"other"}}}).empty());
  EXPECT_EQ(KindOf([&] { volumes_->List({{"bogus", {"1"}}}); }), Kind::kInvalidArgument);
  EXPECT_EQ(KindOf([&] { volumes_->List({{"dangling", {"maybe"}}}); }), Kind::kInvalidArgument);
  EXPECT_TRUE(volumes_->List({})["Warnings"].is_null());
}

TEST_F(VolumeServiceTest, InUseAndRemove) {
  volumes_->Create({{"Name", "v1"}});
  bool created = true;
  EXPECT_EQ(volumes_->Acquire("v1", "c1", json(), json(), &created), "v1");
  EXPECT_FALSE(created);
  volumes_->Acquire("v1", "c2", json(), json());
  try {
    volumes_->Remove("v1", true);
    ADD_FAILURE() << "a volume in use was removed";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Kind::kConflict);
    EXPECT_NE(std::string(e.what()).find("volume is in use - [c1 c2]"), std::string::npos);
  }
  volumes_->Release("v1", "c1");
  EXPECT_FALSE(volumes_->RemoveIfUnused("v1"));
  volumes_->Release("v1", "c2");
  std::ofstream(dir_ + "/root/volumes/v1/_data/file") << "data";
  volumes_->Remove("v1", false);
  EXPECT_TRUE(Names().empty());
  struct stat st;
  EXPECT_NE(stat((dir_ + "/root/volumes/v1").c_str(), &st), 0);
  EXPECT_EQ(KindOf([&] { volumes_->Remove("v1", false); }), Kind::kNotFound);
  EXPECT_NO_THROW(volumes_->Remove("v1", true)) << "force: a missing volume is no error";

  // A container's volume that does not exist yet is made (named: as given; "": anonymous).
  EXPECT_EQ(volumes_->Acquire("made", "c3", json{{"k", "v"}}, json(), &created), "made");
  EXPECT_TRUE(created);
  EXPECT_EQ(volumes_->Inspect("made")["Labels"], json({{"k", "v"}}));
  std::string anon = volumes_->Acquire("", "c3", json(), json());
  EXPECT_EQ(volumes_->Inspect(anon)["Labels"], json({{"com.docker.volume.anonymous", ""}}));
}

TEST_F(VolumeServiceTest, Prune) {
  volumes_->Create({{"Name", "keep"}, {"Labels", {{"keep", "yes"}}}});
  volumes_->Create({{"Name", "named"}});
  volumes_->Create({{"Name", "used"}});
  volumes_->Acquire("used", "c1", json(), json());
  std::string anon = volumes_->Acquire("", "c2", json(), json());
  volumes_->Release(anon, "c2");
  std::ofstream(dir_ + "/root/volumes/named/_data/f") << std::string(10000, 'x');

  json out = volumes_->Prune({{"all", {"false"}}});
  EXPECT_EQ(out["VolumesDeleted"], json({anon})) << "all=false: anonymous volumes only";
  out = volumes_->Prune({{"label!", {"keep"}}});
  EXPECT_EQ(out["VolumesDeleted"], json({"named"}));
  EXPECT_GE(out["SpaceReclaimed"].get<int64_t>(), 10000);
  EXPECT_EQ(Names(), (std::vector<std::string>{"keep", "used"}));
  out = volumes_->Prune({});
  EXPECT_EQ(out["VolumesDeleted"], json({"keep"}));
  out = volumes_->Prune({});
  EXPECT_TRUE(out["VolumesDeleted"].is_null());
  EXPECT_EQ(KindOf([&] { volumes_->Prune({{"until", {"1h"}}}); }), Kind::kInvalidArgument);
}

TEST_F(VolumeServiceTest, CopyUpCopiesIntoEmptyVolumesOnlyAndNeverFollowsLinks) {
  std::string image = dir_ + "/image/etc";
  MkdirAll(image + "/sub");
  std::ofstream(image + "/sub/conf") << "conf";
  std::ofstream(dir_ + "/outside") << "secret";
  ASSERT_EQ(symlink((dir_ + "/outside").c_str(), (image + "/link").c_str()), 0);
  ASSERT_EQ(chmod((image + "/sub").c_str(), 0750), 0);
  volumes_->Create({{"Name", "cfg"}});
  UniqueFd src(open(image.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(volumes_->CopyUp("cfg", src.get(), 0));
  std::string data = dir_ + "/root/volumes/cfg/_data";
  EXPECT_EQ(ReadFile(data + "/sub/conf"), "conf");
  struct stat st;
  ASSERT_EQ(lstat((data + "/link").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode)) << "a link is copied as a link, never followed";
  ASSERT_EQ(stat((data + "/sub").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  // Not empty any more: a second copy-up leaves it alone.
  unlink((data + "/sub/conf").c_str());
  EXPECT_FALSE(volumes_->CopyUp("cfg", src.get(), 0));
  EXPECT_NE(access((data + "/sub/conf").c_str(), F_OK), 0);
}

}  // namespace
}  // namespace berth::engine
