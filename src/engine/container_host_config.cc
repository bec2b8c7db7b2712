// HostConfig -> the runtime spec: namespaces, security, resources and mounts. The table in
// docs/containers.md lists each field; Docker's behaviour (moby 20.10 daemon/oci_linux.go,
// daemon/daemon_unix.go, volume/mounts/linux_parser.go, oci/caps) unless it says otherwise.

#include <algorithm>
#include <cctype>
#include <limits>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <utility>

#include "base/error.h"
#include "engine/container_spec_internal.h"
#include "oci/default_seccomp.h"
#include "oci/runtime_spec.h"

namespace berth::engine::internal {

using nlohmann::json;

namespace {

constexpr int64_t kDefaultShmSize = 64 * 1024 * 1024;

// ---- namespaces ----

void RemoveNamespace(json& spec, const char* type) {
  json& list = spec["linux"]["namespaces"];
  json kept = json::array();
  for (auto& n : list) {
    if (n["type"] != type) {
      kept.push_back(std::move(n));
    }
  }
  list = std::move(kept);
}

// "" or one of `accepted`; "host" removes the namespace; "container:<id>" is not yet supported.
std::string NamespaceMode(const json& hc, const char* key, std::initializer_list<const char*> ok) {
  std::string field = std::string("HostConfig.") + key;
  std::string mode = Str(hc, key, field);
  if (StartsWith(mode, "container:")) {
    throw Error(Kind::kNotImplemented, field + ": joining another container's namespace (\"" +
                                           mode + "\") is not implemented yet");
  }
  for (const char* a : ok) {
    if (mode == a) {
      return mode;
    }
  }
  Bad(field, "invalid mode \"" + mode + "\"");
}

// ---- capabilities (oci/caps/utils.go TweakCapabilities) ----

std::vector<std::string> NormalizeCaps(const std::vector<std::string>& caps,
                                       const std::string& field) {
  std::vector<std::string> out;
  for (const auto& c : caps) {
    std::string name = Upper(c);
    if (name != "ALL" && !StartsWith(name, "CAP_")) {
      name = "CAP_" + name;
    }
    if (name != "ALL" && oci::CapabilityNumber(name) < 0) {
      Bad(field, "unknown capability: \"" + name + "\"");
    }
    out.push_back(name);
  }
  return out;
}

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::vector<std::string> TweakCapabilities(const std::vector<std::string>& basics, const json& hc,
                                           bool privileged) {
  auto add = NormalizeCaps(StrList(hc, "CapAdd", "HostConfig.CapAdd"), "HostConfig.CapAdd");
  auto drop = NormalizeCaps(StrList(hc, "CapDrop", "HostConfig.CapDrop"), "HostConfig.CapDrop");
  const auto& all = oci::KnownCapabilities();
  if (privileged) {
    return all;
  }
  if (add.empty() && drop.empty()) {
    return basics;
  }
  std::vector<std::string> caps;
  if (Contains(add, "ALL")) {
    for (const auto& c : all) {
      if (!Contains(drop, c)) {
        caps.push_back(c);
      }
    }
    return caps;
  }
  if (!Contains(drop, "ALL")) {
    for (const auto& c : basics) {
      if (!Contains(drop, c)) {
        caps.push_back(c);
      }
    }
  }
  for (const auto& c : add) {
    if (!Contains(caps, c)) {
      caps.push_back(c);
    }
  }
  // Kernel order, so equal sets give equal specs (and equal seccomp cache keys).
  std::sort(caps.begin(), caps.end(), [](const std::string& a, const std::string& b) {
    return oci::CapabilityNumber(a) < oci::CapabilityNumber(b);
  });
  return caps;
}

// ---- seccomp ----

#if defined(__x86_64__)
const std::set<std::string> kNativeArches = {"amd64", "x86_64", "SCMP_ARCH_X86_64"};
#elif defined(__aarch64__)
const std::set<std::string> kNativeArches = {"arm64", "aarch64", "SCMP_ARCH_AARCH64"};
#else
const std::set<std::string> kNativeArches;
#endif

// A profile in Docker's format (archMap, names, includes/excludes by caps and arches) or the
// OCI one, as linux.seccomp for `caps` on this architecture.
json ConvertSeccompProfile(const std::string& text, const std::vector<std::string>& caps) {
  const std::string field = "HostConfig.SecurityOpt";
  json p = json::parse(text, nullptr, false);
  if (p.is_discarded() || !p.is_object()) {
    Bad(field, "invalid --security-opt seccomp: the profile is not a JSON object");
  }
  if (!p.contains("defaultAction") || !p["defaultAction"].is_string()) {
    Bad(field, "invalid --security-opt seccomp: the profile has no defaultAction");
  }
  json out = {{"defaultAction", p["defaultAction"]}};
  for (const char* k : {"defaultErrnoRet", "flags", "listenerPath", "listenerMetadata"}) {
    if (p.contains(k) && !p[k].is_null()) {
      out[k] = p[k];
    }
  }
  if (p.contains("archMap") && p["archMap"].is_array()) {
    for (const auto& a : p["archMap"]) {
      std::string arch = a.value("architecture", "");
      if (kNativeArches.count(arch)) {
        json arches = json::array({arch});
        for (const auto& sub : a.value("subArchitectures", json::array())) {
          arches.push_back(sub);
        }
        out["architectures"] = arches;
      }
    }
  } else if (p.contains("architectures") && p["architectures"].is_array()) {
    out["architectures"] = p["architectures"];
  }
  auto holds_all = [&](const json& cond) {
    for (const auto& c : cond.value("caps", json::array())) {
      if (!c.is_string() || !Contains(caps, c.get<std::string>())) {
        return false;
      }
    }
    const json arches = cond.value("arches", json::array());
    if (arches.empty()) {
      return true;
    }
    return std::any_of(arches.begin(), arches.end(), [](const json& a) {
      return a.is_string() && kNativeArches.count(a.get<std::string>()) > 0;
    });
  };
  auto holds_any = [&](const json& cond) {
    for (const auto& c : cond.value("caps", json::array())) {
      if (c.is_string() && Contains(caps, c.get<std::string>())) {
        return true;
      }
    }
    for (const auto& a : cond.value("arches", json::array())) {
      if (a.is_string() && kNativeArches.count(a.get<std::string>())) {
        return true;
      }
    }
    return false;
  };
  json syscalls = json::array();
  for (const auto& s : p.value("syscalls", json::array())) {
    if (!s.is_object()) {
      Bad(field, "invalid --security-opt seccomp: a syscalls entry is not an object");
    }
    if (s.contains("includes") && !holds_all(s["includes"])) {
      continue;
    }
    if (s.contains("excludes") && holds_any(s["excludes"])) {
      continue;
    }
    json names = s.value("names", json::array());
    if (s.contains("name") && s["name"].is_string()) {
      names.push_back(s["name"]);
    }
    json entry = {{"names", names}, {"action", s.value("action", json())}};
    for (const char* k : {"args", "errnoRet"}) {
      if (s.contains(k) && !s[k].is_null()) {
        entry[k] = s[k];
      }
    }
    syscalls.push_back(std::move(entry));
  }
  out["syscalls"] = std::move(syscalls);
  return out;
}

struct SecurityOpts {
  std::optional<bool> no_new_privileges;
  std::optional<std::string> seccomp;  // "unconfined" or a profile
};

// daemon_unix.go parseSecurityOpt: "=" or the deprecated ":" separates key and value.
SecurityOpts ParseSecurityOpts(const json& hc, ContainerSpec& out) {
  SecurityOpts s;
  for (const auto& opt : StrList(hc, "SecurityOpt", "HostConfig.SecurityOpt")) {
    auto invalid = [&] {
      Bad("HostConfig.SecurityOpt", "invalid --security-opt: \"" + opt + "\"");
    };
    if (opt == "no-new-privileges") {
      s.no_new_privileges = true;
      continue;
    }
    if (opt == "disable") {
      continue;  // label=disable's old spelling: nothing to disable without SELinux
    }
    size_t sep = opt.find('=');
    if (sep == std::string::npos) {
      sep = opt.find(':');
    }
    if (sep == std::string::npos) {
      invalid();
    }
    std::string key = opt.substr(0, sep);
    std::string value = opt.substr(sep + 1);
    if (key == "no-new-privileges") {
      if (value == "true" || value == "1") {
        s.no_new_privileges = true;
      } else if (value == "false" || value == "0") {
        s.no_new_privileges = false;
      } else {
        invalid();
      }
    } else if (key == "seccomp") {
      if (value.empty()) {
        invalid();
      }
      s.seccomp = value;
    } else if (key == "label") {
      if (value != "disable") {
        out.warnings.push_back("SELinux is not supported: ignoring --security-opt " + opt);
      }
    } else if (key == "apparmor") {
      if (value != "unconfined") {
        out.warnings.push_back("AppArmor is not supported: ignoring --security-opt " + opt);
      }
    } else {
      invalid();
    }
  }
  return s;
}

void ValidateLogConfig(const json& hc, json& hc_out) {
  const json lc = Has(hc, "LogConfig") ? hc["LogConfig"] : json::object();
  std::string type = Str(lc, "Type", "HostConfig.LogConfig.Type");
  if (type.empty()) {
    type = "json-file";
  }
  if (type != "json-file") {
    Bad("HostConfig.LogConfig.Type",
        "logging driver \"" + type + "\" is not supported (only json-file)");
  }
  static const std::set<std::string> kOpts = {"max-size",     "max-file", "compress",  "labels",
                                              "labels-regex", "env",      "env-regex", "tag"};
  json config = Has(lc, "Config") ? lc["Config"] : json::object();
  if (!config.is_object()) {
    Bad("HostConfig.LogConfig.Config", "expected an object of strings");
  }
  for (auto it = config.begin(); it != config.end(); ++it) {
    if (!kOpts.count(it.key())) {
      Bad("HostConfig.LogConfig.Config",
          "unknown log opt '" + it.key() + "' for json-file log driver");
    }
    if (!it.value().is_string()) {
      Bad("HostConfig.LogConfig.Config." + it.key(), "expected a string");
    }
  }
  static const std::regex kSize("^[0-9]+(\\.[0-9]+)?[kKmMgG]?[bB]?$");
  if (config.contains("max-size") &&
      !std::regex_match(config["max-size"].get<std::string>(), kSize)) {
    Bad("HostConfig.LogConfig.Config.max-size",
        "invalid size: '" + config["max-size"].get<std::string>() + "'");
  }
  static const std::regex kCount("^([1-9][0-9]?|100)$");
  if (config.contains("max-file") &&
      !std::regex_match(config["max-file"].get<std::string>(), kCount)) {
    Bad("HostConfig.LogConfig.Config.max-file",
        "invalid value: '" + config["max-file"].get<std::string>() + "' (1-100)");
  }
  hc_out["LogConfig"] = {{"Type", type}, {"Config", config}};
}

void ValidateRestartPolicy(const json& hc, json& hc_out) {
  const json rp = Has(hc, "RestartPolicy") ? hc["RestartPolicy"] : json::object();
  std::string name = Str(rp, "Name", "HostConfig.RestartPolicy.Name");
  int64_t retries = Int(rp, "MaximumRetryCount", "HostConfig.RestartPolicy.MaximumRetryCount");
  static const std::set<std::string> kNames = {"", "no", "always", "unless-stopped", "on-failure"};
  if (!kNames.count(name)) {
    Bad("HostConfig.RestartPolicy.Name", "invalid restart policy '" + name + "'");
  }
  if (retries < 0) {
    Bad("HostConfig.RestartPolicy.MaximumRetryCount", "maximum retry count cannot be negative");
  }
  if (retries > 0 && name != "on-failure") {
    Bad("HostConfig.RestartPolicy.MaximumRetryCount",
        "maximum retry count cannot be used with restart policy '" + name + "'");
  }
  if (Bool(hc, "AutoRemove", "HostConfig.AutoRemove") && name != "" && name != "no") {
    Bad("HostConfig.AutoRemove", "can't create 'AutoRemove' container with restart policy");
  }
  hc_out["RestartPolicy"] = {{"Name", name}, {"MaximumRetryCount", retries}};
}

void ParseDevices(const json& hc, ContainerSpec& out) {
  if (!Has(hc, "Devices")) {
    return;
  }
  if (!hc["Devices"].is_array()) {
    Bad("HostConfig.Devices", "expected an array");
  }
  for (const auto& d : hc["Devices"]) {
    DeviceRequest r{Str(d, "PathOnHost", "HostConfig.Devices[].PathOnHost"),
                    Str(d, "PathInContainer", "HostConfig.Devices[].PathInContainer"),
                    Str(d, "CgroupPermissions", "HostConfig.Devices[].CgroupPermissions")};
    if (r.path_in_container.empty()) {
      r.path_in_container = r.path_on_host;
    }
    if (r.permissions.empty()) {
      r.permissions = "rwm";
    }
    std::string field = "HostConfig.Devices." + r.path_on_host;
    if (r.path_on_host.empty() || r.path_on_host.front() != '/' ||
        r.path_in_container.front() != '/') {
      Bad("HostConfig.Devices", "invalid device \"" + r.path_on_host + ":" + r.path_in_container +
                                    "\": paths must be absolute");
    }
    if (r.permissions.find_first_not_of("rwm") != std::string::npos) {
      Bad(field, "invalid device cgroup permissions \"" + r.permissions + "\"");
    }
    out.devices.push_back(std::move(r));
  }
}

void RejectUnsupported(const json& hc, ContainerSpec& out) {
  auto not_empty = [&](const char* key) {
    return Has(hc, key) && !(hc[key].is_array() && hc[key].empty()) &&
           !(hc[key].is_string() && hc[key].get<std::string>().empty());
  };
  // Refused rather than ignored: each would change what the container can reach.
  for (const char* key : {"Links", "DeviceRequests", "DeviceCgroupRules"}) {
    if (not_empty(key)) {
      throw Error(Kind::kNotImplemented,
                  std::string("HostConfig.") + key + " is not implemented yet");
    }
  }
  std::string driver = Str(hc, "VolumeDriver", "HostConfig.VolumeDriver");
  if (!driver.empty() && driver != "local") {
    ThrowNotFound("HostConfig.VolumeDriver: error looking up volume plugin " + driver +
                  ": plugin \"" + driver + "\" not found");
  }
  // Ignored with a warning: limits the container simply does not get.
  for (const char* key : {"BlkioWeightDevice", "BlkioDeviceReadBps", "BlkioDeviceWriteBps",
                          "BlkioDeviceReadIOps", "BlkioDeviceWriteIOps"}) {
    if (not_empty(key)) {
      out.warnings.push_back(std::string("HostConfig.") + key + " is not supported: ignored");
    }
  }
  for (const char* key : {"CpuRealtimePeriod", "CpuRealtimeRuntime"}) {
    if (Int(hc, key, std::string("HostConfig.") + key) != 0) {
      out.warnings.push_back(std::string("HostConfig.") + key + " is not supported: ignored");
    }
  }
  std::string isolation = Str(hc, "Isolation", "HostConfig.Isolation");
  if (!isolation.empty() && isolation != "default") {
    Bad("HostConfig.Isolation",
        "Invalid isolation: \"" + isolation + "\" - linux only supports 'default'");
  }
}

}  // namespace

HostOptions ApplyHostConfig(const json& hc, bool explicit_hostname,
                            const std::vector<MountPoint>* resolved, ContainerSpec& out) {
  json& spec = out.spec;
  json& linux = spec["linux"];
  json& process = spec["process"];
  json hc_out = hc;
  HostOptions result;
  RejectUnsupported(hc, out);

  // Namespaces.
  std::string userns = NamespaceMode(hc, "UsernsMode", {"", "host"});
  std::string pid = NamespaceMode(hc, "PidMode", {"", "host"});
  std::string ipc = NamespaceMode(hc, "IpcMode", {"", "host", "private", "shareable", "none"});
  std::string uts = NamespaceMode(hc, "UTSMode", {"", "host"});
  std::string cgroupns = NamespaceMode(hc, "CgroupnsMode", {"", "host", "private"});
  std::string network = Str(hc, "NetworkMode", "HostConfig.NetworkMode");
  if (StartsWith(network, "container:")) {
    throw Error(Kind::kNotImplemented,
                "HostConfig.NetworkMode: joining another container's network namespace (\"" +
                    network + "\") is not implemented yet");
  }
  if (network.empty()) {
    network = "default";
  }
  hc_out["NetworkMode"] = network;
  result.userns = userns != "host";
  json& mounts = spec["mounts"];
  if (!result.userns) {
    RemoveNamespace(spec, "user");
    linux.erase("uidMappings");
    linux.erase("gidMappings");
    spec["annotations"].erase("org.berth.rootfs.idmap");
    if (spec["annotations"].empty()) {
      spec.erase("annotations");
    }
  }
  if (pid == "host") {
    if (result.userns) {
      Bad("HostConfig.PidMode",
          "cannot share the host PID namespace when user namespaces are enabled (add "
          "--userns=host)");
    }
    RemoveNamespace(spec, "pid");
  }
  if (network == "host") {
    RemoveNamespace(spec, "network");
    if (result.userns) {
      // sysfs cannot be mounted from a user namespace that does not own the network namespace.
      *FindMount(mounts, "/sys") = BindMount("/sys", true);
    }
  }
  if (uts == "host") {
    if (explicit_hostname) {
      Bad("HostConfig.UTSMode", "Conflicting options: hostname and the UTS mode");
    }
    RemoveNamespace(spec, "uts");
    result.host_uts = true;
    spec.erase("hostname");
    spec.erase("domainname");
  }
  if (cgroupns == "host") {
    RemoveNamespace(spec, "cgroup");
    if (result.userns) {
      *FindMount(mounts, "/sys/fs/cgroup") = BindMount("/sys/fs/cgroup", true);
    }
  }

  // IPC: /dev/shm and /dev/mqueue follow the IPC namespace.
  int64_t shm_size = Int(hc, "ShmSize", "HostConfig.ShmSize");
  if (shm_size < 0) {
    Bad("HostConfig.ShmSize", "SHM size can not be less than 0");
  }
  if (shm_size == 0) {
    shm_size = kDefaultShmSize;
  }
  hc_out["ShmSize"] = shm_size;
  if (ipc == "host") {
    RemoveNamespace(spec, "ipc");
    *FindMount(mounts, "/dev/shm") = BindMount("/dev/shm", false);
    *FindMount(mounts, "/dev/mqueue") = BindMount("/dev/mqueue", false);
  } else if (ipc == "none") {
    mounts.erase(std::remove_if(mounts.begin(), mounts.end(),
                                [](const json& m) { return m["destination"] == "/dev/shm"; }),
                 mounts.end());
  } else {
    (*FindMount(mounts, "/dev/shm"))["options"] = {"nosuid", "noexec", "nodev", "mode=1777",
                                                   "size=" + std::to_string(shm_size)};
  }

  // Security.
  bool privileged = Bool(hc, "Privileged", "HostConfig.Privileged");
  SecurityOpts sec = ParseSecurityOpts(hc, out);
  std::vector<std::string> basics = process["capabilities"]["bounding"];
  std::vector<std::string> caps = TweakCapabilities(basics, hc, privileged);
  process["capabilities"] = {{"bounding", caps}, {"effective", caps}, {"permitted", caps}};
  if (privileged) {
    linux.erase("seccomp");
    linux["maskedPaths"] = json::array();
    linux["readonlyPaths"] = json::array();
    linux["resources"]["devices"] = json::array({{{"allow", true}, {"access", "rwm"}}});
    out.all_host_devices = true;
    for (const char* path : {"/sys", "/sys/fs/cgroup"}) {
      SetReadOnly(*FindMount(mounts, path), false);
    }
    // Docker's privileged containers run setuid programs (sudo, ping); keep that unless asked.
    process["noNewPrivileges"] = false;
    if (result.userns) {
      out.warnings.push_back(
          "privileged container keeps its own user namespace: its capabilities do not reach the "
          "host (add --userns=host for host privileges)");
    }
  } else if (sec.seccomp && *sec.seccomp == "unconfined") {
    linux.erase("seccomp");
  } else if (sec.seccomp) {
    linux["seccomp"] = ConvertSeccompProfile(*sec.seccomp, caps);
  } else {
    linux["seccomp"] = oci::DefaultSeccomp(caps);
  }
  if (sec.no_new_privileges) {
    process["noNewPrivileges"] = *sec.no_new_privileges;
  }
  if (!privileged) {
    for (const char* key : {"MaskedPaths", "ReadonlyPaths"}) {
      if (Has(hc, key)) {
        std::string oci_key = key == std::string("MaskedPaths") ? "maskedPaths" : "readonlyPaths";
        linux[oci_key] = StrList(hc, key, std::string("HostConfig.") + key);
      }
    }
  }
  spec["root"]["readonly"] = Bool(hc, "ReadonlyRootfs", "HostConfig.ReadonlyRootfs");

  int64_t oom = Int(hc, "OomScoreAdj", "HostConfig.OomScoreAdj");
  if (oom < -1000 || oom > 1000) {
    Bad("HostConfig.OomScoreAdj",
        "Invalid value " + std::to_string(oom) + ", range for oom score adj is [-1000, 1000]");
  }
  if (oom != 0) {
    process["oomScoreAdj"] = oom;
  }
  if (Has(hc, "ConsoleSize") && hc["ConsoleSize"].is_array() && hc["ConsoleSize"].size() == 2 &&
      hc["ConsoleSize"][0].is_number_unsigned() && hc["ConsoleSize"][1].is_number_unsigned() &&
      hc["ConsoleSize"][0] != 0 && hc["ConsoleSize"][1] != 0 && process["terminal"] == true) {
    process["consoleSize"] = {{"height", hc["ConsoleSize"][0]}, {"width", hc["ConsoleSize"][1]}};
  }

  ApplyResources(hc, linux["resources"], hc_out, out);
  ApplyUlimits(hc, process);
  ApplySysctls(hc, spec, hc_out);
  ApplyUserMounts(hc, resolved, result.userns, spec);
  ParseDevices(hc, out);
  ValidateLogConfig(hc, hc_out);
  ValidateRestartPolicy(hc, hc_out);
  if (Has(hc, "Init")) {
    out.init = Bool(hc, "Init", "HostConfig.Init");
  }
  out.host_config = std::move(hc_out);
  return result;
}

}  // namespace berth::engine::internal

namespace berth::engine {

void AddDevice(nlohmann::json& spec, const DeviceRequest& request, char type, int64_t major,
               int64_t minor, uint32_t file_mode) {
  spec["linux"]["devices"].push_back({{"path", request.path_in_container},
                                      {"type", std::string(1, type)},
                                      {"major", major},
                                      {"minor", minor},
                                      {"fileMode", file_mode},
                                      {"uid", 0},
                                      {"gid", 0}});
  spec["linux"]["resources"]["devices"].push_back({{"allow", true},
                                                   {"type", std::string(1, type)},
                                                   {"major", major},
                                                   {"minor", minor},
                                                   {"access", request.permissions}});
}

}  // namespace berth::engine
