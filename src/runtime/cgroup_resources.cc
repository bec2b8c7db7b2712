#include "runtime/cgroup_resources.h"

#include "runtime/device_filter.h"

#include <cctype>

#include "base/error.h"

namespace berth::runtime {
namespace {

using nlohmann::json;

constexpr const char* kPrefix = "linux.resources.";

[[noreturn]] void Fail(const std::string& field, const std::string& what) {
  ThrowInvalid(field + ": " + what);
}

class Translator {
 public:
  Translator(const CgroupLayout& layout, std::vector<std::string>* warnings)
      : layout_(layout), warnings_(warnings) {}

  std::vector<CgroupWrite> Run(const json& r) {
    if (r.is_null()) {
      return {};
    }
    if (!r.is_object()) {
      Fail("linux.resources", "expected an object");
    }
    auto has = [&](const char* key) { return r.contains(key) && !r[key].is_null(); };
    const std::string p = kPrefix;
    if (has("memory")) Memory(r["memory"], p + "memory");
    if (has("cpu")) Cpu(r["cpu"], p + "cpu");
    if (has("pids")) Pids(r["pids"], p + "pids");
    if (has("blockIO")) BlockIo(r["blockIO"], p + "blockIO");
    if (has("hugepageLimits")) Hugepages(r["hugepageLimits"], p + "hugepageLimits");
    if (has("network")) Network(r["network"], p + "network");
    if (has("devices")) Devices(r["devices"], p + "devices");
    if (has("unified")) Unified(r["unified"], p + "unified");
    return std::move(out_);
  }

 private:
  // Whether `controller` is served by the cgroup2 tree; throws if the host has it nowhere.
  bool OnV2(const std::string& controller, const std::string& field) {
    if (!layout_.V1Path(controller).empty()) {
      return false;
    }
    if (!layout_.v2_mount.empty() &&
        (layout_.PureV2() || layout_.v2_controllers.count(controller))) {
      return true;
    }
    Fail(field, "this host has no " + controller + " cgroup controller");
  }

  void Add(const std::string& controller, bool v2, std::string file, std::string value,
           const std::string& field) {
    out_.push_back({controller, v2, std::move(file), std::move(value), field});
  }
  void Warn(const std::string& field, const std::string& what) {
    warnings_->push_back(field + ": " + what);
  }

  static const json* Get(const json& o, const char* key) {
    auto it = o.find(key);
    return it == o.end() || it->is_null() ? nullptr : &*it;
  }
  static std::optional<int64_t> Int(const json& o, const char* key, const std::string& field) {
    const json* v = Get(o, key);
    if (v == nullptr) {
      return std::nullopt;
    }
    if (!v->is_number_integer()) {
      Fail(field + "." + key, "expected an integer");
    }
    return v->get<int64_t>();
  }
  static std::optional<uint64_t> Uint(const json& o, const char* key, const std::string& field) {
    const json* v = Get(o, key);
    if (v == nullptr) {
      return std::nullopt;
    }
    if (v->is_number_integer() && !v->is_number_unsigned() && v->get<int64_t>() < 0) {
      Fail(field + "." + key, "must not be negative");
    }
    if (!v->is_number_integer()) {
      Fail(field + "." + key, "expected an unsigned integer");
    }
    return v->get<uint64_t>();
  }
  static void RequireObject(const json& o, const std::string& field) {
    if (!o.is_object()) {
      Fail(field, "expected an object");
    }
  }

  void Memory(const json& m, const std::string& f) {
    RequireObject(m, f);
    bool v2 = OnV2("memory", f);
    auto limit = Int(m, "limit", f);
    auto reservation = Int(m, "reservation", f);
    auto swap = Int(m, "swap", f);
    auto swappiness = Uint(m, "swappiness", f);
    for (const char* k : {"limit", "reservation", "swap"}) {
      auto v = Int(m, k, f);
      if (v && *v < -1) {
        Fail(f + "." + k, "must be -1 (unlimited) or a byte count, got " + std::to_string(*v));
      }
    }
    if (limit && swap && *limit > 0 && *swap > 0 && *swap < *limit) {
      Fail(f + ".swap", "memory+swap (" + std::to_string(*swap) + ") is below memory.limit (" +
                            std::to_string(*limit) + ")");
    }
    if (Get(m, "kernel") || Get(m, "kernelTCP")) {
      Warn(f, "kernel and kernelTCP are ignored (the kernel dropped kernel memory limits)");
    }
    auto text = [v2](int64_t v) {
      return v < 0 ? std::string(v2 ? "max" : "-1") : std::to_string(v);
    };
    if (!v2) {
      if (limit) Add("memory", false, "memory.limit_in_bytes", text(*limit), f + ".limit");
      if (swap) Add("memory", false, "memory.memsw.limit_in_bytes", text(*swap), f + ".swap");
      if (reservation) {
        Add("memory", false, "memory.soft_limit_in_bytes", text(*reservation), f + ".reservation");
      }
      if (swappiness) {
        if (*swappiness > 100) {
          Fail(f + ".swappiness", "must be 0 to 100");
        }
        Add("memory", false, "memory.swappiness", std::to_string(*swappiness), f + ".swappiness");
      }
      if (Get(m, "disableOOMKiller") && m["disableOOMKiller"].get<bool>()) {
        Add("memory", false, "memory.oom_control", "1", f + ".disableOOMKiller");
      }
      return;
    }
    if (limit) Add("memory", true, "memory.max", text(*limit), f + ".limit");
    if (swap) {
      // The spec's swap is memory+swap; v2 limits swap alone.
      std::string value;
      if (*swap < 0) {
        value = "max";
      } else if (limit && *limit > 0) {
        value = std::to_string(*swap - *limit);
      } else {
        Fail(f + ".swap", "on cgroup v2 a swap limit needs memory.limit");
      }
      Add("memory", true, "memory.swap.max", value, f + ".swap");
    }
    if (reservation) Add("memory", true, "memory.low", text(*reservation), f + ".reservation");
    if (swappiness) Warn(f + ".swappiness", "ignored: cgroup v2 has no per-cgroup swappiness");
    if (Get(m, "disableOOMKiller") && m["disableOOMKiller"].get<bool>()) {
      Warn(f + ".disableOOMKiller", "ignored: cgroup v2 cannot disable the OOM killer");
    }
  }

  void Cpu(const json& c, const std::string& f) {
    RequireObject(c, f);
    auto shares = Uint(c, "shares", f);
    auto quota = Int(c, "quota", f);
    auto period = Uint(c, "period", f);
    auto rt_runtime = Int(c, "realtimeRuntime", f);
    auto rt_period = Uint(c, "realtimePeriod", f);
    if (shares || quota || period || rt_runtime || rt_period) {
      bool v2 = OnV2("cpu", f);
      if (shares && (*shares < 2 || *shares > 262144)) {
        Fail(f + ".shares", "must be 2 to 262144, got " + std::to_string(*shares));
      }
      if (period && (*period < 1000 || *period > 1000000)) {
        Fail(f + ".period", "must be 1000 to 1000000 microseconds");
      }
      if (quota && *quota != -1 && *quota < 1000) {
        Fail(f + ".quota", "must be -1 (unlimited) or at least 1000 microseconds");
      }
      if (!v2) {
        if (shares) Add("cpu", false, "cpu.shares", std::to_string(*shares), f + ".shares");
        if (period) Add("cpu", false, "cpu.cfs_period_us", std::to_string(*period), f + ".period");
        if (quota) Add("cpu", false, "cpu.cfs_quota_us", std::to_string(*quota), f + ".quota");
        if (rt_period) {
          Add("cpu", false, "cpu.rt_period_us", std::to_string(*rt_period), f + ".realtimePeriod");
        }
        if (rt_runtime) {
          Add("cpu", false, "cpu.rt_runtime_us", std::to_string(*rt_runtime),
              f + ".realtimeRuntime");
        }
      } else {
        if (rt_runtime || rt_period) {
          Fail(f + ".realtimeRuntime", "real-time scheduling limits need cgroup v1");
        }
        if (shares) {
          // runc's conversion of [2, 262144] shares to [1, 10000] weight.
          uint64_t weight = 1 + ((*shares - 2) * 9999) / 262142;
          Add("cpu", true, "cpu.weight", std::to_string(weight), f + ".shares");
        }
        if (quota || period) {
          std::string q = !quota || *quota < 0 ? "max" : std::to_string(*quota);
          Add("cpu", true, "cpu.max", q + " " + std::to_string(period.value_or(100000)),
              f + (quota ? ".quota" : ".period"));
        }
      }
    }
    for (const char* key : {"cpus", "mems"}) {
      const json* v = Get(c, key);
      if (v == nullptr) {
        continue;
      }
      if (!v->is_string()) {
        Fail(f + "." + key, "expected a string like \"0-3,5\"");
      }
      std::string s = v->get<std::string>();
      for (char ch : s) {
        if (!isdigit(static_cast<unsigned char>(ch)) && ch != ',' && ch != '-') {
          Fail(f + "." + key, "not a list like \"0-3,5\": \"" + s + "\"");
        }
      }
      bool v2 = OnV2("cpuset", f + "." + key);
      Add("cpuset", v2, std::string("cpuset.") + key, s, f + "." + key);
    }
  }

  void Pids(const json& p, const std::string& f) {
    RequireObject(p, f);
    auto limit = Int(p, "limit", f);
    if (!limit) {
      return;
    }
    bool v2 = OnV2("pids", f);
    Add("pids", v2, "pids.max", *limit <= 0 ? "max" : std::to_string(*limit), f + ".limit");
  }

  static std::string Device(const json& d, const std::string& field) {
    auto major = Int(d, "major", field);
    auto minor = Int(d, "minor", field);
    if (!major || !minor || *major < 0 || *minor < 0) {
      Fail(field, "major and minor are required");
    }
    return std::to_string(*major) + ":" + std::to_string(*minor);
  }

  void BlockIo(const json& b, const std::string& f) {
    RequireObject(b, f);
    bool v2 = OnV2(layout_.V1Path("blkio").empty() ? "io" : "blkio", f);
    std::string controller = v2 ? "io" : "blkio";
    auto weight_v2 = [](uint64_t w) { return std::to_string(1 + ((w - 10) * 9999) / 990); };
    auto check = [&](uint64_t w, const std::string& field) {
      if (w < 10 || w > 1000) {
        Fail(field, "must be 10 to 1000, got " + std::to_string(w));
      }
    };
    if (auto w = Uint(b, "weight", f)) {
      check(*w, f + ".weight");
      Add(controller, v2, v2 ? "io.weight" : "blkio.weight",
          v2 ? "default " + weight_v2(*w) : std::to_string(*w), f + ".weight");
    }
    if (auto w = Uint(b, "leafWeight", f)) {
      check(*w, f + ".leafWeight");
      if (v2) {
        Warn(f + ".leafWeight", "ignored: cgroup v2 has no leaf weight");
      } else {
        Add(controller, false, "blkio.leaf_weight", std::to_string(*w), f + ".leafWeight");
      }
    }
    if (const json* list = Get(b, "weightDevice")) {
      for (size_t i = 0; i < list->size(); ++i) {
        std::string df = f + ".weightDevice[" + std::to_string(i) + "]";
        std::string dev = Device((*list)[i], df);
        if (auto w = Uint((*list)[i], "weight", df)) {
          check(*w, df + ".weight");
          Add(controller, v2, v2 ? "io.weight" : "blkio.weight_device",
              dev + " " + (v2 ? weight_v2(*w) : std::to_string(*w)), df + ".weight");
        }
      }
    }
    const std::pair<const char*, const char*> kThrottles[] = {
        {"throttleReadBpsDevice", "read_bps"},
        {"throttleWriteBpsDevice", "write_bps"},
        {"throttleReadIOPSDevice", "read_iops"},
        {"throttleWriteIOPSDevice", "write_iops"},
    };
    const std::map<std::string, std::string> kV2Keys = {{"read_bps", "rbps"},
                                                        {"write_bps", "wbps"},
                                                        {"read_iops", "riops"},
                                                        {"write_iops", "wiops"}};
    for (const auto& [key, name] : kThrottles) {
      const json* list = Get(b, key);
      if (list == nullptr) {
        continue;
      }
      for (size_t i = 0; i < list->size(); ++i) {
        std::string df = f + "." + key + "[" + std::to_string(i) + "]";
        std::string dev = Device((*list)[i], df);
        auto rate = Uint((*list)[i], "rate", df);
        if (!rate) {
          Fail(df + ".rate", "is required");
        }
        if (v2) {
          Add("io", true, "io.max", dev + " " + kV2Keys.at(name) + "=" + std::to_string(*rate), df);
        } else {
          Add("blkio", false, std::string("blkio.throttle.") + name + "_device",
              dev + " " + std::to_string(*rate), df);
        }
      }
    }
  }

  void Hugepages(const json& list, const std::string& f) {
    if (!list.is_array()) {
      Fail(f, "expected an array");
    }
    for (size_t i = 0; i < list.size(); ++i) {
      std::string hf = f + "[" + std::to_string(i) + "]";
      RequireObject(list[i], hf);
      const json* size = Get(list[i], "pageSize");
      if (size == nullptr || !size->is_string()) {
        Fail(hf + ".pageSize", "is required, like \"2MB\"");
      }
      std::string s = size->get<std::string>();
      size_t digits = 0;
      while (digits < s.size() && isdigit(static_cast<unsigned char>(s[digits]))) {
        ++digits;
      }
      std::string unit = s.substr(digits);
      if (digits == 0 || (unit != "KB" && unit != "MB" && unit != "GB")) {
        Fail(hf + ".pageSize", "not a page size like \"2MB\": \"" + s + "\"");
      }
      auto limit = Uint(list[i], "limit", hf);
      if (!limit) {
        Fail(hf + ".limit", "is required");
      }
      bool v2 = OnV2("hugetlb", hf);
      Add("hugetlb", v2, "hugetlb." + s + (v2 ? ".max" : ".limit_in_bytes"), std::to_string(*limit),
          hf + ".limit");
    }
  }

  void Network(const json& n, const std::string& f) {
    RequireObject(n, f);
    if (auto id = Uint(n, "classID", f)) {
      if (OnV2("net_cls", f + ".classID")) {
        Fail(f + ".classID", "needs the cgroup v1 net_cls controller");
      }
      Add("net_cls", false, "net_cls.classid", std::to_string(*id), f + ".classID");
    }
    if (const json* prios = Get(n, "priorities")) {
      for (size_t i = 0; i < prios->size(); ++i) {
        std::string pf = f + ".priorities[" + std::to_string(i) + "]";
        const json& p = (*prios)[i];
        if (!p.is_object() || !p.contains("name") || !p["name"].is_string()) {
          Fail(pf + ".name", "is required");
        }
        auto prio = Uint(p, "priority", pf);
        if (OnV2("net_prio", pf)) {
          Fail(pf, "needs the cgroup v1 net_prio controller");
        }
        Add("net_prio", false, "net_prio.ifpriomap",
            p["name"].get<std::string>() + " " + std::to_string(prio.value_or(0)), pf);
      }
    }
  }

  // v1 device rules; cgroup2 gets the same rules as an eBPF program (Cgroup::ApplyResources).
  void Devices(const json& list, const std::string& f) {
    std::vector<DeviceRule> rules = EffectiveDeviceRules(list, f);  // validates
    if (layout_.V1Path("devices").empty()) {
      if (layout_.v2_mount.empty()) {
        Warn(f, "not enforced: this host has neither a devices controller nor a cgroup2 tree");
      }
      return;
    }
    for (const auto& r : rules) {
      Add("devices", false, r.allow ? "devices.allow" : "devices.deny", r.V1Line(), f);
    }
  }

  void Unified(const json& u, const std::string& f) {
    RequireObject(u, f);
    if (layout_.v2_mount.empty()) {
      Fail(f, "needs a cgroup v2 tree, and this host has none");
    }
    for (const auto& [key, value] : u.items()) {
      std::string kf = f + "." + key;
      if (!value.is_string()) {
        Fail(kf, "expected a string");
      }
      size_t dot = key.find('.');
      if (dot == std::string::npos || dot == 0 || key.find('/') != std::string::npos ||
          key.find("..") != std::string::npos) {
        Fail(kf, "not a cgroup file name like \"memory.high\"");
      }
      std::string controller = key.substr(0, dot);
      if (controller != "cgroup" && !layout_.PureV2() &&
          !layout_.v2_controllers.count(controller)) {
        Fail(kf, "the " + controller + " controller is not in this host's cgroup v2 tree");
      }
      Add(controller == "cgroup" ? "" : controller, true, key, value.get<std::string>(), kf);
    }
  }

  const CgroupLayout& layout_;
  std::vector<std::string>* warnings_;
  std::vector<CgroupWrite> out_;
};

}  // namespace

std::vector<CgroupWrite> TranslateResources(const json& resources, const CgroupLayout& layout,
                                            std::vector<std::string>* warnings) {
  try {
    return Translator(layout, warnings).Run(resources);
  } catch (const json::exception& e) {
    ThrowInvalid(std::string("linux.resources: ") + e.what());
  }
}

}  // namespace berth::runtime
