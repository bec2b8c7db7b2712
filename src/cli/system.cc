// berth version | info | system df | system check.

#include <sys/utsname.h>

#include <algorithm>
#include <ctime>
#include <iostream>

#include "base/error.h"
#include "cli/cli.h"
#include "cli/container_format.h"
#include "cli/table.h"
#include "cli/units.h"

#ifndef BERTH_VERSION
#define BERTH_VERSION "0.0.0"
#endif

namespace berth::cli {
namespace {

using nlohmann::json;

std::string Str(const json& doc, const char* key) {
  return doc.contains(key) && doc[key].is_string() ? doc[key].get<std::string>() : "";
}

void Version(Context& ctx, const std::string& format) {
  struct utsname u;
  uname(&u);
  json client = {{"Version", BERTH_VERSION},
                 {"ApiVersion", "1.41"},
                 {"Os", "linux"},
                 {"Arch", std::string(u.machine) == "x86_64" ? "amd64" : u.machine}};
  json server;
  std::string server_error;
  try {
    server = ctx.client().Json("GET", "/version");
  } catch (const Error& e) {
    server_error = e.what();
  }
  if (!format.empty()) {
    std::cout << RenderList(format, {json{{"Client", client}, {"Server", server}}}, {});
    if (!server_error.empty()) {
      throw Error(Kind::kUnavailable, server_error);
    }
    return;
  }
  std::cout << "Client: Berth\n"
            << " Version:           " << BERTH_VERSION << "\n"
            << " API version:       1.41\n"
            << " OS/Arch:           linux/" << client["Arch"].get<std::string>() << "\n\n";
  if (!server_error.empty()) {
    throw Error(Kind::kUnavailable, server_error);
  }
  std::cout << "Server: " << server["Platform"].value("Name", "") << "\n"
            << " Engine:\n"
            << "  Version:          " << Str(server, "Version") << "\n"
            << "  API version:      " << Str(server, "ApiVersion") << " (minimum version "
            << Str(server, "MinAPIVersion") << ")\n"
            << "  Compiler:         " << Str(server, "GoVersion") << "\n"
            << "  OS/Arch:          " << Str(server, "Os") << "/" << Str(server, "Arch") << "\n"
            << "  Kernel:           " << Str(server, "KernelVersion") << "\n";
}

void Info(Context& ctx, const std::string& format) {
  json info = ctx.client().Json("GET", "/info");
  if (!format.empty()) {
    std::cout << RenderList(format, {info}, {});
    return;
  }
  std::cout << "Server:\n"
            << " Containers: " << info.value("Containers", 0) << "\n"
            << "  Running: " << info.value("ContainersRunning", 0) << "\n"
            << "  Paused: " << info.value("ContainersPaused", 0) << "\n"
            << "  Stopped: " << info.value("ContainersStopped", 0) << "\n"
            << " Images: " << info.value("Images", 0) << "\n"
            << " Server Version: " << Str(info, "ServerVersion") << "\n"
            << " Storage Driver: " << Str(info, "Driver") << "\n"
            << " Cgroup Driver: " << Str(info, "CgroupDriver") << "\n"
            << " Cgroup Version: " << Str(info, "CgroupVersion") << "\n"
            << " Default Runtime: " << Str(info, "DefaultRuntime") << "\n"
            << " Security Options:";
  for (const json& opt : info.value("SecurityOptions", json::array())) {
    std::cout << " " << opt.get<std::string>();
  }
  std::cout << "\n"
            << " Kernel Version: " << Str(info, "KernelVersion") << "\n"
            << " Operating System: " << Str(info, "OperatingSystem") << "\n"
            << " Architecture: " << Str(info, "Architecture") << "\n"
            << " CPUs: " << info.value("NCPU", 0) << "\n"
            << " Total Memory: " << BytesSize(info.value("MemTotal", 0.0)) << "\n"
            << " Name: " << Str(info, "Name") << "\n"
            << " Berth Root Dir: " << Str(info, "DockerRootDir") << "\n"
            << " Live Restore Enabled: "
            << (info.value("LiveRestoreEnabled", false) ? "true" : "false") << "\n";
}

std::string Percent(int64_t part, int64_t whole) {
  return whole > 0 ? " (" + std::to_string(part * 100 / whole) + "%)" : std::string();
}

std::string Size(int64_t bytes) { return HumanSize(static_cast<double>(bytes)); }

void DiskUsage(Context& ctx, const std::string& format, bool verbose) {
  json df = ctx.client().Json("GET", "/system/df");
  const json none = json::array();
  const json& images = df.contains("Images") && df["Images"].is_array() ? df["Images"] : none;
  const json& containers =
      df.contains("Containers") && df["Containers"].is_array() ? df["Containers"] : none;
  const json& volumes = df.contains("Volumes") && df["Volumes"].is_array() ? df["Volumes"] : none;
  if (verbose) {
    std::vector<json> rows;
    int64_t now = time(nullptr);
    for (const json& image : images) {
      std::string repo = "<none>", tag = "<none>";
      const json& tags = image.value("RepoTags", json::array());
      if (tags.is_array() && !tags.empty() && tags[0].is_string()) {
        std::string t = tags[0].get<std::string>();
        size_t colon = t.rfind(':');
        if (t != "<none>:<none>" && colon != std::string::npos) {
          repo = t.substr(0, colon);
          tag = t.substr(colon + 1);
        }
      }
      int64_t size = image.value("Size", int64_t{0}),
              shared = image.value("SharedSize", int64_t{0});
      rows.push_back({{"Repository", repo},
                      {"Tag", tag},
                      {"ID", TruncateId(image.value("Id", ""))},
                      {"CreatedSince", TimeAgo(now - image.value("Created", now))},
                      {"Size", Size(size)},
                      {"SharedSize", Size(shared)},
                      {"UniqueSize", Size(size - shared)},
                      {"Containers", std::to_string(image.value("Containers", 0))}});
    }
    std::cout << "Images space usage:\n\n";
    PrintList("",
              "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t"
              "{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}",
              rows,
              {{"Repository", "REPOSITORY"},
               {"Tag", "TAG"},
               {"ID", "IMAGE ID"},
               {"CreatedSince", "CREATED"},
               {"Size", "SIZE"},
               {"SharedSize", "SHARED SIZE"},
               {"UniqueSize", "UNIQUE SIZE"},
               {"Containers", "CONTAINERS"}});
    rows.clear();
    for (const json& c : containers) {
      json row = PsRow(c, true, now);
      int64_t volumes_used = 0;
      for (const json& m : c.value("Mounts", json::array())) {
        if (m.value("Type", "") == "volume") ++volumes_used;
      }
      row["LocalVolumes"] = std::to_string(volumes_used);
      row["Size"] = Size(c.value("SizeRw", int64_t{0}));
      rows.push_back(row);
    }
    std::cout << "\nContainers space usage:\n\n";
    PrintList("",
              "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t"
              "{{.RunningFor}}\t{{.Status}}\t{{.Names}}",
              rows, kPsHeaders);
    rows.clear();
    for (const json& v : volumes) {
      const json& usage = v.value("UsageData", json::object());
      rows.push_back({{"Name", v.value("Name", "")},
                      {"Links", std::to_string(usage.value("RefCount", 0))},
                      {"Size", Size(usage.value("Size", int64_t{0}))}});
    }
    std::cout << "\nLocal Volumes space usage:\n\n";
    PrintList("", "table {{.Name}}\t{{.Links}}\t{{.Size}}", rows,
              {{"Name", "VOLUME NAME"}, {"Links", "LINKS"}, {"Size", "SIZE"}});
    std::cout << "\nBuild cache usage: 0B\n\n";
    PrintList("",
              "table {{.ID}}\t{{.Type}}\t{{.Size}}\t{{.Created}}\t{{.LastUsed}}\t"
              "{{.Usage}}\t{{.Shared}}",
              {},
              {{"ID", "CACHE ID"},
               {"Type", "CACHE TYPE"},
               {"Size", "SIZE"},
               {"Created", "CREATED"},
               {"LastUsed", "LAST USED"},
               {"Usage", "USAGE"},
               {"Shared", "SHARED"}});
    return;
  }
  // Docker's rule: what images in use hold (less what they share) is not reclaimable.
  int64_t used = 0;
  size_t active = 0;
  for (const json& image : images) {
    if (image.value("Containers", 0) > 0) {
      ++active;
      used += image.value("Size", int64_t{0}) - image.value("SharedSize", int64_t{0});
    }
  }
  int64_t layers = df.value("LayersSize", int64_t{0});
  int64_t reclaimable = std::max<int64_t>(0, layers - used);
  size_t running = 0;
  int64_t containers_size = 0, containers_reclaimable = 0;
  for (const json& c : containers) {
    int64_t size = c.value("SizeRw", int64_t{0});
    containers_size += size;
    if (c.value("State", "") == "running" || c.value("State", "") == "paused") {
      ++running;
    } else {
      containers_reclaimable += size;
    }
  }
  size_t volumes_active = 0;
  int64_t volumes_size = 0, volumes_reclaimable = 0;
  for (const json& v : volumes) {
    const json& usage = v.value("UsageData", json::object());
    int64_t size = usage.value("Size", int64_t{0});
    volumes_size += size;
    if (usage.value("RefCount", 0) > 0) {
      ++volumes_active;
    } else {
      volumes_reclaimable += size;
    }
  }
  std::vector<json> rows = {
      {{"Type", "Images"},
       {"TotalCount", images.size()},
       {"Active", active},
       {"Size", Size(layers)},
       {"Reclaimable", Size(reclaimable) + Percent(reclaimable, layers)}},
      {{"Type", "Containers"},
       {"TotalCount", containers.size()},
       {"Active", running},
       {"Size", Size(containers_size)},
       {"Reclaimable",
        Size(containers_reclaimable) + Percent(containers_reclaimable, containers_size)}},
      {{"Type", "Local Volumes"},
       {"TotalCount", volumes.size()},
       {"Active", volumes_active},
       {"Size", Size(volumes_size)},
       {"Reclaimable", Size(volumes_reclaimable) + Percent(volumes_reclaimable, volumes_size)}},
      {{"Type", "Build Cache"},
       {"TotalCount", 0},
       {"Active", 0},
       {"Size", "0B"},
       {"Reclaimable", "0B"}}};
  PrintList(format, "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
            rows,
            {{"Type", "TYPE"},
             {"TotalCount", "TOTAL"},
             {"Active", "ACTIVE"},
             {"Size", "SIZE"},
             {"Reclaimable", "RECLAIMABLE"}});
}

struct PruneFlags {
  bool all = false, force = false, volumes = false;
  std::vector<std::string> filters;
};

// docker system prune: stopped containers, unused networks, dangling (or, with -a, unused)
// images and, with --volumes, unused anonymous volumes — each through its own prune endpoint.
void SystemPrune(Context& ctx, const PruneFlags& f) {
  if (!f.force) {
    std::cout << "WARNING! This will remove:\n"
                 "  - all stopped containers\n"
                 "  - all networks not used by at least one container\n";
    if (f.volumes) std::cout << "  - all volumes not used by at least one container\n";
    std::cout << (f.all ? "  - all images without at least one container associated to them\n"
                        : "  - all dangling images\n")
              << "  - all dangling build cache\n\nAre you sure you want to continue? [y/N] "
              << std::flush;
    std::string answer;
    std::getline(std::cin, answer);
    if (answer != "y" && answer != "Y") return;
  }
  std::string filters = f.filters.empty() ? "" : "filters=" + QueryEscape(FiltersJson(f.filters));
  auto target = [&filters](const std::string& path, const std::string& extra = "") {
    std::string query = filters;
    if (!extra.empty()) query += (query.empty() ? "" : "&") + extra;
    return path + (query.empty() ? "" : "?" + query);
  };
  int64_t reclaimed = 0;
  auto list = [](const char* title, const json& items) {
    if (!items.is_array() || items.empty()) return;
    std::cout << title << ":\n";
    for (const json& item : items) {
      if (item.is_string()) {
        std::cout << item.get<std::string>() << "\n";
      } else if (item.contains("Untagged")) {
        std::cout << "untagged: " << item.value("Untagged", "") << "\n";
      } else {
        std::cout << "deleted: " << item.value("Deleted", "") << "\n";
      }
    }
    std::cout << "\n";
  };
  json containers = ctx.client().Json("POST", target("/containers/prune"));
  list("Deleted Containers", containers.value("ContainersDeleted", json()));
  reclaimed += containers.value("SpaceReclaimed", int64_t{0});
  try {
    json networks = ctx.client().Json("POST", target("/networks/prune"));
    list("Deleted Networks", networks.value("NetworksDeleted", json()));
  } catch (const Error& e) {
    if (e.kind() != Kind::kNotFound) throw;  // a daemon without networks
  }
  if (f.volumes) {
    json volumes = ctx.client().Json("POST", target("/volumes/prune"));
    list("Deleted Volumes", volumes.value("VolumesDeleted", json()));
    reclaimed += volumes.value("SpaceReclaimed", int64_t{0});
  }
  json images = ctx.client().Json(
      "POST",
      target("/images/prune", f.all ? "filters=" + QueryEscape(R"({"dangling":["false"]})") : ""));
  list("Deleted Images", images.value("ImagesDeleted", json()));
  reclaimed += images.value("SpaceReclaimed", int64_t{0});
  std::cout << "Total reclaimed space: " << Size(reclaimed) << "\n";
}

void Check(Context& ctx) {
  json report = ctx.client().Json("GET", "/system/check");
  for (const json& problem : report["Problems"]) {
    std::cout << problem.get<std::string>() << "\n";
  }
  std::string summary = std::to_string(report.value("Images", 0)) + " images, " +
                        std::to_string(report.value("Blobs", 0)) + " blobs, " +
                        std::to_string(report.value("Snapshots", 0)) + " snapshots";
  if (!report["Problems"].empty()) {
    throw Error(Kind::kDataLoss, "the store has " + std::to_string(report["Problems"].size()) +
                                     " problem(s) (" + summary + ")");
  }
  std::cout << "store ok: " << summary << "\n";
}

}  // namespace

void AddSystemCommands(CLI::App& app, Context& ctx) {
  auto version_format = std::make_shared<std::string>();
  CLI::App* version = app.add_subcommand("version", "Show the Berth version information");
  version->add_option("-f,--format", *version_format,
                      "Format the output using the given Go template");
  version->callback([&ctx, version_format] { Version(ctx, *version_format); });

  auto info_format = std::make_shared<std::string>();
  CLI::App* info = app.add_subcommand("info", "Display system-wide information");
  info->add_option("-f,--format", *info_format, "Format the output using the given Go template");
  info->callback([&ctx, info_format] { Info(ctx, *info_format); });

  CLI::App* system = app.add_subcommand("system", "Manage Berth");
  system->require_subcommand(1);
  struct DfFlags {
    std::string format;
    bool verbose = false;
  };
  auto d = std::make_shared<DfFlags>();
  CLI::App* df = system->add_subcommand("df", "Show disk usage");
  df->add_option("--format", d->format, "Pretty-print using a Go template");
  df->add_flag("-v,--verbose", d->verbose, "Show detailed information on space usage");
  df->callback([&ctx, d] { DiskUsage(ctx, d->format, d->verbose); });
  auto p = std::make_shared<PruneFlags>();
  CLI::App* prune = system->add_subcommand("prune", "Remove unused data");
  prune->add_flag("-a,--all", p->all, "Remove all unused images not just dangling ones");
  prune->add_flag("-f,--force", p->force, "Do not prompt for confirmation");
  prune->add_flag("--volumes", p->volumes, "Prune anonymous volumes");
  prune->add_option("--filter", p->filters, "Provide filter values (e.g. 'label=<key>=<value>')")
      ->allow_extra_args(false);
  prune->callback([&ctx, p] { SystemPrune(ctx, *p); });
  AddEventsCommand(system->add_subcommand("events", "Get real time events from the server"), ctx);
  CLI::App* check = system->add_subcommand(
      "check", "Verify the store: blobs against their digests, names, images, snapshots");
  check->callback([&ctx] { Check(ctx); });
  auto system_info_format = std::make_shared<std::string>();
  CLI::App* system_info = system->add_subcommand("info", "Display system-wide information");
  system_info->add_option("-f,--format", *system_info_format,
                          "Format the output using the given Go template");
  system_info->callback([&ctx, system_info_format] { Info(ctx, *system_info_format); });
}

}  // namespace berth::cli
