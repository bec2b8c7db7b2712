#include "engine/progress.h"

#include <gtest/gtest.h>

// Expected strings as dockerd streams them (moby pkg/jsonmessage, go-units HumanSize).
namespace berth::engine {
namespace {

TEST(ProgressTest, HumanSize) {
  EXPECT_EQ(HumanSize(0), "0B");
  EXPECT_EQ(HumanSize(115), "115B");
  EXPECT_EQ(HumanSize(19968), "19.97kB");
  EXPECT_EQ(HumanSize(1984172), "1.984MB");
  EXPECT_EQ(HumanSize(2e9), "2GB");
}

TEST(ProgressTest, Bar) {
  EXPECT_EQ(ProgressBar(115, 115), "[" + std::string(50, '=') + ">]     115B/115B");
  EXPECT_EQ(ProgressBar(19968, 1984172), "[>" + std::string(50, ' ') + "]  19.97kB/1.984MB");
  EXPECT_EQ(ProgressBar(500, 1000),
            "[" + std::string(25, '=') + ">" + std::string(25, ' ') + "]     500B/1kB");
  EXPECT_EQ(ProgressBar(2000, 1000), "     2kB");  // past the total: the size alone
  EXPECT_EQ(ProgressBar(2000, 0), "     2kB");
}

TEST(ProgressTest, Messages) {
  EXPECT_EQ(StatusMessage("Pulling fs layer", "c24d84656bce").dump(),
            R"({"id":"c24d84656bce","progressDetail":{},"status":"Pulling fs layer"})");
  EXPECT_EQ(StatusMessage("Digest: sha256:1").dump(),
            R"({"progressDetail":{},"status":"Digest: sha256:1"})");
  nlohmann::json m = ProgressMessage("Downloading", "abc", 115, 115);
  EXPECT_EQ(m["progressDetail"]["current"], 115);
  EXPECT_EQ(m["progressDetail"]["total"], 115);
  EXPECT_EQ(m["status"], "Downloading");
  EXPECT_EQ(m["id"], "abc");
  EXPECT_EQ(m["progress"], ProgressBar(115, 115));
  EXPECT_EQ(ErrorMessage("boom").dump(), R"({"error":"boom","errorDetail":{"message":"boom"}})");
}

}  // namespace
}  // namespace berth::engine
