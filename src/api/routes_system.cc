// /version, /info, /system/df and Berth's /system/check.

#include <sys/statfs.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>

#include "api/routes.h"
#include "base/error.h"
#include "base/file_util.h"
#include "engine/volume_service.h"

#ifndef BERTH_VERSION
#define BERTH_VERSION "0.0.0"
#endif

namespace berth::api {
namespace {

using nlohmann::json;

// The kernel's name for the machine (x86_64, aarch64), which /info reports.
std::string Architecture() {
  struct utsname u;
  uname(&u);
  return u.machine;
}

// Docker's GOARCH spelling, which /version reports.
std::string GoArch() {
  std::string m = Architecture();
  if (m == "x86_64") return "amd64";
  if (m == "aarch64") return "arm64";
  return m;
}

std::string KernelVersion() {
  struct utsname u;
  uname(&u);
  return u.release;
}

std::string OperatingSystem() {
  std::ifstream in("/etc/os-release");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("PRETTY_NAME=", 0) == 0) {
      std::string v = line.substr(12);
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') {
        v = v.substr(1, v.size() - 2);
      }
      return v;
    }
  }
  return "Linux";
}

std::string CgroupVersion() {
  struct statfs fs;
  if (statfs("/sys/fs/cgroup", &fs) == 0 && fs.f_type == 0x63677270 /* CGROUP2_SUPER_MAGIC */) {
    return "2";
  }
  return "1";
}

std::string Compiler() {
#if defined(__clang__)
  return std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  return std::string("g++ ") + __VERSION__;
#else
  return "c++";
#endif
}

}  // namespace

void AddSystemRoutes(Router& router, engine::ImageService& images,
                     engine::ContainerService& containers, engine::VolumeService& volumes,
                     const DaemonInfo& info) {
  router.Add("GET", "/version", [](Request&, Response& res) {
    json details = {{"ApiVersion", kApiVersion},
                    {"Arch", GoArch()},
                    {"BuildTime", ""},
                    {"Experimental", "false"},
                    {"GitCommit", ""},
                    {"GoVersion", Compiler()},
                    {"KernelVersion", KernelVersion()},
                    {"MinAPIVersion", kMinApiVersion},
                    {"Os", "linux"}};
    res.Json(200, {{"Platform", {{"Name", "Berth"}}},
                   {"Components",
                    {{{"Name", "Engine"}, {"Version", BERTH_VERSION}, {"Details", details}}}},
                   {"Version", BERTH_VERSION},
                   {"ApiVersion", kApiVersion},
                   {"MinAPIVersion", kMinApiVersion},
                   {"GitCommit", ""},
                   {"GoVersion", Compiler()},
                   {"Os", "linux"},
                   {"Arch", GoArch()},
                   {"KernelVersion", KernelVersion()},
                   {"BuildTime", ""}});
  });

  router.Add("GET", "/info", [&images, &containers, info](Request&, Response& res) {
    engine::ContainerCounts counts = containers.Counts();
    struct sysinfo si = {};
    sysinfo(&si);
    json list = images.List(false, {});
    res.Json(200, {{"ID", ""},
                   {"Containers", counts.total},
                   {"ContainersRunning", counts.running},
                   {"ContainersPaused", counts.paused},
                   {"ContainersStopped", counts.total - counts.running - counts.paused},
                   {"Images", list.size()},
                   {"Driver", "overlay2"},
                   {"DriverStatus", json::array({json::array({"Supports d_type", "true"})})},
                   {"Plugins",
                    {{"Volume", {"local"}},
                     {"Network", {"bridge", "host", "none"}},
                     {"Authorization", nullptr},
                     {"Log", {"json-file"}}}},
                   {"MemoryLimit", true},
                   {"SwapLimit", true},
                   {"KernelMemory", false},
                   {"KernelMemoryTCP", false},
                   {"CpuCfsPeriod", true},
                   {"CpuCfsQuota", true},
                   {"CPUShares", true},
                   {"CPUSet", true},
                   {"PidsLimit", true},
                   {"IPv4Forwarding", true},
                   {"BridgeNfIptables", false},
                   {"BridgeNfIp6tables", false},
                   {"Debug", false},
                   {"NFd", 0},
                   {"OomKillDisable", false},
                   {"NGoroutines", 0},
                   {"SystemTime", engine::FormatRfc3339(time(nullptr))},
                   {"LoggingDriver", "json-file"},
                   {"CgroupDriver", "cgroupfs"},
                   {"CgroupVersion", CgroupVersion()},
                   {"NEventsListener", 0},
                   {"KernelVersion", KernelVersion()},
                   {"OperatingSystem", OperatingSystem()},
                   {"OSVersion", ""},
                   {"OSType", "linux"},
                   {"Architecture", Architecture()},
                   {"IndexServerAddress", ""},
                   {"RegistryConfig",
                    {{"AllowNondistributableArtifactsCIDRs", json::array()},
                     {"AllowNondistributableArtifactsHostnames", json::array()},
                     {"InsecureRegistryCIDRs", {"127.0.0.0/8"}},
                     {"IndexConfigs", json::object()},
                     {"Mirrors", json::array()}}},
                   {"NCPU", sysconf(_SC_NPROCESSORS_ONLN)},
                   {"MemTotal", static_cast<uint64_t>(si.totalram) * si.mem_unit},
                   {"GenericResources", nullptr},
                   {"DockerRootDir", info.root},
                   {"HttpProxy", ""},
                   {"HttpsProxy", ""},
                   {"NoProxy", ""},
                   {"Name", info.name},
                   {"Labels", json::array()},
                   {"ExperimentalBuild", false},
                   {"ServerVersion", BERTH_VERSION},
                   {"Runtimes", {{"berth-runtime", {{"path", "berth-runtime"}}}}},
                   {"DefaultRuntime", "berth-runtime"},
                   {"Swarm",
                    {{"NodeID", ""},
                     {"NodeAddr", ""},
                     {"LocalNodeState", "inactive"},
                     {"ControlAvailable", false},
                     {"Error", ""},
                     {"RemoteManagers", nullptr}}},
                   {"LiveRestoreEnabled", true},
                   {"Isolation", ""},
                   {"InitBinary", ""},
                   {"ContainerdCommit", {{"ID", ""}, {"Expected", ""}}},
                   {"RuncCommit", {{"ID", ""}, {"Expected", ""}}},
                   {"InitCommit", {{"ID", ""}, {"Expected", ""}}},
                   {"SecurityOptions", {"name=seccomp,profile=default", "name=userns"}},
                   {"Warnings", nullptr}});
  });

  router.Add("GET", "/system/df", [&images, &containers, &volumes](Request&, Response& res) {
    json df = images.DiskUsage();
    // Containers with their sizes, how many use each image and each volume.
    df["Containers"] = containers.List(true, 0, true, {});
    std::map<std::string, int64_t> users, volume_users;
    for (const json& c : df["Containers"]) {
      users[c.value("ImageID", "")]++;
      for (const json& m : c.value("Mounts", json::array())) {
        if (m.value("Type", "") == "volume") volume_users[m.value("Name", "")]++;
      }
    }
    for (json& image : df["Images"]) image["Containers"] = users[image.value("Id", "")];
    json list = volumes.List({});
    df["Volumes"] = json::array();
    for (json v : list.value("Volumes", json::array())) {
      std::string name = v.value("Name", "");
      v["UsageData"] = {{"Size", static_cast<int64_t>(DiskUsage(volumes.DataPath(name)))},
                        {"RefCount", volume_users[name]}};
      df["Volumes"].push_back(std::move(v));
    }
    res.Json(200, df);
  });

  // Berth's own: `berth system check`.
  router.Add("GET", "/system/check",
             [&images](Request&, Response& res) { res.Json(200, images.Check()); });
}

void AddEventRoutes(Router& router, engine::EventBus& events) {
  // A stream of one JSON object per line; without `until` it lasts until the client leaves
  // (or berthd stops).
  router.Add("GET", "/events", [&events](Request& req, Response& res) {
    engine::Filters filters = FiltersOf(req);
    engine::ValidateEventFilters(filters);
    int64_t since = engine::ParseEventTime(req.Query("since").value_or(""));
    int64_t until = engine::ParseEventTime(req.Query("until").value_or(""));
    std::shared_ptr<engine::Subscription> sub = events.Subscribe(since, until, filters);
    res.BeginStream(200, "application/json");
    while (!res.client_gone() && !res.ClientClosed()) {
      if (std::optional<engine::Event> e = sub->Next(std::chrono::seconds(1))) {
        res.Write(engine::ToJson(*e).dump() + "\n");
      } else if (sub->done()) {
        break;
      }
    }
    events.Unsubscribe(sub);
    res.EndStream();
  });
}

}  // namespace berth::api
