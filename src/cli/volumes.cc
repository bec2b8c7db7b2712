// berth volume create|ls|inspect|rm|prune: the docker CLI's volume commands, same flags and
// output.

#include <algorithm>
#include <iostream>

#include "base/error.h"
#include "cli/cli.h"
#include "cli/units.h"

namespace berth::cli {
namespace {

using nlohmann::json;

const std::map<std::string, std::string> kVolumeHeaders = {
    {"Name", "VOLUME NAME"}, {"Driver", "DRIVER"}, {"Scope", "SCOPE"}, {"Mountpoint", "MOUNTPOINT"},
    {"Labels", "LABELS"},    {"Links", "LINKS"},   {"Size", "SIZE"}};

// The docker CLI's volume context: Labels as "k=v,k2=v2" (sorted), Links/Size unknown.
json Row(const json& v) {
  std::string labels;
  if (v.contains("Labels") && v["Labels"].is_object()) {
    for (const auto& item : v["Labels"].items()) {
      labels += (labels.empty() ? "" : ",") + item.key() + "=" + item.value().get<std::string>();
    }
  }
  return {{"Name", v.value("Name", "")},
          {"Driver", v.value("Driver", "")},
          {"Scope", v.value("Scope", "")},
          {"Mountpoint", v.value("Mountpoint", "")},
          {"Labels", labels},
          {"Links", "N/A"},
          {"Size", "N/A"}};
}

json KeyValues(const std::vector<std::string>& items, const char* flag) {
  json out = json::object();
  for (const std::string& item : items) {
    size_t eq = item.find('=');
    if (item.empty() || eq == 0) {
      ThrowInvalid(std::string("invalid argument \"") + item + "\" for \"" + flag + "\" flag");
    }
    out[item.substr(0, eq)] = eq == std::string::npos ? "" : item.substr(eq + 1);
  }
  return out;
}

void Create(Context& ctx, const std::string& positional, const std::string& flag_name,
            const std::string& driver, const std::vector<std::string>& opts,
            const std::vector<std::string>& labels) {
  if (!positional.empty() && !flag_name.empty() && positional != flag_name) {
    ThrowInvalid("conflicting options: either specify --name or provide positional arg, not both");
  }
  std::string name = positional.empty() ? flag_name : positional;
  json body = {{"Name", name},
               {"Driver", driver.empty() ? "local" : driver},
               {"DriverOpts", KeyValues(opts, "--opt")},
               {"Labels", KeyValues(labels, "--label")}};
  json v = ctx.client().Json("POST", "/volumes/create", &body);
  std::cout << v.value("Name", "") << "\n";
}

void List(Context& ctx, bool quiet, const std::vector<std::string>& filters,
          const std::string& format) {
  std::string target = "/volumes";
  if (!filters.empty()) target += "?filters=" + QueryEscape(FiltersJson(filters));
  json out = ctx.client().Json("GET", target);
  std::vector<json> rows;
  if (out.contains("Volumes") && out["Volumes"].is_array()) {
    for (const json& v : out["Volumes"]) rows.push_back(Row(v));
  }
  std::sort(rows.begin(), rows.end(), [](const json& a, const json& b) {
    return a["Name"].get<std::string>() < b["Name"].get<std::string>();
  });
  if (quiet && format.empty()) {
    for (const json& r : rows) std::cout << r["Name"].get<std::string>() << "\n";
    return;
  }
  PrintList(format, "table {{.Driver}}\t{{.Name}}", rows, kVolumeHeaders);
}

void Inspect(Context& ctx, const std::vector<std::string>& names, const std::string& format) {
  std::vector<json> items;
  std::string failed;
  for (const std::string& name : names) {
    try {
      items.push_back(ctx.client().Json("GET", "/volumes/" + QueryEscape(name)));
    } catch (const Error& e) {
      if (e.kind() != Kind::kNotFound) throw;
      failed += (failed.empty() ? "" : "\nError: ") + std::string("No such volume: ") + name;
    }
  }
  PrintInspect(format, items);
  if (!failed.empty()) throw Error(Kind::kNotFound, failed);
}

void Remove(Context& ctx, const std::vector<std::string>& names, bool force) {
  std::string failed;
  for (const std::string& name : names) {
    try {
      ctx.client().Json("DELETE", "/volumes/" + QueryEscape(name) + (force ? "?force=1" : ""));
      std::cout << name << "\n";
    } catch (const Error& e) {
      failed += (failed.empty() ? "" : "\nError: ") + std::string(e.what());
    }
  }
  if (!failed.empty()) throw Error(Kind::kConflict, failed);
}

void Prune(Context& ctx, bool all, bool force, const std::vector<std::string>& filters) {
  if (!force) {
    std::cerr << "WARNING! This will remove " << (all ? "all" : "anonymous")
              << " local volumes not used by at least one container.\n"
                 "Are you sure you want to continue? [y/N] "
              << std::flush;
    std::string answer;
    std::getline(std::cin, answer);
    if (answer != "y" && answer != "Y") return;
  }
  std::vector<std::string> f = filters;
  f.push_back(std::string("all=") + (all ? "true" : "false"));
  json out = ctx.client().Json("POST", "/volumes/prune?filters=" + QueryEscape(FiltersJson(f)));
  if (out["VolumesDeleted"].is_array() && !out["VolumesDeleted"].empty()) {
    std::cout << "Deleted Volumes:\n";
    for (const json& name : out["VolumesDeleted"]) std::cout << name.get<std::string>() << "\n";
    std::cout << "\n";
  }
  std::cout << "Total reclaimed space: " << HumanSize(out["SpaceReclaimed"].get<double>()) << "\n";
}

}  // namespace

void AddVolumeCommands(CLI::App& app, Context& ctx) {
  CLI::App* volume = app.add_subcommand("volume", "Manage volumes");
  volume->require_subcommand(1);

  {
    struct O {
      std::string name, flag_name, driver = "local";
      std::vector<std::string> opts, labels;
    };
    auto o = std::make_shared<O>();
    CLI::App* cmd = volume->add_subcommand("create", "Create a volume");
    cmd->add_option("name", o->name, "VOLUME");
    cmd->add_option("--name", o->flag_name, "Specify volume name");
    cmd->add_option("-d,--driver", o->driver, "Specify volume driver name")->capture_default_str();
    cmd->add_option("-o,--opt", o->opts, "Set driver specific options")->allow_extra_args(false);
    cmd->add_option("--label", o->labels, "Set metadata for a volume")->allow_extra_args(false);
    cmd->callback([&ctx, o] { Create(ctx, o->name, o->flag_name, o->driver, o->opts, o->labels); });
  }
  {
    struct O {
      bool quiet = false;
      std::vector<std::string> filters;
      std::string format;
    };
    auto o = std::make_shared<O>();
    CLI::App* cmd = volume->add_subcommand("ls", "List volumes")->alias("list");
    cmd->add_flag("-q,--quiet", o->quiet, "Only display volume names");
    cmd->add_option("-f,--filter", o->filters, "Provide filter values (e.g. 'dangling=true')")
        ->allow_extra_args(false);
    cmd->add_option("--format", o->format, "Pretty-print volumes using a Go template");
    cmd->callback([&ctx, o] { List(ctx, o->quiet, o->filters, o->format); });
  }
  {
    auto names = std::make_shared<std::vector<std::string>>();
    auto format = std::make_shared<std::string>();
    CLI::App* cmd =
        volume->add_subcommand("inspect", "Display detailed information on one or more volumes");
    cmd->add_option("volume", *names, "VOLUME")->required();
    cmd->add_option("-f,--format", *format, "Format the output using the given Go template");
    cmd->callback([&ctx, names, format] { Inspect(ctx, *names, *format); });
  }
  {
    struct O {
      std::vector<std::string> names;
      bool force = false;
    };
    auto o = std::make_shared<O>();
    CLI::App* cmd = volume->add_subcommand("rm", "Remove one or more volumes")->alias("remove");
    cmd->add_option("volume", o->names, "VOLUME")->required();
    cmd->add_flag("-f,--force", o->force, "Force the removal of one or more volumes");
    cmd->callback([&ctx, o] { Remove(ctx, o->names, o->force); });
  }
  {
    struct O {
      bool all = false, force = false;
      std::vector<std::string> filters;
    };
    auto o = std::make_shared<O>();
    CLI::App* cmd = volume->add_subcommand("prune", "Remove unused local volumes");
    cmd->add_flag("-a,--all", o->all, "Remove all unused volumes, not just anonymous ones");
    cmd->add_flag("-f,--force", o->force, "Do not prompt for confirmation");
    cmd->add_option("--filter", o->filters, "Provide filter values (e.g. 'label=<label>')")
        ->allow_extra_args(false);
    cmd->callback([&ctx, o] { Prune(ctx, o->all, o->force, o->filters); });
  }
}

}  // namespace berth::cli
