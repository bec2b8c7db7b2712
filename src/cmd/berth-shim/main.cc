// berth-shim: keeps one container for berthd, from its create to its end (src/shim/shim.h;
// berthd drives it through src/shim/client.h).
//
//   berth-shim --id ID --bundle DIR --runtime-root DIR --log FILE --exit-file FILE
//              --socket PATH [--ready-fd FD] [--log-max-size BYTES] [--log-max-file N]
//              [--shim-log FILE] [--stdin] [--stdin-once] [--detach]

#include <fcntl.h>
#include <sys/prctl.h>
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
  bool detach = false;
  CLI::App app{"berth-shim: one container's keeper"};
  app.add_option("--id", o.id, "container id")->required();
  app.add_option("--bundle", o.bundle, "OCI bundle directory")->required();
  app.add_option("--runtime-root", o.runtime_root, "runtime state directory")->required();
  app.add_option("--log", o.log_path, "json-file log of the container's output")->required();
  app.add_option("--log-max-size", o.log_max_size, "rotate the log at this size (0: never)");
  app.add_option("--log-max-file", o.log_max_file, "log files kept")->check(CLI::Range(1, 100));
  app.add_option("--exit-file", o.exit_path, "where the exit record goes")->required();
  app.add_option("--socket", o.socket_path, "the control socket to listen on")->required();
  app.add_option("--ready-fd", o.ready_fd, "fd that gets the JSON ready line once created");
  app.add_option("--shim-log", shim_log, "the shim's own log");
  int exe_fd = -1;
  app.add_option("--exe-fd", exe_fd, "the descriptor this binary was executed from (closed)");
  app.add_flag("--stdin", o.stdin_open, "the container's stdin is fed by attaches");
  app.add_flag("--stdin-once", o.stdin_once, "an attach's stdin EOF closes the container's");
  app.add_flag("--detach", detach, "fork: the caller's child exits at once, the shim goes on");
  CLI11_PARSE(app, argc, argv);
  if (exe_fd > 2) {
    close(exe_fd);  // executed already; the container must not inherit it
    // Run from /proc/self/fd/4, the process would be named "4" in ps and top.
    prctl(PR_SET_NAME, "berth-shim", 0, 0, 0);
  }

  int log_fd = open(shim_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    fprintf(stderr, "berth-shim: open %s: %m\n", shim_log.c_str());
    return 125;
  }
  berth::log::Init(log_fd, berth::log::Format::kJson, false);
  try {
    // The container must not be able to reach this binary (CVE-2019-5736): run from a sealed
    // copy, as berth-runtime does (a re-exec of this same process: the ready fd must stay
    // open across it, and the fork below comes after it so it happens once).
    berth::runtime::EnsureClonedBinary(argv, environ, o.runtime_root);
    if (o.ready_fd >= 0) {
      fcntl(o.ready_fd, F_SETFD, FD_CLOEXEC);  // not the container's
    }
    if (detach) {
      // berthd waits for this process; the shim lives on in the child, reparented to init (or
      // the nearest subreaper), so it survives berthd.
      pid_t child = fork();
      if (child < 0) {
        berth::ThrowErrno("fork");
      }
      if (child > 0) {
        _exit(0);
      }
    }
    setsid();  // its own session: the caller's terminal and signals are not the container's
    return berth::shim::RunContainer(o);
  } catch (const berth::Error& e) {
    berth::log::Error(std::string("berth-shim: ") + e.what());
    return 125;
  }
}
