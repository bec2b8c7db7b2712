// berth-shim: runs one container for berthd and stays with it to the end (src/shim/shim.h).
//
//   berth-shim --id ID --bundle DIR --runtime-root DIR --log FILE --exit-file FILE
//              [--log-max-size BYTES] [--log-max-file N] [--ready-fd FD] [--shim-log FILE]

#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "base/error.h"
#include "base/log.h"
#include "runtime/cloned_binary.h"
#include "shim/shim.h"

int main(int argc, char** argv) {
  berth::shim::ShimOptions o;
  std::string shim_log = "/dev/null";
  CLI::App app{"berth-shim: one container's keeper"};
  app.add_option("--id", o.id, "container id")->required();
  app.add_option("--bundle", o.bundle, "OCI bundle directory")->required();
  app.add_option("--runtime-root", o.runtime_root, "runtime state directory")->required();
  app.add_option("--log", o.log_path, "json-file log of the container's output")->required();
  app.add_option("--log-max-size", o.log_max_size, "rotate the log at this size (0: never)");
  app.add_option("--log-max-file", o.log_max_file, "log files kept")->check(CLI::Range(1, 100));
  app.add_option("--exit-file", o.exit_path, "where the exit record goes")->required();
  app.add_option("--ready-fd", o.ready_fd, "fd that gets \"ok\" or the error once started");
  app.add_option("--shim-log", shim_log, "the shim's own log");
  CLI11_PARSE(app, argc, argv);

  int log_fd = open(shim_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    fprintf(stderr, "berth-shim: open %s: %m\n", shim_log.c_str());
    return 125;
  }
  berth::log::Init(log_fd, berth::log::Format::kJson, false);
  try {
    // The container must not be able to reach this binary (CVE-2019-5736): run from a sealed
    // copy, as berth-runtime does (a re-exec: the ready fd must stay open across it).
    berth::runtime::EnsureClonedBinary(argv, environ, o.runtime_root);
    if (o.ready_fd >= 0) {
      fcntl(o.ready_fd, F_SETFD, FD_CLOEXEC);  // not the container's
    }
    setsid();  // its own session: the caller's terminal and signals are not the container's
    return berth::shim::RunContainer(o);
  } catch (const berth::Error& e) {
    berth::log::Error(std::string("berth-shim: ") + e.what());
    return 125;
  }
}
