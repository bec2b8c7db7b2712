#include "engine/container_stats.h"

#include <gtest/gtest.h>
#include <unistd.h>

namespace berth::engine {
namespace {

using nlohmann::json;

TEST(ContainerStats, SystemCpuIsTheFirstSevenFieldsInNanoseconds) {
  const char* stat =
      "cpu  100 20 30 4000 5 6 7 8 0 0\n"
      "cpu0 50 10 15 2000 2 3 3 4 0 0\n";
  uint64_t per_tick = 1000000000ULL / static_cast<uint64_t>(sysconf(_SC_CLK_TCK));
  EXPECT_EQ(SystemCpuNanos(stat), (100 + 20 + 30 + 4000 + 5 + 6 + 7) * per_tick);
  EXPECT_EQ(SystemCpuNanos("intr 5\n"), 0u);
  EXPECT_EQ(SystemCpuNanos(""), 0u);
}

TEST(ContainerStats, NetDevSkipsLoopbackAndHeaders) {
  const char* dev =
      "Inter-|   Receive                                                |  Transmit\n"
      " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs "
      "drop fifo colls carrier compressed\n"
      "    lo:     140       2    0    0    0     0          0         0      140       2    0 "
      "   0    0     0       0          0\n"
      "  eth0:    1500      10    1    2    0     0          0         0      900       7    3 "
      "   4    0     0       0          0\n"
      "  bad: 1 2 3\n";
  std::vector<NetDevCounters> out = NetDevStats(dev);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].name, "eth0");
  EXPECT_EQ(std::vector<uint64_t>({out[0].rx_bytes, out[0].rx_packets, out[0].rx_errors,
                                   out[0].rx_dropped, out[0].tx_bytes, out[0].tx_packets,
                                   out[0].tx_errors, out[0].tx_dropped}),
            std::vector<uint64_t>({1500, 10, 1, 2, 900, 7, 3, 4}));
}

TEST(ContainerStats, BlkioEntriesFromV1AndV2Files) {
  auto v1 = BlkioV1Entries("8:0 Read 4096\n8:0 Write 512\n8:0 Total 4608\nTotal 4608\n");
  ASSERT_EQ(v1.size(), 3u);
  EXPECT_EQ(v1[0].major, 8u);
  EXPECT_EQ(v1[0].minor, 0u);
  EXPECT_EQ(v1[0].op, "Read");
  EXPECT_EQ(v1[0].value, 4096u);
  EXPECT_EQ(v1[2].op, "Total");

  const char* io = "259:0 rbytes=8192 wbytes=1024 rios=2 wios=1 dbytes=0 dios=0\n";
  auto bytes = BlkioV2Entries(io, "rbytes", "wbytes");
  ASSERT_EQ(bytes.size(), 2u);
  EXPECT_EQ(bytes[0].major, 259u);
  EXPECT_EQ(bytes[0].op, "read");
  EXPECT_EQ(bytes[0].value, 8192u);
  EXPECT_EQ(bytes[1].op, "write");
  EXPECT_EQ(bytes[1].value, 1024u);
  EXPECT_EQ(BlkioV2Entries(io, "rios", "wios")[0].value, 2u);
  EXPECT_TRUE(BlkioV2Entries("garbage\n", "rbytes", "wbytes").empty());
}

StatsSample Sample(uint64_t total, uint64_t system, bool v2) {
  StatsSample s;
  s.read_ns = 1700000000LL * 1000000000LL + static_cast<int64_t>(total);
  s.memory_v2 = v2;
  s.cpu_total = total;
  s.percpu = {total};
  s.cpu_user = 7;
  s.cpu_kernel = 3;
  s.throttle_periods = 1;
  s.mem_usage = 4096;
  if (!v2) s.mem_max = 8192;
  s.mem_stat = {{"rss", 5}, {"inactive_file", 1024}};
  s.pids_current = 2;
  s.system_ns = system;
  s.online_cpus = 2;
  return s;
}

TEST(ContainerStats, DockerDocumentFromTwoReadings) {
  StatsSample prev = Sample(100, 1000, false);
  StatsSample now = Sample(300, 2000, false);
  auto doc = DockerStats(&now, &prev, "web", "abc", 1 << 30);
  EXPECT_EQ(doc["name"], "/web");
  EXPECT_EQ(doc["id"], "abc");
  EXPECT_EQ(doc["cpu_stats"]["cpu_usage"]["total_usage"], 300);
  EXPECT_EQ(doc["cpu_stats"]["cpu_usage"]["usage_in_kernelmode"], 3);
  EXPECT_EQ(doc["cpu_stats"]["system_cpu_usage"], 2000);
  EXPECT_EQ(doc["cpu_stats"]["online_cpus"], 2);
  EXPECT_EQ(doc["cpu_stats"]["throttling_data"]["periods"], 1);
  EXPECT_EQ(doc["precpu_stats"]["cpu_usage"]["total_usage"], 100);
  EXPECT_NE(doc["read"], doc["preread"]);
  EXPECT_EQ(doc["pids_stats"].dump(), R"({"current":2})");  // limit "max" left out
  EXPECT_EQ(doc["memory_stats"]["usage"], 4096);
  EXPECT_EQ(doc["memory_stats"]["max_usage"], 8192);
  EXPECT_EQ(doc["memory_stats"]["limit"], 1 << 30);  // unlimited: the host's memory
  EXPECT_EQ(doc["memory_stats"]["stats"].dump(), R"({"inactive_file":1024,"rss":5})");  // sorted
  EXPECT_FALSE(doc.contains("networks"));
  EXPECT_TRUE(doc["blkio_stats"]["io_service_bytes_recursive"].is_null());
  EXPECT_EQ(doc["num_procs"], 0);
}

TEST(ContainerStats, CgroupTwoHasNoMaxUsageAndALimitUnderTheHostStays) {
  StatsSample now = Sample(300, 2000, true);
  now.mem_limit = 64 << 20;
  now.percpu.clear();
  auto doc = DockerStats(&now, nullptr, "web", "abc", 1 << 30);
  EXPECT_FALSE(doc["memory_stats"].contains("max_usage"));
  EXPECT_EQ(doc["memory_stats"]["limit"], 64 << 20);
  EXPECT_EQ(doc["preread"], "0001-01-01T00:00:00Z");
  EXPECT_EQ(doc["precpu_stats"]["cpu_usage"]["total_usage"], 0);
  EXPECT_FALSE(doc["precpu_stats"].contains("system_cpu_usage"));
  EXPECT_FALSE(doc["cpu_stats"]["cpu_usage"].contains("percpu_usage"));
}

TEST(ContainerStats, ZeroDocumentForAContainerThatIsNotRunning) {
  auto doc = DockerStats(nullptr, nullptr, "web", "abc", 1 << 30);
  EXPECT_EQ(doc["read"], "0001-01-01T00:00:00Z");
  EXPECT_TRUE(doc["memory_stats"].empty());
  EXPECT_TRUE(doc["pids_stats"].empty());
  EXPECT_EQ(doc["cpu_stats"]["cpu_usage"]["total_usage"], 0);
  EXPECT_EQ(doc["name"], "/web");
}

}  // namespace
}  // namespace berth::engine
