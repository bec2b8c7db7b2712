// berth network create|ls|inspect|rm|connect|disconnect|prune, and berth port: the docker
// CLI's network commands, same flags and output.

#include <iostream>
#include <memory>

#include "base/error.h"
#include "cli/cli.h"
#include "cli/units.h"

namespace berth::cli {
namespace {

using nlohmann::json;

const std::map<std::string, std::string> kNetworkHeaders = {
    {"ID", "NETWORK ID"}, {"Name", "NAME"},           {"Driver", "DRIVER"},
    {"Scope", "SCOPE"},   {"IPv6", "IPV6"},           {"Internal", "INTERNAL"},
    {"Labels", "LABELS"}, {"CreatedAt", "CREATED AT"}};

std::string Path(std::string_view prefix, const std::string& ref, std::string_view suffix = "") {
  return std::string(prefix) + QueryEscape(ref) + std::string(suffix);
}

// "k=v" items into a JSON object ("k" alone is "k": "").
json KeyValues(const std::vector<std::string>& items) {
  json out = json::object();
  for (const std::string& item : items) {
    size_t eq = item.find('=');
    out[item.substr(0, eq)] = eq == std::string::npos ? "" : item.substr(eq + 1);
  }
  return out;
}

struct CreateOptions {
  std::string name, driver = "bridge";
  std::vector<std::string> subnets, gateways, ip_ranges;  // one IPv4 and one IPv6 at most
  bool internal = false, attachable = false, ipv6 = false;
  std::vector<std::string> labels, options;
};

// The docker CLI's consolidateIpam: each gateway and ip-range goes with a subnet. berthd takes
// one subnet per family, so they pair by family (":" is IPv6); berthd checks containment.
json IpamConfig(const std::vector<std::string>& subnets, const std::vector<std::string>& gateways,
                const std::vector<std::string>& ranges) {
  if (subnets.size() < ranges.size() || subnets.size() < gateways.size()) {
    ThrowInvalid("every ip-range or gateway must have a corresponding subnet");
  }
  auto v6 = [](const std::string& s) { return s.find(':') != std::string::npos; };
  json out = json::array();
  for (const std::string& s : subnets) out.push_back({{"Subnet", s}});
  auto place = [&](const std::string& value, const char* key, const char* what) {
    for (size_t i = 0; i < subnets.size(); ++i) {
      if (v6(subnets[i]) != v6(value)) continue;
      if (out[i].contains(key)) {
        ThrowInvalid(std::string("cannot configure multiple ") + what + "s (" + value + ", " +
                     out[i][key].get<std::string>() + ") on the same subnet (" + subnets[i] + ")");
      }
      out[i][key] = value;
      return;
    }
    ThrowInvalid(std::string("no matching subnet for ") + what + " " + value);
  };
  for (const std::string& r : ranges) place(r, "IPRange", "range");
  for (const std::string& g : gateways) place(g, "Gateway", "gateway");
  return out;
}

void Create(Context& ctx, const CreateOptions& o) {
  json body = {{"Name", o.name},
               {"CheckDuplicate", true},
               {"Driver", o.driver},
               {"Internal", o.internal},
               {"Attachable", o.attachable},
               {"EnableIPv6", o.ipv6},
               {"Options", KeyValues(o.options)},
               {"Labels", KeyValues(o.labels)}};
  json ipam = {{"Driver", "default"}, {"Options", json::object()}, {"Config", json::array()}};
  ipam["Config"] = IpamConfig(o.subnets, o.gateways, o.ip_ranges);
  body["IPAM"] = ipam;
  json out = ctx.client().Json("POST", "/networks/create", &body);
  std::cout << out.value("Id", "") << "\n";
}

void List(Context& ctx, const std::vector<std::string>& filters, const std::string& format,
          bool quiet, bool no_trunc) {
  std::string target = "/networks";
  if (!filters.empty()) target += "?filters=" + QueryEscape(FiltersJson(filters));
  json nets = ctx.client().Json("GET", target);
  std::vector<json> rows;
  for (const json& n : nets) {
    std::string id = n.value("Id", "");
    if (quiet) {
      std::cout << (no_trunc ? id : TruncateId(id)) << "\n";
      continue;
    }
    std::string labels;
    const json label_map = n.value("Labels", json::object());
    for (const auto& item : label_map.items()) {
      labels += (labels.empty() ? "" : ",") + item.key() + "=" + item.value().get<std::string>();
    }
    rows.push_back({{"ID", no_trunc ? id : TruncateId(id)},
                    {"Name", n.value("Name", "")},
                    {"Driver", n.value("Driver", "")},
                    {"Scope", n.value("Scope", "")},
                    {"IPv6", n.value("EnableIPv6", false) ? "true" : "false"},
                    {"Internal", n.value("Internal", false) ? "true" : "false"},
                    {"Labels", labels},
                    {"CreatedAt", n.value("Created", "")}});
  }
  if (!quiet) {
    PrintList(format, "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}", rows, kNetworkHeaders);
  }
}

void Inspect(Context& ctx, const std::vector<std::string>& names, const std::string& format) {
  std::vector<json> items;
  std::string error;
  for (const std::string& n : names) {
    try {
      items.push_back(ctx.client().Json("GET", Path("/networks/", n)));
    } catch (const Error& e) {
      error = e.what();
    }
  }
  PrintInspect(format, items);
  if (!error.empty()) {
    std::cerr << "Error: " << error << "\n";
    throw ExitStatus(1);
  }
}

void Remove(Context& ctx, const std::vector<std::string>& names) {
  int failed = 0;
  for (const std::string& n : names) {
    try {
      ctx.client().Do("DELETE", Path("/networks/", n));
      std::cout << n << "\n";
    } catch (const Error& e) {
      std::cerr << "Error: " << e.what() << "\n";
      ++failed;
    }
  }
  if (failed) throw ExitStatus(1);
}

void Connect(Context& ctx, const std::string& network, const std::string& container,
             const std::string& ip, const std::string& ip6,
             const std::vector<std::string>& aliases) {
  json settings = json::object();
  if (!ip.empty()) settings["IPAMConfig"]["IPv4Address"] = ip;
  if (!ip6.empty()) settings["IPAMConfig"]["IPv6Address"] = ip6;
  if (!aliases.empty()) settings["Aliases"] = aliases;
  json body = {{"Container", container}, {"EndpointConfig", settings}};
  ctx.client().Json("POST", Path("/networks/", network, "/connect"), &body);
}

void Disconnect(Context& ctx, const std::string& network, const std::string& container,
                bool force) {
  json body = {{"Container", container}, {"Force", force}};
  ctx.client().Json("POST", Path("/networks/", network, "/disconnect"), &body);
}

void Prune(Context& ctx, const std::vector<std::string>& filters, bool force) {
  if (!force) {
    std::cerr << "WARNING! This will remove all custom networks not used by at least one "
                 "container.\nAre you sure you want to continue? [y/N] "
              << std::flush;
    std::string answer;
    std::getline(std::cin, answer);
    if (answer != "y" && answer != "Y") return;
  }
  std::string target = "/networks/prune";
  if (!filters.empty()) target += "?filters=" + QueryEscape(FiltersJson(filters));
  json out = ctx.client().Json("POST", target);
  json deleted = out.value("NetworksDeleted", json::array());
  if (deleted.is_array() && !deleted.empty()) {
    std::cout << "Deleted Networks:\n";
    for (const json& n : deleted) std::cout << n.get<std::string>() << "\n";
  }
}

// `berth port CONTAINER [PRIVATE_PORT[/PROTO]]`, as docker port prints it.
void Port(Context& ctx, const std::string& container, const std::string& which) {
  json c = ctx.client().Json("GET", Path("/containers/", container, "/json"));
  json ports = c["NetworkSettings"].value("Ports", json::object());
  if (!ports.is_object()) ports = json::object();
  std::string want = which;
  if (!want.empty() && want.find('/') == std::string::npos) want += "/tcp";
  bool found = false;
  for (const auto& item : ports.items()) {
    if (!want.empty() && item.key() != want) continue;
    if (!item.value().is_array()) continue;
    for (const json& b : item.value()) {
      std::string host = b.value("HostIp", "") + ":" + b.value("HostPort", "");
      if (want.empty()) {
        std::cout << item.key() << " -> " << host << "\n";
      } else {
        std::cout << host << "\n";
      }
      found = true;
    }
  }
  if (!found && !want.empty()) {
    std::cerr << "Error: No public port '" << want << "' published for " << container << "\n";
    throw ExitStatus(1);
  }
}

}  // namespace

void AddNetworkCommands(CLI::App& app, Context& ctx) {
  CLI::App* net = app.add_subcommand("network", "Manage networks");
  net->require_subcommand(1);

  {
    auto o = std::make_shared<CreateOptions>();
    CLI::App* cmd = net->add_subcommand("create", "Create a network");
    cmd->add_option("name", o->name, "NETWORK")->required();
    cmd->add_option("-d,--driver", o->driver, "Driver to manage the Network");
    cmd->add_option("--subnet", o->subnets, "Subnet in CIDR format that represents a network")
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    cmd->add_option("--gateway", o->gateways, "IPv4 or IPv6 Gateway for the master subnet")
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    cmd->add_option("--ip-range", o->ip_ranges, "Allocate container ip from a sub-range")
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    cmd->add_flag("--internal", o->internal, "Restrict external access to the network");
    cmd->add_flag("--attachable", o->attachable, "Enable manual container attachment");
    cmd->add_flag("--ipv6", o->ipv6, "Enable IPv6 networking");
    cmd->add_option("--label", o->labels, "Set metadata on a network")->take_all();
    cmd->add_option("-o,--opt", o->options, "Set driver specific options")->take_all();
    cmd->callback([&ctx, o] { Create(ctx, *o); });
  }
  {
    struct O {
      std::vector<std::string> filters;
      std::string format;
      bool quiet = false, no_trunc = false;
    };
    auto o = std::make_shared<O>();
    CLI::App* cmd = net->add_subcommand("ls", "List networks")->alias("list");
    cmd->add_option("-f,--filter", o->filters, "Provide filter values (e.g. 'driver=bridge')");
    cmd->add_option("--format", o->format, "Pretty-print networks using a Go template");
    cmd->add_flag("-q,--quiet", o->quiet, "Only display network IDs");
    cmd->add_flag("--no-trunc", o->no_trunc, "Do not truncate the output");
    cmd->callback([&ctx, o] { List(ctx, o->filters, o->format, o->quiet, o->no_trunc); });
  }
  {
    struct O {
      std::vector<std::string> names;
      std::string format;
      bool verbose = false;
    };
    auto o = std::make_shared<O>();
    CLI::App* cmd = net->add_subcommand("inspect", "Display detailed information on networks");
    cmd->add_option("network", o->names, "NETWORK")->required();
    cmd->add_option("-f,--format", o->format, "Format the output using the given Go template");
    cmd->add_flag("-v,--verbose", o->verbose, "Verbose output for diagnostics");
    cmd->callback([&ctx, o] { Inspect(ctx, o->names, o->format); });
  }
  {
    auto names = std::make_shared<std::vector<std::string>>();
    CLI::App* cmd = net->add_subcommand("rm", "Remove one or more networks")->alias("remove");
    cmd->add_option("network", *names, "NETWORK")->required();
    cmd->callback([&ctx, names] { Remove(ctx, *names); });
  }
  {
    struct O {
      std::string network, container, ip, ip6;
      std::vector<std::string> aliases;
    };
    auto o = std::make_shared<O>();
    CLI::App* cmd = net->add_subcommand("connect", "Connect a container to a network");
    cmd->add_option("network", o->network, "NETWORK")->required();
    cmd->add_option("container", o->container, "CONTAINER")->required();
    cmd->add_option("--ip", o->ip, "IPv4 address (e.g., 172.30.100.104)");
    cmd->add_option("--ip6", o->ip6, "IPv6 address (e.g., 2001:db8::33)");
    cmd->add_option("--alias", o->aliases, "Add network-scoped alias for the container")
        ->take_all();
    cmd->callback([&ctx, o] { Connect(ctx, o->network, o->container, o->ip, o->ip6, o->aliases); });
  }
  {
    struct O {
      std::string network, container;
      bool force = false;
    };
    auto o = std::make_shared<O>();
    CLI::App* cmd = net->add_subcommand("disconnect", "Disconnect a container from a network");
    cmd->add_option("network", o->network, "NETWORK")->required();
    cmd->add_option("container", o->container, "CONTAINER")->required();
    cmd->add_flag("-f,--force", o->force, "Force the container to disconnect from a network");
    cmd->callback([&ctx, o] { Disconnect(ctx, o->network, o->container, o->force); });
  }
  {
    struct O {
      std::vector<std::string> filters;
      bool force = false;
    };
    auto o = std::make_shared<O>();
    CLI::App* cmd = net->add_subcommand("prune", "Remove all unused networks");
    cmd->add_option("--filter", o->filters, "Provide filter values (e.g. 'until=<timestamp>')");
    cmd->add_flag("-f,--force", o->force, "Do not prompt for confirmation");
    cmd->callback([&ctx, o] { Prune(ctx, o->filters, o->force); });
  }
  {
    auto args = std::make_shared<std::vector<std::string>>();
    CLI::App* cmd = app.add_subcommand("port",
                                       "List port mappings or a specific mapping for "
                                       "the container");
    cmd->add_option("args", *args, "CONTAINER [PRIVATE_PORT[/PROTO]]")->required()->expected(1, 2);
    cmd->callback([&ctx, args] { Port(ctx, (*args)[0], args->size() > 1 ? (*args)[1] : ""); });
  }
}

}  // namespace berth::cli
