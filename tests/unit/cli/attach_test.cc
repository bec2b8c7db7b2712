#include "cli/attach.h"

#include <gtest/gtest.h>

#include "base/error.h"

namespace berth::cli {
namespace {

std::string Frame(int stream, const std::string& payload) {
  std::string h(8, '\0');
  h[0] = static_cast<char>(stream);
  uint32_t n = static_cast<uint32_t>(payload.size());
  h[4] = static_cast<char>(n >> 24);
  h[5] = static_cast<char>(n >> 16);
  h[6] = static_cast<char>(n >> 8);
  h[7] = static_cast<char>(n);
  return h + payload;
}

TEST(FrameDemuxer, SplitsFramesCutAnywhere) {
  std::string out, err;
  FrameDemuxer demux(
      [&](int stream, std::string_view data) { (stream == 2 ? err : out).append(data); });
  std::string wire =
      Frame(1, "hi\n") + Frame(2, "oops\n") + Frame(1, "") + Frame(1, std::string(70000, 'x'));
  for (size_t i = 0; i < wire.size(); i += 7) {  // byte runs that cut headers and payloads
    demux.Feed(std::string_view(wire).substr(i, 7));
  }
  EXPECT_EQ(out, "hi\n" + std::string(70000, 'x'));
  EXPECT_EQ(err, "oops\n");
  EXPECT_TRUE(demux.Idle());
  demux.Feed(Frame(1, "partial").substr(0, 10));
  EXPECT_FALSE(demux.Idle());
}

TEST(FrameDemuxer, SystemErrorFrameThrows) {
  FrameDemuxer demux([](int, std::string_view) {});
  try {
    demux.Feed(Frame(3, "boom"));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "Error from daemon in stream: boom");
  }
  FrameDemuxer other([](int, std::string_view) {});
  EXPECT_THROW(other.Feed(Frame(9, "x")), Error);
}

TEST(Signals, Names) {
  EXPECT_EQ(SignalName(SIGINT), "INT");
  EXPECT_EQ(SignalName(SIGWINCH), "WINCH");
  EXPECT_EQ(SignalName(SIGTERM), "TERM");
}

}  // namespace
}  // namespace berth::cli
