#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/fd.h"

namespace berth::runtime {
class Cgroup;
}

// Docker's container stats (GET /containers/{id}/stats, types.StatsJSON): one reading of a
// container's cgroup, of the host's CPU time and of the container's network devices, turned
// into the document the docker CLI and docker-py compute their columns from (CPU % from the
// difference to the previous reading, memory less its inactive file pages, block and network
// I/O, pids).
namespace berth::engine {

struct BlkioEntry {
  uint64_t major = 0, minor = 0;
  std::string op;
  uint64_t value = 0;
};

struct NetDevCounters {
  std::string name;
  uint64_t rx_bytes = 0, rx_packets = 0, rx_errors = 0, rx_dropped = 0;
  uint64_t tx_bytes = 0, tx_packets = 0, tx_errors = 0, tx_dropped = 0;
};

struct StatsSample {
  int64_t read_ns = 0;  // when it was read (wall clock)
  // CPU time in nanoseconds; per CPU only on cgroup v1 (cpuacct.usage_percpu).
  uint64_t cpu_total = 0, cpu_user = 0, cpu_kernel = 0;
  std::vector<uint64_t> percpu;
  uint64_t throttle_periods = 0, throttled_periods = 0, throttled_ns = 0;
  uint64_t system_ns = 0;  // the host's CPU time, /proc/stat's "cpu" line
  uint32_t online_cpus = 0;
  // Memory: v1 has max_usage and failcnt, v2 neither; a limit of 0 is "none".
  bool memory_v2 = false;
  std::optional<uint64_t> mem_usage, mem_max, mem_failcnt;
  uint64_t mem_limit = 0;
  std::vector<std::pair<std::string, uint64_t>> mem_stat;  // memory.stat, in file order
  uint64_t pids_current = 0, pids_limit = 0;               // limit 0: "max"
  std::optional<std::vector<BlkioEntry>> io_bytes, io_ios;
  std::vector<NetDevCounters> networks;  // every device but lo
};

// Reads a running container's figures for a stream of readings. Every file Docker's document
// needs is opened once, when the reader is made, and each reading is one pread() at offset 0
// per file (the kernel formats a cgroup or /proc file afresh for a read at offset 0): no path
// walk, open or close per reading. The init's /proc/<pid>/net/dev is held open too, which
// keeps its network namespace alive while the reader lives: drop the reader when the
// container stops. Held descriptors are rationed (a quarter of RLIMIT_NOFILE's soft limit for
// all readers together, 13 at most per reader): past that, a reader opens its files at each
// reading, so many streams cannot starve the daemon of descriptors.
class StatsReader {
 public:
  StatsReader(const runtime::Cgroup& cgroup, pid_t pid);
  ~StatsReader();
  StatsReader(const StatsReader&) = delete;
  StatsReader& operator=(const StatsReader&) = delete;
  StatsSample Read();
  // Whether the files are held open (else opened at each reading).
  bool held() const { return held_ > 0; }

  // The descriptors all readers may hold together (tests lower it; -1: from RLIMIT_NOFILE).
  static void SetHeldLimitForTest(int limit);

 private:
  // One file: held open, or opened from `path` at each reading ("": the host lacks it).
  struct File {
    UniqueFd fd;
    std::string path;
  };
  File cpu_stat_, cpuacct_percpu_, cpuacct_stat_;
  File mem_usage_, mem_max_, mem_failcnt_, mem_limit_, mem_stat_;
  File pids_current_, pids_max_;
  File io_stat_, io_bytes_, io_ios_;  // v2: io.stat; v1: the two blkio files
  File net_dev_;
  bool cpu_v2_ = false, memory_v2_ = false, io_v2_ = false;
  int held_ = 0;  // descriptors taken from the ration
};

// The stats document as one line of JSON ("\n" ended) appended to `out`, byte for byte what
// nlohmann's dump() of Docker's document gave (but for invalid UTF-8 in a name, on which dump()
// threw: it passes as it is), written without building a DOM. `now`
// null: a container that is not running (Docker's zero document, name and id only). `prev`
// null: the first reading of a stream (precpu_stats zero). `machine_memory` stands for the
// limit of a container without one, as Docker reports it.
void AppendDockerStats(std::string& out, const StatsSample* now, const StatsSample* prev,
                       std::string_view name, std::string_view id, uint64_t machine_memory);

// Parsers of the host's files, for the tests.
// /proc/stat's first line ("cpu user nice system idle iowait irq softirq steal …") in
// nanoseconds: the sum of its first seven fields, as Docker counts it.
uint64_t SystemCpuNanos(std::string_view proc_stat);
// /proc/<pid>/net/dev: every device but lo.
std::vector<NetDevCounters> NetDevStats(std::string_view proc_net_dev);
// cgroup v1 blkio.throttle.io_service_bytes_recursive / io_serviced_recursive lines
// ("8:0 Read 4096"), the op as written.
std::vector<BlkioEntry> BlkioV1Entries(std::string_view text);
// cgroup2 io.stat ("8:0 rbytes=4096 wbytes=0 rios=1 wios=0 …"): the two keys of each device
// as Docker's v2 entries, ops "read" and "write".
std::vector<BlkioEntry> BlkioV2Entries(std::string_view io_stat, std::string_view read_key,
                                       std::string_view write_key);

}  // namespace berth::engine
