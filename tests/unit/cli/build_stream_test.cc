#include "cli/build_stream.h"

#include <gtest/gtest.h>

#include <sstream>

// berth build's own pieces: the tar entries it writes, the stdin archive test, the step marks.
namespace berth::cli {
namespace {

using std::chrono::milliseconds;
using Clock = StepMarks::Clock;

TEST(BuildTarTest, FileEntryIsAValidUstarHeaderAndPaddedContent) {
  std::string entry = TarFile(".dockerfile.0123", "FROM busybox\n", 0600, 1700000000);
  ASSERT_EQ(entry.size(), 1024u);
  EXPECT_EQ(entry.substr(0, 17), std::string(".dockerfile.0123\0", 17));
  EXPECT_EQ(entry.substr(100, 8), std::string("0000600\0", 8));
  EXPECT_EQ(entry.substr(124, 12), std::string("00000000015\0", 12));  // 13 bytes
  EXPECT_EQ(entry.substr(136, 12), std::string("14524770400\0", 12));
  EXPECT_EQ(entry[156], '0');
  EXPECT_EQ(entry.substr(257, 8), std::string("ustar\0"
                                              "00",
                                              8));
  EXPECT_EQ(entry.substr(512, 13), "FROM busybox\n");
  EXPECT_EQ(entry.substr(525), std::string(499, '\0'));
  EXPECT_TRUE(IsArchive(entry));  // its checksum is right
  std::string broken = entry;
  broken[0] = 'x';
  EXPECT_FALSE(IsArchive(broken));
  EXPECT_EQ(TarFile("e", "", 0644, 0).size(), 512u);
  EXPECT_EQ(TarEnd(), std::string(1024, '\0'));
}

TEST(BuildTarTest, ArchivesAreToldFromDockerfiles) {
  EXPECT_TRUE(IsArchive("\x1f\x8b\x08\x00rest"));
  EXPECT_TRUE(IsArchive("BZh91AY"));
  EXPECT_TRUE(
      IsArchive(std::string("\xfd"
                            "7zXZ\0",
                            6)));
  EXPECT_TRUE(IsArchive("\x28\xb5\x2f\xfd\x00"));
  EXPECT_FALSE(IsArchive("FROM busybox\nRUN true\n"));
  EXPECT_FALSE(IsArchive(std::string(512, 'a')));
  EXPECT_FALSE(IsArchive(""));
}

TEST(BuildMarksTest, Elapsed) {
  EXPECT_EQ(FormatElapsed(milliseconds(0)), "0.0s");
  EXPECT_EQ(FormatElapsed(milliseconds(340)), "0.3s");
  EXPECT_EQ(FormatElapsed(milliseconds(59940)), "59.9s");
  EXPECT_EQ(FormatElapsed(milliseconds(59960)), "1m00.0s");
  EXPECT_EQ(FormatElapsed(milliseconds(125140)), "2m05.1s");
}

// Prints `pieces` through the marks as the build command does.
class Marks {
 public:
  Marks() : marks_(out_, [this] { return now_; }) {}
  void Say(std::string_view text) {
    marks_.Before(text);
    out_ << text;
    marks_.After(text);
  }
  void Wait(int ms) { now_ += milliseconds(ms); }
  StepMarks& marks() { return marks_; }
  std::string str() const { return out_.str(); }

 private:
  std::ostringstream out_;
  Clock::time_point now_{};
  StepMarks marks_;
};

TEST(BuildMarksTest, BerthdStyleWholeLines) {
  Marks m;
  m.Say("Step 1/3 : FROM busybox\n");
  m.Say(" ---> 19aabcb2a545\n");
  m.Say("Step 2/3 : COPY a /a\n");
  m.Wait(20);
  m.Say(" ---> Using cache\n ---> e6fd9a9ac456\n");
  m.Say("Step 3/3 : RUN make\n");
  m.Say(" ---> Running in 5daca98deb50\n");
  m.Wait(1234);
  m.Say("built\n");
  m.Say("Removing intermediate container 5daca98deb50\n ---> e7189507bc45\n");
  m.Say("Successfully built e7189507bc45\n");
  m.Say("Successfully tagged app:1\n");
  EXPECT_EQ(m.str(),
            "Step 1/3 : FROM busybox\n ---> 19aabcb2a545\n => 1/3 DONE 0.0s\n"
            "Step 2/3 : COPY a /a\n ---> Using cache\n ---> e6fd9a9ac456\n => 2/3 CACHED 0.0s\n"
            "Step 3/3 : RUN make\n ---> Running in 5daca98deb50\nbuilt\n"
            "Removing intermediate container 5daca98deb50\n ---> e7189507bc45\n"
            " => 3/3 DONE 1.2s\n"
            "Successfully built e7189507bc45\nSuccessfully tagged app:1\n");
}

TEST(BuildMarksTest, DockerdStyleSplitLines) {
  Marks m;
  m.Say("Step 1/2 : FROM busybox");
  m.Say("\n");
  m.Say(" ---> 19aabcb2a545\n");
  m.Say("Step 2/2 : COPY a /a");
  m.Say("\n");
  m.Say(" ---> Using cache\n");
  m.Say(" ---> e6fd9a9ac456\n");
  m.Say("Successfully built e6fd9a9ac456\n");
  EXPECT_EQ(m.str(),
            "Step 1/2 : FROM busybox\n ---> 19aabcb2a545\n => 1/2 DONE 0.0s\n"
            "Step 2/2 : COPY a /a\n ---> Using cache\n ---> e6fd9a9ac456\n => 2/2 CACHED 0.0s\n"
            "Successfully built e6fd9a9ac456\n");
}

TEST(BuildMarksTest, RunOutputThatLooksLikeOursIsNotTakenForIt) {
  Marks m;
  m.Say("Step 1/2 : FROM busybox\n ---> 19aabcb2a545\n");
  m.Say("Step 2/2 : RUN ./script\n");
  m.Say("half a line, then ");
  m.Say("Step 3/3 : inside a line\n");
  m.Say("Step 3/2 : past the total\n");
  m.Say("Step 2/2 : not the next number either\n");
  m.Say("Step 3/5 : not the same total\n");
  m.Say("x ---> Using cache\n");
  m.Say(" ---> Using cache, and more\n");
  m.Say("Successfully built the script's way\n");
  m.Say(" ---> 0123456789ab\n");
  m.Say("Successfully built 0123456789ab\n");
  EXPECT_EQ(m.str(),
            "Step 1/2 : FROM busybox\n ---> 19aabcb2a545\n => 1/2 DONE 0.0s\n"
            "Step 2/2 : RUN ./script\nhalf a line, then Step 3/3 : inside a line\n"
            "Step 3/2 : past the total\nStep 2/2 : not the next number either\n"
            "Step 3/5 : not the same total\nx ---> Using cache\n ---> Using cache, and more\n"
            "Successfully built the script's way\n ---> 0123456789ab\n => 2/2 DONE 0.0s\n"
            "Successfully built 0123456789ab\n");
}

TEST(BuildMarksTest, AFailureEndsAnOpenLineFirst) {
  Marks m;
  m.Say("Step 1/2 : FROM busybox\n ---> 19aabcb2a545\n");
  m.Say("Step 2/2 : RUN false\n ---> Running in 5daca98deb50\n");
  m.Wait(300);
  m.Say("no newline");
  m.marks().Fail();
  m.marks().Fail();  // once only
  EXPECT_EQ(m.str(),
            "Step 1/2 : FROM busybox\n ---> 19aabcb2a545\n => 1/2 DONE 0.0s\n"
            "Step 2/2 : RUN false\n ---> Running in 5daca98deb50\nno newline\n"
            " => 2/2 ERROR 0.3s\n");
}

TEST(BuildMarksTest, NothingBeforeTheFirstStep) {
  Marks m;
  m.Say("[WARNING]: Dockerfile:2:1: UndefinedVar\n");
  m.Say("Successfully built 0123456789ab\n");
  m.marks().Fail();
  EXPECT_EQ(m.str(), "[WARNING]: Dockerfile:2:1: UndefinedVar\nSuccessfully built 0123456789ab\n");
}

}  // namespace
}  // namespace berth::cli
