#pragma once

#include <CLI/CLI.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/client.h"

// The `berth` commands. Each group registers its subcommands on the app; everything a
// command does goes through the Engine API client (DESIGN.md: the CLI has no logic of its
// own beyond parsing and rendering).

namespace berth::cli {

class Context {
 public:
  std::string host;           // -H, else BERTH_HOST / DOCKER_HOST / the default socket
  bool no_autostart = false;  // else berthd is started when the default socket has no daemon
  api::Client& client();
  // The daemon's address once settled (autostart done): for extra connections, as `run`
  // needs one for wait while another is hijacked.
  const std::string& resolved_host();

 private:
  std::unique_ptr<api::Client> client_;
};

// Ends a command with this exit status; what there was to say is on stderr already (the
// container's own status for run/start -a/exec/attach, docker's 125/126/127 for run).
struct ExitStatus : std::exception {
  explicit ExitStatus(int c) : code(c) {}
  const char* what() const noexcept override { return "exit status"; }
  int code;
};

void AddImageCommands(CLI::App& app, Context& ctx);
void AddSystemCommands(CLI::App& app, Context& ctx);
void AddContainerCommands(CLI::App& app, Context& ctx);
void AddVolumeCommands(CLI::App& app, Context& ctx);
void AddCpCommand(CLI::App& app, Context& ctx);

// --filter key=value, repeated, as the API's filters JSON ({"key":{"value":true}}).
std::string FiltersJson(const std::vector<std::string>& filters);
// Percent-encoding for a query value.
std::string QueryEscape(std::string_view text);
// Renders `items` with `format` (Docker's --format, "table ..." included) or, when empty,
// with `default_format`; writes the result to stdout.
void PrintList(const std::string& format, const std::string& default_format,
               const std::vector<nlohmann::json>& items,
               const std::map<std::string, std::string>& headers);
// `inspect` output: the JSON array indented as docker prints it, or each item through
// the template `format` (-f).
void PrintInspect(const std::string& format, const std::vector<nlohmann::json>& items);

}  // namespace berth::cli
