#include "cli/units.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <time.h>

#include "base/error.h"

// Expected strings from docker/go-units v0.5.0 (size.go, duration.go) and moby's stringid.
namespace berth::cli {
namespace {

TEST(UnitsTest, HumanSize) {
  EXPECT_EQ(HumanSize(0), "0B");
  EXPECT_EQ(HumanSize(999), "999B");
  EXPECT_EQ(HumanSize(1000), "1kB");
  EXPECT_EQ(HumanSize(7049), "7.049kB");
  EXPECT_EQ(HumanSize(1024), "1.024kB");
  EXPECT_EQ(HumanSize(1200000000), "1.2GB");
  EXPECT_EQ(HumanSize(999999), "1000kB");  // %.4g of 999.999
  EXPECT_EQ(HumanSizeWithPrecision(1982000, 3), "1.98MB");
  EXPECT_EQ(HumanSizeWithPrecision(7049, 3), "7.05kB");
  EXPECT_EQ(HumanSizeWithPrecision(999999, 3), "1e+03kB");
  EXPECT_EQ(HumanSize(1e15), "1PB");
  EXPECT_EQ(HumanSize(1e27), "1000YB");
  EXPECT_EQ(BytesSize(1024), "1KiB");
  EXPECT_EQ(BytesSize(1536), "1.5KiB");
  EXPECT_EQ(BytesSize(1024.0 * 1024 * 1024), "1GiB");
}

TEST(UnitsTest, HumanDurationThresholds) {
  constexpr int64_t kS = 1'000'000'000;
  constexpr int64_t kH = 3600 * kS;
  EXPECT_EQ(HumanDuration(999'999'999), "Less than a second");
  EXPECT_EQ(HumanDuration(kS), "1 second");
  EXPECT_EQ(HumanDuration(59 * kS), "59 seconds");
  EXPECT_EQ(HumanDuration(60 * kS), "About a minute");
  EXPECT_EQ(HumanDuration(119 * kS), "About a minute");
  EXPECT_EQ(HumanDuration(120 * kS), "2 minutes");
  EXPECT_EQ(HumanDuration(59 * 60 * kS), "59 minutes");
  EXPECT_EQ(HumanDuration(60 * 60 * kS), "About an hour");
  EXPECT_EQ(HumanDuration(kH + 29 * 60 * kS), "About an hour");
  EXPECT_EQ(HumanDuration(kH + 30 * 60 * kS), "2 hours");  // Round(time.Hour) rounds half up
  EXPECT_EQ(HumanDuration(47 * kH), "47 hours");
  EXPECT_EQ(HumanDuration(48 * kH), "2 days");
  EXPECT_EQ(HumanDuration(14 * 24 * kH - kH), "13 days");
  EXPECT_EQ(HumanDuration(14 * 24 * kH), "2 weeks");
  EXPECT_EQ(HumanDuration(60 * 24 * kH - kH), "8 weeks");
  EXPECT_EQ(HumanDuration(60 * 24 * kH), "2 months");
  EXPECT_EQ(HumanDuration(2 * 365 * 24 * kH - kH), "24 months");
  EXPECT_EQ(HumanDuration(2 * 365 * 24 * kH), "2 years");
  EXPECT_EQ(TimeAgo(3 * 3600), "3 hours ago");
}

TEST(UnitsTest, GoTime) {
  setenv("TZ", "UTC", 1);
  tzset();
  EXPECT_EQ(GoTime(1704164645), "2024-01-02 03:04:05 +0000 UTC");
  setenv("TZ", "CET-1", 1);
  tzset();
  EXPECT_EQ(GoTime(1704164645), "2024-01-02 04:04:05 +0100 CET");
  setenv("TZ", "UTC", 1);
  tzset();
}

TEST(UnitsTest, TruncateId) {
  EXPECT_EQ(TruncateId("sha256:0123456789abcdef0123"), "0123456789ab");
  EXPECT_EQ(TruncateId("abc"), "abc");
}

TEST(UnitsTest, ParseSize) {
  EXPECT_EQ(ParseSize("64m"), 64 << 20);
  EXPECT_EQ(ParseSize("1g"), 1 << 30);
  EXPECT_EQ(ParseSize("1.5GB"), 3LL << 29);
  EXPECT_EQ(ParseSize("32"), 32);
  EXPECT_EQ(ParseSize("32 KiB"), 32 << 10);
  EXPECT_EQ(ParseSize("10b"), 10);
  EXPECT_EQ(ParseHumanSize("1k"), 1000);
  EXPECT_THROW(ParseSize("abc"), Error);
  EXPECT_THROW(ParseSize("1x"), Error);
  EXPECT_THROW(ParseSize("1kbb"), Error);
  EXPECT_THROW(ParseSize("-1"), Error);
}

}  // namespace
}  // namespace berth::cli
