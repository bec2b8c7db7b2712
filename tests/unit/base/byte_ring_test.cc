#include "base/byte_ring.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>

namespace berth {
namespace {

// Bytes 0..n-1 of a pattern that does not repeat at the ring's size.
// What a reader with a buffer of its own gets: up to `len` bytes copied out, 0 at the end.
size_t Read(ByteRing& ring, void* buf, size_t len) {
  std::span<const char> ready = ring.ReadSpan();
  size_t n = std::min(len, ready.size());
  if (n > 0) {
    memcpy(buf, ready.data(), n);
  }
  ring.Consume(n);
  return n;
}

std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) {
    s[i] = static_cast<char>((i * 7 + i / 251) & 0xff);
  }
  return s;
}

TEST(ByteRing, CarriesBytesInOrderAcrossWrapsBetweenThreads) {
  ByteRing ring(1000);  // odd size: spans end at the wrap, not at piece boundaries
  std::string sent = Pattern(1 << 20);
  std::thread writer([&] {
    size_t at = 0, step = 1;
    while (at < sent.size()) {
      size_t n = std::min(step, sent.size() - at);
      ASSERT_TRUE(ring.Write(sent.data() + at, n));
      at += n;
      step = step * 3 % 4093 + 1;
    }
    ring.Close();
  });
  std::string got;
  char buf[777];
  while (size_t n = Read(ring, buf, sizeof(buf))) {
    got.append(buf, n);
  }
  writer.join();
  EXPECT_EQ(got.size(), sent.size());
  EXPECT_TRUE(got == sent);
  EXPECT_TRUE(ring.ReadSpan().empty()) << "the end stays the end";
}

TEST(ByteRing, SpansLendTheRingInPlace) {
  ByteRing ring(8);
  std::span<char> w = ring.WriteSpace(5);
  ASSERT_EQ(w.size(), 5u);
  memcpy(w.data(), "abcde", 5);
  ring.Commit(5);
  std::span<const char> r = ring.ReadSpan();
  ASSERT_EQ(std::string(r.data(), r.size()), "abcde");
  ring.Consume(3);
  // 3 bytes to the wrap, then 3 more at the start: the span stops at the wrap.
  w = ring.WriteSpace();
  EXPECT_EQ(w.size(), 3u);
  memcpy(w.data(), "fgh", 3);
  ring.Commit(3);
  w = ring.WriteSpace();
  EXPECT_EQ(w.size(), 3u);
  memcpy(w.data(), "ijk", 3);
  ring.Commit(3);
  r = ring.ReadSpan();
  EXPECT_EQ(std::string(r.data(), r.size()), "defgh");
  ring.Consume(r.size());
  r = ring.ReadSpan();
  EXPECT_EQ(std::string(r.data(), r.size()), "ijk");
}

TEST(ByteRing, StopFailsAWriterWaitingOnAFullRing) {
  ByteRing ring(16);
  std::string big(1000, 'x');
  bool wrote = true;
  std::thread writer([&] { wrote = ring.Write(big.data(), big.size()); });
  char buf[4];
  ASSERT_EQ(Read(ring, buf, sizeof(buf)), 4u);
  ring.Stop();
  writer.join();
  EXPECT_FALSE(wrote);
  EXPECT_TRUE(ring.WriteSpace().empty());
}

TEST(ByteRing, CloseWithAnErrorHandsItToTheReaderAfterTheBytes) {
  ByteRing ring(64);
  ASSERT_TRUE(ring.Write("tail", 4));
  ring.Close(std::make_exception_ptr(std::runtime_error("download failed")));
  char buf[16];
  EXPECT_EQ(Read(ring, buf, sizeof(buf)), 4u);
  try {
    Read(ring, buf, sizeof(buf));
    FAIL() << "no error at the end";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "download failed");
  }
}

TEST(ByteRing, AReaderWaitsForTheWriter) {
  ByteRing ring(64);
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ring.Write("late", 4);
    ring.Close();
  });
  char buf[8];
  EXPECT_EQ(Read(ring, buf, sizeof(buf)), 4u);
  EXPECT_EQ(std::string(buf, 4), "late");
  EXPECT_EQ(Read(ring, buf, sizeof(buf)), 0u);
  writer.join();
}

}  // namespace
}  // namespace berth
