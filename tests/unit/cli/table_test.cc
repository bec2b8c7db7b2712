#include "cli/table.h"

#include <gtest/gtest.h>

// Expected outputs are what Go's text/tabwriter.NewWriter(out, 10, 1, 3, ' ', 0) and the docker
// CLI formatter print for the same input.
namespace berth::cli {
namespace {

TEST(TableTest, TabwriterColumns) {
  EXPECT_EQ(TabAlign("a\tb\tc\nlonger-than-ten\tx\ty\n"),
            "a                 b         c\n"
            "longer-than-ten   x         y\n");
  // A line with fewer cells ends the column block; the last cell is never padded.
  EXPECT_EQ(TabAlign("a\tb\nno tabs\nccc\td\n"), "a         b\nno tabs\nccc       d\n");
  // Width counts runes: "héllo" is 5 wide, not 6.
  EXPECT_EQ(TabAlign("héllo\tx\nab\ty\n"), "héllo     x\nab        y\n");
  EXPECT_EQ(TabAlign("日本語日本語日本語日本\tx\nab\ty\n"),
            "日本語日本語日本語日本   x\nab            y\n");
  // No trailing newline: the last line is written without one.
  EXPECT_EQ(TabAlign("a\tb"), "a         b");
  EXPECT_EQ(TabAlign(""), "");
}

TEST(TableTest, RenderTableWithHeaders) {
  const std::vector<nlohmann::json> items = {
      {{"Repository", "busybox"}, {"Tag", "latest"}, {"ID", "1234567890ab"}},
      {{"Repository", "registry.example/team/app"}, {"Tag", "v1"}, {"ID", "ba0987654321"}}};
  const std::map<std::string, std::string> headers = {{"ID", "IMAGE ID"}};
  EXPECT_EQ(RenderList("table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}", items, headers),
            "REPOSITORY                  TAG       IMAGE ID\n"
            "busybox                     latest    1234567890ab\n"
            "registry.example/team/app   v1        ba0987654321\n");
  // Header functions return the header unchanged.
  EXPECT_EQ(RenderList("table {{upper .Tag}}\t{{truncate .ID 4}}", items),
            "TAG       ID\nLATEST    1234\nV1        ba09\n");
}

TEST(TableTest, RenderWithoutTable) {
  const std::vector<nlohmann::json> items = {{{"Names", "web"}}, {{"Names", "db"}}};
  EXPECT_EQ(RenderList("{{.Names}}\\t!", items), "web\t!\ndb\t!\n");
  EXPECT_EQ(RenderList("table {{.Names}}", {}), "NAMES\n");
}

TEST(TableTest, DefaultHeader) {
  EXPECT_EQ(DefaultHeader("CreatedSince"), "CREATED SINCE");
  EXPECT_EQ(DefaultHeader("ID"), "ID");
  EXPECT_EQ(DefaultHeader("HTTPPort"), "HTTP PORT");
  EXPECT_EQ(DefaultHeader("Names"), "NAMES");
}

}  // namespace
}  // namespace berth::cli
