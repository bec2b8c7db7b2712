#include "cli/container_format.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <time.h>

#include "base/error.h"
#include "cli/go_value.h"
#include "cli/table.h"

namespace berth::cli {
namespace {

using nlohmann::json;

// A /containers/json element as dockerd 20.10 answers it.
const json kContainer = json::parse(R"({
  "Id": "53017657ad5037cc92b4671779b86006a69603c7619d8d79e70d68f0de02d005",
  "Names": ["/web", "/other/alias"], "Image": "busybox",
  "ImageID": "sha256:19aabcb2a545b64a7c448f22e62fa57b4e49b13701c55355787cf764240883ce",
  "Command": "sh -c 'echo started; sleep 1000'", "Created": 1000,
  "Ports": [{"IP":"0.0.0.0","PrivatePort":80,"PublicPort":8080,"Type":"tcp"},
            {"IP":"::","PrivatePort":80,"PublicPort":8080,"Type":"tcp"},
            {"PrivatePort":53,"Type":"udp"}],
  "Labels": {"b": "2", "a": "1"}, "State": "running", "Status": "Up 2 minutes",
  "SizeRw": 12, "SizeRootFs": 1984172,
  "NetworkSettings": {"Networks": {"none": {}, "bridge": {}}},
  "Mounts": [{"Type":"volume","Name":"0123456789abcdef0123","Driver":"local"},
             {"Type":"bind","Source":"/src"}]})");

TEST(PsRow, TruncatedColumns) {
  json row = PsRow(kContainer, true, 1000 + 150);
  EXPECT_EQ(row["ID"], "53017657ad50");
  EXPECT_EQ(row["Image"], "busybox");
  EXPECT_EQ(row["Command"], "\"sh -c 'echo started…\"");
  EXPECT_EQ(row["RunningFor"], "2 minutes ago");
  EXPECT_EQ(row["Status"], "Up 2 minutes");
  EXPECT_EQ(row["Names"], "web");
  EXPECT_EQ(row["Ports"], "0.0.0.0:8080->80/tcp, :::8080->80/tcp, 53/udp");
  EXPECT_EQ(row["Labels"], "a=1,b=2");
  EXPECT_EQ(row["Networks"], "bridge,none");
  EXPECT_EQ(row["Mounts"], "0123456789abcd…,/src");
  EXPECT_EQ(row["LocalVolumes"], "1");
  EXPECT_EQ(row["Size"], "12B (virtual 1.98MB)");
}

TEST(PsRow, NoTrunc) {
  json row = PsRow(kContainer, false, 1000 + 3);
  EXPECT_EQ(row["ID"], kContainer["Id"]);
  EXPECT_EQ(row["Command"], "\"sh -c 'echo started; sleep 1000'\"");
  EXPECT_EQ(row["Names"], "web,other/alias");
  EXPECT_EQ(row["RunningFor"], "3 seconds ago");
  json image_id = kContainer;
  image_id["Image"] = image_id["ImageID"];
  EXPECT_EQ(PsRow(image_id, true, 0)["Image"], "19aabcb2a545");
}

TEST(PsRow, DefaultTable) {
  std::string out =
      RenderList(PsDefaultFormat(false), {PsRow(kContainer, true, 1000 + 150)}, kPsHeaders);
  EXPECT_EQ(out.substr(0, out.find('\n')),
            "CONTAINER ID   IMAGE     COMMAND                  CREATED         STATUS         "
            "PORTS                                           NAMES");
}

TEST(Quote, GoStyle) {
  // The Command column is strconv.Quote (one implementation, go_value's, for it and %q).
  using internal::GoQuote;
  EXPECT_EQ(GoQuote("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\x01\"");
  // Where the ps-only copy differed from Go: named escapes, invalid UTF-8 and C1 controls.
  EXPECT_EQ(GoQuote("\a\b\f\v\r\x7f"), R"("\a\b\f\v\r\x7f")");
  EXPECT_EQ(GoQuote("é\xff\xc3"), R"("é\xff\xc3")");
  EXPECT_EQ(GoQuote("\xc0\xaf\xed\xa0\x80"), R"("\xc0\xaf\xed\xa0\x80")") << "overlong, surrogate";
  EXPECT_EQ(GoQuote("\xc2\x85 ☃ 🐳"), R"("\u0085 ☃ 🐳")");
  EXPECT_EQ(Ellipsis("abcdef", 4), "abc…");
  EXPECT_EQ(Ellipsis("abc", 4), "abc");
  EXPECT_EQ(Ellipsis("ééééé", 3), "éé…");
}

TEST(ApiTimestamp, DurationsDatesAndUnixSeconds) {
  setenv("TZ", "UTC", 1);
  tzset();
  EXPECT_EQ(ApiTimestamp("10m", 10000), "9400");
  EXPECT_EQ(ApiTimestamp("1h30m", 10000), "4600");
  EXPECT_EQ(ApiTimestamp("1.5s", 10000), "9998");
  EXPECT_EQ(ApiTimestamp("1700000000", 0), "1700000000");
  EXPECT_EQ(ApiTimestamp("1700000000.123", 0), "1700000000.123");
  EXPECT_EQ(ApiTimestamp("0", 5), "0");
  EXPECT_EQ(ApiTimestamp("2024-01-02T03:04:05Z", 0), "1704164645.000000000");
  EXPECT_EQ(ApiTimestamp("2024-01-02T03:04:05.5+01:00", 0), "1704161045.500000000");
  EXPECT_EQ(ApiTimestamp("2024-01-02T03:04:05.123456789Z", 0), "1704164645.123456789");
  EXPECT_EQ(ApiTimestamp("2024-01-02", 0), "1704153600.000000000");  // local (UTC here)
  EXPECT_EQ(ApiTimestamp("2024-01-02T03:04", 0), "1704164640.000000000");
  EXPECT_THROW(ApiTimestamp("yesterday", 0), Error);
  EXPECT_THROW(ApiTimestamp("2024-13", 0), Error);
  EXPECT_THROW(ApiTimestamp("12x", 0), Error);
  // The date forms go through base's RFC 3339 parser (ParseRfc3339Fields): what the CLI's own
  // copy took stays, Go's zero time included; what Go refuses, the copy normalised and base
  // refused, is refused now.
  EXPECT_EQ(ApiTimestamp("0001-01-01T00:00:00Z", 0), "-62135596800.000000000");
  EXPECT_EQ(ApiTimestamp("2024-01-02T03:04:05-05:30", 0), "1704184445.000000000");
  EXPECT_EQ(ApiTimestamp("2024-01-02T03", 0), "1704164400.000000000");
  EXPECT_EQ(ApiTimestamp("2024-01-02+01:00", 0), "1704150000.000000000");
  EXPECT_EQ(ApiTimestamp("2024-01-02T03:04:05.1234567891Z", 0), "1704164645.123456789");
  EXPECT_THROW(ApiTimestamp("2024-13-01", 0), Error);
  EXPECT_THROW(ApiTimestamp("2023-02-29", 0), Error);
  EXPECT_THROW(ApiTimestamp("2024-01-02T03:04.5", 0), Error);
  EXPECT_FALSE(ParseGoDuration("5"));
  EXPECT_EQ(ParseGoDuration("-2h"), -7200'000'000'000);
  EXPECT_FALSE(ParseGoDuration("99999999999999999999h"));  // overflows, as in Go
}

TEST(EventLine, DockersDefaultLayout) {
  setenv("TZ", "UTC", 1);
  tzset();
  json e = json::parse(R"({"status":"start","id":"abc","Type":"container","Action":"start",
    "Actor":{"ID":"abc","Attributes":{"name":"web","image":"busybox"}},
    "time":1704164645,"timeNano":1704164645000000042})");
  EXPECT_EQ(EventLine(e),
            "2024-01-02T03:04:05.000000042Z container start abc (image=busybox, name=web)");
}

// The row of a document as the CLI reads it off the stream.
json StatsRow(const json& doc, const std::string& container, bool trunc) {
  StatsFigures f;
  EXPECT_TRUE(ParseStatsFigures(doc.dump(), f));
  return berth::cli::StatsRow(f, container, trunc);
}

// The columns docker's formatter computes from one stats document.
TEST(StatsRow, DockerColumns) {
  json s = {
      {"id", "48a3ea124879bef1b2fd4929e283e9cb1e76fdeb8527ff34a0ea4527b203378e"},
      {"name", "/web"},
      {"cpu_stats",
       {{"cpu_usage", {{"total_usage", 600000000}}},
        {"system_cpu_usage", 2000000000},
        {"online_cpus", 2}}},
      {"precpu_stats",
       {{"cpu_usage", {{"total_usage", 100000000}}}, {"system_cpu_usage", 1000000000}}},
      {"memory_stats",
       {{"usage", 3 << 20}, {"limit", 64 << 20}, {"stats", {{"total_inactive_file", 1 << 20}}}}},
      {"networks",
       {{"eth0", {{"rx_bytes", 1500}, {"tx_bytes", 900}}},
        {"eth1", {{"rx_bytes", 500}, {"tx_bytes", 100}}}}},
      {"blkio_stats",
       {{"io_service_bytes_recursive",
         {{{"op", "Read"}, {"value", 4096}},
          {{"op", "Write"}, {"value", 2000000}},
          {{"op", "Total"}, {"value", 2004096}}}}}},
      {"pids_stats", {{"current", 3}}}};
  json row = StatsRow(s, "web", true);
  EXPECT_EQ(row["Container"], "web");
  EXPECT_EQ(row["Name"], "web");
  EXPECT_EQ(row["ID"], "48a3ea124879");
  EXPECT_EQ(row["CPUPerc"], "100.00%");        // 0.5 s of 1 s of host time, times 2 CPUs
  EXPECT_EQ(row["MemUsage"], "2MiB / 64MiB");  // v1: less total_inactive_file
  EXPECT_EQ(row["MemPerc"], "3.12%");
  EXPECT_EQ(row["NetIO"], "2kB / 1kB");
  EXPECT_EQ(row["BlockIO"], "4.1kB / 2MB");
  EXPECT_EQ(row["PIDs"], "3");
  EXPECT_EQ(StatsRow(s, "web", false)["ID"], s["id"]);
}

TEST(StatsRow, ZeroDocumentAndCgroupTwo) {
  json zero = {{"name", "/web"}, {"id", "abc"}};
  json row = StatsRow(zero, "abc", true);
  EXPECT_EQ(row["CPUPerc"], "0.00%");
  EXPECT_EQ(row["MemUsage"], "0B / 0B");
  EXPECT_EQ(row["MemPerc"], "0.00%");
  EXPECT_EQ(row["NetIO"], "0B / 0B");
  EXPECT_EQ(row["PIDs"], "0");
  json v2 = {
      {"memory_stats", {{"usage", 4096}, {"limit", 8192}, {"stats", {{"inactive_file", 2048}}}}}};
  EXPECT_EQ(StatsRow(v2, "x", true)["MemUsage"], "2KiB / 8KiB");
}

TEST(StatsRow, FiguresFromWhereDockerPutsThemOnly) {
  json s = {
      {"id", "abc"},
      {"cpu_stats",
       {{"cpu_usage", {{"total_usage", 300}, {"percpu_usage", {1, 2, 3, 4}}}},
        {"system_cpu_usage", 1000}}},
      {"precpu_stats", {{"cpu_usage", {{"total_usage", 100}}}, {"system_cpu_usage", 500}}},
      // The same names elsewhere do not count.
      {"usage", 999},
      {"memory_stats",
       {{"usage", 4096.0},
        {"limit", "8192"},
        {"stats", {{"total_inactive_file", 8192}, {"inactive_file", 1024}}}}},
      {"networks", {{"eth0", {{"rx_bytes", 1}, {"tx_bytes", 2}, {"deeper", {{"rx_bytes", 7}}}}}}},
      {"blkio_stats",
       {{"io_service_bytes_recursive",
         {{{"value", 10}, {"op", "read"}}, {{"op", "WRITE"}, {"value", 5}}, {{"op", 1}}}},
        {"io_serviced_recursive", {{{"op", "Read"}, {"value", 99}}}}}}};
  StatsFigures f;
  f.name = "stale";  // a figure of the previous document
  ASSERT_TRUE(ParseStatsFigures(s.dump(), f));
  EXPECT_EQ(f.id, "abc");
  EXPECT_EQ(f.name, "");
  EXPECT_EQ(f.percpu_count, 4);
  EXPECT_EQ(f.online_cpus, 0);
  EXPECT_EQ(f.mem_usage, 4096);
  EXPECT_EQ(f.mem_limit, 0);  // not a number
  EXPECT_TRUE(f.has_total_inactive_file);
  EXPECT_EQ(f.net_rx, 1);
  EXPECT_EQ(f.net_tx, 2);
  EXPECT_EQ(f.blkio_read, 10);
  EXPECT_EQ(f.blkio_write, 5);
  json row = berth::cli::StatsRow(f, "abc", true);
  EXPECT_EQ(row["CPUPerc"], "160.00%");     // 200 of 500, times the 4 per-CPU counters
  EXPECT_EQ(row["MemUsage"], "3KiB / 0B");  // total_inactive_file too large: inactive_file
  EXPECT_FALSE(ParseStatsFigures("{\"id\":", f));
}

}  // namespace
}  // namespace berth::cli
