#include "engine/container_stats.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>

#include <nlohmann/json.hpp>

#include "runtime/cgroups.h"
#include "shim/logfile.h"
#include "temp_dir_test.h"

namespace berth::engine {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

// Docker's document built as a DOM with nlohmann, as berthd did before it wrote the text
// itself: the writer must give these bytes exactly (the docker CLI and docker-py read them).
ordered_json ReferenceCpuStats(const StatsSample* s) {
  ordered_json usage;
  usage["total_usage"] = s ? s->cpu_total : 0;
  if (s && !s->percpu.empty()) usage["percpu_usage"] = s->percpu;
  usage["usage_in_kernelmode"] = s ? s->cpu_kernel : 0;
  usage["usage_in_usermode"] = s ? s->cpu_user : 0;
  ordered_json out;
  out["cpu_usage"] = usage;
  if (s && s->system_ns) out["system_cpu_usage"] = s->system_ns;
  if (s && s->online_cpus) out["online_cpus"] = s->online_cpus;
  out["throttling_data"] = {{"periods", s ? s->throttle_periods : 0},
                            {"throttled_periods", s ? s->throttled_periods : 0},
                            {"throttled_time", s ? s->throttled_ns : 0}};
  return out;
}

ordered_json ReferenceEntries(const std::optional<std::vector<BlkioEntry>>& entries) {
  if (!entries) return nullptr;
  ordered_json out = ordered_json::array();
  for (const BlkioEntry& e : *entries) {
    out.push_back({{"major", e.major}, {"minor", e.minor}, {"op", e.op}, {"value", e.value}});
  }
  return out;
}

ordered_json ReferenceDocument(const StatsSample* now, const StatsSample* prev,
                               const std::string& name, const std::string& id,
                               uint64_t machine_memory) {
  constexpr const char* kZeroTime = "0001-01-01T00:00:00Z";
  ordered_json out;
  out["read"] = now ? shim::FormatJsonTime(now->read_ns) : kZeroTime;
  out["preread"] = prev ? shim::FormatJsonTime(prev->read_ns) : kZeroTime;
  ordered_json pids = ordered_json::object();
  if (now && now->pids_current) pids["current"] = now->pids_current;
  if (now && now->pids_limit) pids["limit"] = now->pids_limit;
  out["pids_stats"] = pids;
  ordered_json blkio;
  blkio["io_service_bytes_recursive"] = now ? ReferenceEntries(now->io_bytes) : nullptr;
  blkio["io_serviced_recursive"] = now ? ReferenceEntries(now->io_ios) : nullptr;
  for (const char* key :
       {"io_queue_recursive", "io_service_time_recursive", "io_wait_time_recursive",
        "io_merged_recursive", "io_time_recursive", "sectors_recursive"}) {
    blkio[key] = nullptr;
  }
  out["blkio_stats"] = blkio;
  out["num_procs"] = 0;
  out["storage_stats"] = ordered_json::object();
  out["cpu_stats"] = ReferenceCpuStats(now);
  out["precpu_stats"] = ReferenceCpuStats(prev);
  ordered_json memory = ordered_json::object();
  if (now) {
    if (now->mem_usage.value_or(0)) memory["usage"] = *now->mem_usage;
    if (now->mem_max.value_or(0)) memory["max_usage"] = *now->mem_max;
    if (!now->mem_stat.empty()) {
      auto sorted = now->mem_stat;
      std::sort(sorted.begin(), sorted.end());
      ordered_json stats = ordered_json::object();
      for (const auto& kv : sorted) stats[kv.first] = kv.second;
      memory["stats"] = stats;
    }
    if (now->mem_failcnt.value_or(0)) memory["failcnt"] = *now->mem_failcnt;
    uint64_t limit = now->mem_limit;
    if (machine_memory && (limit == 0 || limit > machine_memory)) limit = machine_memory;
    if (limit) memory["limit"] = limit;
  }
  out["memory_stats"] = memory;
  out["name"] = "/" + name;
  out["id"] = id;
  if (now && !now->networks.empty()) {
    ordered_json nets = ordered_json::object();
    for (const NetDevCounters& d : now->networks) {
      nets[d.name] = {{"rx_bytes", d.rx_bytes},   {"rx_packets", d.rx_packets},
                      {"rx_errors", d.rx_errors}, {"rx_dropped", d.rx_dropped},
                      {"tx_bytes", d.tx_bytes},   {"tx_packets", d.tx_packets},
                      {"tx_errors", d.tx_errors}, {"tx_dropped", d.tx_dropped}};
    }
    out["networks"] = nets;
  }
  return out;
}

// The writer's line, checked byte for byte against the reference and parsed.
ordered_json DockerStats(const StatsSample* now, const StatsSample* prev, const std::string& name,
                         const std::string& id, uint64_t machine_memory) {
  std::string line = "kept:";  // appends, leaving what was there
  AppendDockerStats(line, now, prev, name, id, machine_memory);
  EXPECT_EQ(line.substr(0, 5), "kept:");
  line.erase(0, 5);
  EXPECT_EQ(line, ReferenceDocument(now, prev, name, id, machine_memory).dump() + "\n");
  return ordered_json::parse(line);
}

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

TEST(ContainerStats, WriterMatchesTheDomWithEveryPartFilled) {
  StatsSample prev = Sample(100, 1000, false);
  StatsSample now = Sample(300, 2000, false);
  now.percpu = {100, 200};
  now.throttled_periods = 4;
  now.throttled_ns = 5000;
  now.mem_failcnt = 3;
  now.mem_limit = 1ULL << 62;  // v1's "no limit": the host's memory
  now.mem_stat = {
      {"total_inactive_file", 9}, {"cache", 1}, {"cache", 2}, {"a", 18446744073709551615ULL}};
  now.pids_limit = 100;
  now.io_bytes = BlkioV1Entries("8:0 Read 4096\n8:0 Write 512\n8:0 Total 4608\n");
  now.io_ios = std::vector<BlkioEntry>{};
  now.networks = NetDevStats(
      "  eth0: 1 2 3 4 0 0 0 0 5 6 7 8 0 0 0 0\n  eth1: 10 0 0 0 0 0 0 0 20 0 0 0 0 0 0 0\n");
  auto doc = DockerStats(&now, &prev, "we\"b\\\n\x01", "abc", 1 << 30);
  EXPECT_EQ(doc["networks"]["eth1"]["tx_bytes"], 20);
  EXPECT_EQ(doc["blkio_stats"]["io_service_bytes_recursive"][1]["op"], "Write");
  EXPECT_TRUE(doc["blkio_stats"]["io_serviced_recursive"].empty());
  EXPECT_EQ(doc["memory_stats"]["stats"]["cache"], 2);
  EXPECT_EQ(doc["name"], "/we\"b\\\n\x01");
  // A v2 reading with io.stat's entries and no networks.
  StatsSample v2 = Sample(0, 0, true);
  v2.io_bytes = BlkioV2Entries("259:0 rbytes=8192 wbytes=1024 rios=2 wios=1\n", "rbytes", "wbytes");
  v2.online_cpus = 0;
  v2.mem_stat.clear();
  DockerStats(&v2, &now, "web", "abc", 0);
}

// The reader on fixture cgroup trees: a v1 hierarchy per controller, or one cgroup2 tree.
class StatsReaderTest : public berth::testing::TempDirTest {
 protected:
  void Write(const std::string& rel, const std::string& text) {
    std::filesystem::path p = std::filesystem::path(dir_) / rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p) << text;
  }
};

TEST_F(StatsReaderTest, CgroupOneFilesReadAgainOnEachReading) {
  runtime::CgroupLayout layout;
  for (const char* c : {"cpu,cpuacct", "memory", "pids", "blkio"}) {
    layout.v1.push_back({dir_ + "/" + c, std::string("rw,") + c});
  }
  Write("cpu,cpuacct/c1/cpu.stat", "nr_periods 3\nnr_throttled 1\nthrottled_time 7\n");
  Write("cpu,cpuacct/c1/cpuacct.usage_percpu", "100 200 \n");
  Write("cpu,cpuacct/c1/cpuacct.stat", "user 1\nsystem 2\n");
  Write("memory/c1/memory.usage_in_bytes", "4096\n");
  Write("memory/c1/memory.max_usage_in_bytes", "8192\n");
  Write("memory/c1/memory.failcnt", "0\n");
  Write("memory/c1/memory.limit_in_bytes", "9223372036854771712\n");
  Write("memory/c1/memory.stat", "cache 10\ntotal_inactive_file 5\n");
  Write("pids/c1/pids.current", "2\n");
  Write("pids/c1/pids.max", "max\n");
  Write("blkio/c1/blkio.throttle.io_service_bytes_recursive", "8:0 Read 4096\nTotal 4096\n");
  // blkio.throttle.io_serviced_recursive is missing: left out, as before.
  StatsReader reader(runtime::Cgroup(layout, "/c1"), 0);
  StatsSample s = reader.Read();
  uint64_t tick = 1000000000ULL / static_cast<uint64_t>(sysconf(_SC_CLK_TCK));
  EXPECT_EQ(s.cpu_total, 300u);
  EXPECT_EQ(s.percpu, std::vector<uint64_t>({100, 200}));
  EXPECT_EQ(s.cpu_user, tick);
  EXPECT_EQ(s.cpu_kernel, 2 * tick);
  EXPECT_EQ(s.throttle_periods, 3u);
  EXPECT_EQ(s.throttled_ns, 7u);
  EXPECT_EQ(s.mem_usage, 4096u);
  EXPECT_EQ(s.mem_max, 8192u);
  EXPECT_EQ(s.mem_failcnt, 0u);
  EXPECT_EQ(s.mem_limit, 9223372036854771712ULL);
  ASSERT_EQ(s.mem_stat.size(), 2u);
  EXPECT_EQ(s.mem_stat[1], (std::pair<std::string, uint64_t>("total_inactive_file", 5)));
  EXPECT_EQ(s.pids_current, 2u);
  EXPECT_EQ(s.pids_limit, 0u);
  ASSERT_TRUE(s.io_bytes);
  EXPECT_EQ(s.io_bytes->size(), 1u);
  EXPECT_FALSE(s.io_ios);
  EXPECT_GT(s.system_ns, 0u);
  EXPECT_GT(s.online_cpus, 0u);
  EXPECT_TRUE(s.networks.empty());

  // The files stay open: a later reading sees what they hold then, longer or shorter.
  Write("memory/c1/memory.usage_in_bytes", "123456789\n");
  Write("cpu,cpuacct/c1/cpuacct.usage_percpu", "5 6 7 8\n");
  StatsSample later = reader.Read();
  EXPECT_EQ(later.mem_usage, 123456789u);
  EXPECT_EQ(later.cpu_total, 26u);
  EXPECT_EQ(later.percpu.size(), 4u);
}

TEST_F(StatsReaderTest, PastTheRationFilesAreOpenedAtEachReading) {
  runtime::CgroupLayout layout;
  layout.v2_mount = dir_;
  layout.v2_controllers = {"cpu", "memory", "pids", "io"};
  Write("c1/memory.current", "4096\n");
  Write("c1/pids.current", "1\n");
  runtime::Cgroup cg(layout, "/c1");
  StatsReader::SetHeldLimitForTest(7);  // v2 without a pid: 7 files
  {
    std::optional<StatsReader> first(std::in_place, cg, 0);
    EXPECT_TRUE(first->held());
    StatsReader second(cg, 0);  // the ration is spent
    EXPECT_FALSE(second.held());
    EXPECT_EQ(second.Read().mem_usage, 4096u);
    Write("c1/pids.max", "50\n");  // opened at each reading: seen once it is there
    EXPECT_EQ(second.Read().pids_limit, 50u);
    EXPECT_EQ(first->Read().pids_limit, 0u);  // held: missing when it was made
    first.reset();
    EXPECT_TRUE(StatsReader(cg, 0).held());  // given back
  }
  StatsReader::SetHeldLimitForTest(-1);
}

TEST_F(StatsReaderTest, CgroupTwoFilesInOneDirectory) {
  runtime::CgroupLayout layout;
  layout.v2_mount = dir_;
  layout.v2_controllers = {"cpu", "memory", "pids", "io"};
  Write("c1/cpu.stat",
        "usage_usec 30\nuser_usec 20\nsystem_usec 10\nnr_periods 0\nnr_throttled 0\n"
        "throttled_usec 4\n");
  Write("c1/memory.current", "4096\n");
  Write("c1/memory.max", "max\n");
  Write("c1/memory.stat", "anon 1\ninactive_file 2\n");
  Write("c1/pids.current", "1\n");
  Write("c1/pids.max", "50\n");
  Write("c1/io.stat", "259:0 rbytes=8192 wbytes=1024 rios=2 wios=1 dbytes=0 dios=0\n");
  StatsReader reader(runtime::Cgroup(layout, "/c1"), 0);
  StatsSample s = reader.Read();
  EXPECT_TRUE(s.memory_v2);
  EXPECT_EQ(s.cpu_total, 30000u);
  EXPECT_EQ(s.cpu_user, 20000u);
  EXPECT_EQ(s.cpu_kernel, 10000u);
  EXPECT_EQ(s.throttled_ns, 4000u);
  EXPECT_TRUE(s.percpu.empty());
  EXPECT_EQ(s.mem_usage, 4096u);
  EXPECT_FALSE(s.mem_max);
  EXPECT_EQ(s.mem_limit, 0u);
  EXPECT_EQ(s.pids_limit, 50u);
  ASSERT_TRUE(s.io_bytes && s.io_ios);
  EXPECT_EQ((*s.io_bytes)[0].value, 8192u);
  EXPECT_EQ((*s.io_ios)[1].value, 1u);
}

TEST_F(StatsReaderTest, NetworkDevicesOfTheInit) {
  runtime::CgroupLayout layout;
  layout.v2_mount = dir_;
  StatsReader reader(runtime::Cgroup(layout, "/c1"), getpid());  // this process's namespace
  StatsSample s = reader.Read();
  for (const NetDevCounters& d : s.networks) EXPECT_NE(d.name, "lo");
  EXPECT_FALSE(s.mem_usage);  // no files: nothing read
}

}  // namespace
}  // namespace berth::engine
