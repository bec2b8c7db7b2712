#include "engine/container_view.h"

#include <algorithm>
#include <array>
#include <string_view>

#include "base/time_text.h"

namespace berth::engine {

using nlohmann::json;
using nlohmann::ordered_json;

namespace {

// Field order of moby v20.10 api/types/container Config and HostConfig (Resources inlined).
constexpr std::array<std::string_view, 25> kConfigOrder = {
    "Hostname",     "Domainname",   "User",        "AttachStdin",     "AttachStdout",
    "AttachStderr", "ExposedPorts", "Tty",         "OpenStdin",       "StdinOnce",
    "Env",          "Cmd",          "Healthcheck", "ArgsEscaped",     "Image",
    "Volumes",      "WorkingDir",   "Entrypoint",  "NetworkDisabled", "MacAddress",
    "OnBuild",      "Labels",       "StopSignal",  "StopTimeout",     "Shell"};
constexpr std::array<std::string_view, 70> kHostConfigOrder = {"Binds",
                                                               "ContainerIDFile",
                                                               "LogConfig",
                                                               "NetworkMode",
                                                               "PortBindings",
                                                               "RestartPolicy",
                                                               "AutoRemove",
                                                               "VolumeDriver",
                                                               "VolumesFrom",
                                                               "CapAdd",
                                                               "CapDrop",
                                                               "CgroupnsMode",
                                                               "Dns",
                                                               "DnsOptions",
                                                               "DnsSearch",
                                                               "ExtraHosts",
                                                               "GroupAdd",
                                                               "IpcMode",
                                                               "Cgroup",
                                                               "Links",
                                                               "OomScoreAdj",
                                                               "PidMode",
                                                               "Privileged",
                                                               "PublishAllPorts",
                                                               "ReadonlyRootfs",
                                                               "SecurityOpt",
                                                               "StorageOpt",
                                                               "Tmpfs",
                                                               "UTSMode",
                                                               "UsernsMode",
                                                               "ShmSize",
                                                               "Sysctls",
                                                               "Runtime",
                                                               "ConsoleSize",
                                                               "Isolation",
                                                               "CpuShares",
                                                               "Memory",
                                                               "NanoCpus",
                                                               "CgroupParent",
                                                               "BlkioWeight",
                                                               "BlkioWeightDevice",
                                                               "BlkioDeviceReadBps",
                                                               "BlkioDeviceWriteBps",
                                                               "BlkioDeviceReadIOps",
                                                               "BlkioDeviceWriteIOps",
                                                               "CpuPeriod",
                                                               "CpuQuota",
                                                               "CpuRealtimePeriod",
                                                               "CpuRealtimeRuntime",
                                                               "CpusetCpus",
                                                               "CpusetMems",
                                                               "Devices",
                                                               "DeviceCgroupRules",
                                                               "DeviceRequests",
                                                               "KernelMemory",
                                                               "KernelMemoryTCP",
                                                               "MemoryReservation",
                                                               "MemorySwap",
                                                               "MemorySwappiness",
                                                               "OomKillDisable",
                                                               "PidsLimit",
                                                               "Ulimits",
                                                               "CpuCount",
                                                               "CpuPercent",
                                                               "IOMaximumIOps",
                                                               "IOMaximumBandwidth",
                                                               "Mounts",
                                                               "MaskedPaths",
                                                               "ReadonlyPaths",
                                                               "Init"};

// `object` with the keys of `order` first, in that order, then any others (sorted).
template <size_t N>
ordered_json InOrder(const json& object, const std::array<std::string_view, N>& order) {
  if (!object.is_object()) {
    return object;
  }
  ordered_json out = ordered_json::object();
  for (std::string_view key : order) {
    if (auto it = object.find(std::string(key)); it != object.end()) {
      out[it.key()] = *it;
    }
  }
  for (const auto& [key, value] : object.items()) {
    if (!out.contains(key)) {
      out[key] = value;
    }
  }
  return out;
}

std::string Str(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int64_t NanosOr0(const std::string& time) { return ParseRfc3339Nano(time).value_or(0); }

bool HasHealthcheck(const Container& c) {
  const json test = c.config.is_object() && c.config.contains("Healthcheck")
                        ? c.config["Healthcheck"].value("Test", json())
                        : json();
  return test.is_array() && !test.empty() && test[0] != "NONE";
}

// Whether State.Health exists: a monitor reported, or one runs (set up at start).
bool HealthShown(const Container& c) {
  return HasHealthcheck(c) && (!c.state.health.status.empty() || c.Running());
}

json EmptyEndpoint() {
  return {{"IPAMConfig", nullptr},   {"Links", nullptr},         {"Aliases", nullptr},
          {"NetworkID", ""},         {"EndpointID", ""},         {"Gateway", ""},
          {"IPAddress", ""},         {"IPPrefixLen", 0},         {"IPv6Gateway", ""},
          {"GlobalIPv6Address", ""}, {"GlobalIPv6PrefixLen", 0}, {"MacAddress", ""},
          {"DriverOpts", nullptr}};
}

std::string NetworkMode(const Container& c) { return Str(c.host_config, "NetworkMode"); }

json Networks(const Container& c, const json& given) {
  return given.is_null() ? NetworksFromMode(c) : given;
}
// "/host:/ctr[:mode]" (validated at create) as a MountPoint.
json BindMountPoint(const std::string& bind) {
  const size_t first = bind.find(':');
  const size_t second = bind.find(':', first + 1);
  const std::string source = bind.substr(0, first);
  const std::string destination = bind.substr(first + 1, second - first - 1);
  const std::string mode = second == std::string::npos ? "" : bind.substr(second + 1);
  bool rw = true;
  std::string propagation = "rprivate";
  size_t start = 0;
  while (start <= mode.size() && !mode.empty()) {
    const size_t comma = std::min(mode.find(',', start), mode.size());
    const std::string option = mode.substr(start, comma - start);
    if (option == "ro") {
      rw = false;
    } else if (option.find("shared") != std::string::npos ||
               option.find("slave") != std::string::npos ||
               option.find("private") != std::string::npos) {
      propagation = option;
    }
    start = comma + 1;
  }
  return {{"Type", "bind"}, {"Source", source}, {"Destination", destination},
          {"Mode", mode},   {"RW", rw},         {"Propagation", propagation}};
}

// A HostConfig.Mounts entry (`--mount`) as a MountPoint.
json MountMountPoint(const json& m) {
  const std::string type = Str(m, "Type");
  const bool rw = !m.value("ReadOnly", false);
  json out = {{"Type", type}};
  if (type == "volume") {
    out["Name"] = Str(m, "Source");
  }
  out["Source"] = type == "tmpfs" ? "" : Str(m, "Source");
  out["Destination"] = Str(m, "Target");
  out["Mode"] = "";
  out["RW"] = rw;
  std::string propagation;
  if (type == "bind") {
    const json bind = m.value("BindOptions", json::object());
    propagation = bind.is_object() ? Str(bind, "Propagation") : "";
    if (propagation.empty()) {
      propagation = "rprivate";
    }
  }
  out["Propagation"] = propagation;
  return out;
}

}  // namespace

json NetworksFromMode(const Container& c) {
  std::string mode = NetworkMode(c);
  if (mode.rfind("container:", 0) == 0) {
    return json::object();  // shares another container's stack: Docker lists none
  }
  if (mode.empty() || mode == "default") {
    mode = "bridge";
  }
  return {{mode, EmptyEndpoint()}};
}

int64_t CreatedNanos(const Container& c) { return NanosOr0(c.created); }

void SortNewestFirst(std::vector<const Container*>& containers) {
  std::sort(containers.begin(), containers.end(), [](const Container* a, const Container* b) {
    const int64_t ta = CreatedNanos(*a), tb = CreatedNanos(*b);
    return ta != tb ? ta > tb : a->id > b->id;
  });
}

std::string StateString(const Container& c) {
  if (c.state.status == ContainerStatus::kExited && !ParseRfc3339Nano(c.state.started_at)) {
    return "created";
  }
  return std::string(StatusName(c.state.status));
}

std::string HealthStatus(const Container& c) {
  if (!HealthShown(c)) {
    return "none";
  }
  return c.state.health.status.empty() ? "starting" : c.state.health.status;
}

std::string StatusText(const Container& c, int64_t now_nanos) {
  const ContainerState& s = c.state;
  auto since = [&](const std::string& time) { return HumanDuration(now_nanos - NanosOr0(time)); };
  switch (s.status) {
    case ContainerStatus::kPaused:
      return "Up " + since(s.started_at) + " (Paused)";
    case ContainerStatus::kRestarting:
      return "Restarting (" + std::to_string(s.exit_code) + ") " + since(s.finished_at) + " ago";
    case ContainerStatus::kRunning: {
      std::string text = "Up " + since(s.started_at);
      if (HealthShown(c)) {
        const std::string health = HealthStatus(c);
        text += health == "starting" ? " (health: starting)" : " (" + health + ")";
      }
      return text;
    }
    case ContainerStatus::kRemoving:
      return "Removal In Progress";
    case ContainerStatus::kDead:
      return "Dead";
    case ContainerStatus::kCreated:
      return "Created";
    case ContainerStatus::kExited:
      break;
  }
  if (!ParseRfc3339Nano(s.started_at)) {
    return "Created";
  }
  if (!ParseRfc3339Nano(s.finished_at)) {
    return "";
  }
  return "Exited (" + std::to_string(s.exit_code) + ") " + since(s.finished_at) + " ago";
}

std::string CommandText(const Container& c) {
  std::string out = c.path;
  if (!c.args.empty()) {
    out += ' ';
    for (size_t i = 0; i < c.args.size(); ++i) {
      const std::string& arg = c.args[i];
      out += (i == 0 ? "" : " ") + (arg.find(' ') != std::string::npos ? "'" + arg + "'" : arg);
    }
  }
  return out;
}

json MountPoints(const Container& c) {
  json out = json::array();
  const json& hc = c.host_config;
  if (c.mounts) {
    for (const MountPoint& m : *c.mounts) {
      out.push_back(InspectMountJson(m));
    }
  } else if (hc.is_object()) {
    // A record from before create resolved mounts: what its HostConfig asked for.
    if (const json binds = hc.value("Binds", json()); binds.is_array()) {
      for (const json& b : binds) {
        if (b.is_string()) {
          out.push_back(BindMountPoint(b.get<std::string>()));
        }
      }
    }
    if (const json mounts = hc.value("Mounts", json()); mounts.is_array()) {
      for (const json& m : mounts) {
        if (m.is_object()) {
          out.push_back(MountMountPoint(m));
        }
      }
    }
  }
  std::sort(out.begin(), out.end(), [](const json& a, const json& b) {
    return a["Destination"].get<std::string>() < b["Destination"].get<std::string>();
  });
  return out;
}

ordered_json InspectJson(const Container& c, const InspectExtras& x) {
  const ContainerState& s = c.state;
  ordered_json state = {{"Status", StateString(c)},
                        {"Running", c.Running()},
                        {"Paused", s.status == ContainerStatus::kPaused},
                        {"Restarting", s.status == ContainerStatus::kRestarting},
                        {"OOMKilled", s.oom_killed},
                        {"Dead", s.status == ContainerStatus::kDead},
                        {"Pid", s.pid},
                        {"ExitCode", s.exit_code},
                        {"Error", s.error},
                        {"StartedAt", s.started_at},
                        {"FinishedAt", s.finished_at}};
  if (HealthShown(c)) {
    state["Health"] = {{"Status", HealthStatus(c)},
                       {"FailingStreak", s.health.failing_streak},
                       {"Log", s.health.log.empty() ? json() : s.health.log}};
  }
  ordered_json out = {{"Id", c.id},
                      {"Created", c.created},
                      {"Path", c.path},
                      {"Args", c.args},
                      {"State", std::move(state)},
                      {"Image", c.image_id},
                      {"ResolvConfPath", x.resolv_conf_path},
                      {"HostnamePath", x.hostname_path},
                      {"HostsPath", x.hosts_path},
                      {"LogPath", c.log_path},
                      {"Name", c.name},
                      {"RestartCount", s.restart_count},
                      {"Driver", "overlay2"},
                      {"Platform", "linux"},
                      {"MountLabel", ""},
                      {"ProcessLabel", ""},
                      {"AppArmorProfile", ""},
                      {"ExecIDs", x.exec_ids.empty() ? json() : json(x.exec_ids)},
                      {"HostConfig", InOrder(c.host_config, kHostConfigOrder)},
                      {"GraphDriver",
                       {{"Data",
                         {{"LowerDir", x.lower_dir},
                          {"MergedDir", x.merged_dir},
                          {"UpperDir", x.upper_dir},
                          {"WorkDir", x.work_dir}}},
                        {"Name", "overlay2"}}}};
  if (x.size_rw) {
    out["SizeRw"] = *x.size_rw;
  }
  if (x.size_root_fs) {
    out["SizeRootFs"] = *x.size_root_fs;
  }
  out["Mounts"] = MountPoints(c);
  out["Config"] = InOrder(c.config, kConfigOrder);
  // The top-level fields are the default bridge's endpoint (Docker's legacy view).
  const json networks = Networks(c, x.networks);
  const json bridge =
      networks.is_object() && networks.contains("bridge") ? networks["bridge"] : EmptyEndpoint();
  out["NetworkSettings"] = {{"Bridge", ""},
                            {"SandboxID", x.sandbox_id},
                            {"HairpinMode", false},
                            {"LinkLocalIPv6Address", ""},
                            {"LinkLocalIPv6PrefixLen", 0},
                            {"Ports", x.ports.is_null() ? json::object() : x.ports},
                            {"SandboxKey", x.sandbox_key},
                            {"SecondaryIPAddresses", nullptr},
                            {"SecondaryIPv6Addresses", nullptr},
                            {"EndpointID", bridge["EndpointID"]},
                            {"Gateway", bridge["Gateway"]},
                            {"GlobalIPv6Address", bridge["GlobalIPv6Address"]},
                            {"GlobalIPv6PrefixLen", bridge["GlobalIPv6PrefixLen"]},
                            {"IPAddress", bridge["IPAddress"]},
                            {"IPPrefixLen", bridge["IPPrefixLen"]},
                            {"IPv6Gateway", bridge["IPv6Gateway"]},
                            {"MacAddress", bridge["MacAddress"]},
                            {"Networks", networks}};
  return out;
}

json ListEntry(const Container& c, int64_t now_nanos, const ListExtras& x) {
  json host_config = {{"NetworkMode", NetworkMode(c)}};
  if (c.host_config.is_object() && c.host_config.value("Privileged", false)) {
    host_config["Privileged"] = true;
  }
  json labels = c.config.is_object() ? c.config.value("Labels", json::object()) : json::object();
  json out = {{"Id", c.id},
              {"Names", c.name.empty() ? json::array() : json::array({c.name})},
              {"Image", x.image.empty() ? c.image : x.image},
              {"ImageID", c.image_id},
              {"Command", CommandText(c)},
              {"Created", CreatedNanos(c) / 1'000'000'000},
              {"Ports", x.ports.is_null() ? json::array() : x.ports},
              {"Labels", labels.is_null() ? json::object() : labels},
              {"State", StateString(c)},
              {"Status", StatusText(c, now_nanos)},
              {"HostConfig", std::move(host_config)},
              {"NetworkSettings", {{"Networks", Networks(c, x.networks)}}},
              {"Mounts", MountPoints(c)}};
  // int64 with omitempty in Docker's types.Container: a zero size is left out.
  if (x.size_rw.value_or(0) != 0) {
    out["SizeRw"] = *x.size_rw;
  }
  if (x.size_root_fs.value_or(0) != 0) {
    out["SizeRootFs"] = *x.size_root_fs;
  }
  return out;
}

}  // namespace berth::engine
