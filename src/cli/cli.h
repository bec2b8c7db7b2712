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
void AddNetworkCommands(CLI::App& app, Context& ctx);  // network …, port
void AddStatsCommand(CLI::App* cmd, Context& ctx);     // stats.cc; in the container group
void AddDataCommands(CLI::App& parent, Context& ctx);  // container_data.cc: diff, commit, export
void AddEventsCommand(CLI::App* cmd, Context& ctx);    // `events` and `system events`
// registry.cc: pull and push (top level and under `image`, in the image group), login/logout.
void AddPullPushCommands(CLI::App* parent, Context& ctx);
void AddLoginCommands(CLI::App& app, Context& ctx);
// build.cc: `build` (top level, AddBuildCommands) and `image build`.
void AddBuildCommand(CLI::App* parent, Context& ctx);
void AddBuildCommands(CLI::App& app, Context& ctx);
// Pulls `image` through the daemon with the credentials config.json has for its registry,
// rendering the progress on `out` as the docker CLI does. `berth pull` ends with the full
// reference on stdout; run/create (a missing image) show the progress on stderr only.
void PullImage(Context& ctx, const std::string& image, std::ostream& out,
               const std::string& platform = "", bool all_tags = false, bool quiet = false);

// The command groups and the top-level commands each registers. A `berth` call builds only
// the group its command belongs to: CLI11 constructs every option of every command it is
// given, and all of them cost more than a whole `berth version` call does otherwise.
struct CommandGroup {
  void (*add)(CLI::App& app, Context& ctx);
  std::vector<std::string_view> commands;
};
const std::vector<CommandGroup>& CommandGroups();
// The command `argv` invokes (its first argument that is neither a global option nor the
// value of one), or "" when it starts with another option (--help) or has none.
std::string_view InvokedCommand(int argc, char** argv);
// Registers the group that owns the invoked command, or every group when none claims it.
void AddCommands(CLI::App& app, Context& ctx, int argc, char** argv);

// --filter key=value, repeated, as the API's filters JSON ({"key":{"value":true}}).
std::string FiltersJson(const std::vector<std::string>& filters);
// Percent-encoding for a query value.
std::string QueryEscape(std::string_view text);
// Renders `items` with `format` (Docker's --format, "table ..." included) or, when empty,
// with `default_format`; writes the result to stdout.
void PrintList(const std::string& format, const std::string& default_format,
               const std::vector<nlohmann::json>& items,
               const std::map<std::string, std::string>& headers);
// The body of GET `target` (an archive) into the file `output` (whole or not at all), or to
// stdout when it is "" or "-" and not a terminal.
void DownloadTo(Context& ctx, const std::string& target, const std::string& output);
// `inspect` output: the JSON array indented as docker prints it, or each item through
// the template `format` (-f).
void PrintInspect(const std::string& format, const std::vector<nlohmann::json>& items);

}  // namespace berth::cli
