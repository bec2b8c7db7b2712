#include "engine/container_stats.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <tuple>
#include <utility>

#include "runtime/cgroups.h"
#include "shim/logfile.h"

namespace berth::engine {

namespace {

constexpr const char* kZeroTime = "0001-01-01T00:00:00Z";

// The text of one small file, read afresh with pread() at offset 0 into a buffer of its own.
class Text {
 public:
  // false when the file is not there (the host lacks it) or cannot be read (the cgroup went).
  bool Read(int fd) {
    len_ = 0;
    buf_[0] = '\0';
    if (fd < 0) return false;
    // Pseudo-files hand out their whole text in one read when it fits: a short read is the
    // end (one syscall per file).
    ssize_t n;
    size_t want;
    do {
      want = sizeof(buf_) - 1 - len_;
      n = want > 0 ? pread(fd, buf_ + len_, want, static_cast<off_t>(len_)) : 0;
      if (n > 0) len_ += static_cast<size_t>(n);
    } while (n > 0 && static_cast<size_t>(n) == want);
    buf_[len_] = '\0';
    return n >= 0;
  }
  // A file held open, or else opened for this reading from its path.
  template <typename File>
  bool Read(const File& f) {
    if (f.fd.get() >= 0 || f.path.empty()) return Read(f.fd.get());
    UniqueFd fd(open(f.path.c_str(), O_RDONLY | O_CLOEXEC));
    return Read(fd.get());
  }
  std::string_view view() const { return {buf_, len_}; }
  // The number the file holds ("max" is 0: no limit).
  template <typename File>
  std::optional<uint64_t> Number(const File& f) {
    if (!Read(f)) return std::nullopt;
    return view().rfind("max", 0) == 0 ? 0 : strtoull(buf_, nullptr, 10);
  }

 private:
  char buf_[32768];
  size_t len_ = 0;
};

// The ration of descriptors every StatsReader together may hold open.
std::atomic<int> held_fds{0};
std::atomic<int> held_limit{-1};  // -1: a quarter of RLIMIT_NOFILE's soft limit

int HeldLimit() {
  int limit = held_limit.load();
  if (limit >= 0) return limit;
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 1 << 16;
  return static_cast<int>(std::min<rlim_t>(rl.rlim_cur / 4, 1 << 20));
}

// The decimal a word starts with, as strtoull reads it (0 when none), without a copy.
uint64_t ToU64(std::string_view word) {
  uint64_t v = 0;
  for (char c : word) {
    if (c < '0' || c > '9') break;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

// Each "key value" line of `text` (memory.stat, cpu.stat, cpuacct.stat).
template <typename Fn>
void ForEachKeyValue(std::string_view text, Fn fn) {
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    size_t space = line.find(' ');
    if (space == std::string_view::npos) continue;
    fn(line.substr(0, space), ToU64(line.substr(space + 1)));
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

// The number of CPUs /proc/stat lists ("cpuN" lines: the online ones, which is what
// sysconf(_SC_NPROCESSORS_ONLN) counts, without its open of /sys/devices/system/cpu/online).
uint32_t OnlineCpus(std::string_view proc_stat) {
  uint32_t n = 0;
  ForEachLine(proc_stat, [&](std::string_view line) {
    if (line.size() > 3 && line.compare(0, 3, "cpu") == 0 && line[3] >= '0' && line[3] <= '9') n++;
  });
  return n;
}

// The host's CPU time and online CPUs, read at most once per 10 ms for every reader: streams
// wake together on whole seconds (ContainerService::Stats), so one read of /proc/stat, which
// the kernel builds by summing every interrupt's counters, serves all of them, as Docker's
// collector reads it once per round. /proc/stat stays open for the daemon's life.
std::pair<uint64_t, uint32_t> SystemCpuNow(Text& t) {
  static std::mutex mu;
  static int64_t read_at = 0;
  static uint64_t value = 0;
  static uint32_t cpus = 0;
  static const int fd = open("/proc/stat", O_RDONLY | O_CLOEXEC);
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  int64_t now = static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
  std::lock_guard<std::mutex> lock(mu);
  if (read_at == 0 || now - read_at > 10000000) {
    bool ok = t.Read(fd);
    value = ok ? SystemCpuNanos(t.view()) : 0;
    cpus = ok ? OnlineCpus(t.view()) : 0;
    read_at = now;
  }
  return {value, cpus};
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

void StatsReader::SetHeldLimitForTest(int limit) { held_limit.store(limit); }

StatsReader::StatsReader(const runtime::Cgroup& cg, pid_t pid) {
  cpu_v2_ = cg.ControllerOnV2("cpu");
  memory_v2_ = cg.ControllerOnV2("memory");
  io_v2_ = cg.ControllerOnV2("io");
  auto file = [&](File& f, const char* controller, const char* name) {
    f.path = cg.ControllerFile(controller, name);
  };
  file(cpu_stat_, "cpu", "cpu.stat");
  if (!cpu_v2_) {
    // cpuacct.usage is the sum of the per-CPU counters: one file gives both.
    file(cpuacct_percpu_, "cpuacct", "cpuacct.usage_percpu");
    file(cpuacct_stat_, "cpuacct", "cpuacct.stat");
  }
  if (memory_v2_) {
    file(mem_usage_, "memory", "memory.current");
    file(mem_limit_, "memory", "memory.max");
  } else {
    file(mem_usage_, "memory", "memory.usage_in_bytes");
    file(mem_max_, "memory", "memory.max_usage_in_bytes");
    file(mem_failcnt_, "memory", "memory.failcnt");
    file(mem_limit_, "memory", "memory.limit_in_bytes");
  }
  file(mem_stat_, "memory", "memory.stat");
  file(pids_current_, "pids", "pids.current");
  file(pids_max_, "pids", "pids.max");
  if (io_v2_) {
    file(io_stat_, "io", "io.stat");
  } else {
    file(io_bytes_, "blkio", "blkio.throttle.io_service_bytes_recursive");
    file(io_ios_, "blkio", "blkio.throttle.io_serviced_recursive");
  }
  if (pid > 0) net_dev_.path = "/proc/" + std::to_string(pid) + "/net/dev";

  File* files[] = {&cpu_stat_,    &cpuacct_percpu_, &cpuacct_stat_, &mem_usage_,    &mem_max_,
                   &mem_failcnt_, &mem_limit_,      &mem_stat_,     &pids_current_, &pids_max_,
                   &io_stat_,     &io_bytes_,       &io_ios_,       &net_dev_};
  int want = 0;
  for (File* f : files) want += f->path.empty() ? 0 : 1;
  if (held_fds.fetch_add(want) + want > HeldLimit()) {
    held_fds.fetch_sub(want);
    return;  // opened at each reading
  }
  held_ = want;
  for (File* f : files) {
    if (f->path.empty()) continue;
    f->fd = UniqueFd(open(f->path.c_str(), O_RDONLY | O_CLOEXEC));
    // Missing on this host: not tried again. Out of descriptors: tried at each reading.
    if (f->fd.get() < 0 && errno != EMFILE && errno != ENFILE) f->path.clear();
  }
}

StatsReader::~StatsReader() { held_fds.fetch_sub(held_); }

StatsSample StatsReader::Read() {
  StatsSample s;
  Text t;
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  s.read_ns = static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;

  if (t.Read(cpu_stat_)) {
    uint64_t unit = cpu_v2_ ? 1000 : 1;  // v2 counts microseconds
    ForEachKeyValue(t.view(), [&](std::string_view k, uint64_t v) {
      if (k == "nr_periods") s.throttle_periods = v;
      if (k == "nr_throttled") s.throttled_periods = v;
      if (k == "throttled_time" || k == "throttled_usec") s.throttled_ns = v * unit;
      if (cpu_v2_ && k == "usage_usec") s.cpu_total = v * unit;
      if (cpu_v2_ && k == "user_usec") s.cpu_user = v * unit;
      if (cpu_v2_ && k == "system_usec") s.cpu_kernel = v * unit;
    });
  }
  if (!cpu_v2_) {
    if (t.Read(cpuacct_percpu_)) {
      for (std::string_view w : Words(t.view())) {
        if (w == "\n") continue;
        s.percpu.push_back(ToU64(w));
        s.cpu_total += s.percpu.back();
      }
    }
    if (t.Read(cpuacct_stat_)) {
      static const uint64_t tick = 1000000000ULL / static_cast<uint64_t>(sysconf(_SC_CLK_TCK));
      ForEachKeyValue(t.view(), [&](std::string_view k, uint64_t v) {
        if (k == "user") s.cpu_user = v * tick;
        if (k == "system") s.cpu_kernel = v * tick;
      });
    }
  }

  s.memory_v2 = memory_v2_;
  s.mem_usage = t.Number(mem_usage_);
  if (!memory_v2_) {
    s.mem_max = t.Number(mem_max_);
    s.mem_failcnt = t.Number(mem_failcnt_);
  }
  s.mem_limit = t.Number(mem_limit_).value_or(0);
  if (t.Read(mem_stat_)) {
    ForEachKeyValue(t.view(), [&](std::string_view k, uint64_t v) {
      s.mem_stat.emplace_back(std::string(k), v);
    });
  }
  s.pids_current = t.Number(pids_current_).value_or(0);
  s.pids_limit = t.Number(pids_max_).value_or(0);

  if (io_v2_) {
    if (t.Read(io_stat_)) {
      s.io_bytes = BlkioV2Entries(t.view(), "rbytes", "wbytes");
      s.io_ios = BlkioV2Entries(t.view(), "rios", "wios");
    }
  } else {
    if (t.Read(io_bytes_)) s.io_bytes = BlkioV1Entries(t.view());
    if (t.Read(io_ios_)) s.io_ios = BlkioV1Entries(t.view());
  }

  std::tie(s.system_ns, s.online_cpus) = SystemCpuNow(t);
  if (s.online_cpus == 0) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    s.online_cpus = cpus > 0 ? static_cast<uint32_t>(cpus) : 0;
  }
  if (t.Read(net_dev_)) s.networks = NetDevStats(t.view());
  return s;
}

namespace {

// Writes JSON the way nlohmann's dump() does without indentation: no blanks, numbers in
// decimal, strings escaped as it escapes them (", \ and control characters; UTF-8 as is).
class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}
  JsonWriter& Raw(std::string_view text) {
    out_.append(text);
    return *this;
  }
  // `"key":`, after a comma unless it opens its object (`first`).
  JsonWriter& Key(std::string_view key, bool first = false) {
    if (!first) out_ += ',';
    String(key);
    out_ += ':';
    return *this;
  }
  JsonWriter& Number(uint64_t v) {
    char buf[24];
    char* end = buf + sizeof(buf);
    char* p = end;
    do {
      *--p = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v);
    out_.append(p, static_cast<size_t>(end - p));
    return *this;
  }
  JsonWriter& String(std::string_view s) {
    out_ += '"';
    for (char c : s) {
      switch (c) {
        case '"':
          out_ += "\\\"";
          break;
        case '\\':
          out_ += "\\\\";
          break;
        case '\b':
          out_ += "\\b";
          break;
        case '\f':
          out_ += "\\f";
          break;
        case '\n':
          out_ += "\\n";
          break;
        case '\r':
          out_ += "\\r";
          break;
        case '\t':
          out_ += "\\t";
          break;
        default:
          if (static_cast<unsigned char>(c) < 0x20) {
            char buf[8];
            snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(c));
            out_ += buf;
          } else {
            out_ += c;
          }
      }
    }
    out_ += '"';
    return *this;
  }

 private:
  std::string& out_;
};

void WriteEntries(JsonWriter& w, const std::optional<std::vector<BlkioEntry>>& entries) {
  if (!entries) {
    w.Raw("null");
    return;
  }
  w.Raw("[");
  bool first = true;
  for (const BlkioEntry& e : *entries) {
    w.Raw(first ? "" : ",");
    first = false;
    w.Raw("{").Key("major", true).Number(e.major).Key("minor").Number(e.minor);
    w.Key("op").String(e.op).Key("value").Number(e.value).Raw("}");
  }
  w.Raw("]");
}

void WriteCpuStats(JsonWriter& w, const StatsSample* s) {
  w.Raw("{").Key("cpu_usage", true).Raw("{");
  w.Key("total_usage", true).Number(s ? s->cpu_total : 0);
  if (s && !s->percpu.empty()) {
    w.Key("percpu_usage").Raw("[");
    for (size_t i = 0; i < s->percpu.size(); i++) w.Raw(i ? "," : "").Number(s->percpu[i]);
    w.Raw("]");
  }
  w.Key("usage_in_kernelmode").Number(s ? s->cpu_kernel : 0);
  w.Key("usage_in_usermode").Number(s ? s->cpu_user : 0).Raw("}");
  if (s && s->system_ns) w.Key("system_cpu_usage").Number(s->system_ns);
  if (s && s->online_cpus) w.Key("online_cpus").Number(s->online_cpus);
  w.Key("throttling_data").Raw("{").Key("periods", true).Number(s ? s->throttle_periods : 0);
  w.Key("throttled_periods").Number(s ? s->throttled_periods : 0);
  w.Key("throttled_time").Number(s ? s->throttled_ns : 0).Raw("}}");
}

void WriteMemoryStats(JsonWriter& w, const StatsSample& s, uint64_t machine_memory) {
  bool first = true;
  auto key = [&](std::string_view k) -> JsonWriter& {
    w.Key(k, first);
    first = false;
    return w;
  };
  w.Raw("{");
  if (s.mem_usage.value_or(0)) key("usage").Number(*s.mem_usage);
  if (s.mem_max.value_or(0)) key("max_usage").Number(*s.mem_max);
  if (!s.mem_stat.empty()) {
    // Go writes a map's keys sorted; the first of a repeated key keeps its place and the
    // last value, as assigning into an ordered object does.
    std::vector<const std::pair<std::string, uint64_t>*> sorted;
    sorted.reserve(s.mem_stat.size());
    for (const auto& kv : s.mem_stat) sorted.push_back(&kv);
    std::sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) { return *a < *b; });
    key("stats").Raw("{");
    for (size_t i = 0; i < sorted.size(); i++) {
      if (i + 1 < sorted.size() && sorted[i + 1]->first == sorted[i]->first) continue;
      w.Key(sorted[i]->first, i == 0).Number(sorted[i]->second);
    }
    w.Raw("}");
  }
  if (s.mem_failcnt.value_or(0)) key("failcnt").Number(*s.mem_failcnt);
  // No limit (v2 "max", v1's page-counter maximum): the host's memory, as Docker reports.
  uint64_t limit = s.mem_limit;
  if (machine_memory && (limit == 0 || limit > machine_memory)) limit = machine_memory;
  if (limit) key("limit").Number(limit);
  w.Raw("}");
}

}  // namespace

void AppendDockerStats(std::string& out, const StatsSample* now, const StatsSample* prev,
                       std::string_view name, std::string_view id, uint64_t machine_memory) {
  JsonWriter w(out);
  w.Raw("{").Key("read", true).String(now ? shim::FormatJsonTime(now->read_ns) : kZeroTime);
  w.Key("preread").String(prev ? shim::FormatJsonTime(prev->read_ns) : kZeroTime);
  w.Key("pids_stats").Raw("{");
  bool pids_first = true;
  if (now && now->pids_current) {
    w.Key("current", true).Number(now->pids_current);
    pids_first = false;
  }
  if (now && now->pids_limit) w.Key("limit", pids_first).Number(now->pids_limit);
  w.Raw("}").Key("blkio_stats").Raw("{").Key("io_service_bytes_recursive", true);
  if (now) {
    WriteEntries(w, now->io_bytes);
  } else {
    w.Raw("null");
  }
  w.Key("io_serviced_recursive");
  if (now) {
    WriteEntries(w, now->io_ios);
  } else {
    w.Raw("null");
  }
  w.Raw(
      ",\"io_queue_recursive\":null,\"io_service_time_recursive\":null,"
      "\"io_wait_time_recursive\":null,\"io_merged_recursive\":null,"
      "\"io_time_recursive\":null,\"sectors_recursive\":null}");
  w.Raw(",\"num_procs\":0,\"storage_stats\":{}");
  w.Key("cpu_stats");
  WriteCpuStats(w, now);
  w.Key("precpu_stats");
  WriteCpuStats(w, prev);
  w.Key("memory_stats");
  if (now) {
    WriteMemoryStats(w, *now, machine_memory);
  } else {
    w.Raw("{}");
  }
  w.Key("name").String("/" + std::string(name));
  w.Key("id").String(id);
  if (now && !now->networks.empty()) {
    w.Key("networks").Raw("{");
    bool first = true;
    for (const NetDevCounters& d : now->networks) {
      w.Key(d.name, first).Raw("{").Key("rx_bytes", true).Number(d.rx_bytes);
      first = false;
      w.Key("rx_packets").Number(d.rx_packets).Key("rx_errors").Number(d.rx_errors);
      w.Key("rx_dropped").Number(d.rx_dropped).Key("tx_bytes").Number(d.tx_bytes);
      w.Key("tx_packets").Number(d.tx_packets).Key("tx_errors").Number(d.tx_errors);
      w.Key("tx_dropped").Number(d.tx_dropped).Raw("}");
    }
    w.Raw("}");
  }
  out += "}\n";
}

}  // namespace berth::engine
