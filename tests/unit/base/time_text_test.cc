#include "base/time_text.h"

#include <gtest/gtest.h>

namespace berth {
namespace {

constexpr int64_t kS = 1'000'000'000;

TEST(TimeText, ParseRfc3339Nano) {
  EXPECT_EQ(ParseRfc3339Nano("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseRfc3339Nano("2026-11-28T16:40:54.246968785Z"), 1795884054 * kS + 246968785);
  EXPECT_EQ(ParseRfc3339Nano("2026-11-28T16:40:54.5Z"), 1795884054 * kS + 500000000);
  EXPECT_EQ(ParseRfc3339Nano("2026-11-28T18:40:54+02:00"), 1795884054 * kS);
  EXPECT_EQ(ParseRfc3339Nano("0001-01-01T00:00:00Z"), std::nullopt) << "Go's zero time";
  EXPECT_EQ(ParseRfc3339Nano(""), std::nullopt);
  EXPECT_EQ(ParseRfc3339Nano("2026-11-28 16:40:54Z"), std::nullopt);
  EXPECT_EQ(ParseRfc3339Nano("2026-11-28T16:40:54"), std::nullopt);
  EXPECT_EQ(ParseRfc3339Nano("2026-11-28T16:40:54.Z"), std::nullopt);
  EXPECT_EQ(ParseRfc3339Nano("2026-11-28T16:40:54Zjunk"), std::nullopt);
  EXPECT_EQ(ParseRfc3339Nano("2026-11-28T16:40"), std::nullopt) << "no seconds";
  EXPECT_EQ(ParseRfc3339Nano("2026-11-28T16:40:54.1234567891Z"), 1795884054 * kS + 123456789)
      << "Go keeps the first nine digits";
  EXPECT_EQ(ParseRfc3339Nano("2026-02-29T00:00:00Z"), std::nullopt) << "not a leap year";
  EXPECT_EQ(ParseRfc3339Nano("2026-11-28T16:40:54+25:00"), std::nullopt);
}

// The shorter forms moby's GetTimestamp reads (the CLI's --since/--until).
TEST(TimeText, ParseRfc3339Fields) {
  std::optional<Rfc3339Time> t = ParseRfc3339Fields("2024-02-29");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->time_fields, 0);
  EXPECT_FALSE(t->offset) << "no zone: local time";
  t = ParseRfc3339Fields("2024-01-02T03:04-01:30");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->time_fields, 2);
  EXPECT_EQ(t->offset, -5400);
  EXPECT_EQ(t->UnixSeconds(), 1704164640 + 5400);
  t = ParseRfc3339Fields("0001-01-01T00:00:00Z");
  ASSERT_TRUE(t) << "the zero time is a time here; ParseRfc3339Nano makes it nullopt";
  EXPECT_EQ(t->UnixSeconds(), -62135596800);
  EXPECT_FALSE(ParseRfc3339Fields("2024-01-02T"));
  EXPECT_FALSE(ParseRfc3339Fields("2024-1-02"));
  EXPECT_FALSE(ParseRfc3339Fields("2024-01-02T03.5")) << "a fraction only after seconds";
  EXPECT_FALSE(ParseRfc3339Fields("2024-01-02T24:00"));
  EXPECT_FALSE(ParseRfc3339Fields("2024-01-02+0100"));
}

TEST(TimeText, HumanDurationIsGoUnits) {
  EXPECT_EQ(HumanDuration(0), "Less than a second");
  EXPECT_EQ(HumanDuration(59 * kS), "59 seconds");
  EXPECT_EQ(HumanDuration(3600 * kS), "About an hour");
  EXPECT_EQ(HumanDuration(2 * 24 * 3600 * kS), "2 days");
}

}  // namespace
}  // namespace berth
