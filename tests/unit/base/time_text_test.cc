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
}

TEST(TimeText, HumanDurationIsGoUnits) {
  EXPECT_EQ(HumanDuration(0), "Less than a second");
  EXPECT_EQ(HumanDuration(59 * kS), "59 seconds");
  EXPECT_EQ(HumanDuration(3600 * kS), "About an hour");
  EXPECT_EQ(HumanDuration(2 * 24 * 3600 * kS), "2 days");
}

}  // namespace
}  // namespace berth
