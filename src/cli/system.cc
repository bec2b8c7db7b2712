// berth version | info | system df | system check.

#include <sys/utsname.h>

#include <iostream>

#include "base/error.h"
#include "cli/cli.h"
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

void DiskUsage(Context& ctx, const std::string& format) {
  json df = ctx.client().Json("GET", "/system/df");
  int64_t images_size = 0, reclaimable = 0;
  size_t active = 0;
  for (const json& image : df["Images"]) {
    if (image.value("Containers", 0) > 0) {
      ++active;
    } else {
      reclaimable += image.value("Size", 0) - image.value("SharedSize", 0);
    }
    (void)images_size;
  }
  int64_t layers = df.value("LayersSize", 0);
  auto percent = [](int64_t part, int64_t whole) {
    return whole > 0 ? " (" + std::to_string(part * 100 / whole) + "%)" : std::string();
  };
  std::vector<json> rows = {
      {{"Type", "Images"},
       {"TotalCount", df["Images"].size()},
       {"Active", active},
       {"Size", HumanSize(static_cast<double>(layers))},
       {"Reclaimable", HumanSize(static_cast<double>(std::min(reclaimable, layers))) +
                           percent(std::min(reclaimable, layers), layers)}},
      {{"Type", "Containers"},
       {"TotalCount", 0},
       {"Active", 0},
       {"Size", "0B"},
       {"Reclaimable", "0B"}},
      {{"Type", "Local Volumes"},
       {"TotalCount", 0},
       {"Active", 0},
       {"Size", "0B"},
       {"Reclaimable", "0B"}},
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
  auto df_format = std::make_shared<std::string>();
  CLI::App* df = system->add_subcommand("df", "Show disk usage");
  df->add_option("--format", *df_format, "Pretty-print using a Go template");
  df->callback([&ctx, df_format] { DiskUsage(ctx, *df_format); });
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
