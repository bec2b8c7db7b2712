#include "engine/container_stats.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <string>

#include "runtime/cgroups.h"
#include "shim/logfile.h"

namespace berth::engine {

using nlohmann::ordered_json;

namespace {

constexpr const char* kZeroTime = "0001-01-01T00:00:00Z";

// The text of one small file, read with one openat into a buffer of its own.
class Text {
 public:
  // false when `name` cannot be opened under `dir` (the host lacks it).
  bool Read(int dir, const char* name) {
    len_ = 0;
    buf_[0] = '\0';
    int fd = dir >= 0 || dir == AT_FDCWD ? openat(dir, name, O_RDONLY | O_CLOEXEC) : -1;
    if (fd < 0) return false;
    // Pseudo-files hand out their whole text in one read when it fits: a short read is the
    // end (one syscall per file, not two).
    ssize_t n;
    size_t want;
    do {
      want = sizeof(buf_) - 1 - len_;
      n = want > 0 ? read(fd, buf_ + len_, want) : 0;
      if (n > 0) len_ += static_cast<size_t>(n);
    } while (n > 0 && static_cast<size_t>(n) == want);
    close(fd);
    buf_[len_] = '\0';
    return true;
  }
  std::string_view view() const { return {buf_, len_}; }
  // The number the file holds ("max" is 0: no limit).
  std::optional<uint64_t> Number(int dir, const char* name) {
    if (!Read(dir, name)) return std::nullopt;
    return view().rfind("max", 0) == 0 ? 0 : strtoull(buf_, nullptr, 10);
  }

 private:
  char buf_[32768];
  size_t len_ = 0;
};

// Each "key value" line of `text` (memory.stat, cpu.stat, cpuacct.stat).
template <typename Fn>
void ForEachKeyValue(std::string_view text, Fn fn) {
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    size_t space = line.find(' ');
    if (space == std::string_view::npos) continue;
    std::string value(line.substr(space + 1));
    fn(line.substr(0, space), strtoull(value.c_str(), nullptr, 10));
  }
}

// "MAJ:MIN".
bool Device(std::string_view word, uint64_t* major, uint64_t* minor) {
  size_t colon = word.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == word.size()) return false;
  std::string maj(word.substr(0, colon)), min(word.substr(colon + 1));
  char* end = nullptr;
  *major = strtoull(maj.c_str(), &end, 10);
  if (*end) return false;
  *minor = strtoull(min.c_str(), &end, 10);
  return *end == '\0';
}

// The words of a line, split on blanks.
std::vector<std::string_view> Words(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) i++;
    size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') i++;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

template <typename Fn>
void ForEachLine(std::string_view text, Fn fn) {
  while (!text.empty()) {
    size_t end = text.find('\n');
    fn(text.substr(0, end));
    if (end == std::string_view::npos) break;
    text = text.substr(end + 1);
  }
}

uint64_t ToU64(std::string_view word) { return strtoull(std::string(word).c_str(), nullptr, 10); }

// The directory of `controller`'s files for the cgroup, opened O_PATH; invalid if none.
UniqueFd OpenControllerDir(const runtime::Cgroup& cg, const char* controller) {
  std::string file = cg.ControllerFile(controller, "x");
  if (file.empty()) return UniqueFd();
  file.resize(file.size() - 2);
  return UniqueFd(open(file.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
}

ordered_json CpuStats(const StatsSample* s) {
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

ordered_json Entries(const std::optional<std::vector<BlkioEntry>>& entries) {
  if (!entries) return nullptr;
  ordered_json out = ordered_json::array();
  for (const BlkioEntry& e : *entries) {
    out.push_back({{"major", e.major}, {"minor", e.minor}, {"op", e.op}, {"value", e.value}});
  }
  return out;
}

// The host's CPU time, read at most once per 10 ms for every reader: streams wake together
// on whole seconds (ContainerService::Stats), so one read of /proc/stat, which the kernel
// builds by summing every interrupt's counters, serves all of them, as Docker's collector
// reads it once per round.
uint64_t SystemCpuNow(Text& t) {
  static std::mutex mu;
  static int64_t read_at = 0;
  static uint64_t value = 0;
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  int64_t now = static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
  std::lock_guard<std::mutex> lock(mu);
  if (read_at == 0 || now - read_at > 10000000) {
    value = t.Read(AT_FDCWD, "/proc/stat") ? SystemCpuNanos(t.view()) : 0;
    read_at = now;
  }
  return value;
}

}  // namespace

uint64_t SystemCpuNanos(std::string_view proc_stat) {
  std::vector<std::string_view> w = Words(proc_stat.substr(0, proc_stat.find('\n')));
  if (w.empty() || w[0] != "cpu") return 0;
  uint64_t ticks = 0;
  for (size_t i = 1; i < w.size() && i <= 7; i++) ticks += ToU64(w[i]);
  static const long hz = sysconf(_SC_CLK_TCK) > 0 ? sysconf(_SC_CLK_TCK) : 100;
  return ticks * (1000000000ULL / static_cast<uint64_t>(hz));
}

std::vector<NetDevCounters> NetDevStats(std::string_view proc_net_dev) {
  std::vector<NetDevCounters> out;
  ForEachLine(proc_net_dev, [&](std::string_view line) {
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return;  // the two header lines
    std::vector<std::string_view> name = Words(line.substr(0, colon));
    std::vector<std::string_view> v = Words(line.substr(colon + 1));
    if (name.size() != 1 || name[0] == "lo" || v.size() < 16) return;
    NetDevCounters d;
    d.name = std::string(name[0]);
    d.rx_bytes = ToU64(v[0]), d.rx_packets = ToU64(v[1]), d.rx_errors = ToU64(v[2]);
    d.rx_dropped = ToU64(v[3]), d.tx_bytes = ToU64(v[8]), d.tx_packets = ToU64(v[9]);
    d.tx_errors = ToU64(v[10]), d.tx_dropped = ToU64(v[11]);
    out.push_back(std::move(d));
  });
  return out;
}

std::vector<BlkioEntry> BlkioV1Entries(std::string_view text) {
  std::vector<BlkioEntry> out;
  ForEachLine(text, [&](std::string_view line) {
    std::vector<std::string_view> w = Words(line);
    BlkioEntry e;
    if (w.size() == 3 && Device(w[0], &e.major, &e.minor)) {
      e.op = std::string(w[1]);
      e.value = ToU64(w[2]);
      out.push_back(std::move(e));
    }
  });
  return out;
}

std::vector<BlkioEntry> BlkioV2Entries(std::string_view io_stat, std::string_view read_key,
                                       std::string_view write_key) {
  std::vector<BlkioEntry> out;
  ForEachLine(io_stat, [&](std::string_view line) {
    std::vector<std::string_view> w = Words(line);
    uint64_t major, minor;
    if (w.empty() || !Device(w[0], &major, &minor)) return;
    uint64_t r = 0, wr = 0;
    for (size_t i = 1; i < w.size(); i++) {
      size_t eq = w[i].find('=');
      if (eq == std::string_view::npos) continue;
      if (w[i].substr(0, eq) == read_key) r = ToU64(w[i].substr(eq + 1));
      if (w[i].substr(0, eq) == write_key) wr = ToU64(w[i].substr(eq + 1));
    }
    out.push_back({major, minor, "read", r});
    out.push_back({major, minor, "write", wr});
  });
  return out;
}

StatsReader::StatsReader(const runtime::Cgroup& cg, pid_t pid) : pid_(pid) {
  cpu_v2_ = cg.ControllerOnV2("cpu");
  memory_v2_ = cg.ControllerOnV2("memory");
  io_v2_ = cg.ControllerOnV2("io");
  cpu_ = OpenControllerDir(cg, "cpu");
  if (!cpu_v2_) cpuacct_ = OpenControllerDir(cg, "cpuacct");
  memory_ = OpenControllerDir(cg, "memory");
  pids_ = OpenControllerDir(cg, "pids");
  io_ = OpenControllerDir(cg, io_v2_ ? "io" : "blkio");
}

StatsSample StatsReader::Read() const {
  StatsSample s;
  Text t;
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  s.read_ns = static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;

  auto cpu_stat = [&](bool v2) {
    if (!t.Read(cpu_.get(), "cpu.stat")) return;
    uint64_t unit = v2 ? 1000 : 1;  // v2 counts microseconds
    ForEachKeyValue(t.view(), [&](std::string_view k, uint64_t v) {
      if (k == "nr_periods") s.throttle_periods = v;
      if (k == "nr_throttled") s.throttled_periods = v;
      if (k == "throttled_time" || k == "throttled_usec") s.throttled_ns = v * unit;
      if (v2 && k == "usage_usec") s.cpu_total = v * unit;
      if (v2 && k == "user_usec") s.cpu_user = v * unit;
      if (v2 && k == "system_usec") s.cpu_kernel = v * unit;
    });
  };
  cpu_stat(cpu_v2_);
  if (!cpu_v2_) {
    // cpuacct.usage is the sum of the per-CPU counters: one file gives both.
    if (t.Read(cpuacct_.get(), "cpuacct.usage_percpu")) {
      for (std::string_view w : Words(t.view())) {
        if (w == "\n") continue;
        s.percpu.push_back(ToU64(w));
        s.cpu_total += s.percpu.back();
      }
    }
    if (t.Read(cpuacct_.get(), "cpuacct.stat")) {
      static const uint64_t tick = 1000000000ULL / static_cast<uint64_t>(sysconf(_SC_CLK_TCK));
      ForEachKeyValue(t.view(), [&](std::string_view k, uint64_t v) {
        if (k == "user") s.cpu_user = v * tick;
        if (k == "system") s.cpu_kernel = v * tick;
      });
    }
  }

  s.memory_v2 = memory_v2_;
  int mem = memory_.get();
  if (memory_v2_) {
    s.mem_usage = t.Number(mem, "memory.current");
    s.mem_limit = t.Number(mem, "memory.max").value_or(0);
  } else {
    s.mem_usage = t.Number(mem, "memory.usage_in_bytes");
    s.mem_max = t.Number(mem, "memory.max_usage_in_bytes");
    s.mem_failcnt = t.Number(mem, "memory.failcnt");
    s.mem_limit = t.Number(mem, "memory.limit_in_bytes").value_or(0);
  }
  if (t.Read(mem, "memory.stat")) {
    ForEachKeyValue(t.view(), [&](std::string_view k, uint64_t v) {
      s.mem_stat.emplace_back(std::string(k), v);
    });
  }
  s.pids_current = t.Number(pids_.get(), "pids.current").value_or(0);
  s.pids_limit = t.Number(pids_.get(), "pids.max").value_or(0);

  if (io_v2_) {
    if (t.Read(io_.get(), "io.stat")) {
      s.io_bytes = BlkioV2Entries(t.view(), "rbytes", "wbytes");
      s.io_ios = BlkioV2Entries(t.view(), "rios", "wios");
    }
  } else {
    if (t.Read(io_.get(), "blkio.throttle.io_service_bytes_recursive")) {
      s.io_bytes = BlkioV1Entries(t.view());
    }
    if (t.Read(io_.get(), "blkio.throttle.io_serviced_recursive")) {
      s.io_ios = BlkioV1Entries(t.view());
    }
  }

  s.system_ns = SystemCpuNow(t);
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  s.online_cpus = cpus > 0 ? static_cast<uint32_t>(cpus) : 0;
  if (pid_ > 0 && t.Read(AT_FDCWD, ("/proc/" + std::to_string(pid_) + "/net/dev").c_str())) {
    s.networks = NetDevStats(t.view());
  }
  return s;
}

ordered_json DockerStats(const StatsSample* now, const StatsSample* prev, const std::string& name,
                         const std::string& id, uint64_t machine_memory) {
  ordered_json out;
  out["read"] = now ? shim::FormatJsonTime(now->read_ns) : kZeroTime;
  out["preread"] = prev ? shim::FormatJsonTime(prev->read_ns) : kZeroTime;
  ordered_json pids = ordered_json::object();
  if (now && now->pids_current) pids["current"] = now->pids_current;
  if (now && now->pids_limit) pids["limit"] = now->pids_limit;
  out["pids_stats"] = pids;
  ordered_json blkio;
  blkio["io_service_bytes_recursive"] = now ? Entries(now->io_bytes) : nullptr;
  blkio["io_serviced_recursive"] = now ? Entries(now->io_ios) : nullptr;
  for (const char* key :
       {"io_queue_recursive", "io_service_time_recursive", "io_wait_time_recursive",
        "io_merged_recursive", "io_time_recursive", "sectors_recursive"}) {
    blkio[key] = nullptr;
  }
  out["blkio_stats"] = blkio;
  out["num_procs"] = 0;
  out["storage_stats"] = ordered_json::object();
  out["cpu_stats"] = CpuStats(now);
  out["precpu_stats"] = CpuStats(prev);
  ordered_json memory = ordered_json::object();
  if (now) {
    if (now->mem_usage.value_or(0)) memory["usage"] = *now->mem_usage;
    if (now->mem_max.value_or(0)) memory["max_usage"] = *now->mem_max;
    if (!now->mem_stat.empty()) {
      auto sorted = now->mem_stat;  // Go writes a map's keys sorted
      std::sort(sorted.begin(), sorted.end());
      ordered_json stats = ordered_json::object();
      for (const auto& kv : sorted) stats[kv.first] = kv.second;
      memory["stats"] = stats;
    }
    if (now->mem_failcnt.value_or(0)) memory["failcnt"] = *now->mem_failcnt;
    // No limit (v2 "max", v1's page-counter maximum): the host's memory, as Docker reports.
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

}  // namespace berth::engine
