#include "cli/progress_display.h"

#include <gtest/gtest.h>

#include <sstream>

#include "base/error.h"

// The docker CLI's jsonmessage rendering, terminal and not.
namespace berth::cli {
namespace {

using nlohmann::json;

json Status(const std::string& s, const std::string& id) {
  return {{"status", s}, {"progressDetail", json::object()}, {"id", id}};
}
json Progress(const std::string& s, const std::string& id, uint64_t cur, uint64_t total) {
  return {{"status", s}, {"progressDetail", {{"current", cur}, {"total", total}}}, {"id", id}};
}

TEST(FormatProgressTest, LikeJsonProgressString) {
  EXPECT_EQ(FormatProgress(19968, 1984172, 80), " 19.97kB/1.984MB");
  EXPECT_EQ(FormatProgress(19968, 1984172, 120),
            "[>" + std::string(50, ' ') + "]  19.97kB/1.984MB");
  EXPECT_EQ(FormatProgress(0, 0, 120), "");
  EXPECT_EQ(FormatProgress(2000, 0, 120), "     2kB");
}

TEST(JsonMessageDisplayTest, NotATerminalPrintsStatusLinesOnly) {
  std::ostringstream out;
  JsonMessageDisplay d(out, false);
  d.Show({{"status", "Pulling from t/bb"}, {"id", "1"}});
  d.Show(Status("Pulling fs layer", "abc"));
  d.Show(Progress("Downloading", "abc", 10, 100));
  d.Show(Status("Download complete", "abc"));
  d.Show({{"status", "Digest: sha256:1"}, {"progressDetail", json::object()}});
  d.Show({{"progressDetail", json::object()}, {"aux", {{"Tag", "1"}}}});
  EXPECT_EQ(out.str(),
            "1: Pulling from t/bb\nabc: Pulling fs layer\nabc: Download complete\n"
            "Digest: sha256:1\n");
}

TEST(JsonMessageDisplayTest, TerminalRedrawsOneLinePerId) {
  std::ostringstream out;
  JsonMessageDisplay d(out, true, 80);
  d.Show(Status("Pulling fs layer", "a"));
  d.Show(Status("Pulling fs layer", "b"));
  d.Show(Progress("Downloading", "a", 500, 1000));
  EXPECT_EQ(out.str(),
            // a: a new line, up one, cleared, written, down one
            "\n\x1b[1A\x1b[2K\ra: Pulling fs layer \r\x1b[1B"
            "\n\x1b[1A\x1b[2K\rb: Pulling fs layer \r\x1b[1B"
            // a again: two lines up
            "\x1b[2A\x1b[2K\ra: Downloading     500B/1kB\r\x1b[2B");
}

TEST(JsonMessageDisplayTest, ErrorsAreThrown) {
  std::ostringstream out;
  JsonMessageDisplay d(out, false);
  try {
    d.Show({{"errorDetail", {{"message", "unauthorized: no"}}}, {"error", "unauthorized: no"}});
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "unauthorized: no");
  }
}

}  // namespace
}  // namespace berth::cli
