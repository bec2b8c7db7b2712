#include "registry/range.h"

#include <gtest/gtest.h>

namespace berth::registry {
namespace {

TEST(RegistryRange, RangeRequests) {
  ByteRange r;
  EXPECT_EQ(ParseRange("", 100, &r), RangeKind::kWhole);
  EXPECT_EQ(ParseRange("bytes=0-9", 100, &r), RangeKind::kPartial);
  EXPECT_EQ(r.first, 0u);
  EXPECT_EQ(r.last, 9u);
  EXPECT_EQ(r.length(), 10u);
  EXPECT_EQ(ParseRange("bytes=90-", 100, &r), RangeKind::kPartial);
  EXPECT_EQ(r.first, 90u);
  EXPECT_EQ(r.last, 99u);
  EXPECT_EQ(ParseRange("bytes=90-1000", 100, &r), RangeKind::kPartial);
  EXPECT_EQ(r.last, 99u);
  EXPECT_EQ(ParseRange("bytes=-10", 100, &r), RangeKind::kPartial);
  EXPECT_EQ(r.first, 90u);
  EXPECT_EQ(r.last, 99u);
  EXPECT_EQ(ParseRange("bytes=-1000", 100, &r), RangeKind::kPartial);
  EXPECT_EQ(r.first, 0u);
  EXPECT_EQ(ParseRange("bytes=100-", 100, &r), RangeKind::kUnsatisfiable);
  EXPECT_EQ(ParseRange("bytes=-0", 100, &r), RangeKind::kUnsatisfiable);
  EXPECT_EQ(ParseRange("bytes=0-", 0, &r), RangeKind::kUnsatisfiable);
  // Ignorable: served whole.
  EXPECT_EQ(ParseRange("bytes=5-2", 100, &r), RangeKind::kWhole);
  EXPECT_EQ(ParseRange("bytes=0-1,5-6", 100, &r), RangeKind::kWhole);
  EXPECT_EQ(ParseRange("items=0-1", 100, &r), RangeKind::kWhole);
  EXPECT_EQ(ParseRange("bytes=x-1", 100, &r), RangeKind::kWhole);
  EXPECT_EQ(ParseRange("bytes=99999999999999999999-", 100, &r), RangeKind::kWhole);
}

TEST(RegistryRange, ContentRangeOfChunks) {
  auto r = ParseContentRange("0-1023");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, 0u);
  EXPECT_EQ(r->last, 1023u);
  r = ParseContentRange("bytes 10-19/*");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, 10u);
  EXPECT_EQ(r->length(), 10u);
  EXPECT_TRUE(ParseContentRange("bytes 10-19/100"));
  EXPECT_TRUE(ParseContentRange("bytes=10-19"));
  EXPECT_FALSE(ParseContentRange("10-"));
  EXPECT_FALSE(ParseContentRange("-10"));
  EXPECT_FALSE(ParseContentRange("20-10"));
  EXPECT_FALSE(ParseContentRange("a-b"));
  EXPECT_FALSE(ParseContentRange("bytes 1-2/x"));
  EXPECT_FALSE(ParseContentRange(""));
}

TEST(RegistryRange, ChunkOrder) {
  EXPECT_EQ(CheckChunk(std::nullopt, 100, 0), ChunkCheck::kOk);  // streamed
  EXPECT_EQ(CheckChunk(ByteRange{0, 99}, 100, 0), ChunkCheck::kOk);
  EXPECT_EQ(CheckChunk(ByteRange{100, 199}, 100, 100), ChunkCheck::kOk);
  EXPECT_EQ(CheckChunk(ByteRange{100, 199}, std::nullopt, 100), ChunkCheck::kOk);
  EXPECT_EQ(CheckChunk(ByteRange{200, 299}, 100, 100), ChunkCheck::kOutOfOrder);
  EXPECT_EQ(CheckChunk(ByteRange{0, 99}, 100, 100), ChunkCheck::kOutOfOrder);  // a repeat
  EXPECT_EQ(CheckChunk(ByteRange{100, 199}, 50, 100), ChunkCheck::kLengthMismatch);
}

TEST(RegistryRange, UploadRangeHeader) {
  EXPECT_EQ(UploadRange(0), "0-0");
  EXPECT_EQ(UploadRange(1), "0-0");
  EXPECT_EQ(UploadRange(1024), "0-1023");
}

}  // namespace
}  // namespace berth::registry
