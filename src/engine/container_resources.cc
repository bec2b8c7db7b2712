// HostConfig resources: memory, CPU, block I/O and pids limits, ulimits and sysctls.

#include <algorithm>
#include <cctype>
#include <limits>
#include <set>
#include <string>
#include <utility>

#include "base/error.h"
#include "engine/container_spec_internal.h"
#include "oci/runtime_spec.h"

namespace berth::engine::internal {

using nlohmann::json;

namespace {

constexpr int64_t kMinMemory = 6 * 1024 * 1024;  // Docker's linuxMinMemory

}  // namespace

// ---- resources ----

void ApplyResources(const json& hc, json& resources, json& hc_out, ContainerSpec& out) {
  auto i = [&](const char* key) { return Int(hc, key, std::string("HostConfig.") + key); };
  auto non_negative = [&](const char* key) {
    int64_t v = i(key);
    if (v < 0) {
      Bad(std::string("HostConfig.") + key, "must not be negative, got " + std::to_string(v));
    }
    return v;
  };

  int64_t memory = non_negative("Memory");
  int64_t swap = i("MemorySwap");
  int64_t reservation = non_negative("MemoryReservation");
  if (memory != 0 && memory < kMinMemory) {
    Bad("HostConfig.Memory", "Minimum memory limit allowed is 6MB");
  }
  if (swap < -1) {
    Bad("HostConfig.MemorySwap", "must be -1 (unlimited), 0 or a size");
  }
  if (swap > 0 && memory == 0) {
    Bad("HostConfig.MemorySwap",
        "You should always set the Memory limit when using Memoryswap limit, see usage");
  }
  if (swap > 0 && swap < memory) {
    Bad("HostConfig.MemorySwap",
        "Minimum memoryswap limit should be larger than memory limit, see usage");
  }
  if (memory > 0 && reservation > memory) {
    Bad("HostConfig.MemoryReservation",
        "Minimum memory limit can not be less than memory reservation limit, see usage");
  }
  if (memory > 0 && swap == 0) {
    swap = 2 * memory;  // Docker's default: as much swap as memory
    hc_out["MemorySwap"] = swap;
  }
  json mem = json::object();
  if (memory > 0) {
    mem["limit"] = memory;
  }
  if (reservation > 0) {
    mem["reservation"] = reservation;
  }
  if (swap != 0) {
    mem["swap"] = swap;
  }
  if (Has(hc, "MemorySwappiness")) {
    int64_t sw = i("MemorySwappiness");
    if (sw != -1) {
      if (sw < 0 || sw > 100) {
        Bad("HostConfig.MemorySwappiness",
            "Invalid value: " + std::to_string(sw) + ", valid memory swappiness range is 0-100");
      }
      mem["swappiness"] = sw;
    }
  }
  if (Bool(hc, "OomKillDisable", "HostConfig.OomKillDisable")) {
    mem["disableOOMKiller"] = true;
    if (memory == 0) {
      out.warnings.push_back(
          "OOM killer is disabled for the container, but no memory limit is set, this can "
          "result in the system running out of resources.");
    }
  }
  if (i("KernelMemory") != 0 || i("KernelMemoryTCP") != 0) {
    out.warnings.push_back("kernel memory limits are not supported: KernelMemory ignored");
  }
  if (!mem.empty()) {
    resources["memory"] = mem;
  }

  int64_t nano = non_negative("NanoCpus");
  int64_t shares = non_negative("CpuShares");
  int64_t quota = i("CpuQuota");
  int64_t period = non_negative("CpuPeriod");
  if (nano > 0 && period > 0) {
    Bad("HostConfig.NanoCpus", "Conflicting options: Nano CPUs and CPU Period cannot both be set");
  }
  if (nano > 0 && quota > 0) {
    Bad("HostConfig.NanoCpus", "Conflicting options: Nano CPUs and CPU Quota cannot both be set");
  }
  if (period != 0 && (period < 1000 || period > 1000000)) {
    Bad("HostConfig.CpuPeriod",
        "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)");
  }
  if (quota < -1 || (quota > 0 && quota < 1000)) {
    Bad("HostConfig.CpuQuota", "CPU cfs quota can not be less than 1ms (i.e. 1000)");
  }
  json cpu = json::object();
  if (nano > 0) {
    period = 100000;
    quota = nano * period / 1000000000;
    if (quota < 1000) {
      Bad("HostConfig.NanoCpus", "Range of CPUs is from 0.01 upwards");
    }
  }
  if (shares > 0) {
    cpu["shares"] = std::clamp<int64_t>(shares, 2, 262144);
  }
  if (quota != 0) {
    cpu["quota"] = quota;
  }
  if (period != 0) {
    cpu["period"] = period;
  }
  for (auto [key, oci_key] : {std::pair{"CpusetCpus", "cpus"}, std::pair{"CpusetMems", "mems"}}) {
    std::string v = Str(hc, key, std::string("HostConfig.") + key);
    if (!std::all_of(v.begin(), v.end(),
                     [](unsigned char c) { return std::isdigit(c) || c == ',' || c == '-'; })) {
      Bad(std::string("HostConfig.") + key, "invalid value \"" + v + "\"");
    }
    if (!v.empty()) {
      cpu[oci_key] = v;
    }
  }
  if (!cpu.empty()) {
    resources["cpu"] = cpu;
  }

  int64_t blkio = non_negative("BlkioWeight");
  if (blkio != 0) {
    if (blkio < 10 || blkio > 1000) {
      Bad("HostConfig.BlkioWeight", "Range of blkio weight is from 10 to 1000");
    }
    resources["blockIO"] = {{"weight", blkio}};
  }

  // 0 or null keeps the hardened default; a negative value is unlimited.
  int64_t pids = i("PidsLimit");
  if (pids < 0) {
    resources.erase("pids");
  } else if (pids > 0) {
    resources["pids"] = {{"limit", pids}};
  }
}

void ApplyUlimits(const json& hc, json& process) {
  if (!Has(hc, "Ulimits")) {
    return;
  }
  if (!hc["Ulimits"].is_array()) {
    Bad("HostConfig.Ulimits", "expected an array");
  }
  json& rlimits = process["rlimits"];
  for (const auto& u : hc["Ulimits"]) {
    std::string name = Str(u, "Name", "HostConfig.Ulimits[].Name");
    std::string field = "HostConfig.Ulimits." + name;
    std::string type = "RLIMIT_" + Upper(name);
    if (name.empty() || oci::RlimitNumber(type) < 0) {
      Bad("HostConfig.Ulimits", "invalid ulimit type: \"" + name + "\"");
    }
    int64_t soft = Int(u, "Soft", field + ".Soft");
    int64_t hard = Int(u, "Hard", field + ".Hard");
    auto as_rlim = [&](int64_t v) -> uint64_t {
      if (v < -1) {
        Bad(field, "invalid limit " + std::to_string(v));
      }
      return v == -1 ? std::numeric_limits<uint64_t>::max() : static_cast<uint64_t>(v);
    };
    uint64_t s = as_rlim(soft);
    uint64_t h = as_rlim(hard);
    if (s > h) {
      Bad(field, "ulimit soft limit must be less than or equal to hard limit: " +
                     std::to_string(soft) + " > " + std::to_string(hard));
    }
    json entry = {{"type", type}, {"hard", h}, {"soft", s}};
    auto it = std::find_if(rlimits.begin(), rlimits.end(),
                           [&](const json& r) { return r["type"] == type; });
    if (it != rlimits.end()) {
      *it = entry;
    } else {
      rlimits.push_back(entry);
    }
  }
}

void ApplySysctls(const json& hc, json& spec, json& hc_out) {
  if (!Has(hc, "Sysctls")) {
    return;
  }
  if (!hc["Sysctls"].is_object()) {
    Bad("HostConfig.Sysctls", "expected an object of strings");
  }
  auto has_ns = [&](const char* type) {
    const json& list = spec["linux"]["namespaces"];
    return std::any_of(list.begin(), list.end(), [&](const json& n) { return n["type"] == type; });
  };
  static const std::set<std::string> kIpc = {
      "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
      "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"};
  json sysctl = json::object();
  for (auto it = hc["Sysctls"].begin(); it != hc["Sysctls"].end(); ++it) {
    const std::string& key = it.key();
    std::string field = "HostConfig.Sysctls." + key;
    if (!it.value().is_string()) {
      Bad(field, "expected a string value");
    }
    const char* ns = nullptr;
    if (kIpc.count(key) || StartsWith(key, "fs.mqueue.")) {
      ns = "ipc";
    } else if (StartsWith(key, "net.")) {
      ns = "network";
    } else if (key == "kernel.domainname" || key == "kernel.hostname") {
      ns = "uts";
    } else {
      Bad(field, "sysctl '" + key + "' is not whitelisted: it is not namespaced");
    }
    if (!has_ns(ns)) {
      Bad(field, "sysctl '" + key + "' is not allowed with the host's " + ns + " namespace");
    }
    sysctl[key] = it.value();
  }
  if (!sysctl.empty()) {
    spec["linux"]["sysctl"] = sysctl;
  }
  hc_out["Sysctls"] = hc["Sysctls"];
}

}  // namespace berth::engine::internal
