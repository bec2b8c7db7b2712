#include <string_view>

#include "cli/cli.h"

namespace berth::cli {

const std::vector<CommandGroup>& CommandGroups() {
  static const std::vector<CommandGroup> groups = {
      {AddContainerCommands,
       {"container", "run",  "create", "start",  "stop", "restart", "kill",    "pause",
        "unpause",   "logs", "exec",   "attach", "wait", "rename",  "update",  "top",
        "stats",     "diff", "commit", "export", "rm",   "ps",      "inspect", "events"}},
      {AddImageCommands,
       {"image", "images", "rmi", "tag", "load", "save", "import", "history", "pull", "push"}},
      {AddLoginCommands, {"login", "logout"}},
      {AddBuildCommands, {"build", "builder"}},
      {AddSystemCommands, {"version", "info", "system"}},
      {AddVolumeCommands, {"volume"}},
      {AddCpCommand, {"cp"}},
      {AddNetworkCommands, {"network", "port"}},
  };
  return groups;
}

std::string_view InvokedCommand(int argc, char** argv) {
  for (int i = 1; i < argc; i++) {
    std::string_view arg = argv[i];
    if (arg == "-H" || arg == "--host") {
      i++;  // its value
    } else if (arg.rfind("--host=", 0) == 0 || (arg.size() > 2 && arg.rfind("-H", 0) == 0) ||
               arg == "--no-autostart") {
    } else {
      return arg.empty() || arg[0] == '-' ? std::string_view() : arg;
    }
  }
  return {};
}

void AddCommands(CLI::App& app, Context& ctx, int argc, char** argv) {
  std::string_view command = InvokedCommand(argc, argv);
  for (const CommandGroup& group : CommandGroups()) {
    for (std::string_view name : group.commands) {
      if (name == command) {
        group.add(app, ctx);
        return;
      }
    }
  }
  // Help, no command, or one no group claims: all of them, and CLI11 says what is wrong.
  for (const CommandGroup& group : CommandGroups()) {
    group.add(app, ctx);
  }
}

}  // namespace berth::cli
