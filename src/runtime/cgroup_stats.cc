#include "runtime/cgroup_stats.h"

#include <sstream>
#include <string>

#include "base/file_util.h"

namespace berth::runtime {
namespace {

using nlohmann::json;

constexpr uint64_t kNanosPerTick = 1000000000 / 100;  // cpuacct.stat is in USER_HZ (100)

std::optional<std::string> Read(const Cgroup& cg, const char* controller, const char* file) {
  std::string path = cg.ControllerFile(controller, file);
  return path.empty() ? std::nullopt : ReadFileIfExists(path);
}

// A file holding one number; "max" reads as 0 (unlimited), like runc reports it.
std::optional<uint64_t> Number(const Cgroup& cg, const char* controller, const char* file) {
  auto text = Read(cg, controller, file);
  if (!text) {
    return std::nullopt;
  }
  if (text->rfind("max", 0) == 0) {
    return 0;
  }
  return strtoull(text->c_str(), nullptr, 10);
}

// "key value" lines (memory.stat, cpu.stat, memory.events, memory.oom_control).
std::map<std::string, uint64_t> KeyValues(const Cgroup& cg, const char* controller,
                                          const char* file) {
  std::map<std::string, uint64_t> out;
  auto text = Read(cg, controller, file);
  if (!text) {
    return out;
  }
  std::istringstream in(*text);
  std::string key;
  uint64_t value;
  while (in >> key >> value) {
    out[key] = value;
  }
  return out;
}

void Put(json& j, const char* key, std::optional<uint64_t> v) {
  if (v) {
    j[key] = *v;
  }
}

json Cpu(const Cgroup& cg) {
  json cpu = json::object();
  json usage = json::object();
  json throttling = json::object();
  if (!cg.ControllerOnV2("cpuacct") && !cg.ControllerFile("cpuacct", "cpuacct.usage").empty()) {
    Put(usage, "total", Number(cg, "cpuacct", "cpuacct.usage"));
    if (auto per = Read(cg, "cpuacct", "cpuacct.usage_percpu")) {
      std::istringstream in(*per);
      json list = json::array();
      for (uint64_t v; in >> v;) {
        list.push_back(v);
      }
      usage["percpu"] = list;
    }
    auto stat = KeyValues(cg, "cpuacct", "cpuacct.stat");
    if (stat.count("user")) usage["user"] = stat["user"] * kNanosPerTick;
    if (stat.count("system")) usage["kernel"] = stat["system"] * kNanosPerTick;
    auto t = KeyValues(cg, "cpu", "cpu.stat");
    if (t.count("nr_periods")) throttling["periods"] = t["nr_periods"];
    if (t.count("nr_throttled")) throttling["throttledPeriods"] = t["nr_throttled"];
    if (t.count("throttled_time")) throttling["throttledTime"] = t["throttled_time"];
  } else {
    auto stat = KeyValues(cg, "cpu", "cpu.stat");  // v2: microseconds
    if (stat.count("usage_usec")) usage["total"] = stat["usage_usec"] * 1000;
    if (stat.count("user_usec")) usage["user"] = stat["user_usec"] * 1000;
    if (stat.count("system_usec")) usage["kernel"] = stat["system_usec"] * 1000;
    if (stat.count("nr_periods")) throttling["periods"] = stat["nr_periods"];
    if (stat.count("nr_throttled")) throttling["throttledPeriods"] = stat["nr_throttled"];
    if (stat.count("throttled_usec")) throttling["throttledTime"] = stat["throttled_usec"] * 1000;
  }
  cpu["usage"] = usage;
  cpu["throttling"] = throttling;
  return cpu;
}

json Memory(const Cgroup& cg) {
  json mem = json::object();
  json usage = json::object();
  json swap = json::object();
  json raw = json::object();
  if (!cg.ControllerOnV2("memory")) {
    Put(usage, "usage", Number(cg, "memory", "memory.usage_in_bytes"));
    Put(usage, "max", Number(cg, "memory", "memory.max_usage_in_bytes"));
    Put(usage, "failcnt", Number(cg, "memory", "memory.failcnt"));
    Put(usage, "limit", Number(cg, "memory", "memory.limit_in_bytes"));
    Put(swap, "usage", Number(cg, "memory", "memory.memsw.usage_in_bytes"));
    Put(swap, "max", Number(cg, "memory", "memory.memsw.max_usage_in_bytes"));
    Put(swap, "failcnt", Number(cg, "memory", "memory.memsw.failcnt"));
    Put(swap, "limit", Number(cg, "memory", "memory.memsw.limit_in_bytes"));
  } else {
    Put(usage, "usage", Number(cg, "memory", "memory.current"));
    Put(usage, "max", Number(cg, "memory", "memory.peak"));
    Put(usage, "limit", Number(cg, "memory", "memory.max"));
    auto events = KeyValues(cg, "memory", "memory.events");
    if (events.count("max")) usage["failcnt"] = events["max"];
    Put(swap, "usage", Number(cg, "memory", "memory.swap.current"));
    Put(swap, "limit", Number(cg, "memory", "memory.swap.max"));
  }
  for (const auto& [k, v] : KeyValues(cg, "memory", "memory.stat")) {
    raw[k] = v;
  }
  if (raw.contains("cache")) {
    mem["cache"] = raw["cache"];
  } else if (raw.contains("file")) {
    mem["cache"] = raw["file"];
  }
  mem["usage"] = usage;
  mem["swap"] = swap;
  mem["raw"] = raw;
  return mem;
}

}  // namespace

json ReadCgroupStats(const Cgroup& cg) {
  json data = {{"cpu", Cpu(cg)}, {"memory", Memory(cg)}};
  json pids = json::object();
  Put(pids, "current", Number(cg, "pids", "pids.current"));
  Put(pids, "limit", Number(cg, "pids", "pids.max"));
  data["pids"] = pids;
  json hugetlb = json::object();
  bool v2 = cg.ControllerOnV2("hugetlb");
  for (const char* size : {"2MB", "1GB"}) {
    std::string prefix = std::string("hugetlb.") + size;
    auto usage = Number(cg, "hugetlb", (prefix + (v2 ? ".current" : ".usage_in_bytes")).c_str());
    if (!usage) {
      continue;
    }
    json h = {{"usage", *usage}};
    if (!v2) {
      Put(h, "max", Number(cg, "hugetlb", (prefix + ".max_usage_in_bytes").c_str()));
      Put(h, "failcnt", Number(cg, "hugetlb", (prefix + ".failcnt").c_str()));
    }
    hugetlb[size] = h;
  }
  data["hugetlb"] = hugetlb;
  return data;
}

uint64_t OomKillCount(const Cgroup& cg) {
  auto kv = cg.ControllerOnV2("memory") ? KeyValues(cg, "memory", "memory.events")
                                        : KeyValues(cg, "memory", "memory.oom_control");
  return kv.count("oom_kill") ? kv["oom_kill"] : 0;
}

}  // namespace berth::runtime
