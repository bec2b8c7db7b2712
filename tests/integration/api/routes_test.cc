// berthd's image routes in process: a real image service behind a real server, driven over
// the socket with the CLI's client (the docker CLI and docker-py run the same routes in
// compat.images).

#include "api/routes.h"

#include <gtest/gtest.h>

#include <cstring>
#include <thread>

#include "api/client.h"
#include "base/error.h"
#include "base/file_util.h"
#include "image_archive_builder.h"
#include "tar_builder.h"

namespace berth::api {
namespace {

using nlohmann::json;
using testing::TestImage;

class RoutesTest : public testing::RootTempDirTest {
 protected:
  void SetUp() override {
    RootTempDirTest::SetUp();
    images_ = std::make_unique<engine::ImageService>(dir_ + "/root");
    containers_ = std::make_unique<engine::ContainerService>(
        engine::ContainerPaths{dir_ + "/root", dir_ + "/state", BERTH_TEST_SHIM, ""}, *images_);
    images_->SetImagesInUse([this] { return containers_->ImagesInUse(); });
    volumes_ = std::make_unique<engine::VolumeService>(dir_ + "/root");
    AddSystemRoutes(router_, *images_, *containers_, *volumes_,
                    {dir_ + "/root", dir_ + "/state", "test-host"});
    AddImageRoutes(router_, *images_);
    server_ = std::make_unique<Server>(router_);
    host_ = "unix://" + dir_ + "/berth.sock";
    server_->Listen(host_);
    thread_ = std::thread([this] { server_->Run(); });
    client_ = std::make_unique<Client>(host_);
  }

  void TearDown() override {
    client_.reset();
    server_->Stop();
    thread_.join();
    server_.reset();
    containers_.reset();
    images_.reset();
    RootTempDirTest::TearDown();
  }

  // POSTs `body` chunked to `target`; returns the JSON messages streamed back.
  std::vector<json> PostStream(const std::string& target, const std::string& body) {
    size_t pos = 0;
    Client::ReadFn read = [&](void* buf, size_t size) {
      size_t n = std::min(size, body.size() - pos);
      memcpy(buf, body.data() + pos, n);
      pos += n;
      return n;
    };
    std::vector<json> messages;
    JsonStreamSplitter split([&](const json& m) { messages.push_back(m); });
    client_->Stream("POST", target, &read, "application/x-tar",
                    [&](std::string_view d) { split.Feed(d); });
    return messages;
  }

  std::unique_ptr<engine::ImageService> images_;
  std::unique_ptr<engine::ContainerService> containers_;
  std::unique_ptr<engine::VolumeService> volumes_;
  Router router_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
  std::string host_;
  std::unique_ptr<Client> client_;
};

TEST_F(RoutesTest, LoadListInspectTagSaveRemove) {
  std::vector<TestImage> img(1);
  img[0].layers = {testing::MakeTar({{.path = "hello", .data = "hi"}}, testing::Filter::kNone)};
  img[0].names = {"routes/test:1"};
  std::vector<json> load = PostStream("/images/load?quiet=0", testing::ClassicArchive(img));
  ASSERT_FALSE(load.empty());
  EXPECT_EQ(load.front()["status"], "Loading layer") << "progress unless quiet";
  EXPECT_EQ(load.back()["stream"], "Loaded image: routes/test:1\n");

  json list =
      client_->Json("GET", "/images/json?filters=" +
                               std::string("%7B%22reference%22%3A%5B%22routes%2F*%22%5D%7D"));
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["Id"], img[0].config_digest);
  EXPECT_EQ(client_->Json("GET", "/images/routes/test:1/json")["Id"], img[0].config_digest);
  EXPECT_EQ(client_->Json("GET", "/images/routes/test:1/history").size(), 2u);

  EXPECT_EQ(client_->Do("POST", "/images/routes/test:1/tag?repo=example.com:5000/x&tag=2").status,
            201);
  std::string archive;
  client_->Stream("GET", "/images/get?names=example.com%3A5000%2Fx%3A2", nullptr, "",
                  [&](std::string_view d) { archive.append(d); });
  EXPECT_NE(archive.find("manifest.json"), std::string::npos);
  EXPECT_NE(archive.find("example.com:5000/x:2"), std::string::npos);

  json removed = client_->Json("DELETE", "/images/example.com:5000/x:2");
  EXPECT_EQ(removed, json({{{"Untagged", "example.com:5000/x:2"}}}));
  removed = client_->Json("DELETE", "/images/routes/test:1?force=False&noprune=False");
  EXPECT_EQ(removed[1]["Deleted"], img[0].config_digest);
  EXPECT_TRUE(client_->Json("GET", "/images/json").empty());
  EXPECT_TRUE(client_->Json("GET", "/system/check")["Problems"].empty());
}

TEST_F(RoutesTest, ErrorsAreDockers) {
  auto expect = [&](const std::string& method, const std::string& target, Kind kind,
                    const std::string& text) {
    try {
      client_->Do(method, target);
      ADD_FAILURE() << target << " succeeded";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), kind) << target;
      EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
    }
  };
  expect("GET", "/images/nosuch/json", Kind::kNotFound, "No such image: nosuch:latest");
  expect("DELETE", "/images/nosuch", Kind::kNotFound, "No such image");
  expect("GET", "/images/get?names=nosuch", Kind::kNotFound, "No such image");
  expect("POST", "/images/nosuch/tag?repo=x", Kind::kNotFound, "No such image");
  expect("GET", "/images/json?filters=%7Bbad", Kind::kInvalidArgument, "invalid filter");
  expect("POST", "/images/create?fromImage=busybox&tag=latest", Kind::kNotImplemented,
         "pulling from a registry");
  expect("GET", "/containers/x/json", Kind::kNotFound, "page not found");
  // A load that fails after its stream began: the error is in the stream.
  std::vector<json> bad = PostStream("/images/load?quiet=1", std::string(3000, 'x'));
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_NE(bad[0]["error"].get<std::string>().find("image archive"), std::string::npos);
  EXPECT_TRUE(client_->Json("GET", "/images/json").empty());
}

TEST_F(RoutesTest, ImportAndSystemRoutes) {
  std::string rootfs = testing::MakeTar({{.path = "bin", .type = AE_IFDIR, .perm = 0755},
                                         {.path = "bin/sh", .perm = 0755, .data = "x"}},
                                        testing::Filter::kNone);
  std::vector<json> out = PostStream(
      "/images/create?fromSrc=-&repo=imported&tag=1&changes=CMD+%5B%22%2Fbin%2Fsh%22%5D&"
      "changes=ENV+A%3Db&message=hello",
      rootfs);
  ASSERT_EQ(out.size(), 1u);
  std::string id = out[0]["status"];
  json inspect = client_->Json("GET", "/images/imported:1/json");
  EXPECT_EQ(inspect["Id"], id);
  EXPECT_EQ(inspect["Config"]["Cmd"], json({"/bin/sh"}));
  EXPECT_EQ(inspect["Config"]["Env"], json({"A=b"}));
  json version = client_->Json("GET", "/version");
  EXPECT_EQ(version["ApiVersion"], "1.41");
  EXPECT_EQ(version["MinAPIVersion"], "1.24");
  json info = client_->Json("GET", "/info");
  EXPECT_EQ(info["Images"], 1);
  EXPECT_EQ(info["Name"], "test-host");
  EXPECT_EQ(info["Swarm"]["LocalNodeState"], "inactive");
  json df = client_->Json("GET", "/system/df");
  EXPECT_EQ(df["Images"].size(), 1u);
  EXPECT_GT(df["LayersSize"].get<int64_t>(), 0);
  json pruned = client_->Json(
      "POST", "/images/prune?filters=%7B%22dangling%22%3A%7B%22false%22%3Atrue%7D%7D");
  EXPECT_EQ(pruned["ImagesDeleted"].size(), 3u);  // untagged, the image, its layer
}

}  // namespace
}  // namespace berth::api
