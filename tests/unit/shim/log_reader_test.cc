#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/fd.h"
#include "base/file_util.h"
#include "shim/logfile.h"
#include "temp_dir_test.h"

namespace berth::shim {
namespace {

constexpr int64_t kSec = 1795884054;  // 2026-11-28T16:40:54Z
constexpr int64_t kBillion = 1'000'000'000;

struct Msg {
  Stream stream;
  std::string text;
  int64_t time_ns;
  bool operator==(const Msg&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Msg& m) {
  return os << (m.stream == Stream::kStdout ? "out" : "err") << ":" << m.text << "@" << m.time_ns;
}

class LogReaderTest : public testing::TempDirTest {
 protected:
  std::string Path() const { return dir_ + "/c-json.log"; }

  std::vector<Msg> ReadAll(const LogReadOptions& options) {
    std::vector<Msg> out;
    LogReader(Path()).Read(options, [&](Stream s, std::string_view text, int64_t ns) {
      out.push_back({s, std::string(text), ns});
    });
    return out;
  }

  // Lines "0\n".."<n-1>\n", line i at kSec + i seconds, odd ones on stderr; 62 bytes each,
  // two per file with max-size 100.
  void WriteNumbered(LogWriter& w, int from, int to) {
    for (int i = from; i < to; ++i) {
      w.Write(i % 2 ? Stream::kStderr : Stream::kStdout, std::to_string(i % 10) + "\n",
              timespec{static_cast<time_t>(kSec + i), 0});
    }
  }

  static std::vector<std::string> Texts(const std::vector<Msg>& msgs) {
    std::vector<std::string> out;
    for (const Msg& m : msgs) {
      out.push_back(m.text);
    }
    return out;
  }
};

using Strings = std::vector<std::string>;

TEST_F(LogReaderTest, ReadsAllFilesOldestFirst) {
  LogWriter w(Path(), 100, 3);
  WriteNumbered(w, 0, 6);  // files: .2 = 0 1, .1 = 2 3, current = 4 5
  auto msgs = ReadAll({});
  ASSERT_EQ(msgs.size(), 6u);
  EXPECT_EQ(msgs[0], (Msg{Stream::kStdout, "0\n", kSec * kBillion}));
  EXPECT_EQ(msgs[5], (Msg{Stream::kStderr, "5\n", (kSec + 5) * kBillion}));
  EXPECT_EQ(Texts(msgs), (Strings{"0\n", "1\n", "2\n", "3\n", "4\n", "5\n"}));
}

TEST_F(LogReaderTest, FiltersStreams) {
  LogWriter w(Path(), 0, 1);
  WriteNumbered(w, 0, 5);
  LogReadOptions out_only;
  out_only.stderr = false;
  EXPECT_EQ(Texts(ReadAll(out_only)), (Strings{"0\n", "2\n", "4\n"}));
  LogReadOptions err_only;
  err_only.stdout = false;
  EXPECT_EQ(Texts(ReadAll(err_only)), (Strings{"1\n", "3\n"}));
}

TEST_F(LogReaderTest, TimestampsPrefixTheFixedFormatAndASpace) {
  LogWriter w(Path(), 0, 1);
  w.Write(Stream::kStderr, "err 2\n", timespec{static_cast<time_t>(kSec), 246968700});
  LogReadOptions o;
  o.timestamps = true;
  auto msgs = ReadAll(o);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].text, "2026-11-28T16:40:54.246968700Z err 2\n");
  EXPECT_EQ(FrameMessage(msgs[0].stream, msgs[0].text),
            std::string("\x02\0\0\0\0\0\0%", 8) + "2026-11-28T16:40:54.246968700Z err 2\n");
}

TEST_F(LogReaderTest, SinceAndUntilAreInclusive) {
  LogWriter w(Path(), 100, 5);
  WriteNumbered(w, 0, 8);
  LogReadOptions o;
  o.since_ns = (kSec + 2) * kBillion;
  o.until_ns = (kSec + 5) * kBillion;
  EXPECT_EQ(Texts(ReadAll(o)), (Strings{"2\n", "3\n", "4\n", "5\n"}));
  o.since_ns = (kSec + 2) * kBillion + 1;
  o.until_ns.reset();
  EXPECT_EQ(Texts(ReadAll(o)), (Strings{"3\n", "4\n", "5\n", "6\n", "7\n"}));
}

TEST_F(LogReaderTest, TailTakesTheLastLinesAcrossRotatedFiles) {
  LogWriter w(Path(), 100, 4);
  WriteNumbered(w, 0, 7);  // .3 = 0 1, .2 = 2 3, .1 = 4 5, current = 6
  LogReadOptions o;
  o.tail = 4;
  EXPECT_EQ(Texts(ReadAll(o)), (Strings{"3\n", "4\n", "5\n", "6\n"}));
  o.tail = 1;
  EXPECT_EQ(Texts(ReadAll(o)), (Strings{"6\n"}));
  o.tail = 0;
  EXPECT_TRUE(ReadAll(o).empty());
  o.tail = 100;
  EXPECT_EQ(ReadAll(o).size(), 7u);
  // As in Docker, the tail counts lines of both streams before the stream filter.
  o.tail = 3;
  o.stderr = false;
  EXPECT_EQ(Texts(ReadAll(o)), (Strings{"4\n", "6\n"}));
}

TEST_F(LogReaderTest, TailOfALargeFileReadsAcrossChunks) {
  {
    LogWriter w(Path(), 0, 1);
    for (int i = 0; i < 5000; ++i) {
      w.Write(Stream::kStdout, "line " + std::to_string(i) + "\n", timespec{kSec, 0});
    }
  }
  LogReadOptions o;
  o.tail = 2000;
  auto msgs = ReadAll(o);
  ASSERT_EQ(msgs.size(), 2000u);
  EXPECT_EQ(msgs.front().text, "line 3000\n");
  EXPECT_EQ(msgs.back().text, "line 4999\n");
}

TEST_F(LogReaderTest, TornAndMalformedLinesAreSkipped) {
  std::string good1 = EncodeLogLine(Stream::kStdout, "a\n", kSec * kBillion);
  std::string good2 = EncodeLogLine(Stream::kStderr, "b\n", kSec * kBillion);
  std::string torn = good2.substr(0, 20);
  // A crash left a torn line, the restarted writer appended after it; the last write is
  // torn too.
  WriteFileAtomic(Path(), good1 + "not json\n" + torn + good2 + good1 + torn, 0640,
                  Durability::kVolatile);
  EXPECT_EQ(Texts(ReadAll({})), (Strings{"a\n", "a\n"}));
  LogReadOptions o;
  o.tail = 1;
  EXPECT_EQ(Texts(ReadAll(o)), (Strings{"a\n"}));
}

TEST_F(LogReaderTest, MissingFilesReadAsEmpty) { EXPECT_TRUE(ReadAll({}).empty()); }

// Runs a follow on a thread; the test polls what arrived with a deadline.
class Follower {
 public:
  Follower(std::string path, LogReadOptions options, FollowControl control)
      : thread_([this, path, options, control] {
          try {
            LogReader(path).Read(
                options,
                [this](Stream s, std::string_view text, int64_t ns) {
                  std::lock_guard lock(mu_);
                  msgs_.push_back({s, std::string(text), ns});
                },
                control);
          } catch (...) {
            error_ = std::current_exception();
          }
          finished_ = true;
        }) {}
  ~Follower() {
    if (thread_.joinable()) {
      thread_.join();
    }
  }

  // Waits (bounded) until `n` messages arrived; returns what arrived.
  std::vector<Msg> WaitFor(size_t n) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (;;) {
      {
        std::lock_guard lock(mu_);
        if (msgs_.size() >= n || std::chrono::steady_clock::now() > deadline) {
          return msgs_;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  size_t Count() {
    std::lock_guard lock(mu_);
    return msgs_.size();
  }
  bool WaitFinished() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!finished_ && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return finished_;
  }
  void Join() {
    thread_.join();
    if (error_) {
      std::rethrow_exception(error_);
    }
  }

 private:
  std::mutex mu_;
  std::vector<Msg> msgs_;
  std::exception_ptr error_;
  std::atomic<bool> finished_{false};
  std::thread thread_;
};

TEST_F(LogReaderTest, FollowPicksUpAppendsAndRotationsUntilTheStopFdFires) {
  UniqueFd stop(eventfd(0, EFD_CLOEXEC));
  ASSERT_TRUE(stop);
  // Enough files that no rotation below deletes one: with fewer, a follower that a loaded
  // machine holds back finds lines rotated away (as Docker's would), and the test flakes.
  LogWriter w(Path(), 100, 10);
  WriteNumbered(w, 0, 3);  // .1 = 0 1, current = 2
  LogReadOptions o;
  o.follow = true;
  o.tail = 2;
  Follower f(Path(), o, FollowControl{stop.get(), nullptr});
  EXPECT_EQ(Texts(f.WaitFor(2)), (Strings{"1\n", "2\n"}));

  WriteNumbered(w, 3, 4);  // appended to the current file
  EXPECT_EQ(Texts(f.WaitFor(3)), (Strings{"1\n", "2\n", "3\n"}));

  WriteNumbered(w, 4, 5);  // rotation: 2 3 -> .1, 4 in a new file
  EXPECT_EQ(Texts(f.WaitFor(4)), (Strings{"1\n", "2\n", "3\n", "4\n"}));
  WriteNumbered(w, 5, 10);  // several rotations at once
  EXPECT_EQ(Texts(f.WaitFor(9)),
            (Strings{"1\n", "2\n", "3\n", "4\n", "5\n", "6\n", "7\n", "8\n", "9\n"}));

  // A half-written line is held back until its newline arrives.
  int fd = ::open(Path().c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  std::string line = EncodeLogLine(Stream::kStdout, "late\n", (kSec + 20) * kBillion);
  ASSERT_EQ(::write(fd, line.data(), 10), 10);
  ASSERT_EQ(::write(fd, line.data() + 10, line.size() - 10),
            static_cast<ssize_t>(line.size() - 10));
  ::close(fd);
  EXPECT_EQ(f.WaitFor(10).size(), 10u);

  uint64_t one = 1;
  ASSERT_EQ(::write(stop.get(), &one, sizeof(one)), 8);
  EXPECT_TRUE(f.WaitFinished());
  f.Join();
  EXPECT_EQ(Texts(f.WaitFor(0)),
            (Strings{"1\n", "2\n", "3\n", "4\n", "5\n", "6\n", "7\n", "8\n", "9\n", "late\n"}));
}

// A rotation renames path.1 to path.2 before path to path.1, so for a moment path.1 is
// missing. A follower that took that hole for the end of the chain skipped the files
// beyond it. Here the writer stops in the hole, and the directory is swapped in whole
// (RENAME_EXCHANGE) so that the follower sees no state in between. Its inotify watch stays on
// the directory swapped out: it finds the changes on its periodic look.
TEST_F(LogReaderTest, FollowReadsPastTheNameARotationInProgressLeavesMissing) {
  const std::string logs = dir_ + "/logs";
  const std::string next = dir_ + "/next";
  const std::string path = logs + "/c-json.log";
  auto line = [](int i) {
    return EncodeLogLine(Stream::kStdout, std::to_string(i) + "\n", (kSec + i) * kBillion);
  };
  ASSERT_EQ(::mkdir(logs.c_str(), 0700), 0);
  ASSERT_EQ(::mkdir(next.c_str(), 0700), 0);
  WriteFileAtomic(path, line(0), 0640, Durability::kVolatile);
  // Two rotations later, the second one half done: the file followed is path.3, the one of
  // the first rotation path.2, path.1 is missing and path is not renamed yet.
  ASSERT_EQ(::link(path.c_str(), (next + "/c-json.log.3").c_str()), 0);
  WriteFileAtomic(next + "/c-json.log.2", line(1), 0640, Durability::kVolatile);
  WriteFileAtomic(next + "/c-json.log", line(2), 0640, Durability::kVolatile);

  UniqueFd stop(eventfd(0, EFD_CLOEXEC));
  ASSERT_TRUE(stop);
  LogReadOptions o;
  o.follow = true;
  Follower f(path, o, FollowControl{stop.get(), nullptr});
  EXPECT_EQ(Texts(f.WaitFor(1)), (Strings{"0\n"}));
  EXPECT_EQ(::renameat2(AT_FDCWD, logs.c_str(), AT_FDCWD, next.c_str(), RENAME_EXCHANGE), 0);
  EXPECT_EQ(Texts(f.WaitFor(3)), (Strings{"0\n", "1\n", "2\n"}));
  // The rotation completes.
  EXPECT_EQ(::rename(path.c_str(), (path + ".1").c_str()), 0);
  WriteFileAtomic(path, line(3), 0640, Durability::kVolatile);
  EXPECT_EQ(Texts(f.WaitFor(4)), (Strings{"0\n", "1\n", "2\n", "3\n"}));

  uint64_t one = 1;
  ASSERT_EQ(::write(stop.get(), &one, sizeof(one)), 8);
  EXPECT_TRUE(f.WaitFinished());
  f.Join();
  EXPECT_EQ(Texts(f.WaitFor(0)), (Strings{"0\n", "1\n", "2\n", "3\n"}));
}

// The writer rotates while the follower reads and looks at the names: every line arrives
// once and in order. Runs often hit a rotation in progress, or one between two looks of the
// follower. The writer stays at most a few lines ahead, so that no file the follower has yet
// to read is rotated away (which loses lines in Docker too).
TEST_F(LogReaderTest, FollowKeepsEveryLineWhileTheWriterRotatesConcurrently) {
  UniqueFd stop(eventfd(0, EFD_CLOEXEC));
  ASSERT_TRUE(stop);
  LogWriter w(Path(), 100, 8);  // two lines a file; the follower is at most 5 files behind
  LogReadOptions o;
  o.follow = true;
  Follower f(Path(), o, FollowControl{stop.get(), nullptr});
  constexpr size_t kLines = 3000;
  constexpr size_t kAhead = 6;
  Strings want;
  for (size_t i = 0; i < kLines; ++i) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (f.Count() + kAhead < i && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    if (f.Count() + kAhead < i) {
      ADD_FAILURE() << "the follow stalled before line " << i;
      break;
    }
    want.push_back("line " + std::to_string(i) + "\n");
    w.Write(Stream::kStdout, want.back(), timespec{kSec, 0});
  }
  EXPECT_EQ(Texts(f.WaitFor(want.size())), want);
  uint64_t one = 1;
  ASSERT_EQ(::write(stop.get(), &one, sizeof(one)), 8);
  EXPECT_TRUE(f.WaitFinished());
  f.Join();
}

TEST_F(LogReaderTest, FollowSurvivesMaxFileOneRecreatingTheFile) {
  UniqueFd stop(eventfd(0, EFD_CLOEXEC));
  ASSERT_TRUE(stop);
  LogWriter w(Path(), 100, 1);
  LogReadOptions o;
  o.follow = true;
  Follower f(Path(), o, FollowControl{stop.get(), nullptr});
  Strings want;
  for (int i = 0; i < 6; ++i) {  // the file is unlinked and recreated every two lines
    WriteNumbered(w, i, i + 1);
    want.push_back(std::to_string(i) + "\n");
    EXPECT_EQ(Texts(f.WaitFor(want.size())), want);
  }
  uint64_t one = 1;
  ASSERT_EQ(::write(stop.get(), &one, sizeof(one)), 8);
  EXPECT_TRUE(f.WaitFinished());
  f.Join();
  EXPECT_EQ(Texts(f.WaitFor(0)), want);
}

TEST_F(LogReaderTest, FollowWaitsForTheFileAndStopsOnThePredicate) {
  std::atomic<bool> stop{false};
  LogReadOptions o;
  o.follow = true;
  o.stderr = false;
  Follower f(Path(), o, FollowControl{-1, [&] { return stop.load(); }});
  LogWriter w(Path(), 0, 1);  // created after the reader started
  WriteNumbered(w, 0, 3);
  EXPECT_EQ(Texts(f.WaitFor(2)), (Strings{"0\n", "2\n"}));
  stop = true;
  EXPECT_TRUE(f.WaitFinished());
  f.Join();
}

TEST_F(LogReaderTest, FollowEndsAtUntil) {
  LogWriter w(Path(), 0, 1);
  WriteNumbered(w, 0, 3);
  LogReadOptions o;
  o.follow = true;
  o.until_ns = (kSec + 1) * kBillion;  // line 2 is past it: the follow ends there
  Follower f(Path(), o, FollowControl{});
  EXPECT_TRUE(f.WaitFinished());
  f.Join();
  EXPECT_EQ(Texts(f.WaitFor(0)), (Strings{"0\n", "1\n"}));
}

}  // namespace
}  // namespace berth::shim
