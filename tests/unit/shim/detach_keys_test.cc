#include "shim/detach_keys.h"

#include <gtest/gtest.h>

#include "base/error.h"

namespace berth::shim {
namespace {

TEST(ParseDetachKeys, DefaultIsCtrlPCtrlQ) {
  EXPECT_EQ(ParseDetachKeys(""), std::string("\x10\x11"));
  EXPECT_EQ(ParseDetachKeys("ctrl-p,ctrl-q"), std::string("\x10\x11"));
}

TEST(ParseDetachKeys, DockerSyntax) {
  EXPECT_EQ(ParseDetachKeys("ctrl-a"), std::string("\x01"));
  EXPECT_EQ(ParseDetachKeys("CTRL-Z,Ctrl-x"), std::string("\x1a\x18"));
  EXPECT_EQ(ParseDetachKeys("ctrl-@"), std::string(1, '\0'));
  EXPECT_EQ(ParseDetachKeys("ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_"), "\x1b\x1c\x1d\x1e\x1f");
  EXPECT_EQ(ParseDetachKeys("ctrl-\\\\"), "\x1c") << "the Go-escaped spelling";
  EXPECT_EQ(ParseDetachKeys("a,b,ctrl-c"), "ab\x03");
  EXPECT_EQ(ParseDetachKeys("X"), "X");
}

TEST(ParseDetachKeys, RejectsUnknownKeys) {
  for (const char* bad :
       {"ctrl-", "ctrl-1", "ctrl-ab", "ab", "ctrl-p,", ",", "shift-a", "ctrl-~"}) {
    try {
      ParseDetachKeys(bad);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), Kind::kInvalidArgument) << bad;
      EXPECT_NE(std::string(e.what()).find("detach keys"), std::string::npos) << e.what();
    }
  }
}

TEST(DetachMatcher, PassesOrdinaryInput) {
  DetachMatcher m(ParseDetachKeys(""));
  std::string out;
  EXPECT_FALSE(m.Feed("hello\n", &out));
  EXPECT_EQ(out, "hello\n");
}

TEST(DetachMatcher, DetachesOnTheSequenceAndDropsTheRest) {
  DetachMatcher m(ParseDetachKeys(""));
  std::string out;
  EXPECT_TRUE(
      m.Feed("ab\x10\x11"
             "cd",
             &out));
  EXPECT_EQ(out, "ab");
}

TEST(DetachMatcher, MatchesAcrossPieces) {
  DetachMatcher m(ParseDetachKeys(""));
  std::string out;
  EXPECT_FALSE(m.Feed("x\x10", &out));
  EXPECT_EQ(out, "x") << "a possible start is held back";
  EXPECT_EQ(m.held(), "\x10");
  EXPECT_TRUE(m.Feed("\x11", &out));
  EXPECT_EQ(out, "x");
}

TEST(DetachMatcher, ForwardsAFailedPartialMatch) {
  DetachMatcher m(ParseDetachKeys(""));
  std::string out;
  EXPECT_FALSE(m.Feed("\x10", &out));
  EXPECT_EQ(out, "");
  EXPECT_FALSE(m.Feed("y", &out));
  EXPECT_EQ(out, "\x10y");
  EXPECT_EQ(m.held(), "");
}

TEST(DetachMatcher, ARepeatedFirstKeyStillMatches) {
  DetachMatcher m(ParseDetachKeys(""));
  std::string out;
  EXPECT_TRUE(m.Feed("\x10\x10\x11", &out));
  EXPECT_EQ(out, "\x10");
}

TEST(DetachMatcher, OverlappingSequence) {
  DetachMatcher m(ParseDetachKeys("a,a,b"));
  std::string out;
  EXPECT_TRUE(m.Feed("xaaab", &out));
  EXPECT_EQ(out, "xa");
}

TEST(DetachMatcher, ByteAtATime) {
  DetachMatcher m(ParseDetachKeys("ctrl-x,y,ctrl-z"));
  std::string out;
  std::string in = "1\x18y2\x18y\x1a";
  size_t i = 0;
  for (; i < in.size(); ++i) {
    if (m.Feed(in.substr(i, 1), &out)) {
      break;
    }
  }
  EXPECT_EQ(i, in.size() - 1);
  EXPECT_EQ(out, "1\x18y2");
}

}  // namespace
}  // namespace berth::shim
