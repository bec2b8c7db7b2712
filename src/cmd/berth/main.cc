// berth: the command line, a client of berthd's Engine API.

#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "base/error.h"
#include "cli/cli.h"

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  berth::cli::Context ctx;
  CLI::App app{"berth: containers, images and more, through berthd"};
  app.name("berth");
  app.require_subcommand(1);
  app.add_option("-H,--host", ctx.host,
                 "Daemon socket to connect to (default: $BERTH_HOST, $DOCKER_HOST, "
                 "unix:///run/berth/berth.sock)");
  app.add_flag("--no-autostart", ctx.no_autostart,
               "Do not start berthd when no daemon answers on the default socket "
               "(also BERTH_NO_AUTOSTART=1)");
  berth::cli::AddCommands(app, ctx, argc, argv);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const berth::cli::ExitStatus& e) {
    std::cout.flush();
    return e.code;
  } catch (const berth::Error& e) {
    std::cout.flush();
    std::cerr << (e.kind() == berth::Kind::kUnavailable ? "" : "Error: ") << e.what() << "\n";
    return 1;
  }
  return 0;
}
