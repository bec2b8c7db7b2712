#pragma once

#include <sys/types.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/fd.h"
#include "oci/runtime_spec.h"
#include "runtime/signals.h"
#include "runtime/state.h"

namespace berth::runtime {

struct CreateOptions {
  std::string id;
  std::string bundle;  // "" = current directory
  std::string pid_file;
  std::string console_socket;  // needed when process.terminal and the runtime detaches
  int preserve_fds = 0;
  bool no_pivot = false;
  bool no_new_keyring = false;
};

struct ExecOptions {
  std::string id;
  std::string process_file;  // process.json; else built from the fields below
  std::vector<std::string> args;
  std::vector<std::string> env;  // added to the container's env
  std::string cwd;
  std::string user;  // "uid[:gid]"
  bool tty = false;
  bool detach = false;
  std::string pid_file;
  std::string console_socket;
  int preserve_fds = 0;
};

// An exec'd process its caller supervises: `master` is its pty master when the process has a
// terminal, else the process inherited the caller's fds 0-2.
struct ExecStarted {
  pid_t pid = -1;
  UniqueFd master;
};

struct ContainerInfo {
  ContainerState state;
  Status status;
};

// The OCI runtime operations over a state directory (--root). Each call is one command of
// the runc/crun command line; errors are berth::Error naming the container and the step.
class Runtime {
 public:
  explicit Runtime(std::string root);

  void Create(const CreateOptions& options);
  void Start(const std::string& id);
  // Foreground run: returns the container's exit status (128+signal when killed). With
  // `detach`, returns 0 once the container is running.
  int Run(const CreateOptions& options, bool detach);
  ContainerInfo Info(const std::string& id) const;
  std::string StateJson(const std::string& id) const;
  std::vector<ContainerInfo> List() const;
  void Kill(const std::string& id, int signal, bool all);
  void Delete(const std::string& id, bool force);
  void Pause(const std::string& id);
  void Resume(const std::string& id);
  std::vector<pid_t> Pids(const std::string& id) const;
  // runc's `events`: with `stats_only`, one {"type":"stats"} object; else stats every
  // `interval_ms` and an {"type":"oom"} object whenever the OOM killer strikes, until the
  // container stops. Each object goes to `emit`.
  void Events(const std::string& id, int interval_ms, bool stats_only,
              const std::function<void(const nlohmann::json&)>& emit);
  // Applies a linux.resources object to a created, running or paused container.
  void Update(const std::string& id, const nlohmann::json& resources);
  // Foreground exec returns the process's exit status; detached returns 0.
  int Exec(const ExecOptions& options);
  // Exec for a supervisor (berth-shim): starts `process` (used as given) in the container and
  // returns once it runs. The pid is the caller's child: the caller waits for it, and must
  // have SIGCHLD blocked or handled.
  ExecStarted StartExec(const std::string& id, const oci::Process& process);

 private:
  StateStore store_;
};

}  // namespace berth::runtime
