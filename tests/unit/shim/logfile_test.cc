#include "shim/logfile.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>
#include <vector>

#include "base/file_util.h"
#include "temp_dir_test.h"

namespace berth::shim {
namespace {

// 2026-11-28T16:40:54Z
constexpr int64_t kSec = 1795884054;
constexpr int64_t kNs = kSec * 1'000'000'000;

timespec At(int64_t sec, long nsec) { return timespec{static_cast<time_t>(sec), nsec}; }

std::vector<std::string> Lines(const std::string& data) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t nl; (nl = data.find('\n', start)) != std::string::npos; start = nl + 1) {
    out.push_back(data.substr(start, nl - start));
  }
  EXPECT_EQ(start, data.size()) << "a line without its newline";
  return out;
}

TEST(LogFormatTest, JsonTimeTrimsTrailingZerosLikeGoRfc3339Nano) {
  EXPECT_EQ(FormatJsonTime(kNs + 246968785), "2026-11-28T16:40:54.246968785Z");
  EXPECT_EQ(FormatJsonTime(kNs + 246968700), "2026-11-28T16:40:54.2469687Z");
  EXPECT_EQ(FormatJsonTime(kNs + 500000000), "2026-11-28T16:40:54.5Z");
  EXPECT_EQ(FormatJsonTime(kNs), "2026-11-28T16:40:54Z");
  EXPECT_EQ(FormatJsonTime(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatJsonTime(951782400LL * 1'000'000'000 + 1), "2000-02-29T00:00:00.000000001Z");
}

TEST(LogFormatTest, DockerLogsTimestampHasAFixedNineDigitFraction) {
  EXPECT_EQ(FormatTimestamp(kNs + 246968785), "2026-11-28T16:40:54.246968785Z");
  EXPECT_EQ(FormatTimestamp(kNs + 246968700), "2026-11-28T16:40:54.246968700Z");
  EXPECT_EQ(FormatTimestamp(kNs), "2026-11-28T16:40:54.000000000Z");
}

TEST(LogFormatTest, ParseTimestampRoundTripsAndAcceptsOffsets) {
  for (int64_t ns : {kNs, kNs + 246968785, kNs + 500000000, int64_t{0}}) {
    EXPECT_EQ(ParseTimestamp(FormatJsonTime(ns)), ns);
    EXPECT_EQ(ParseTimestamp(FormatTimestamp(ns)), ns);
  }
  EXPECT_EQ(ParseTimestamp("2026-11-28T17:40:54.5+01:00"), kNs + 500000000);
  EXPECT_EQ(ParseTimestamp("2026-11-28T16:10:54-00:30"), kNs);
  EXPECT_EQ(ParseTimestamp("2026-11-28T16:40:54"), std::nullopt);
  EXPECT_EQ(ParseTimestamp("2026-11-28T16:40:54.Z"), std::nullopt);
  EXPECT_EQ(ParseTimestamp("2026-11-28T16:40:54Zjunk"), std::nullopt);
  EXPECT_EQ(ParseTimestamp("2026-13-28T16:40:54Z"), std::nullopt);
}

TEST(LogFormatTest, FrameMessageHasTheEightByteHeader) {
  EXPECT_EQ(FrameMessage(Stream::kStdout, "hi\n"), std::string("\x01\0\0\0\0\0\0\x03hi\n", 11));
  std::string big(0x01020304 & 0xffff, 'x');  // 0x0304 bytes
  std::string framed = FrameMessage(Stream::kStderr, big);
  EXPECT_EQ(framed.substr(0, 8), std::string("\x02\0\0\0\0\0\x03\x04", 8));
  EXPECT_EQ(framed.size(), 8 + big.size());
  EXPECT_EQ(FrameMessage(Stream::kStderr, ""), std::string("\x02\0\0\0\0\0\0\0", 8));
}

TEST(LogFormatTest, EncodeEscapesLikeMobysJsonlogEncoder) {
  EXPECT_EQ(EncodeLogLine(Stream::kStdout, "hello\n", kNs + 246968785),
            "{\"log\":\"hello\\n\",\"stream\":\"stdout\",\"time\":"
            "\"2026-11-28T16:40:54.246968785Z\"}\n");
  // <, >, & as \u00XX; quotes and backslashes; \r and \n short; other controls (\t too) as
  // \u00XX; DEL (0x7f) verbatim.
  EXPECT_EQ(EncodeLogLine(Stream::kStderr, std::string("<a href=\"x\">&\\\t\r\x01\x7f\n"), kNs),
            "{\"log\":\"\\u003ca href=\\\"x\\\"\\u003e\\u0026\\\\\\u0009\\r\\u0001\x7f\\n\","
            "\"stream\":\"stderr\",\"time\":\"2026-11-28T16:40:54Z\"}\n");
  // Valid UTF-8 verbatim, U+2028/2029 escaped, each invalid byte as \ufffd.
  EXPECT_EQ(EncodeLogLine(Stream::kStdout, "\xc3\xa9\xe2\x80\xa8\xe2\x80\xa9\xf0\x9f\x90\xb3", kNs),
            "{\"log\":\"\xc3\xa9\\u2028\\u2029\xf0\x9f\x90\xb3\",\"stream\":\"stdout\","
            "\"time\":\"2026-11-28T16:40:54Z\"}\n");
  EXPECT_EQ(EncodeLogLine(Stream::kStdout, "a\xff\xc3(\xe2\x82z\xed\xa0\x80", kNs),
            "{\"log\":\"a\\ufffd\\ufffd(\\ufffd\\ufffdz\\ufffd\\ufffd\\ufffd\",\"stream\":"
            "\"stdout\",\"time\":\"2026-11-28T16:40:54Z\"}\n");
  // A NUL byte inside the text.
  EXPECT_EQ(EncodeLogLine(Stream::kStdout, std::string("a\0b", 3), kNs),
            "{\"log\":\"a\\u0000b\",\"stream\":\"stdout\",\"time\":\"2026-11-28T16:40:54Z\"}\n");
  // `log` is omitempty.
  EXPECT_EQ(EncodeLogLine(Stream::kStdout, "", kNs),
            "{\"stream\":\"stdout\",\"time\":\"2026-11-28T16:40:54Z\"}\n");
}

TEST(LogFormatTest, ParseLogLineDecodesAndRejectsGarbage) {
  std::string line = EncodeLogLine(Stream::kStderr, "<x>\t\xff\n", kNs + 5);
  line.pop_back();
  auto e = ParseLogLine(line);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->stream, Stream::kStderr);
  EXPECT_EQ(e->text, "<x>\t\xef\xbf\xbd\n");
  EXPECT_EQ(e->time_ns, kNs + 5);
  EXPECT_FALSE(ParseLogLine(line.substr(0, line.size() - 3)));
  EXPECT_FALSE(
      ParseLogLine("{\"log\":\"x\",\"stream\":\"stdin\",\"time\":\"2026-11-28T16:40:54Z\"}"));
  EXPECT_FALSE(ParseLogLine("{\"log\":\"x\",\"stream\":\"stdout\",\"time\":\"yesterday\"}"));
  EXPECT_FALSE(ParseLogLine("[]"));
  EXPECT_FALSE(ParseLogLine(""));
}

class LogWriterTest : public testing::TempDirTest {
 protected:
  std::string Path() const { return dir_ + "/c-json.log"; }
  std::string Read(const std::string& suffix = "") { return ReadFile(Path() + suffix); }
  bool Exists(const std::string& suffix) {
    struct stat st;
    return stat((Path() + suffix).c_str(), &st) == 0;
  }
};

TEST_F(LogWriterTest, SplitsOutputIntoLinesAndInterleavesStreams) {
  LogWriter w(Path(), 0, 1);
  w.Write(Stream::kStdout, "one\ntw", At(kSec, 100));
  w.Write(Stream::kStderr, "err", At(kSec, 200));
  w.Write(Stream::kStdout, "o\n\nthree\n", At(kSec, 300));
  w.Write(Stream::kStderr, " 1\n", At(kSec, 400));
  EXPECT_EQ(
      Read(),
      "{\"log\":\"one\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-28T16:40:54.0000001Z\"}\n"
      "{\"log\":\"two\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-28T16:40:54.0000003Z\"}\n"
      "{\"log\":\"\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-28T16:40:54.0000003Z\"}\n"
      "{\"log\":\"three\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-28T16:40:54.0000003Z\"}\n"
      "{\"log\":\"err 1\\n\",\"stream\":\"stderr\",\"time\":\"2026-11-28T16:40:54.0000004Z\"}\n");
}

TEST_F(LogWriterTest, FlushWritesTheUnterminatedTailWithoutNewline) {
  {
    LogWriter w(Path(), 0, 1);
    w.Write(Stream::kStdout, "done\nno newline", At(kSec, 0));
    w.Write(Stream::kStderr, "bye", At(kSec, 0));
    EXPECT_EQ(Lines(Read()).size(), 1u);
    w.Flush(At(kSec + 1, 0));
    w.Flush(At(kSec + 2, 0));  // nothing left
  }
  EXPECT_EQ(Read(),
            "{\"log\":\"done\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-28T16:40:54Z\"}\n"
            "{\"log\":\"no newline\",\"stream\":\"stdout\",\"time\":\"2026-11-28T16:40:55Z\"}\n"
            "{\"log\":\"bye\",\"stream\":\"stderr\",\"time\":\"2026-11-28T16:40:55Z\"}\n");
}

TEST_F(LogWriterTest, LongLinesAreSplitInto16KiBPartialsSharingTheFirstTime) {
  LogWriter w(Path(), 0, 1);
  std::string a(kMaxLogLine, 'a');
  std::string b(kMaxLogLine, 'b');
  // Fed in odd-sized pieces at different times: the split does not depend on them.
  std::string all = a + b + "ccc\n" + std::string(kMaxLogLine, 'd') + "\n";
  w.Write(Stream::kStdout, std::string_view(all).substr(0, 5000), At(kSec, 1));
  w.Write(Stream::kStdout, std::string_view(all).substr(5000, 30000), At(kSec, 2));
  w.Write(Stream::kStdout, std::string_view(all).substr(35000), At(kSec, 3));
  auto lines = Lines(Read());
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0], "{\"log\":\"" + a +
                          "\",\"stream\":\"stdout\",\"time\":\"2026-11-28T16:40:54.000000002Z\"}");
  EXPECT_EQ(lines[1], "{\"log\":\"" + b +
                          "\",\"stream\":\"stdout\",\"time\":\"2026-11-28T16:40:54.000000002Z\"}");
  EXPECT_EQ(
      lines[2],
      "{\"log\":\"ccc\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-28T16:40:54.000000002Z\"}");
  // Exactly 16 KiB before the newline: a full buffer, so a partial and then a bare newline.
  EXPECT_EQ(lines[3], "{\"log\":\"" + std::string(kMaxLogLine, 'd') +
                          "\",\"stream\":\"stdout\",\"time\":\"2026-11-28T16:40:54.000000003Z\"}");
  EXPECT_EQ(lines[4],
            "{\"log\":\"\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-28T16:40:54.000000003Z\"}");
  // One byte less fits in one message.
  w.Write(Stream::kStderr, std::string(kMaxLogLine - 1, 'e') + "\n", At(kSec, 4));
  lines = Lines(Read());
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_EQ(lines[5],
            "{\"log\":\"" + std::string(kMaxLogLine - 1, 'e') +
                "\\n\",\"stream\":\"stderr\",\"time\":\"2026-11-28T16:40:54.000000004Z\"}");
}

TEST_F(LogWriterTest, AppendsToAnExistingFile) {
  { LogWriter(Path(), 0, 1).Write(Stream::kStdout, "a\n", At(kSec, 0)); }
  { LogWriter(Path(), 0, 1).Write(Stream::kStdout, "b\n", At(kSec, 0)); }
  ASSERT_EQ(Lines(Read()).size(), 2u);
  struct stat st;
  ASSERT_EQ(stat(Path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
}

// One line is 62 bytes: {"log":"N\n","stream":"stdout","time":"2026-11-28T16:40:54Z"}\n
std::string LineFor(char c) {
  return std::string("{\"log\":\"") + c +
         "\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-28T16:40:54Z\"}\n";
}

TEST_F(LogWriterTest, RotatesOnceTheFileReachedMaxSizeKeepingMaxFileFiles) {
  ASSERT_EQ(LineFor('0').size(), 62u);
  LogWriter w(Path(), 100, 3);
  for (char c = '0'; c <= '9'; ++c) {
    w.Write(Stream::kStdout, std::string(1, c) + "\n", At(kSec, 0));
  }
  // Like moby, a file is rotated before a write once it holds >= max-size bytes: two lines
  // (124 bytes) per file. Files: 0 1 | 2 3 | 4 5 | 6 7 | 8 9, three kept.
  EXPECT_EQ(Read(), LineFor('8') + LineFor('9'));
  EXPECT_EQ(Read(".1"), LineFor('6') + LineFor('7'));
  EXPECT_EQ(Read(".2"), LineFor('4') + LineFor('5'));
  EXPECT_FALSE(Exists(".3"));
}

TEST_F(LogWriterTest, MaxFileOneStartsOverInPlace) {
  LogWriter w(Path(), 100, 1);
  for (char c = '0'; c <= '4'; ++c) {
    w.Write(Stream::kStdout, std::string(1, c) + "\n", At(kSec, 0));
  }
  EXPECT_EQ(Read(), LineFor('4'));
  EXPECT_FALSE(Exists(".1"));
}

TEST_F(LogWriterTest, RotationAlsoAppliesToAFileThatWasAlreadyFull) {
  WriteFileAtomic(Path(), LineFor('a') + LineFor('b'), 0640, Durability::kVolatile);
  LogWriter w(Path(), 100, 2);
  w.Write(Stream::kStdout, "c\n", At(kSec, 0));
  EXPECT_EQ(Read(), LineFor('c'));
  EXPECT_EQ(Read(".1"), LineFor('a') + LineFor('b'));
}

}  // namespace
}  // namespace berth::shim
